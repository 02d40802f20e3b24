"""core.model.dropout: the cheap CPU dropout keeps dropout's statistics, and the attention path used for
training with dropout equals scaled_dot_product_attention (p = 0) or the lecture's explicit
attention with the same mask (p > 0), forward and backward."""
import pytest
import torch
from helpers import one_thread  # noqa: F401 (autouse)
from torch.nn import functional as F

from core.model.dropout import attention, dropout, keep_mask


@pytest.mark.parametrize("p", [0.1, 0.2, 0.5])
def test_keep_mask_keeps_1_minus_p_and_is_unbiased(p):
    torch.manual_seed(0)
    n = 1 << 20
    m = keep_mask((n,), p)
    kept = m > 0
    values = m.unique().tolist()
    assert len(values) == 2 and values[0] == 0.0 and values[1] == pytest.approx(1 / (1 - p), rel=1e-4)
    assert abs(kept.float().mean().item() - (1 - p)) < 0.003   # 6 standard deviations at n = 2^20
    assert abs(m.mean().item() - 1.0) < 0.005                    # E[mask] = 1: activations keep their scale
    for lane in range(4):  # each 16-bit quarter of the 64-bit draws is as random as the others
        assert abs(kept[lane::4].float().mean().item() - (1 - p)) < 0.006


def test_keep_mask_follows_the_global_seed():
    torch.manual_seed(3)
    a = keep_mask((1000,), 0.2)
    torch.manual_seed(3)
    assert torch.equal(a, keep_mask((1000,), 0.2))
    assert not torch.equal(a, keep_mask((1000,), 0.2))


def test_dropout_multiplies_by_the_mask_and_so_does_its_gradient():
    x = torch.randn(64, 128, requires_grad=True)
    torch.manual_seed(1)
    y = dropout(x, 0.2)
    y.backward(torch.ones_like(y))
    torch.manual_seed(1)
    mask = keep_mask(x.shape, 0.2)
    assert torch.equal(y, x.detach() * mask)
    assert torch.equal(x.grad, mask)


def test_dropout_is_the_identity_in_eval_or_at_p_0():
    x = torch.randn(10, 10)
    assert dropout(x, 0.0) is x and dropout(x, 0.5, training=False) is x


def _qkv(dtype=torch.float64, B=2, nh=3, T=7, hs=4):
    g = torch.Generator().manual_seed(0)
    return [torch.randn(B, nh, T, hs, generator=g, dtype=dtype, requires_grad=True) for _ in range(3)]


def _grads(out, inputs):
    return torch.autograd.grad(out, inputs, torch.ones_like(out))


@pytest.mark.parametrize("causal", [True, False])
def test_attention_without_dropout_equals_sdpa(causal):
    q, k, v = _qkv()
    ours = attention(q, k, v, 0.0, causal)
    ref = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    torch.testing.assert_close(ours, ref)
    for a, b in zip(_grads(ours, (q, k, v)), _grads(ref, (q, k, v))):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("causal", [True, False])
def test_attention_with_dropout_equals_the_explicit_lecture_attention(causal):
    q, k, v = _qkv()
    torch.manual_seed(5)
    ours = attention(q, k, v, 0.3, causal)
    torch.manual_seed(5)
    T = q.size(-2)
    wei = q @ k.transpose(-2, -1) * q.size(-1) ** -0.5
    if causal:
        wei = wei.masked_fill(torch.tril(torch.ones(T, T)) == 0, float("-inf"))
    wei = F.softmax(wei, dim=-1) * keep_mask(wei.shape, 0.3, wei.dtype)
    ref = wei @ v
    torch.testing.assert_close(ours, ref)
    for a, b in zip(_grads(ours, (q, k, v)), _grads(ref, (q, k, v))):
        torch.testing.assert_close(a, b)
    dropped = (keep_mask(wei.shape, 0.3) == 0).float().mean()
    assert 0.2 < dropped < 0.4


def test_attention_in_bf16_is_close_to_fp32():
    q, k, v = _qkv(torch.float32, T=32, hs=16)
    exact = attention(q, k, v, 0.0)
    half = attention(*(t.detach().bfloat16() for t in (q, k, v)), 0.0)
    assert half.dtype == torch.bfloat16
    torch.testing.assert_close(half.float(), exact.detach(), atol=0.03, rtol=0.03)
