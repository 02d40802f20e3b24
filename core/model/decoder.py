"""Inference with a KV cache: the GPT's own forward pass (GPT.hidden, GPT.head) over the new tokens
only, with a KVCache as its attention kernel, which keeps the keys and values of the tokens seen.

Generating one token a step reads every weight once per token, so its speed is memory traffic
and per-op overhead, not arithmetic. For a big model (core.device.sampling_dtype) the Decoder runs
a private bf16 copy of the model and, on a CPU, packs each Linear's weight once for oneDNN, whose
packed matmul is ~2x faster than F.linear at one row (see docs/benchmarks.md). Tests hold its
logits to GPT.forward's, within and past block_size (tests/unit/test_block_paths.py).

Measured with `python -m bench.paths --threads 1 --clock cpu` (300 new tokens from one token,
"shift" window, medians of 5; AMD EPYC (lscpu), 2 cores shared with other jobs, so the ratios
count more than the rates): the cache pays, 594 vs 315 tokens/s without it at the tiny size (1.9x)
and 114 vs 20 at the lecture size (7.2x), where bf16 packed gives 147 (1.3x fp32). Running the
modules instead of the forward written out a second time, as this file did before, costs per-call
overhead: the decoder alone reached 0.71x the written-out tokens/s at the tiny size (1297 vs
1829) and 0.85x at the lecture size in bf16 (169 vs 199), before inference_mode (+15%)."""
from __future__ import annotations

import copy
from dataclasses import dataclass, field

import torch
import torch.nn as nn

from core.device import sampling_dtype
from core.model.gpt import GPT, attention_dtype, sdpa


@dataclass
class KVCache:
    """Keys and values of the tokens seen so far, and the attention kernel that uses them. Per
    layer, a (k, v) pair of (B, nh, capacity, hs) buffers filled from the left, so a new token is
    written in place (no copy of the whole cache)."""
    layers: list = field(default_factory=list)
    length: int = 0                # tokens in the cache
    capacity: int | None = None    # positions per buffer; the Decoder sets its model's block_size

    def append(self, i: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Store layer i's keys and values of the new tokens; return all of them so far."""
        B, nh, T, hs = k.shape
        if i == len(self.layers):  # the first forward allocates
            assert self.capacity, "KVCache.capacity is not set"
            self.layers.append((k.new_empty(B, nh, self.capacity, hs), v.new_empty(B, nh, self.capacity, hs)))
        keys, values = self.layers[i]
        end = self.length + T
        keys[:, :, self.length:end] = k
        values[:, :, self.length:end] = v
        return keys[:, :, :end], values[:, :, :end]                                # (B, nh, end, hs)

    def __call__(self, q, k, v, *, causal: bool, layer: int) -> torch.Tensor:
        """The kernel: the new queries (B, nh, T, hs) against every key so far."""
        dtype = attention_dtype(k)  # stored in the dtype SDPA runs in: no conversion of the past
        k, v = self.append(layer, k.to(dtype), v.to(dtype))                        # (B, nh, past+T, hs)
        return sdpa(q, k, v, causal=causal)                                       # (B, nh, T, hs)


def _can_pack() -> bool:
    return torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_reorder_linear_weight")


class PackedLinear(nn.Module):
    """An nn.Linear for inference on the CPU: its bf16 weight packed once for oneDNN."""

    def __init__(self, linear: nn.Linear):
        super().__init__()
        self.weight = torch.ops.mkldnn._reorder_linear_weight(linear.weight.detach(), 1)
        self.bias = None if linear.bias is None else linear.bias.detach()

    def forward(self, x):
        return torch.ops.mkldnn._linear_pointwise(x, self.weight, self.bias, "none", [], "")


def inference_copy(model: GPT, dtype: torch.dtype, pack: bool) -> GPT:
    """A private copy of model in dtype, in eval mode, without gradients; with pack, every
    nn.Linear replaced by a PackedLinear (the same math, the module tree otherwise unchanged)."""
    twin = copy.deepcopy(model).to(dtype).eval().requires_grad_(False)
    if pack:
        for parent in list(twin.modules()):
            for name, child in parent.named_children():
                if isinstance(child, nn.Linear):
                    setattr(parent, name, PackedLinear(child))
    return twin


class Decoder:
    """`decoder(idx, cache)`: the logits after the new tokens idx (B, T), which follow the
    cache.length tokens already in cache. The model is not changed; it must be in eval mode."""

    def __init__(self, model: GPT, dtype: str = "auto"):
        self.config = model.config
        self.dtype = sampling_dtype(model, dtype)
        p = next(model.parameters())
        pack = self.dtype == torch.bfloat16 and p.device.type == "cpu" and _can_pack()
        self.model = model if self.dtype == p.dtype and not pack else inference_copy(model, self.dtype, pack)

    @torch.inference_mode()  # ~15% more tokens/s than no_grad at the tiny size (no autograd dispatch)
    def __call__(self, idx: torch.Tensor, cache: KVCache) -> torch.Tensor:
        """idx (B, T) new tokens -> (B, V) fp32 logits of the next token; cache gains T tokens."""
        assert not self.model.training, "the Decoder needs the model in eval mode (no dropout)"
        if cache.capacity is None:
            cache.capacity = self.config.block_size
        x = self.model.hidden(idx, kernel=cache, start=cache.length, last=True)     # (B, 1, C)
        cache.length += idx.size(1)
        return self.model.head(x[:, -1])                                          # (B, V)
