"""The character tokenizer: round trips, the unknown-character error, JSON, and the one sorted
vocabulary the default three speakers share."""
from __future__ import annotations

import json

import pytest
import torch
from helpers import BIDEN, OBAMA, TRUMP, speaker_data

from core.text.corpus import DEFAULT_SPEAKERS, load_speaker
from core.text.dataset import prepare, shared_vocabulary
from core.text.tokenizer import CharTokenizer, UnknownCharError


def test_ids_are_positions_in_the_sorted_vocabulary():
    tok = CharTokenizer("hello world")
    assert tok.chars == [" ", "d", "e", "h", "l", "o", "r", "w"]
    assert tok.vocab_size == 8
    assert tok.encode("hello") == [3, 2, 4, 4, 5]
    assert tok.decode([3, 2, 4, 4, 5]) == "hello"
    t = tok.encode_tensor("world")
    assert t.dtype == torch.long and t.tolist() == tok.encode("world")


def test_round_trip_on_a_real_speech():
    data = speaker_data(OBAMA)
    text = data.speakers[0].speaker.text
    ids = data.tokenizer.encode(text)
    assert len(ids) == len(text)
    assert min(ids) >= 0 and max(ids) < data.tokenizer.vocab_size
    assert data.tokenizer.decode(ids) == text
    assert data.tokenizer.decode(torch.tensor(ids[:500])) == text[:500]  # tensors decode too


def test_unknown_character_error_names_the_character():
    tok = CharTokenizer("abc ")
    with pytest.raises(UnknownCharError) as e:
        tok.encode("a cab ☃ and é☃")
    assert isinstance(e.value, ValueError)
    assert e.value.chars == ["☃", "n", "d", "é"]  # in order of first appearance, each once
    msg = str(e.value)
    assert "'☃'" in msg and "U+2603" in msg and "'é'" in msg
    assert tok.unknown("abc") == []


def test_decode_refuses_ids_outside_the_vocabulary():
    tok = CharTokenizer("ab")
    for bad in ([2], [-1]):
        with pytest.raises(ValueError, match="outside the vocabulary"):
            tok.decode(bad)


def test_json_round_trip_keeps_every_character():
    tok = CharTokenizer('ab "quoted"\n\t\\é☃—')
    s = tok.to_json()
    assert json.loads(s)["type"] == "char"
    back = CharTokenizer.from_json(s)
    assert back == tok and back.chars == tok.chars and hash(back) == hash(tok)
    assert back.encode('"é☃"\n') == tok.encode('"é☃"\n')


@pytest.mark.parametrize("bad", ['["a", "b"]', '{"type": "bpe", "chars": "ab"}', '{"type": "char"}',
                                 '{"type": "char", "chars": ""}'])
def test_json_refuses_what_is_not_a_char_vocabulary(bad):
    with pytest.raises(ValueError):
        CharTokenizer.from_json(bad)


def test_vocabulary_is_sorted_and_shared_by_the_default_speakers():
    assert tuple(DEFAULT_SPEAKERS) == (OBAMA, TRUMP, BIDEN)
    toks = [speaker_data(OBAMA).tokenizer, prepare([TRUMP]).tokenizer, prepare([BIDEN, OBAMA]).tokenizer]
    assert toks[0] == toks[1] == toks[2]
    chars = toks[0].chars
    assert chars == sorted(chars) and len(set(chars)) == len(chars)
    # exactly the characters of the three cleaned texts, computed here independently
    speakers = [load_speaker(n) for n in DEFAULT_SPEAKERS]
    assert set(chars) == set("".join(s.text for s in speakers))
    assert shared_vocabulary(speakers) == toks[0]
    for s in speakers:  # so any default model can score any default speaker
        assert toks[0].unknown(s.text) == []
