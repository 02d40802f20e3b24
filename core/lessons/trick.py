"""The lecture's "mathematical trick" for self-attention: averaging the past three ways.
v1 loops, v2 multiplies by a row-normalised lower-triangular matrix, v3 fills the future with -inf
and takes a softmax. All three give the same numbers."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.nn import functional as F

from core.errors import UserError

EXAMPLE_B = [[2.0, 7.0], [6.0, 4.0], [6.0, 5.0]]  # the lecture's b, with a = tril(ones(3, 3))


@dataclass(frozen=True)
class TrilExample:
    a: torch.Tensor        # (T, T) tril(ones)
    b: torch.Tensor        # (T, C)
    ab: torch.Tensor       # a @ b: running sums
    a_norm: torch.Tensor   # a with rows summing to 1
    avg: torch.Tensor      # a_norm @ b: running averages


def tril_example(b) -> TrilExample:
    b = torch.as_tensor(b, dtype=torch.float32)
    if b.dim() != 2 or b.size(0) < 1 or b.size(1) < 1:
        raise UserError("b must be a non-empty T x C table of numbers")
    if not torch.isfinite(b).all():
        raise UserError("b must hold finite numbers")
    a = torch.tril(torch.ones(b.size(0), b.size(0)))
    a_norm = a / a.sum(1, keepdim=True)
    return TrilExample(a, b, a @ b, a_norm, a_norm @ b)


@dataclass(frozen=True)
class ThreeVersions:
    x: torch.Tensor        # (T, C)
    v1: torch.Tensor       # (T, C) loop average
    wei2: torch.Tensor     # (T, T) normalised tril
    v2: torch.Tensor
    masked: torch.Tensor   # (T, T) zeros with -inf above the diagonal
    wei3: torch.Tensor     # softmax(masked)
    v3: torch.Tensor
    allclose: bool
    max_diff: float


def three_versions(T: int, C: int, seed: int = 1337) -> ThreeVersions:
    if T < 1 or C < 1:
        raise UserError("T and C must be at least 1")
    x = torch.randn(T, C, generator=torch.Generator().manual_seed(seed))
    v1 = torch.zeros(T, C)
    for t in range(T):                        # version 1: for every t, average x[0..t]
        v1[t] = x[: t + 1].mean(0)
    wei2 = torch.tril(torch.ones(T, T))       # version 2: a weighted sum by matrix multiply
    wei2 = wei2 / wei2.sum(1, keepdim=True)
    v2 = wei2 @ x
    tril = torch.tril(torch.ones(T, T))       # version 3: softmax of a masked affinity matrix
    masked = torch.zeros(T, T).masked_fill(tril == 0, float("-inf"))
    wei3 = F.softmax(masked, dim=-1)
    v3 = wei3 @ x
    diff = max((v1 - v2).abs().max().item(), (v1 - v3).abs().max().item())
    return ThreeVersions(x, v1, wei2, v2, masked, wei3, v3,
                         torch.allclose(v1, v2, atol=1e-6) and torch.allclose(v1, v3, atol=1e-6), diff)
