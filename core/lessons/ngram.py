"""Counting does not scale with context: the count model of order n (the next character given the
n before it), its table's size, how sparse its counts get on real text, and its val loss, beside
the parameter count of a GPT that reads the same context.

n = 1 is the bigram. The table of order n has V^n rows (one per context) of V counts; only the
contexts that occur are stored here (sorted int64 keys), so n = 8 costs no more memory than the
text itself, while the dense table it stands for would not fit in any computer."""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from core.config import ModelConfig
from core.errors import UserError

COUNT_BYTES = 4       # one int32 count per cell of a dense table
ALPHA = 0.1           # add-alpha smoothing
MAX_ORDER = 8


def check_order(n: int, vocab_size: int) -> None:
    if not 1 <= n <= MAX_ORDER:
        raise UserError(f"the context length n must be between 1 and {MAX_ORDER}, got {n}")
    if vocab_size < 1:
        raise UserError(f"the vocabulary must hold at least one character, got {vocab_size}")


def table_rows(vocab_size: int, n: int) -> int:
    """V^n: one row per possible context of n characters."""
    check_order(n, vocab_size)
    return vocab_size ** n


def table_cells(vocab_size: int, n: int) -> int:
    """V^n rows x V next characters = V^(n+1) counts."""
    return table_rows(vocab_size, n) * vocab_size


def table_bytes(vocab_size: int, n: int, bytes_per_count: int = COUNT_BYTES) -> int:
    return table_cells(vocab_size, n) * bytes_per_count


def gpt_params(config: ModelConfig, block_size: int | None = None) -> int:
    """Parameters of core.model.gpt.GPT with this config (optionally another block_size): only the
    position table grows with the context, by n_embd per position."""
    V, C, T = config.vocab_size, config.n_embd, block_size or config.block_size
    per_block = (2 * C              # ln1
                 + 3 * C * C        # fused q, k, v (no bias)
                 + C * C + C        # attention output projection
                 + 2 * C            # ln2
                 + 4 * C * C + 4 * C + 4 * C * C + C)  # feed-forward
    return V * C + T * C + config.n_layer * per_block + 2 * C + C * V + V


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB", "PB", "EB"):
        if n < 1000:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1e} ZB"


def _contexts(ids: torch.Tensor, n: int, vocab_size: int) -> torch.Tensor:
    """(len(ids) - n,) the context before each position from n on, as one base-V integer."""
    ids = ids.long()
    key = torch.zeros(len(ids) - n, dtype=torch.long)
    for i in range(n):                       # oldest character first: key = c0 V^(n-1) + ... + c(n-1)
        key = key * vocab_size + ids[i:len(ids) - n + i]
    return key


@dataclass(frozen=True)
class NGramCounts:
    """The count model of order n fitted on a text: the contexts that occur, sorted."""
    n: int
    vocab_size: int
    keys: torch.Tensor        # (K,) context * V + next, sorted, unique
    counts: torch.Tensor      # (K,) how often each (context, next) occurs
    contexts: torch.Tensor    # (R,) the contexts that occur, sorted, unique
    totals: torch.Tensor      # (R,) how often each context occurs (its row sum)

    @classmethod
    def fit(cls, ids: torch.Tensor, n: int, vocab_size: int) -> NGramCounts:
        check_order(n, vocab_size)
        if len(ids) <= n:
            raise UserError(f"the text has {len(ids)} characters; a context of {n} needs at least {n + 1}")
        ctx = _contexts(ids, n, vocab_size)
        keys, counts = torch.unique(ctx * vocab_size + ids[n:].long(), return_counts=True)
        contexts, totals = torch.unique(ctx, return_counts=True)
        return cls(n, vocab_size, keys, counts, contexts, totals)

    @property
    def rows_seen(self) -> int:
        return len(self.contexts)

    @property
    def unseen_rows(self) -> float:
        """The share of the table's V^n contexts that never occur in the text it was fitted on."""
        return 1.0 - self.rows_seen / table_rows(self.vocab_size, self.n)

    @staticmethod
    def _lookup(sorted_keys: torch.Tensor, values: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
        """values[i] where sorted_keys[i] == query, else 0."""
        i = torch.searchsorted(sorted_keys, query).clamp_max(len(sorted_keys) - 1)
        return torch.where(sorted_keys[i] == query, values[i], torch.zeros_like(values[i]))

    def probs_of(self, ids: torch.Tensor, alpha: float = ALPHA) -> tuple[torch.Tensor, torch.Tensor]:
        """For each position of ids from n on: the smoothed probability of the character there,
        (c(context, next) + alpha) / (c(context) + alpha V), and whether its context was ever seen."""
        if not alpha > 0:
            raise UserError(f"the smoothing alpha must be above 0, got {alpha}")
        ctx = _contexts(ids, self.n, self.vocab_size)
        pair = self._lookup(self.keys, self.counts, ctx * self.vocab_size + ids[self.n:].long()).double()
        total = self._lookup(self.contexts, self.totals, ctx).double()
        return (pair + alpha) / (total + alpha * self.vocab_size), total > 0

    def loss(self, ids: torch.Tensor, alpha: float = ALPHA) -> float:
        """Mean cross-entropy (nats) of the smoothed counts on ids (e.g. the val split)."""
        p, _ = self.probs_of(ids, alpha)
        return -p.log().mean().item()


@dataclass(frozen=True)
class OrderReport:
    n: int
    rows: int                 # V^n
    table_bytes: int          # V^(n+1) counts of COUNT_BYTES
    rows_seen: int            # contexts that occur in the train split
    unseen_rows: float        # share of the V^n rows never filled
    val_unseen: float         # share of val positions whose context never occurs in train
    val_loss: float           # smoothed count model on the val split (nats/char)


def order_report(train_ids: torch.Tensor, val_ids: torch.Tensor, n: int, vocab_size: int,
                 alpha: float = ALPHA) -> OrderReport:
    counts = NGramCounts.fit(train_ids, n, vocab_size)
    p, seen = counts.probs_of(val_ids, alpha)
    return OrderReport(n, table_rows(vocab_size, n), table_bytes(vocab_size, n), counts.rows_seen,
                       counts.unseen_rows, 1.0 - seen.double().mean().item(), -p.log().mean().item())


def uniform_loss(vocab_size: int) -> float:
    return math.log(vocab_size)


def bigram_counts(ids: torch.Tensor, vocab_size: int) -> torch.Tensor:
    """(V, V) counts: [i, j] = how often j follows i."""
    pairs = ids[:-1] * vocab_size + ids[1:]
    return torch.bincount(pairs, minlength=vocab_size * vocab_size).view(vocab_size, vocab_size)


def count_bigram_loss(train_ids: torch.Tensor, val_ids: torch.Tensor, vocab_size: int, alpha: float = ALPHA) -> float:
    """Val cross-entropy of the count-based bigram (add-alpha smoothed) fitted on train: the floor a
    trained bigram reaches (the dense V x V form of NGramCounts of order 1)."""
    probs = (bigram_counts(train_ids, vocab_size).double() + alpha)
    probs = probs / probs.sum(1, keepdim=True)
    return -probs[val_ids[:-1], val_ids[1:]].log().mean().item()


def count_bigram_probs(ids: torch.Tensor, vocab_size: int) -> torch.Tensor:
    """(V, V) the count-based bigram: row i is how often each character follows i, normalised to
    sum to 1; rows of characters that never occur in ids (so have no successor) are NaN."""
    counts = bigram_counts(ids, vocab_size).double()
    totals = counts.sum(1, keepdim=True)                       # (V, 1)
    return torch.where(totals > 0, counts / totals.clamp_min(1.0), torch.full_like(counts, float("nan")))
