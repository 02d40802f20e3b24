"""Sampling: the KV cache gives exactly the tokens of the uncached path (inside the block and
far past it), top-k=1 is greedy, streaming, argument checks and seeds, for GPT and bigram."""
from __future__ import annotations

import pytest
import torch
from helpers import OBAMA, one_thread, speaker_data, spread_weights, tiny_gpt  # noqa: F401 (autouse)

from core.bigram import BigramLM
from core.config import ModelConfig
from core.gpt import GPT, KVCache
from core.models import build_model
from core.sampling import check_sampling, generate, next_token_probs, sample_text, stream
from core.tokenizer import CharTokenizer

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


@pytest.mark.parametrize("n_new", [BLOCK - 4, 5 * BLOCK], ids=["within-block", "past-block"])
@pytest.mark.parametrize("temperature, top_k", [(1.0, None), (0.7, None), (1.3, 5)])
def test_kv_cache_gives_the_same_tokens_as_no_cache(model, tok, n_new, temperature, top_k):
    idx = prompt(tok, "The ", batch=2)
    cached = generate(model, idx, n_new, temperature, top_k, generator=g(11), use_cache=True)
    plain = generate(model, idx, n_new, temperature, top_k, generator=g(11), use_cache=False)
    assert cached.shape == plain.shape == (2, 4 + n_new)
    assert torch.equal(cached[:, :4], idx)
    assert cached.tolist() == plain.tolist()
    other = generate(model, idx, n_new, temperature, top_k, generator=g(12), use_cache=True)
    assert not torch.equal(other, cached), "a different seed should give different tokens"


def test_the_cache_is_really_used_inside_the_block(model, tok):
    """The equality above would hold trivially if use_cache silently re-ran the whole context."""
    lengths = []
    handle = model.register_forward_pre_hook(lambda mod, args: lengths.append(args[0].shape[1]))
    try:
        generate(model, prompt(tok, "The "), 20, generator=g(0), use_cache=True)
    finally:
        handle.remove()
    # prefill the 4 prompt tokens, then one token per step until the context passes the block,
    # then the cropped window of BLOCK tokens each step
    assert lengths == [4] + [1] * (BLOCK - 4) + [BLOCK] * (20 - (BLOCK - 4) - 1)


def test_cached_forward_in_chunks_equals_one_full_forward(model):
    """Feeding the tokens in pieces through a KVCache (several new tokens at once included, which
    needs the offset causal mask) gives the logits of one pass over the whole sequence."""
    idx = torch.randint(model.config.vocab_size, (2, BLOCK), generator=g(9))
    with torch.no_grad():
        full, _ = model(idx)
        cache, pieces = KVCache(), []
        for a, b in ((0, 5), (5, 9), (9, 10), (10, BLOCK)):
            logits, _ = model(idx[:, a:b], cache=cache)
            pieces.append(logits)
            assert cache.length == b
    assert torch.allclose(torch.cat(pieces, dim=1), full, atol=1e-5)


def test_a_prompt_longer_than_the_block_is_cropped(model, tok):
    long = prompt(tok, "Madam Speaker, Madam Vice President, our First Lady")
    assert long.shape[1] > BLOCK
    a = generate(model, long, 10, generator=g(0), use_cache=True)
    assert a.tolist() == generate(model, long, 10, generator=g(0), use_cache=False).tolist()
    # the model only ever sees the last BLOCK characters: the cropped prompt gives the same text
    assert a[:, -10:].tolist() == generate(model, long[:, -BLOCK:], 10, generator=g(0))[:, -10:].tolist()


def greedy(model, idx: torch.Tensor, n: int) -> torch.Tensor:
    """Argmax decoding, written out: crop to the block, take the last position's argmax."""
    for _ in range(n):
        logits, _ = model(idx[:, -model.config.block_size:])
        idx = torch.cat((idx, logits[:, -1].argmax(-1, keepdim=True)), dim=1)
    return idx


@pytest.mark.parametrize("use_cache", [True, False])
def test_top_k_1_is_greedy(model, tok, use_cache):
    idx = prompt(tok, "We the people", batch=2)
    with torch.no_grad():
        expected = greedy(model, idx, 40)
    for seed in (0, 1):
        got = generate(model, idx, 40, temperature=1.0, top_k=1, generator=g(seed), use_cache=use_cache)
        assert got.tolist() == expected.tolist()
    hot = generate(model, idx, 40, temperature=5.0, top_k=1, generator=g(2), use_cache=use_cache)
    assert hot.tolist() == expected.tolist(), "temperature does not change the argmax"


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
    assert greedy(bigram, idx, 20).tolist() == generate(bigram, idx, 20, top_k=1, generator=g(0)).tolist()
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
