"""The bigram and the GPT: causality, the inspectable attention path against the fast one, the
loss at init, overfitting one batch, parameter counts, config validation and bf16 autocast."""
from __future__ import annotations

import math

import pytest
import torch
from helpers import OBAMA, one_thread, speaker_data, spread_weights, tiny_gpt  # noqa: F401 (autouse)

from core.config import ConfigError, ModelConfig, preset
from core.device import autocast
from core.model.bigram import BigramLM
from core.model.gpt import GPT
from core.model.models import build_model
from core.text.batching import get_batch

V = 65  # the lecture's Shakespeare vocabulary size, for models that need no real text


def gpt(seed: int = 0, std: float = 0.3, **kw) -> GPT:
    """A tiny GPT with spread-out weights, so that attention visibly shapes the logits."""
    torch.manual_seed(seed)
    model = build_model(tiny_gpt(kw.pop("vocab_size", V), **kw))
    assert isinstance(model, GPT)
    return spread_weights(model, std, seed)


def rand_ids(B: int, T: int, seed: int = 0, vocab: int = V) -> torch.Tensor:
    return torch.randint(vocab, (B, T), generator=torch.Generator().manual_seed(seed))


def test_changing_future_tokens_leaves_earlier_logits_unchanged():
    model = gpt()
    idx = rand_ids(2, 16)
    for k in (1, 7, 15):
        changed = idx.clone()
        changed[:, k:] = (changed[:, k:] + 1 + rand_ids(2, 16 - k, seed=k, vocab=V - 1)) % V  # every token differs
        a, _ = model(idx)
        b, _ = model(changed)
        assert torch.allclose(a[:, :k], b[:, :k], atol=1e-5), f"logits before {k} saw the future"
        assert not torch.allclose(a[:, k:], b[:, k:], atol=1e-3)
    # the same change reaches the past without the causal mask (so the check above has teeth)
    a, _ = model(idx, causal=False)
    b, _ = model(changed, causal=False)
    assert not torch.allclose(a[:, :15], b[:, :15], atol=1e-3)


def test_bigram_sees_only_the_current_token():
    torch.manual_seed(0)
    model = BigramLM(ModelConfig(model_type="bigram", vocab_size=V, block_size=8))
    with torch.no_grad():
        model.token_embedding_table.weight.normal_()
    idx = rand_ids(1, 8)
    logits, _ = model(idx)
    assert torch.equal(logits[0], model.token_embedding_table.weight[idx[0]])
    probs = model.next_char_probs()
    assert probs.shape == (V, V) and torch.allclose(probs.sum(1), torch.ones(V))


def test_inspect_shapes_and_stages():
    model = gpt(n_layer=2, n_head=4, n_embd=32)
    B, T, L, H, hs = 3, 12, 2, 4, 8
    ins = model.inspect(rand_ids(B, T))
    for name in ("scores", "scaled", "masked", "weights"):
        assert getattr(ins, name).shape == (B, L, H, T, T), name
    for name in ("q", "k", "v", "out"):
        assert getattr(ins, name).shape == (B, L, H, T, hs), name
    assert ins.logits.shape == (B, T, V) and ins.causal
    assert torch.allclose(ins.scaled, ins.scores * hs ** -0.5)
    assert torch.allclose(ins.scores, ins.q @ ins.k.transpose(-2, -1), atol=1e-4)
    assert torch.allclose(ins.out, ins.weights @ ins.v, atol=1e-5)
    upper = torch.ones(T, T, dtype=torch.bool).triu(1)
    assert torch.isinf(ins.masked[..., upper]).all() and (ins.masked[..., upper] < 0).all()
    assert torch.equal(ins.masked[..., ~upper], ins.scaled[..., ~upper])


@pytest.mark.parametrize("causal", [True, False])
def test_attention_weights_rows_sum_to_one_and_mask_the_future(causal):
    model = gpt()
    T = 16
    w = model.inspect(rand_ids(2, T), causal=causal).weights          # (B, L, nh, T, T)
    assert torch.allclose(w.sum(-1), torch.ones(w.shape[:-1]), atol=1e-5)
    upper = torch.ones(T, T, dtype=torch.bool).triu(1)
    if causal:
        assert (w[..., upper] == 0).all()
        assert (w[..., 0, 0] == 1).all(), "the first token can only attend to itself"
    else:
        assert (w[..., upper] > 0).all(), "an encoder block lets every token see every other"


@pytest.mark.parametrize("causal", [True, False])
def test_inspect_logits_equal_the_fast_path(causal):
    model = gpt(n_layer=2, n_head=2, n_embd=32)
    assert not model.training and model.config.dropout == 0
    idx = rand_ids(2, 16)
    fast, _ = model(idx, causal=causal)
    ins = model.inspect(idx, causal=causal)
    assert torch.allclose(ins.logits, fast, atol=1e-4, rtol=1e-4)
    other, _ = model(idx, causal=not causal)
    assert (other - fast).abs().max() > 0.1, "causal and encoder logits should differ clearly"


def test_forward_refuses_a_context_longer_than_the_block():
    with pytest.raises(AssertionError, match="block size"):
        gpt()(rand_ids(1, 17))


def test_gpt_loss_at_init_is_about_ln_vocab():
    data = speaker_data(OBAMA)
    vocab = data.tokenizer.vocab_size
    torch.manual_seed(0)
    model = build_model(tiny_gpt(vocab)).eval()
    x, y = get_batch(data.train, 16, 32, generator=torch.Generator().manual_seed(0))
    logits, loss = model(x, y)
    assert logits.shape == (32, 16, vocab)
    assert abs(loss.item() - math.log(vocab)) < 0.1


def test_bigram_loss_at_init_is_exactly_ln_vocab():
    data = speaker_data(OBAMA)
    vocab = data.tokenizer.vocab_size
    model = build_model(ModelConfig(model_type="bigram", vocab_size=vocab, block_size=8))
    x, y = get_batch(data.train, 8, 16, generator=torch.Generator().manual_seed(0))
    _, loss = model(x, y)
    assert loss.item() == pytest.approx(math.log(vocab), abs=1e-5)


@pytest.mark.parametrize("model_type,dropout", [("gpt", 0.0), ("gpt", 0.1), ("bigram", 0.0)])
def test_overfits_one_batch(model_type, dropout):
    """With dropout, training on the CPU goes through core.model.dropout (cheap masks, its attention)."""
    torch.manual_seed(0)
    if model_type == "gpt":
        model = build_model(tiny_gpt(V, n_layer=1, dropout=dropout))
        lr = 1e-2
    else:
        model = build_model(ModelConfig(model_type="bigram", vocab_size=V, block_size=16))
        lr = 0.3
    # a batch whose next character is a function of the current one: both models can learn it
    x = rand_ids(4, 16, seed=1)
    y = (x * 7 + 3) % V
    if model_type == "gpt":  # the GPT can also copy from its context: make y depend on position too
        y = (x + torch.arange(16)) % V
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    model.train()
    _, first = model(x, y)
    for _ in range(150):
        _, loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    assert first.item() == pytest.approx(math.log(V), abs=0.2)
    assert loss.item() < first.item() / 2, f"{first.item():.3f} -> {loss.item():.3f}"
    if dropout:  # training forwards are random; evaluation is deterministic
        assert not torch.equal(model(x)[0], model(x)[0])
        model.eval()
        assert torch.equal(model(x)[0], model(x)[0])


@pytest.mark.parametrize("cfg", [
    ModelConfig(model_type="gpt", vocab_size=65, block_size=16, n_layer=2, n_head=2, n_embd=32),
    ModelConfig(model_type="gpt", vocab_size=88, block_size=64, n_layer=4, n_head=4, n_embd=128),
    ModelConfig(model_type="gpt", vocab_size=3, block_size=1, n_layer=1, n_head=3, n_embd=12),
    ModelConfig(model_type="bigram", vocab_size=88, block_size=8),
])
def test_n_params_matches_the_built_model(cfg):
    model = build_model(cfg)
    assert cfg.n_params() == sum(p.numel() for p in model.parameters())
    if cfg.model_type == "gpt":
        assert model.num_params() == cfg.n_params()


def test_the_lecture_preset_has_about_10_8_million_parameters():
    model_cfg, train_cfg = preset("lecture", 65)
    assert (model_cfg.block_size, model_cfg.n_layer, model_cfg.n_head, model_cfg.n_embd) == (256, 6, 6, 384)
    assert model_cfg.dropout == 0.2 and model_cfg.vocab_size == 65
    assert model_cfg.n_params() == sum(p.numel() for p in build_model(model_cfg).parameters())
    assert 10.7e6 < model_cfg.n_params() < 10.9e6
    assert round(model_cfg.n_params() / 1e6, 1) == 10.8


@pytest.mark.parametrize("n_embd, n_head", [(30, 4), (32, 3), (10, 20)])
def test_n_embd_must_be_divisible_by_n_head(n_embd, n_head):
    with pytest.raises(ConfigError, match="divisible") as e:
        ModelConfig(vocab_size=65, n_embd=n_embd, n_head=n_head)
    assert isinstance(e.value, ValueError) and str(n_embd) in str(e.value)


@pytest.mark.parametrize("bad", [{"vocab_size": 0}, {"block_size": 0}, {"dropout": 1.0}, {"model_type": "rnn"},
                                 {"n_layer": 0}])
def test_model_config_rejects_impossible_settings(bad):
    with pytest.raises(ConfigError):
        ModelConfig(**{"vocab_size": 65, **bad})


def test_config_round_trips_through_a_dict():
    cfg = tiny_gpt(88)
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ConfigError, match="unknown"):
        ModelConfig.from_dict({**cfg.to_dict(), "n_embed": 32})


def test_bf16_autocast_on_cpu_is_close_to_fp32():
    model = gpt(std=0.1)
    idx = rand_ids(2, 16)
    y = rand_ids(2, 16, seed=5)
    ref, ref_loss = model(idx, y)
    cpu = torch.device("cpu")
    with autocast(cpu, torch.bfloat16):
        low, low_loss = model(idx, y)
    assert low.dtype == torch.float32  # the head runs in fp32 under autocast
    assert not torch.equal(low, ref), "autocast changed nothing: bf16 did not run"
    scale = ref.abs().max()
    assert (low - ref).abs().max() < 0.05 * scale
    assert abs(low_loss.item() - ref_loss.item()) < 0.02 * ref_loss.item()
    with autocast(cpu, torch.float32):  # float32 is a no-op context
        same, _ = model(idx)
    assert torch.equal(same, ref)
