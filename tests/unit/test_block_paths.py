"""One block, one definition: every path through the GPT equals the plain one.

The oracle is the lecture's model written out here with torch ops from the state dict (per-head
q, k, v slices of the fused weight, masked softmax, concatenation, projection, ReLU feed-forward,
residuals): it shares no code with core.model.gpt. The model's own paths differ only in the attention
kernel: SDPA (the default), the Recorder (GPT.inspect), core.model.dropout's CPU attention (training with
dropout) and the KV cache (core.model.decoder, fp32 and packed bf16, within and past block_size, for
both sampling windows)."""
from __future__ import annotations

import pytest
import torch
from helpers import one_thread, spread_weights, tiny_gpt  # noqa: F401 (autouse)
from torch.nn import functional as F

from core.model.decoder import Decoder, KVCache, PackedLinear
from core.model.dropout import attention as dropout_attention
from core.model.dropout import keep_mask
from core.model.gpt import GPT, Recorder, explicit_attention, sdpa
from core.model.models import build_model

V, BLOCK = 65, 16


def gpt(dtype=torch.float64, **kw) -> GPT:
    torch.manual_seed(0)
    model = spread_weights(build_model(tiny_gpt(V, block_size=BLOCK, n_layer=2, n_head=4, **kw)), std=0.25)
    return model.to(dtype)


def ids(B: int, T: int, seed: int = 0) -> torch.Tensor:
    return torch.randint(V, (B, T), generator=torch.Generator().manual_seed(seed))


def lecture_logits(model: GPT, idx: torch.Tensor, causal: bool = True) -> torch.Tensor:
    """The lecture's GPT (eval mode), head by head, from the weights."""
    sd = {k: v.detach() for k, v in model.state_dict().items()}
    cfg = model.config
    B, T = idx.shape
    C, H = cfg.n_embd, cfg.n_head
    hs = C // H
    x = sd["token_embedding_table.weight"][idx] + sd["position_embedding_table.weight"][:T]   # (B, T, C)
    tril = torch.tril(torch.ones(T, T))
    for i in range(cfg.n_layer):
        def p(name, i=i):
            return sd[f"blocks.{i}.{name}"]
        h = F.layer_norm(x, (C,), p("ln1.weight"), p("ln1.bias"))
        Wq, Wk, Wv = p("attn.qkv.weight").split(C)                      # (C, C) each; head j: rows j*hs..
        heads = []
        for j in range(H):
            rows = slice(j * hs, (j + 1) * hs)
            q, k, v = h @ Wq[rows].T, h @ Wk[rows].T, h @ Wv[rows].T    # (B, T, hs)
            wei = q @ k.transpose(-2, -1) * hs ** -0.5                   # (B, T, T)
            if causal:
                wei = wei.masked_fill(tril == 0, float("-inf"))
            heads.append(F.softmax(wei, dim=-1) @ v)
        x = x + torch.cat(heads, dim=-1) @ p("attn.proj.weight").T + p("attn.proj.bias")
        h = F.layer_norm(x, (C,), p("ln2.weight"), p("ln2.bias"))
        x = x + F.relu(h @ p("ffwd.fc.weight").T + p("ffwd.fc.bias")) @ p("ffwd.proj.weight").T + p("ffwd.proj.bias")
    x = F.layer_norm(x, (C,), sd["ln_f.weight"], sd["ln_f.bias"])
    return x @ sd["lm_head.weight"].T + sd["lm_head.bias"]                                   # (B, T, V)


def dropout_kernel(p):
    def kernel(q, k, v, *, causal, layer):
        return dropout_attention(q, k, v, p, causal)
    return kernel


def explicit_kernel(q, k, v, *, causal, layer):
    return explicit_attention(q, k, v, causal=causal)


@pytest.mark.parametrize("causal", [True, False])
def test_every_kernel_gives_the_lecture_s_logits(causal):
    model = gpt()
    idx = ids(3, BLOCK)
    expected = lecture_logits(model, idx, causal)
    paths = {
        "default (SDPA)": model(idx, causal=causal)[0],
        "explicit": model(idx, causal=causal, kernel=explicit_kernel)[0],
        "Recorder": model(idx, causal=causal, kernel=Recorder())[0],
        "inspect": model.inspect(idx, causal=causal).logits,
        "CPU dropout attention, p=0": model(idx, causal=causal, kernel=dropout_kernel(0.0))[0],
    }
    for name, logits in paths.items():
        assert logits.dtype == torch.float32, name  # the head's output: fp32 logits
        torch.testing.assert_close(logits.double(), expected, atol=1e-5, rtol=1e-6, msg=name)
    # the oracle has teeth: the same weights read as q, k, v interleaved per head give other logits
    qkv = model.blocks[0].attn.qkv.weight
    twin = gpt()
    with torch.no_grad():
        twin.blocks[0].attn.qkv.weight.copy_(qkv.view(3, 4, -1, qkv.size(1)).transpose(0, 1).reshape_as(qkv))
    assert (twin(idx, causal=causal)[0].double() - expected).abs().max() > 0.1


def test_a_kernel_sees_every_layer_in_order_and_its_output_is_used():
    model = gpt()
    idx = ids(2, 8)
    seen = []

    def spy(q, k, v, *, causal, layer):
        seen.append((layer, causal, tuple(q.shape)))
        return sdpa(q, k, v, causal=causal)
    torch.testing.assert_close(model(idx, kernel=spy)[0], model(idx)[0], atol=0, rtol=0)
    assert seen == [(0, True, (2, 4, 8, 8)), (1, True, (2, 4, 8, 8))]

    def nothing(q, k, v, *, causal, layer):
        return torch.zeros_like(v)
    assert (model(idx, kernel=nothing)[0] - model(idx)[0]).abs().max() > 0.1


@pytest.mark.parametrize("causal", [True, False])
def test_kernels_agree_when_the_queries_are_the_last_of_the_keys(causal):
    """The kernel contract: q (B, nh, T, hs) are the last T of S positions. Every kernel gives the
    last T rows of attention over all S queries, and the cache (filled S - T, then T) does too."""
    g = torch.Generator().manual_seed(1)
    B, nh, S, T, hs = 2, 3, 11, 4, 8
    q, k, v = (torch.randn(B, nh, S, hs, generator=g, dtype=torch.float64) for _ in range(3))
    full = explicit_attention(q, k, v, causal=causal)[:, :, -T:]
    torch.testing.assert_close(explicit_attention(q[:, :, -T:], k, v, causal=causal), full)
    torch.testing.assert_close(sdpa(q[:, :, -T:], k, v, causal=causal), full)
    torch.testing.assert_close(dropout_attention(q[:, :, -T:], k, v, 0.0, causal), full)
    if causal:  # the decoder's cache: prefill S - T keys, then T new queries see all of them
        cache = KVCache(capacity=S)
        cache(q[:, :, :S - T], k[:, :, :S - T], v[:, :, :S - T], causal=True, layer=0)
        cache.length = S - T
        torch.testing.assert_close(cache(q[:, :, -T:], k[:, :, -T:], v[:, :, -T:], causal=True, layer=0), full)


def test_training_with_dropout_on_the_cpu_is_the_lecture_s_model_with_the_same_masks():
    """Loss and every gradient of a training step through core.model.dropout's attention (cheap masks,
    one autograd node for mask + softmax + dropout) equal the lecture's ops with the same masks."""
    p = 0.3
    model = gpt(dropout=p).train()
    idx, targets = ids(2, BLOCK), ids(2, BLOCK, seed=1)

    def reference(q, k, v, *, causal, layer):  # the lecture's ops, the mask drawn where the kernel draws it
        wei = F.softmax(explicit_scores(q, k, causal), dim=-1)
        return (wei * keep_mask(wei.shape, p, wei.dtype)) @ v

    torch.manual_seed(7)
    _, loss = model(idx, targets)
    grads = torch.autograd.grad(loss, list(model.parameters()))
    torch.manual_seed(7)
    _, ref_loss = model(idx, targets, kernel=reference)
    ref_grads = torch.autograd.grad(ref_loss, list(model.parameters()))
    torch.testing.assert_close(loss, ref_loss, atol=1e-12, rtol=1e-12)
    for (name, _), a, b in zip(model.named_parameters(), grads, ref_grads):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=1e-10, msg=name)
    torch.manual_seed(8)  # another seed, other masks: the equality above is not trivial
    _, other = model(idx, targets)
    assert abs(other.item() - loss.item()) > 1e-3


def test_training_without_dropout_on_the_cpu_is_the_lecture_s_model():
    """At dropout 0 a CPU training step still runs core.model.dropout's attention (no mask drawn):
    loss and every gradient equal the lecture's ops, and the model in eval mode (SDPA) gives the
    same loss."""
    model = gpt(dropout=0.0).train()
    idx, targets = ids(2, BLOCK), ids(2, BLOCK, seed=1)
    _, loss = model(idx, targets)
    grads = torch.autograd.grad(loss, list(model.parameters()))

    def reference(q, k, v, *, causal, layer):  # the lecture's ops, in the model's float64
        return F.softmax(explicit_scores(q, k, causal), dim=-1) @ v

    _, ref_loss = model(idx, targets, kernel=reference)
    ref_grads = torch.autograd.grad(ref_loss, list(model.parameters()))
    torch.testing.assert_close(loss, ref_loss, atol=1e-12, rtol=1e-12)
    for (name, _), a, b in zip(model.named_parameters(), grads, ref_grads):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=1e-10, msg=name)
    torch.testing.assert_close(model.eval()(idx, targets)[1], loss.detach(), atol=1e-12, rtol=1e-12)


def explicit_scores(q, k, causal):
    T = q.size(-2)
    wei = q @ k.transpose(-2, -1) * q.size(-1) ** -0.5
    return wei.masked_fill(torch.tril(torch.ones(T, T)) == 0, float("-inf")) if causal else wei


def windowed_logits(model: GPT, seq: torch.Tensor, window: str, decoder: Decoder | None = None, prefill: int = 5):
    """The last position's logits after each prefix of seq, the context cropped as sampling does
    (core.model.sampling): "slide" keeps the last block_size tokens, "shift" drops the older half when
    the block is full. With a decoder, through its KV cache (rebuilt when the window moves, the
    first `prefill` tokens fed at once); else one full forward per prefix."""
    block = model.config.block_size
    step = 1 if window == "slide" else block // 2
    start, cache, out = 0, KVCache(), []
    for n in range(prefill, seq.size(1) + 1):
        if n - start > block:
            start += step
            cache = KVCache()
        if decoder is None:
            out.append(model(seq[:, start:n])[0][:, -1])
        else:
            out.append(decoder(seq[:, start + cache.length:n], cache))
    return torch.stack(out, 1)                                                   # (B, steps, V)


@pytest.mark.parametrize("window", ["shift", "slide"])
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_the_kv_cache_decoder_gives_the_full_forward_s_logits_past_the_block(window, dtype):
    model = gpt(torch.float32)
    seq = ids(2, 3 * BLOCK + 3, seed=2)
    with torch.no_grad():
        expected = windowed_logits(model, seq, window)
    decoder = Decoder(model, dtype)
    if dtype == "bfloat16" and torch.backends.mkldnn.is_available():  # on a CPU: packed for oneDNN
        assert isinstance(decoder.model.blocks[0].attn.qkv, PackedLinear)
    got = windowed_logits(model, seq, window, decoder)
    tol = {"atol": 1e-5, "rtol": 1e-5} if dtype == "float32" else {"atol": 0.15, "rtol": 0.05}
    torch.testing.assert_close(got, expected, **tol)
    if dtype == "bfloat16":  # bf16 really ran, and it picks the same next character almost always
        assert not torch.equal(got, expected)
        assert (got.argmax(-1) == expected.argmax(-1)).float().mean() > 0.95
    assert next(model.parameters()).dtype == torch.float32 and not isinstance(model.blocks[0].attn.qkv, PackedLinear)


def test_the_decoder_refuses_a_model_in_training_mode():
    model = gpt(torch.float32).train()
    with pytest.raises(AssertionError, match="eval"):
        Decoder(model, "float32")(ids(1, 3), KVCache())
