"""Sampling: the KV cache gives exactly the tokens of the uncached path (inside the block and
far past it, for both windows), top-k=1 is greedy, streaming, argument checks and seeds, for GPT
and bigram."""
from __future__ import annotations

import pytest
import torch
from helpers import OBAMA, one_thread, speaker_data, spread_weights, tiny_gpt  # noqa: F401 (autouse)

from core.config import ModelConfig
from core.model.bigram import BigramLM
from core.model.decoder import Decoder, KVCache
from core.model.gpt import GPT
from core.model.models import build_model
from core.model.sampling import check_sampling, generate, next_token_probs, sample_text, stream
from core.text.tokenizer import CharTokenizer

BLOCK = 16


@pytest.fixture(scope="module")
def tok() -> CharTokenizer:
    return speaker_data(OBAMA).tokenizer


@pytest.fixture(scope="module")
def model(tok) -> GPT:
    """A tiny GPT with spread weights: peaked, context-dependent next-character distributions."""
    torch.manual_seed(0)
    return spread_weights(build_model(tiny_gpt(tok.vocab_size, block_size=BLOCK)), std=0.25)


@pytest.fixture(scope="module")
def bigram(tok) -> BigramLM:
    m = build_model(ModelConfig(model_type="bigram", vocab_size=tok.vocab_size, block_size=8))
    return spread_weights(m, std=1.0)


def g(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def prompt(tok, text: str = "The ", batch: int = 1) -> torch.Tensor:
    return torch.tensor([tok.encode(text)] * batch)


@pytest.mark.parametrize("window", ["shift", "slide"])
@pytest.mark.parametrize("n_new", [BLOCK - 4, 5 * BLOCK], ids=["within-block", "past-block"])
@pytest.mark.parametrize("temperature, top_k", [(1.0, None), (0.7, None), (1.3, 5)])
def test_kv_cache_gives_the_same_tokens_as_no_cache(model, tok, n_new, temperature, top_k, window):
    idx = prompt(tok, "The ", batch=2)
    cached = generate(model, idx, n_new, temperature, top_k, generator=g(11), use_cache=True, window=window)
    plain = generate(model, idx, n_new, temperature, top_k, generator=g(11), use_cache=False, window=window)
    assert cached.shape == plain.shape == (2, 4 + n_new)
    assert torch.equal(cached[:, :4], idx)
    assert cached.tolist() == plain.tolist()
    other = generate(model, idx, n_new, temperature, top_k, generator=g(12), use_cache=True)
    assert not torch.equal(other, cached), "a different seed should give different tokens"


@pytest.mark.parametrize("window", ["shift", "slide"])
def test_the_cache_is_really_used_and_rebuilt_when_the_window_moves(model, tok, window, monkeypatch):
    """The equality above would hold trivially if use_cache silently re-ran the whole context.
    What counts is how many tokens the Decoder is fed at each step."""
    lengths, call = [], Decoder.__call__

    def counted(self, idx, cache):
        lengths.append(idx.shape[1])
        return call(self, idx, cache)
    monkeypatch.setattr(Decoder, "__call__", counted)
    generate(model, prompt(tok, "The "), 3 * BLOCK, generator=g(0), use_cache=True, window=window)
    # prefill the 4 prompt tokens, then one token per step until the context passes the block;
    filling = [4] + [1] * (BLOCK - 4)
    if window == "slide":  # then the last BLOCK tokens, re-run whole at every step
        assert lengths == filling + [BLOCK] * (3 * BLOCK - len(filling))
    else:  # then, each time the context is full, its newer half + 1 is re-run and cached again
        half, rest = BLOCK // 2, 3 * BLOCK - len(filling)
        assert lengths == filling + (([BLOCK - half + 1] + [1] * (half - 1)) * rest)[:rest]


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_decoder_in_chunks_gives_the_logits_of_one_full_forward(model, dtype):
    """Feeding the tokens to the Decoder in pieces (several new tokens at once included, which
    needs the offset causal mask; then one at a time) gives, after each piece, the logits of one
    GPT.forward over the whole sequence at that position. In bf16 (on this CPU: packed weights
    for oneDNN) to bf16's precision."""
    idx = torch.randint(model.config.vocab_size, (2, BLOCK), generator=g(9))
    decoder = Decoder(model, dtype)
    assert decoder.dtype == getattr(torch, dtype)
    with torch.no_grad():
        full, _ = model(idx)
    cache = KVCache()
    for a, b in ((0, 5), (5, 9), (9, 10), *((t, t + 1) for t in range(10, BLOCK))):
        logits = decoder(idx[:, a:b], cache)
        assert cache.length == b and logits.shape == (2, model.config.vocab_size)
        tol = {"atol": 1e-5, "rtol": 1e-5} if dtype == "float32" else {"atol": 0.15, "rtol": 0.05}
        torch.testing.assert_close(logits, full[:, b - 1], **tol)
    with pytest.raises(AssertionError, match="block size"):
        decoder(idx[:, :1], cache)  # the cache is full
    assert next(model.parameters()).dtype == torch.float32  # the model itself is untouched


@pytest.mark.parametrize("window", ["shift", "slide"])
def test_a_prompt_longer_than_the_block_is_cropped(model, tok, window):
    long = prompt(tok, "Madam Speaker, Madam Vice President, our First Lady")
    assert long.shape[1] > BLOCK
    a = generate(model, long, 3 * BLOCK, generator=g(0), use_cache=True, window=window)
    assert a.tolist() == generate(model, long, 3 * BLOCK, generator=g(0), use_cache=False, window=window).tolist()
    # the model only ever sees the last BLOCK characters: the cropped prompt gives the same text
    cropped = generate(model, long[:, -BLOCK:], 3 * BLOCK, generator=g(0), window=window)
    assert a[:, -3 * BLOCK:].tolist() == cropped[:, -3 * BLOCK:].tolist()


def greedy(model, idx: torch.Tensor, n: int, window: str) -> torch.Tensor:
    """Argmax decoding, written out: the last position's argmax, the context cropped to the block
    at every step ("slide"), or, when it outgrows the block, to its newer half ("shift")."""
    block, start = model.config.block_size, max(0, idx.size(1) - model.config.block_size)
    for _ in range(n):
        if idx.size(1) - start > block:
            start = idx.size(1) - block if window == "slide" else start + block // 2
        logits, _ = model(idx[:, start:])
        idx = torch.cat((idx, logits[:, -1].argmax(-1, keepdim=True)), dim=1)
    return idx


@pytest.mark.parametrize("window", ["shift", "slide"])
@pytest.mark.parametrize("use_cache", [True, False])
def test_top_k_1_is_greedy(model, tok, use_cache, window):
    idx = prompt(tok, "We the people", batch=2)
    with torch.no_grad():
        expected = greedy(model, idx, 40, window)
    for seed in (0, 1):
        got = generate(model, idx, 40, top_k=1, generator=g(seed), use_cache=use_cache, window=window)
        assert got.tolist() == expected.tolist()
    hot = generate(model, idx, 40, temperature=5.0, top_k=1, generator=g(2), use_cache=use_cache, window=window)
    assert hot.tolist() == expected.tolist(), "temperature does not change the argmax"


def test_the_two_windows_differ_past_the_block_only(model, tok):
    idx = prompt(tok, "We the people", batch=1)
    shift = generate(model, idx, 3 * BLOCK, generator=g(3), window="shift")
    slide = generate(model, idx, 3 * BLOCK, generator=g(3), window="slide")
    assert torch.equal(shift[:, :BLOCK + 1], slide[:, :BLOCK + 1])  # the same until the block is full
    assert not torch.equal(shift, slide)
    with pytest.raises(ValueError, match="window"):
        generate(model, idx, 2, window="rolling")


def test_the_default_window_is_the_lectures(model, tok):
    """Without a window, sampling past the block re-runs exactly the last block_size tokens (slide)."""
    idx = prompt(tok, "We the people", batch=1)
    default = generate(model, idx, 3 * BLOCK, generator=g(3))
    assert torch.equal(default, generate(model, idx, 3 * BLOCK, generator=g(3), window="slide"))
    assert not torch.equal(default, generate(model, idx, 3 * BLOCK, generator=g(3), window="shift"))
    assert sample_text(model, tok, "The ", 3 * BLOCK, seed=4) == sample_text(model, tok, "The ", 3 * BLOCK, seed=4,
                                                                               window="slide")


def test_next_token_probs_applies_temperature_and_top_k():
    logits = torch.tensor([[2.0, 1.0, 0.0, -1.0]])
    p = next_token_probs(logits, 1.0)
    assert torch.allclose(p, torch.softmax(logits, -1))
    assert torch.allclose(next_token_probs(logits, 0.5), torch.softmax(logits / 0.5, -1))
    top2 = next_token_probs(logits, 1.0, top_k=2)
    assert torch.allclose(top2, torch.tensor([[1 / (1 + torch.e ** -1), 1 / (1 + torch.e), 0.0, 0.0]]))
    assert torch.allclose(next_token_probs(logits, 1.0, top_k=4), p)


def test_stream_yields_one_character_at_a_time(model, tok):
    steps = list(stream(model, tok, "The ", 30, temperature=0.9, generator=g(5)))
    assert [s.index for s in steps] == list(range(30))
    for s in steps:
        assert len(s.char) == 1 and s.char == tok.chars[s.token]
        assert s.probs.shape == (tok.vocab_size,)
        assert abs(float(s.probs.sum()) - 1.0) < 1e-5 and float(s.probs[s.token]) > 0
    text = "".join(s.char for s in steps)
    assert text == sample_text(model, tok, "The ", 30, temperature=0.9, seed=5)
    assert text == tok.decode(generate(model, prompt(tok), 30, 0.9, generator=g(5))[0, 4:])


@pytest.mark.parametrize("window", ["slide", "shift"])
def test_stream_yields_generates_tokens_far_past_the_block(model, tok, window):
    """What the Generate page streams is what generate() returns for the same seed, token for token,
    through the same KV-cache path: within the block and four blocks past it, for both windows."""
    n = 4 * BLOCK
    steps = list(stream(model, tok, "The ", n, temperature=0.8, top_k=20, generator=g(9), window=window))
    drawn = generate(model, prompt(tok), n, 0.8, 20, generator=g(9), window=window)[0, 4:].tolist()
    assert [s.token for s in steps] == drawn
    plain = stream(model, tok, "The ", n, temperature=0.8, top_k=20, generator=g(9), use_cache=False, window=window)
    assert [s.token for s in plain] == drawn


def test_stream_with_top_k_draws_from_k_characters(model, tok):
    for s in stream(model, tok, "An", 25, top_k=3, generator=g(1)):
        support = (s.probs > 0).nonzero().flatten().tolist()
        assert len(support) <= 3 and s.token in support


def test_empty_prompt_starts_from_the_first_character(model, tok):
    text = sample_text(model, tok, "", 20, seed=3)
    expected = generate(model, torch.tensor([[0]]), 20, generator=g(3))
    assert len(text) == 20 and text == tok.decode(expected[0, 1:])


@pytest.mark.parametrize("temperature", [0, -0.5, float("nan")])
def test_temperature_must_be_positive(model, tok, temperature):
    with pytest.raises(ValueError, match="temperature"):
        check_sampling(temperature, None, tok.vocab_size)
    with pytest.raises(ValueError, match="temperature"):
        generate(model, prompt(tok), 5, temperature=temperature)
    with pytest.raises(ValueError, match="temperature"):
        sample_text(model, tok, "The ", 5, temperature=temperature)


def test_top_k_must_be_within_the_vocabulary(model, tok):
    V = tok.vocab_size
    for bad in (0, -1, V + 1):
        with pytest.raises(ValueError, match="top-k"):
            check_sampling(1.0, bad, V)
        with pytest.raises(ValueError, match="top-k"):
            sample_text(model, tok, "The ", 5, top_k=bad)
    check_sampling(1.0, V, V)
    check_sampling(1.0, 1, V)
    assert len(sample_text(model, tok, "The ", 5, top_k=V, seed=0)) == 5


def test_same_seed_same_text_different_seed_different_text(model, tok):
    a = sample_text(model, tok, "The ", 60, seed=7)
    assert a == sample_text(model, tok, "The ", 60, seed=7)
    assert a != sample_text(model, tok, "The ", 60, seed=8)
    assert len(a) == 60 and tok.unknown(a) == []


def test_prompt_outside_the_vocabulary_is_refused(model, tok):
    with pytest.raises(ValueError, match="☃"):
        sample_text(model, tok, "☃", 5, seed=0)


def test_bigram_samples_too(bigram, tok):
    idx = prompt(tok, "The ", batch=2)
    cached = generate(bigram, idx, 40, generator=g(4), use_cache=True)
    assert cached.tolist() == generate(bigram, idx, 40, generator=g(4), use_cache=False).tolist()
    assert greedy(bigram, idx, 20, "shift").tolist() == generate(bigram, idx, 20, top_k=1, generator=g(0)).tolist()
    text = sample_text(bigram, tok, "The ", 50, seed=1)
    assert len(text) == 50 and text == sample_text(bigram, tok, "The ", 50, seed=1)
    assert text != sample_text(bigram, tok, "The ", 50, seed=2)
    # a bigram's next-character distribution depends on the last character only
    steps = list(stream(bigram, tok, "The ", 3, generator=g(0)))
    assert torch.allclose(steps[0].probs, bigram.next_char_probs()[tok.stoi[" "]], atol=1e-6)


def test_generate_restores_training_mode(model, tok):
    model.train()
    try:
        generate(model, prompt(tok), 3, generator=g(0))
        assert model.training
    finally:
        model.eval()
