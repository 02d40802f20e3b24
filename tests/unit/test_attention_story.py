"""core.probe.attention_story against the model itself: the embeddings are what GPT._embed feeds block 1,
and one character's weighted sum of values is the head's output at that position."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import OBAMA, one_thread, speaker_data, spread_weights, tiny_gpt  # noqa: F401 (autouse)

from core.model.models import build_model
from core.probe.attention_story import embedding_view, one_character

TEXT = "My fellow Americans, the state of our Union is strong."
BLOCK = 16


@pytest.fixture(scope="module")
def tok():
    return speaker_data(OBAMA).tokenizer


@pytest.fixture(scope="module")
def model(tok):
    return spread_weights(build_model(tiny_gpt(tok.vocab_size, block_size=BLOCK)), std=0.25)


def test_token_plus_position_is_what_the_first_block_reads(model, tok):
    v = embedding_view(model, tok, TEXT, 10)
    ids = tok.encode_tensor(TEXT[:10]).unsqueeze(0)
    with torch.no_grad():
        expected = model._embed(ids)[0].numpy()
    np.testing.assert_allclose(v.x, expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(v.x, v.tok + v.pos, rtol=1e-6)
    assert v.tok.shape == v.pos.shape == (10, model.config.n_embd) and v.cropped == 0
    e = [i for i, c in enumerate(TEXT[:10]) if c == "l"]      # the same character twice: same token row,
    np.testing.assert_array_equal(v.tok[e[0]], v.tok[e[1]])   # different position rows
    assert not np.allclose(v.x[e[0]], v.x[e[1]])


def test_past_block_size_the_context_is_cropped(model, tok):
    v = embedding_view(model, tok, TEXT, BLOCK + 5)
    assert v.T == BLOCK and v.cropped == 5 and v.labels[0].endswith("(5)")
    np.testing.assert_allclose(v.pos, model.position_embedding_table.weight.detach().numpy())


@pytest.mark.parametrize("causal", [True, False])
def test_one_character_is_the_heads_output_there(model, tok, causal):
    T, pos, layer, head = 12, 7, 1, 1
    s = one_character(model, tok, TEXT, T, pos, layer, head, causal)
    ins = model.inspect(tok.encode_tensor(TEXT[:T]).unsqueeze(0), causal=causal)
    np.testing.assert_allclose(s.out, ins.out[0, layer, head, pos].numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(s.contributions.sum(0), s.out, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(s.grid[pos], s.weights)
    assert s.weights.sum() == pytest.approx(1.0, abs=1e-5)
    if causal:
        assert s.attended() == list(range(pos + 1)) and (s.weights[pos + 1:] == 0).all()
    else:
        assert s.attended() == list(range(T))
    last = one_character(model, tok, TEXT, T, -1, layer, head, causal)
    assert last.position == T - 1


def test_bad_choices_are_clear_errors(model, tok):
    for kw, match in (({"layer": 5}, "layer"), ({"head": 9}, "head"), ({"position": 40}, "position")):
        args = {"position": 0, **kw}
        with pytest.raises(ValueError, match=match):
            one_character(model, tok, TEXT, 12, **args)
