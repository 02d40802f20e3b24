"""The lecture's GPT: token + position embeddings, pre-LayerNorm blocks of multi-head causal
self-attention and a 4x ReLU feed-forward, a final LayerNorm and a linear head.

Two paths through attention share the same weights:
* the fast path (training, sampling): fused QKV projection + F.scaled_dot_product_attention
  (training with dropout on the CPU: core.dropout.attention, bf16 matmuls and a cheap mask);
* the inspectable path (`GPT.inspect`): the lecture's explicit q @ k^T, scale, mask, softmax, @ v,
  recording every stage for every layer and head.
Inference with a KV cache lives in core.decoder."""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
from torch.nn import functional as F

from core.config import ModelConfig
from core.dropout import attention as dropout_attention
from core.dropout import dropout


@dataclass
class Inspection:
    """Every stage of attention, stacked over layers: tensors are (B, n_layer, n_head, T, T) for
    the maps and (B, n_layer, n_head, T, head_size) for q, k, v and the head outputs."""
    logits: torch.Tensor
    scores: torch.Tensor   # q @ k^T
    scaled: torch.Tensor   # q @ k^T / sqrt(head_size)
    masked: torch.Tensor   # scaled with -inf above the diagonal (decoder) or unchanged (encoder)
    weights: torch.Tensor  # softmax(masked): each row sums to 1
    q: torch.Tensor
    k: torch.Tensor
    v: torch.Tensor
    out: torch.Tensor      # weights @ v, per head, before the output projection
    causal: bool


class CausalSelfAttention(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.n_head, self.n_embd = config.n_head, config.n_embd
        self.qkv = nn.Linear(config.n_embd, 3 * config.n_embd, bias=False)  # fused q, k, v
        self.proj = nn.Linear(config.n_embd, config.n_embd)
        self.dropout = config.dropout  # on the attention weights and on the output

    def _heads(self, x):
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(self.n_embd, dim=2)                          # 3 x (B, T, C)
        shape = (B, T, self.n_head, C // self.n_head)
        return [t.view(shape).transpose(1, 2) for t in (q, k, v)]                 # (B, nh, T, hs)

    def forward(self, x, causal: bool = True):
        B, T, C = x.shape
        q, k, v = self._heads(x)
        if self.training and self.dropout > 0 and x.device.type == "cpu":
            y = dropout_attention(q, k, v, self.dropout, causal)                   # (B, nh, T, hs)
        else:
            if q.dtype == torch.bfloat16 and q.device.type == "cpu":
                # PyTorch's CPU attention is slower in bf16 than in fp32 (measured: backward ~7x),
                # while the projections gain ~3x from bf16: attention itself in fp32
                q, k, v = q.float(), k.float(), v.float()
            with torch.autocast(x.device.type, enabled=False):
                y = F.scaled_dot_product_attention(
                    q, k, v, is_causal=causal and T > 1,
                    dropout_p=self.dropout if self.training else 0.0)             # (B, nh, T, hs)
            y = y.to(x.dtype)
        y = y.transpose(1, 2).contiguous().view(B, T, C)                           # (B, T, C)
        return dropout(self.proj(y), self.dropout, self.training)

    def forward_inspect(self, x, causal: bool, record: dict):
        """The lecture's explicit attention, every stage kept in record."""
        B, T, C = x.shape
        q, k, v = self._heads(x)                                                  # (B, nh, T, hs)
        scores = q @ k.transpose(-2, -1)                                          # (B, nh, T, T)
        scaled = scores * q.size(-1) ** -0.5
        masked = scaled
        if causal:
            tril = torch.tril(torch.ones(T, T, dtype=torch.bool, device=x.device))
            masked = scaled.masked_fill(~tril, float("-inf"))
        weights = F.softmax(masked.float(), dim=-1).to(v.dtype)                  # rows sum to 1
        out = weights @ v                                                         # (B, nh, T, hs)
        for name, t in (("scores", scores), ("scaled", scaled), ("masked", masked),
                        ("weights", weights), ("q", q), ("k", k), ("v", v), ("out", out)):
            record.setdefault(name, []).append(t)
        y = out.transpose(1, 2).contiguous().view(B, T, C)
        return dropout(self.proj(y), self.dropout, self.training)


class FeedForward(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.fc = nn.Linear(config.n_embd, 4 * config.n_embd)
        self.proj = nn.Linear(4 * config.n_embd, config.n_embd)
        self.dropout = config.dropout

    def forward(self, x):
        return dropout(self.proj(F.relu(self.fc(x))), self.dropout, self.training)


class Block(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.ln1 = nn.LayerNorm(config.n_embd)
        self.attn = CausalSelfAttention(config)
        self.ln2 = nn.LayerNorm(config.n_embd)
        self.ffwd = FeedForward(config)

    def forward(self, x, causal=True, record=None):
        if record is None:
            x = x + self.attn(self.ln1(x), causal)
        else:
            x = x + self.attn.forward_inspect(self.ln1(x), causal, record)
        return x + self.ffwd(self.ln2(x))


class GPT(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        assert config.model_type == "gpt", "GPT needs a gpt ModelConfig"
        self.config = config
        self.token_embedding_table = nn.Embedding(config.vocab_size, config.n_embd)
        self.position_embedding_table = nn.Embedding(config.block_size, config.n_embd)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.ln_f = nn.LayerNorm(config.n_embd)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size)
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(module):
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def _embed(self, idx):
        B, T = idx.shape
        assert self.config.block_size >= T, (
            f"Cannot forward sequence of length {T}, block size is only {self.config.block_size}")
        pos = self.position_embedding_table.weight[:T]                               # (T, C)
        return dropout(self.token_embedding_table(idx) + pos, self.config.dropout, self.training)  # (B, T, C)

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None, *, causal: bool = True):
        """idx (B, T) -> logits (B, T, V) and, with targets, the mean cross-entropy loss."""
        x = self._embed(idx)
        for block in self.blocks:
            x = block(x, causal)
        with torch.autocast(x.device.type, enabled=False):  # the head in the weights' dtype (fp32 under
            h = self.ln_f(x).to(self.lm_head.weight.dtype)    # autocast: the loss keeps its precision)
            logits = self.lm_head(h).float()
        if targets is None:
            return logits, None
        B, T, V = logits.shape
        return logits, F.cross_entropy(logits.float().view(B * T, V), targets.reshape(B * T))

    @torch.no_grad()
    def inspect(self, idx: torch.Tensor, causal: bool = True) -> Inspection:
        """Run idx through the explicit attention path and return every stage of every head."""
        record: dict = {}
        x = self._embed(idx)
        for block in self.blocks:
            x = block(x, causal, record=record)
        logits = self.lm_head(self.ln_f(x))
        stacked = {k: torch.stack(v, dim=1) for k, v in record.items()}               # (B, L, nh, ...)
        return Inspection(logits=logits, causal=causal, **stacked)

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())
