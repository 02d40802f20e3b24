"""The logit lens: what the residual stream would predict if the model stopped after each layer.

The stream is read after the embeddings ("layer 0") and after every block, and the model's own
final LayerNorm and head are applied to it (nostalgebraist 2020). The readout after the last block
is the model's logits. The stream is captured with forward hooks on the blocks that record only
calls from the thread that installed them, so a model shared by the app's sessions is safe."""
from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch.nn import functional as F

from core.errors import UserError
from core.probe.heads import val_windows
from core.text.tokenizer import CharTokenizer


@contextmanager
def residual_streams(model):
    """Yields a list that, after a forward pass inside the block, holds the residual stream after
    the embeddings and after each block: n_layer + 1 tensors (B, T, C)."""
    me = threading.get_ident()
    streams: list[torch.Tensor] = []

    def first(_module, args):
        if threading.get_ident() == me:
            streams.clear()
            streams.append(args[0].detach())

    def after(_module, _args, out):
        if threading.get_ident() == me:
            streams.append(out.detach())

    handles = [model.blocks[0].register_forward_pre_hook(first)]
    handles += [b.register_forward_hook(after) for b in model.blocks]
    try:
        yield streams
    finally:
        for h in handles:
            h.remove()


def readout(model, stream: torch.Tensor) -> torch.Tensor:
    """The final LayerNorm and the head applied to a residual stream (GPT.head): logits (B, T, V), fp32."""
    return model.head(stream)


@torch.no_grad()
def layer_logits(model, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(the model's logits (B, T, V), the lens's logits (n_layer + 1, B, T, V)): row 0 reads the
    embeddings, row l the stream after block l."""
    model.eval()
    with residual_streams(model) as streams:
        logits, _ = model(idx)
    return logits.float(), torch.stack([readout(model, s) for s in streams])


@dataclass(frozen=True)
class LensView:
    text: str                                   # what the model read (the last block_size characters)
    position: int                               # the position read (0-based in text)
    layers: list[str]                           # "embeddings", "layer 1", ...
    top: list[list[tuple[str, float]]]          # per layer, the k most likely next characters
    target: str | None                          # the character that does follow, when known
    target_prob: list[float] | None             # per layer, its probability


@torch.no_grad()
def lens(model, tokenizer: CharTokenizer, text: str, position: int | None = None, k: int = 5) -> LensView:
    """What each layer predicts after text[:position + 1] (default: after the whole text)."""
    if not text:
        raise UserError("type some text for the lens to read")
    text = text[-model.config.block_size:]
    ids = tokenizer.encode_tensor(text)
    position = len(text) - 1 if position is None else position
    if not 0 <= position < len(text):
        raise UserError(f"position must be within the text's {len(text)} characters (0..{len(text) - 1})")
    _, per_layer = layer_logits(model, ids.unsqueeze(0))               # (L + 1, 1, T, V)
    probs = F.softmax(per_layer[:, 0, position], dim=-1)                # (L + 1, V)
    top = []
    for p in probs:
        v, i = torch.topk(p, min(k, p.numel()))
        top.append([(tokenizer.chars[int(c)], float(x)) for x, c in zip(v, i)])
    target = text[position + 1] if position + 1 < len(text) else None
    target_prob = None if target is None else probs[:, tokenizer.stoi[target]].tolist()
    names = ["embeddings"] + [f"layer {i + 1}" for i in range(model.config.n_layer)]
    return LensView(text, position, names, top, target, target_prob)


@torch.no_grad()
def layer_losses(model, tokenizer: CharTokenizer, text: str, max_chars: int | None = None,
                 batch_size: int = 64) -> list[float]:
    """The mean next-character loss (nats) of each layer's readout over text (e.g. the val split):
    n_layer + 1 numbers, the embeddings first, the last equal to the model's loss."""
    win = val_windows(tokenizer, text, model.config.block_size, max_chars)
    totals = torch.zeros(model.config.n_layer + 1, dtype=torch.float64)
    for b in range(0, len(win), batch_size):
        x, y = win[b:b + batch_size, :-1], win[b:b + batch_size, 1:]
        _, per_layer = layer_logits(model, x)                           # (L + 1, B, T, V)
        for i, lg in enumerate(per_layer):
            totals[i] += F.cross_entropy(lg.flatten(0, 1), y.flatten(), reduction="sum").item()
    return (totals / win[:, 1:].numel()).tolist()
