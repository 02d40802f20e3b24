"""AppTest: the Tokens page encodes, decodes, names unknown characters and shows the codebook trade-off."""
from __future__ import annotations

import pytest
from apptest_helpers import decode, figures, open_page

from core.text.corpus import DEFAULT_SPEAKERS, load_speaker
from core.text.dataset import prepare
from core.text.tokenizer import parse_ids, visible


@pytest.fixture(autouse=True)
def _checkpoints(monkeypatch, tmp_path):
    monkeypatch.setenv("PODIUM_CHECKPOINTS", str(tmp_path))


@pytest.fixture(scope="module")
def tok():
    return prepare(list(DEFAULT_SPEAKERS)).tokenizer


@pytest.fixture
def tokens_page():
    """A fresh Tokens page (the BPE trade-off is computed once per process, then cached)."""
    return open_page("tokens")


def codes(at) -> list[str]:
    return [c.value for c in at.code]


def test_vocabulary_table(tokens_page, tok):
    table = next(d.value for d in tokens_page.dataframe if "unicode" in d.value.columns)
    assert table["id"].tolist() == list(range(tok.vocab_size))
    assert "␣" in table["char"].tolist() and "↵" in table["char"].tolist() and " " not in table["char"].tolist()
    obama = load_speaker("Barack Obama").char_counts()
    assert table["Barack Obama"].tolist() == [obama.get(c, 0) for c in tok.chars]
    assert [m.value for m in tokens_page.metric if m.label == "Vocabulary size"] == [str(tok.vocab_size)]


def test_typed_text_shows_its_ids_and_decodes_back(tokens_page, tok):
    text = "Hello, Union & friends!\nYes."
    tokens_page.text_area(key="tokens_text").input(text).run()
    assert not tokens_page.exception and not tokens_page.error
    ids = tok.encode(text)
    assert str(ids) in codes(tokens_page)
    assert text in codes(tokens_page)                      # decode(encode(text))
    chips = next(m.value for m in tokens_page.markdown if "hsl(" in m.value)
    assert all(f">{i}</span>" in chips for i in ids)
    assert "&#38;" in chips and " & " not in chips  # typed characters leave as HTML entities


def test_markup_is_escaped_and_unknown_chars_named(tokens_page):
    tokens_page.text_area(key="tokens_text").input("I ☃ <script>alert(1)</script> é").run()
    assert not tokens_page.exception
    message = " ".join(e.value for e in tokens_page.error)
    assert "'☃'" in message and "'é'" in message and "'<'" in message
    chips = next(m.value for m in tokens_page.markdown if "hsl(" in m.value or "#ffd6d6" in m.value)
    assert "<script" not in chips and "&#60;" in chips


@pytest.mark.parametrize(("typed", "expect"), [("12, x7", "'x7' is not a token id"),
                                               ("1 2 999", "999 is outside the vocabulary"),
                                               ("-1", "-1 is outside the vocabulary")])
def test_bad_ids_show_an_error(tokens_page, typed, expect):
    tokens_page.text_input(key="tokens_ids").input(typed).run()
    assert not tokens_page.exception
    assert any(expect in e.value for e in tokens_page.error), [e.value for e in tokens_page.error]


def test_ids_decode_to_text(tokens_page, tok):
    ids = tok.encode("hii there")
    tokens_page.text_input(key="tokens_ids").input(f"[{', '.join(map(str, ids))}]").run()
    assert not tokens_page.exception and not tokens_page.error
    assert "hii there" in codes(tokens_page)


def test_codebook_tradeoff(tokens_page):
    table = next(d.value for d in tokens_page.dataframe if "scheme" in d.value.columns)
    assert table["scheme"].tolist()[0] == "characters" and (table["scheme"][1:] == "BPE").all()
    obama_train = load_speaker("Barack Obama").split()[0]
    assert table["Barack Obama (tokens)"][0] == len(obama_train)
    fig = next(f for f in figures(tokens_page) if "Sequence length" in f["layout"]["title"]["text"])
    assert [t["name"] for t in fig["data"]] == list(DEFAULT_SPEAKERS)
    for trace in fig["data"]:
        x, y = decode(trace["x"]), decode(trace["y"])
        assert (x[1:] > x[:-1]).all() and (y[1:] < y[:-1]).all()   # bigger codebook, shorter sequence


def test_parse_ids_and_visible():
    assert parse_ids("[18, 47 56]\n") == [18, 47, 56] and parse_ids(" , ") == []
    with pytest.raises(ValueError, match="'4x' is not a token id"):
        parse_ids("1, 4x")
    assert visible("a b\nc\td") == "a␣b↵c⇥d"
