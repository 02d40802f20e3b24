"""Inference with a KV cache: a GPT's weights laid out for generating text, and its forward pass
over new tokens that reuses the keys and values of the tokens already seen.

Generating one token a step reads every weight once per token, so its speed is memory traffic
and per-op overhead, not arithmetic. So the Decoder
* runs the math of GPT.forward written out, without module calls or extra views;
* for a big model (core.device.sampling_dtype) keeps the weights in bf16 and, on a CPU, packs
  them once for oneDNN, whose packed matmul is ~2x faster than F.linear at one row (measured at
  the lecture size: 0.48 vs 0.88 ms a token for the 24 projections; see docs/benchmarks.md).
Tests hold its logits to GPT.forward's."""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch.nn import functional as F

from core.device import sampling_dtype
from core.gpt import GPT


@dataclass
class KVCache:
    """Keys and values of the tokens seen so far. Per layer, a (k, v) pair of (B, nh, block_size, hs)
    buffers filled from the left, so a new token is written in place (no copy of the whole cache)."""
    layers: list = field(default_factory=list)
    length: int = 0  # tokens in the cache

    def append(self, i: int, k: torch.Tensor, v: torch.Tensor, capacity: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Store layer i's keys and values of the new tokens; return all of them so far."""
        B, nh, T, hs = k.shape
        if i == len(self.layers):  # the first forward allocates
            self.layers.append((k.new_empty(B, nh, capacity, hs), v.new_empty(B, nh, capacity, hs)))
        keys, values = self.layers[i]
        end = self.length + T
        keys[:, :, self.length:end] = k
        values[:, :, self.length:end] = v
        return keys[:, :, :end], values[:, :, :end]                                # (B, nh, end, hs)


def _can_pack() -> bool:
    return torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_reorder_linear_weight")


class Decoder:
    """A GPT's weights for inference, and `decoder(idx, cache)`: the logits after the new tokens
    idx (B, T), which follow the cache.length tokens already in cache. The model is not changed."""

    def __init__(self, model: GPT, dtype: str = "auto"):
        self.config = model.config
        self.dtype = sampling_dtype(model, dtype)
        device = next(model.parameters()).device
        self.pack = self.dtype == torch.bfloat16 and device.type == "cpu" and _can_pack()
        # PyTorch's CPU attention is slower in bf16 than in fp32 (a decoded token: 52 vs 10 us)
        self.fp32_attention = self.dtype == torch.bfloat16 and device.type == "cpu"

        def t(p):
            return p.detach().to(self.dtype)

        def linear(m):
            weight = t(m.weight)
            weight = torch.ops.mkldnn._reorder_linear_weight(weight, 1) if self.pack else weight
            return weight, None if m.bias is None else t(m.bias)

        def norm(m):
            return t(m.weight), t(m.bias), m.eps

        self.tok, self.pos = t(model.token_embedding_table.weight), t(model.position_embedding_table.weight)
        self.blocks = [(norm(b.ln1), linear(b.attn.qkv), linear(b.attn.proj), norm(b.ln2), linear(b.ffwd.fc),
                        linear(b.ffwd.proj)) for b in model.blocks]
        self.ln_f, self.head = norm(model.ln_f), linear(model.lm_head)

    def _linear(self, x, weight_bias):
        weight, bias = weight_bias
        if self.pack:
            return torch.ops.mkldnn._linear_pointwise(x, weight, bias, "none", [], "")
        return F.linear(x, weight, bias)

    @torch.no_grad()
    def __call__(self, idx: torch.Tensor, cache: KVCache) -> torch.Tensor:
        """idx (B, T) new tokens -> (B, V) fp32 logits of the next token; cache gains T tokens."""
        cfg = self.config
        B, T = idx.shape
        C, nh, past = cfg.n_embd, cfg.n_head, cache.length
        assert past + T <= cfg.block_size, (
            f"Cannot forward sequence of length {past + T}, block size is only {cfg.block_size}")
        x = self.tok[idx] + self.pos[past:past + T]                                     # (B, T, C)
        mask = None  # new queries at positions past..past+T-1 see keys 0..their own
        if T > 1 and past:
            mask = torch.ones(T, past + T, dtype=torch.bool, device=idx.device).tril(diagonal=past)
        for i, (ln1, qkv, proj, ln2, fc, fc_proj) in enumerate(self.blocks):
            h = F.layer_norm(x, (C,), *ln1[:2], ln1[2])
            q, k, v = self._linear(h, qkv).view(B, T, 3, nh, C // nh).permute(2, 0, 3, 1, 4)  # (B, nh, T, hs)
            if self.fp32_attention:
                q, k, v = q.float(), k.float(), v.float()
            k, v = cache.append(i, k, v, cfg.block_size)                               # (B, nh, past+T, hs)
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=T > 1 and not past)
            x = x + self._linear(y.transpose(1, 2).reshape(B, T, C).to(x.dtype), proj)
            h = F.relu(self._linear(F.layer_norm(x, (C,), *ln2[:2], ln2[2]), fc))
            x = x + self._linear(h, fc_proj)
        cache.length += T
        h = F.layer_norm(x[:, -1], (C,), *self.ln_f[:2], self.ln_f[2])
        return self._linear(h, self.head).float()                                       # (B, V)
