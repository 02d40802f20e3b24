"""The lecture's GPT: token + position embeddings, pre-LayerNorm blocks of multi-head causal
self-attention and a 4x ReLU feed-forward, a final LayerNorm and a linear head. The lecture's
ladder (core.lessons.ladder) builds it up with ModelConfig's switches: the output projection, the
feed-forward, the residual connections and LayerNorm can each be off (same classes, pieces absent).

One block, one definition: every path through the model (training, evaluation, `GPT.inspect`,
the KV-cache decoder of core.model.decoder) runs the same module methods: `GPT._embed`, `Block.forward`,
`CausalSelfAttention.heads` and `.merge`, `FeedForward.forward`, `GPT.head`. Only the attention
kernel differs, and every kernel maps q, k, v (B, nh, T, hs) to the heads' outputs (B, nh, T, hs),
the T queries being the last T of the S key positions:
* `CausalSelfAttention.attend` (the default): `sdpa`, F.scaled_dot_product_attention; training
  on the CPU uses core.model.dropout.attention instead (bf16 matmuls, a cheap mask; see its
  docstring for what it measures against SDPA);
* `Recorder` (`GPT.inspect`): the lecture's explicit q @ k^T, scale, mask, softmax, @ v, keeping
  every stage of every layer and head;
* core.model.decoder.KVCache: appends k and v to the cache, then `sdpa` over every key so far.
A kernel is called as kernel(q, k, v, causal=..., layer=...); tests/unit/test_block_paths.py holds each
path to the plain one."""
from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass

import torch
import torch.nn as nn
from torch.nn import functional as F

from core.config import ModelConfig
from core.model.dropout import attention as dropout_attention
from core.model.dropout import dropout

Kernel = Callable[..., torch.Tensor]  # kernel(q, k, v, *, causal: bool, layer: int) -> (B, nh, T, hs)


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


def causal_mask(T: int, S: int, device=None) -> torch.Tensor:
    """(T, S) True where a query may see a key: the T queries sit at the last T of S positions."""
    return torch.ones(T, S, dtype=torch.bool, device=device).tril_(S - T)


def attention_dtype(t: torch.Tensor) -> torch.dtype:
    """The dtype SDPA runs in: fp32 for bf16 on the CPU, where PyTorch's attention is slower in bf16
    than in fp32 (measured: training backward ~7x, a decoded token 52 vs 10 us), else t's own."""
    return torch.float32 if t.dtype == torch.bfloat16 and t.device.type == "cpu" else t.dtype


def no_autocast(device_type: str):
    """A context that turns autocast off, or nothing when it is off already (entering and leaving
    torch.autocast costs ~5 us, as much as a decoded token's attention at the tiny size)."""
    return torch.autocast(device_type, enabled=False) if torch.is_autocast_enabled(device_type) else nullcontext()


def sdpa(q, k, v, *, causal: bool = True, dropout_p: float = 0.0) -> torch.Tensor:
    """F.scaled_dot_product_attention, outside autocast, returned in q's dtype."""
    T, S, dtype = q.size(-2), k.size(-2), q.dtype
    if attention_dtype(q) != dtype or k.dtype != dtype:
        q, k, v = (t.to(attention_dtype(q)) for t in (q, k, v))
    mask = causal_mask(T, S, q.device) if causal and 1 < T < S else None  # is_causal aligns top-left
    with no_autocast(q.device.type):
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal and 1 < T == S,
                                           dropout_p=dropout_p)                    # (B, nh, T, hs)
    return y.to(dtype)


STAGES = ("scores", "scaled", "masked", "weights", "q", "k", "v", "out")


def explicit_attention(q, k, v, *, causal: bool = True, record: dict | None = None) -> torch.Tensor:
    """The lecture's attention written out; with record, every stage appended to record[stage]."""
    T, S = q.size(-2), k.size(-2)
    scores = q @ k.transpose(-2, -1)                                              # (B, nh, T, S)
    scaled = scores * q.size(-1) ** -0.5
    masked = scaled.masked_fill(~causal_mask(T, S, q.device), float("-inf")) if causal else scaled
    weights = F.softmax(masked.float(), dim=-1).to(v.dtype)                      # rows sum to 1
    out = weights @ v                                                             # (B, nh, T, hs)
    if record is not None:
        for name, t in zip(STAGES, (scores, scaled, masked, weights, q, k, v, out)):
            record.setdefault(name, []).append(t)
    return out


class Recorder:
    """A kernel: the explicit attention, keeping every layer's stages in record[stage][layer]."""

    def __init__(self):
        self.record: dict[str, list[torch.Tensor]] = {}

    def __call__(self, q, k, v, *, causal: bool, layer: int) -> torch.Tensor:
        assert len(self.record.get("out", ())) == layer, "layers must be recorded in order"
        return explicit_attention(q, k, v, causal=causal, record=self.record)


class CausalSelfAttention(nn.Module):
    def __init__(self, config: ModelConfig, layer: int = 0):
        super().__init__()
        self.n_head, self.n_embd = config.n_head, config.n_embd
        self.layer = layer  # its index in GPT.blocks: a KV cache keeps keys and values per layer
        self.qkv = nn.Linear(config.n_embd, 3 * config.n_embd, bias=False)  # fused q, k, v
        # the output projection; an Identity when the ladder switches it off (hooks on its input still work)
        self.proj = nn.Linear(config.n_embd, config.n_embd) if config.attn_proj else nn.Identity()
        self.dropout = config.dropout  # on the attention weights and on the output

    def heads(self, x):
        """(B, T, C) -> q, k, v, each (B, nh, T, hs)."""
        B, T, C = x.shape
        qkv = self.qkv(x).view(B, T, 3, self.n_head, C // self.n_head)            # (B, T, 3, nh, hs)
        return qkv.permute(2, 0, 3, 1, 4).unbind(0)                                # 3 x (B, nh, T, hs)

    def merge(self, y):
        """The heads' outputs (B, nh, T, hs) side by side (B, T, C), projected (core.probe.heads hooks
        self.proj's input), then dropout."""
        B, nh, T, hs = y.shape
        y = y.transpose(1, 2).reshape(B, T, nh * hs)                               # (B, T, C)
        return dropout(self.proj(y), self.dropout, self.training)

    def attend(self, q, k, v, *, causal: bool = True, layer: int = 0) -> torch.Tensor:
        """The default kernel: SDPA, or core.model.dropout's attention to train on the CPU (with or
        without dropout: its bf16 masked softmax is one autograd node, and a training step's attention
        takes 1.8 ms against 4.5 for SDPA at the small config, 17.5 against 42.5 at the lecture's
        B=16, T=256, nh=6, hs=64; AMD EPYC Zen 5, 2 threads; tests/unit/test_block_paths.py)."""
        p = self.dropout if self.training else 0.0
        if self.training and q.device.type == "cpu":
            return dropout_attention(q, k, v, p, causal)                          # (B, nh, T, hs)
        return sdpa(q, k, v, causal=causal, dropout_p=p)                           # (B, nh, T, hs)

    def forward(self, x, causal: bool = True, kernel: Kernel | None = None, last: bool = False):
        """last: the output at the last position only (B, 1, C); keys and values still come from every
        position (a KV cache keeps them all)."""
        q, k, v = self.heads(x)
        if last:
            q = q[:, :, -1:]                                                       # (B, nh, 1, hs)
        return self.merge((kernel or self.attend)(q, k, v, causal=causal, layer=self.layer))


class FeedForward(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.fc = nn.Linear(config.n_embd, 4 * config.n_embd)
        self.proj = nn.Linear(4 * config.n_embd, config.n_embd)
        self.dropout = config.dropout

    def forward(self, x):
        return dropout(self.proj(F.relu(self.fc(x))), self.dropout, self.training)


def norm(config: ModelConfig) -> nn.Module:
    """A LayerNorm, or an Identity on a ladder rung without LayerNorm (config.layer_norm)."""
    return nn.LayerNorm(config.n_embd) if config.layer_norm else nn.Identity()


class Block(nn.Module):
    """Communication (attention) then computation (feed-forward), each pre-normed and added to the
    residual stream; the ladder's switches (config.ffwd, .residual, .layer_norm) take pieces out."""

    def __init__(self, config: ModelConfig, layer: int = 0):
        super().__init__()
        self.ln1 = norm(config)
        self.attn = CausalSelfAttention(config, layer)
        self.ln2 = norm(config)
        self.ffwd = FeedForward(config) if config.ffwd else None
        self.residual = config.residual

    def forward(self, x, causal: bool = True, kernel: Kernel | None = None, last: bool = False):
        a = self.attn(self.ln1(x), causal, kernel, last)                           # (B, T or 1, C)
        if last:
            x = x[:, -1:]
        x = x + a if self.residual else a
        if self.ffwd is None:
            return x
        f = self.ffwd(self.ln2(x))                                                 # (B, T, C)
        return x + f if self.residual else f


class GPT(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        assert config.model_type == "gpt", "GPT needs a gpt ModelConfig"
        self.config = config
        self.token_embedding_table = nn.Embedding(config.vocab_size, config.n_embd)
        self.position_embedding_table = nn.Embedding(config.block_size, config.n_embd)
        self.blocks = nn.ModuleList(Block(config, layer) for layer in range(config.n_layer))
        self.ln_f = norm(config)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size)
        if config.init == "normal":  # else PyTorch's defaults, as the lecture's code left them
            self.apply(self._init_weights)

    @staticmethod
    def _init_weights(module):
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def _embed(self, idx, start: int = 0):
        """idx (B, T) at positions start..start+T-1 -> token + position embeddings (B, T, C)."""
        B, T = idx.shape
        assert start + T <= self.config.block_size, (
            f"Cannot forward sequence of length {start + T}, block size is only {self.config.block_size}")
        pos = self.position_embedding_table.weight[start:start + T]                  # (T, C)
        return dropout(self.token_embedding_table(idx) + pos, self.config.dropout, self.training)  # (B, T, C)

    def hidden(self, idx: torch.Tensor, causal: bool = True, kernel: Kernel | None = None,
               start: int = 0, last: bool = False) -> torch.Tensor:
        """The residual stream (B, T, C) after the last block, for idx (B, T) at positions start..;
        kernel: the attention kernel (default: each layer's `attend`). last: only the last position's
        stream (B, 1, C), which is all that sampling reads: the final block then projects one query,
        not T, and its feed-forward runs on one row (the "slide" window re-runs a whole block per
        character, so this is ~1/n_layer of its work)."""
        x = self._embed(idx, start)
        for i, block in enumerate(self.blocks):
            x = block(x, causal, kernel, last and i == len(self.blocks) - 1)
        return x

    def head(self, x: torch.Tensor) -> torch.Tensor:
        """The final LayerNorm and the linear head: (..., C) -> fp32 logits (..., V). Outside
        autocast, in the weights' dtype (fp32 in training: the loss keeps its precision)."""
        with no_autocast(x.device.type):
            return self.lm_head(self.ln_f(x).to(self.lm_head.weight.dtype)).float()

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None, *, causal: bool = True,
                kernel: Kernel | None = None):
        """idx (B, T) -> logits (B, T, V) and, with targets, the mean cross-entropy loss."""
        logits = self.head(self.hidden(idx, causal, kernel))                        # (B, T, V)
        if targets is None:
            return logits, None
        B, T, V = logits.shape
        return logits, F.cross_entropy(logits.view(B * T, V), targets.reshape(B * T))

    @torch.no_grad()
    def inspect(self, idx: torch.Tensor, causal: bool = True) -> Inspection:
        """Run idx through the explicit attention (a Recorder) and return every stage of every head."""
        recorder = Recorder()
        logits, _ = self(idx, causal=causal, kernel=recorder)
        stacked = {k: torch.stack(v, dim=1) for k, v in recorder.record.items()}       # (B, L, nh, ...)
        return Inspection(logits=logits, causal=causal, **stacked)

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())
