"""Dropout that is cheap on the CPU, and the attention-weights dropout the lecture's model uses.

PyTorch's CPU dropout draws one Bernoulli sample per element (measured: ~6 ns each, 29% of a
lecture-config training step). Here one 64-bit random integer gives four 16-bit draws, ~1 ns an
element. The semantics are dropout's: every element is kept with probability 1 - p (to within
2^-16), kept ones are scaled by 1 / keep_probability (exactly, so the expectation is unchanged),
and the draws come from torch's global RNG, as nn.Dropout's do. On other devices, F.dropout.

With dropout on the attention weights, F.scaled_dot_product_attention on the CPU falls back to an
fp32 path that materialises the T x T weights several times. `attention` does it in the autocast
dtype (bf16 matmuls), with the mask, softmax and dropout as one autograd node. It is the GPT's
attention kernel when it trains on the CPU (core.model.gpt; without dropout no mask is drawn), and
it still pays: one layer's forward + backward at the lecture config (B=16, T=256, 6 heads of 64,
bf16 inputs) takes 87 ms against 248 ms for SDPA with dropout_p, 2.85x (`python -m bench.paths
--threads 1 --clock cpu`, medians of 5, AMD EPYC (lscpu), 2 cores shared with other jobs; earlier,
idle, 2 threads: 35 vs 99 ms). tests/unit/test_block_paths.py holds a training step through it (loss
and every gradient) to the lecture's ops with the same masks."""
from __future__ import annotations

import math

import torch
from torch.nn import functional as F

_DRAWS = 65536  # 16-bit draws
_SAME_WIDTH = {2: torch.int16, 4: torch.int32, 8: torch.int64}  # bytes -> the integer of that width


def keep_mask(shape, p: float, dtype=torch.float32, device=None) -> torch.Tensor:
    """Dropout's multiplier: 1 / P(keep) with probability P(keep) = 1 - p (to within 2^-16), else 0.
    In dtype, because multiplying by a bool mask is ~10x slower on the CPU than by a float one."""
    n = math.prod(shape)
    drop = round(p * _DRAWS)
    words = torch.randint(-2**63, 2**63 - 1, ((n + 3) // 4,), dtype=torch.int64, device=device)
    draws = words.view(torch.int16)[:n].view(shape)                    # uniform on [-32768, 32767]
    # The multiplier's bits where kept, 0 where dropped, built in integers of dtype's width: the same
    # values as keep.to(dtype) * scale, but a bool -> bf16 conversion is 15x slower than bool -> int16
    # (a lecture-size attention mask: 8 vs 13 ms).
    scale = torch.tensor(_DRAWS / (_DRAWS - drop), dtype=dtype)
    as_int = _SAME_WIDTH[scale.element_size()]
    keep = (draws >= drop - _DRAWS // 2).to(as_int)                    # 1 kept, 0 dropped
    return keep.neg_().bitwise_and_(scale.view(as_int).item()).view(dtype)


class _Dropout(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, p):
        keep = keep_mask(x.shape, p, x.dtype, x.device)
        ctx.save_for_backward(keep)
        return x * keep

    @staticmethod
    def backward(ctx, grad):
        keep, = ctx.saved_tensors
        return grad * keep, None


def dropout(x: torch.Tensor, p: float, training: bool = True) -> torch.Tensor:
    if not training or p == 0.0:
        return x
    if x.device.type != "cpu":
        return F.dropout(x, p, True)
    return _Dropout.apply(x, p)


class _MaskedSoftmaxDropout(torch.autograd.Function):
    """dropout(softmax(scores with the future set to -inf)) over the last dim, in scores' dtype.
    Saves the softmax and the keep mask; the gradient is 0 at masked positions by construction."""

    @staticmethod
    def forward(ctx, scores, p, causal):
        T, S = scores.shape[-2:]
        if causal:
            future = torch.ones(T, S, dtype=torch.bool, device=scores.device).triu_(S - T + 1)
            scores = scores.masked_fill(future, float("-inf"))
        weights = torch.softmax(scores, dim=-1)
        if p == 0:  # training without dropout: the masked softmax alone
            ctx.save_for_backward(weights)
            return weights
        keep = keep_mask(weights.shape, p, weights.dtype, weights.device)
        ctx.save_for_backward(weights, keep)
        return weights * keep

    @staticmethod
    def backward(ctx, grad):
        weights, *keep = ctx.saved_tensors
        if keep:
            grad = grad * keep[0]
        return torch._softmax_backward_data(grad, weights, -1, weights.dtype), None, None


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, p: float, causal: bool = True) -> torch.Tensor:
    """The lecture's attention with dropout p on the weights: (B, nh, T, hs) -> (B, nh, T, hs), the
    T queries being the last T of the S key positions. For training on the CPU, with or without
    dropout (p = 0: no mask is drawn); elsewhere core.model.gpt.sdpa."""
    scores = (q * q.size(-1) ** -0.5) @ k.transpose(-2, -1)                     # (B, nh, T, T)
    with torch.autocast(q.device.type, enabled=False):                          # softmax in q's dtype
        weights = _MaskedSoftmaxDropout.apply(scores, p, causal)
        return weights @ v.to(weights.dtype)                                     # (B, nh, T, hs)
