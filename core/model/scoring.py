"""Scoring: the loss of any model on any text, the whole val split in deterministic windows;
the count-based bigram loss the trained bigram should reach."""
from __future__ import annotations

import math
from pathlib import Path

import torch
from torch.nn import functional as F

from core.errors import UserError
from core.runs.checkpoints import load_model
from core.text.corpus import load_speaker
from core.text.tokenizer import CharTokenizer


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


@torch.no_grad()
def per_char_loss(model, tokenizer: CharTokenizer, text: str) -> torch.Tensor:
    """Surprisal (nats) of each character of text after the first: out[j] scores text[j + 1]
    given up to block_size characters before it (windows slide by half a block)."""
    ids = tokenizer.encode_tensor(text)
    T = model.config.block_size
    device = next(model.parameters()).device
    model.eval()
    out = torch.empty(max(0, len(ids) - 1))
    pos, stride = 0, max(1, T // 2)
    while pos < len(out):
        end = min(len(out), T if pos == 0 else pos + stride)  # fill out[pos:end]
        start = max(0, end - T)
        logits, _ = model(ids[start:end].unsqueeze(0).to(device))                       # (1, t, V)
        nll = F.cross_entropy(logits.float()[0], ids[start + 1:end + 1].to(device), reduction="none")
        out[pos:end] = nll[pos - start:].cpu()
        pos = end
    return out


def evaluate_run(run: str | Path, speaker: str, clean: bool | None = None,
                 root: Path | None = None, data_dir: Path | None = None, device: str = "cpu") -> dict:
    """The loss of a run's best weights on a speaker's val split."""
    loaded = load_model(run, device=device, root=root)
    clean = loaded.record.clean if clean is None else clean
    sp = load_speaker(speaker, clean, data_dir)
    _, val_text = sp.split()
    ids = loaded.tokenizer.encode_tensor(val_text)
    loss = sequence_loss(loaded.model, ids)
    return {"run": loaded.path.parent.name, "speaker": speaker, "val_loss": loss,
            "bits_per_char": loss / math.log(2), "val_chars": len(ids),
            "trained_on": loaded.record.speakers, "step": loaded.record.best_step}


def bigram_counts(ids: torch.Tensor, vocab_size: int) -> torch.Tensor:
    """(V, V) counts: [i, j] = how often j follows i."""
    pairs = ids[:-1] * vocab_size + ids[1:]
    return torch.bincount(pairs, minlength=vocab_size * vocab_size).view(vocab_size, vocab_size)


def count_bigram_loss(train_ids: torch.Tensor, val_ids: torch.Tensor, vocab_size: int,
                      alpha: float = 0.1) -> float:
    """Val cross-entropy of the count-based bigram (add-alpha smoothed) fitted on train."""
    probs = (bigram_counts(train_ids, vocab_size).double() + alpha)
    probs = probs / probs.sum(1, keepdim=True)
    return -probs[val_ids[:-1], val_ids[1:]].log().mean().item()


def count_bigram_probs(ids: torch.Tensor, vocab_size: int) -> torch.Tensor:
    """(V, V) the count-based bigram: row i is how often each character follows i, normalised to
    sum to 1; rows of characters that never occur in ids (so have no successor) are NaN."""
    counts = bigram_counts(ids, vocab_size).double()
    totals = counts.sum(1, keepdim=True)                       # (V, 1)
    return torch.where(totals > 0, counts / totals.clamp_min(1.0), torch.full_like(counts, float("nan")))


@torch.no_grad()
def next_char_probs(model, tokenizer: CharTokenizer, context: str) -> torch.Tensor:
    """(V,) the model's distribution of the character after context (its last block_size characters)."""
    if not context:
        raise UserError("type at least one character of context")
    ids = tokenizer.encode_tensor(context)[-model.config.block_size:]
    device = next(model.parameters()).device
    model.eval()
    logits, _ = model(ids.unsqueeze(0).to(device))             # (1, T, V)
    return F.softmax(logits[0, -1].float(), dim=-1).cpu()
