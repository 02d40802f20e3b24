"""Scoring a text with a model: the mean loss over a whole text (the val split) in consecutive
windows, every character's surprisal with the context that slides along, the next character's
distribution. Plain tensors and numbers out; what a run or a speaker is, is the caller's."""
from __future__ import annotations

import torch
from torch.nn import functional as F

from core.errors import UserError

CONTEXTS = ("slide", "reset")


@torch.no_grad()
def sequence_loss(model, ids: torch.Tensor, batch_size: int = 32) -> float:
    """Mean next-character cross-entropy (nats) over ids, cut into consecutive windows of
    block_size (each token predicted once, from the context inside its window)."""
    T = model.config.block_size
    n = (len(ids) - 1) // T * T
    if n == 0:
        raise UserError(f"need at least {T + 1} characters to score a context of {T}, got {len(ids)}")
    device = next(model.parameters()).device
    x = ids[:n].view(-1, T)
    y = ids[1:n + 1].view(-1, T)
    model.eval()
    total = 0.0
    for i in range(0, len(x), batch_size):
        logits, _ = model(x[i:i + batch_size].to(device))
        total += F.cross_entropy(logits.float().flatten(0, 1), y[i:i + batch_size].to(device).flatten(),
                                 reduction="sum").item()
    return total / n


def _spans(n: int, T: int, context: str) -> list[tuple[int, int, int]]:
    """(start, end, keep_from): the window ids[start:end] predicts ids[start+1:end+1]; its outputs
    from keep_from on are kept (each character scored once)."""
    if context not in CONTEXTS:
        raise UserError(f"context must be slide or reset, got {context!r}")
    if context == "reset":
        return [(s, min(n, s + T), s) for s in range(0, n, T)]
    spans, pos, stride = [], 0, max(1, T // 2)
    while pos < n:
        end = min(n, T if pos == 0 else pos + stride)
        spans.append((max(0, end - T), end, pos))
        pos = end
    return spans


@torch.no_grad()
def surprisal_rows(model, ids: torch.Tensor, context: str = "slide", batch: int = 256) -> torch.Tensor:
    """ids (N, L), rows of one length -> (N, L - 1) nats: out[:, j] scores ids[:, j + 1] from up to
    block_size characters of its row before it ("slide": windows move by half a block) or from the
    start of its block ("reset"). Every row is cut the same way, so each window is one batched pass."""
    was_training = model.training
    model.eval()
    T = model.config.block_size
    device = next(model.parameters()).device
    N, L = ids.shape
    out = torch.empty(N, max(0, L - 1))
    by_length: dict[int, list[tuple[int, int, int]]] = {}  # windows of one length go through together
    for span in _spans(L - 1, T, context):
        by_length.setdefault(span[1] - span[0], []).append(span)
    for length, spans in by_length.items():
        x = torch.cat([ids[:, s:e] for s, e, _ in spans])              # (windows * N, length)
        y = torch.cat([ids[:, s + 1:e + 1] for s, e, _ in spans])
        nll = torch.empty(len(x), length)
        for i in range(0, len(x), batch):
            logits, _ = model(x[i:i + batch].to(device))
            nll[i:i + batch] = F.cross_entropy(logits.float().flatten(0, 1), y[i:i + batch].to(device).flatten(),
                                               reduction="none").view(-1, length).cpu()
        for w, (s, e, keep) in enumerate(spans):
            out[:, keep:e] = nll[w * N:(w + 1) * N, keep - s:]
    model.train(was_training)
    return out


def surprisal(model, ids: torch.Tensor, context: str = "slide") -> torch.Tensor:
    """One text's surprisal (1-D ids -> len(ids) - 1 nats), as surprisal_rows: out[j] scores ids[j + 1]."""
    return surprisal_rows(model, ids.unsqueeze(0), context)[0]


@torch.no_grad()
def next_char_probs(model, tokenizer, context: str) -> torch.Tensor:
    """(V,) the model's distribution of the character after context (its last block_size characters)."""
    if not context:
        raise UserError("type at least one character of context")
    ids = tokenizer.encode_tensor(context)[-model.config.block_size:]
    device = next(model.parameters()).device
    model.eval()
    logits, _ = model(ids.unsqueeze(0).to(device))             # (1, T, V)
    return F.softmax(logits[0, -1].float(), dim=-1).cpu()
