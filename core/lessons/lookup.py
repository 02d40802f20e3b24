"""One-hot times a matrix is a lookup: what nn.Embedding does, shown the long way, and what
backpropagation does to a lookup table (it updates only the rows that were looked up)."""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
from torch.nn import functional as F

from core.errors import UserError
from core.text.batching import get_batch


@dataclass(frozen=True)
class OneHotLookup:
    index: int
    onehot: torch.Tensor      # (V,) 1 at index, 0 elsewhere
    product: torch.Tensor     # (V_out,) onehot @ W
    embedding: torch.Tensor   # (V_out,) nn.Embedding(W)(index)
    max_abs_diff: float

    @property
    def allclose(self) -> bool:
        return bool(torch.allclose(self.product, self.embedding))


@torch.no_grad()
def onehot_lookup(weight: torch.Tensor, index: int) -> OneHotLookup:
    """weight: (V, V_out), e.g. the bigram's table. onehot(index) @ weight, and the same row read by
    nn.Embedding with these weights."""
    weight = weight.detach().float().cpu()
    V = weight.size(0)
    if not 0 <= index < V:
        raise UserError(f"the character index must be between 0 and {V - 1}, got {index}")
    onehot = F.one_hot(torch.tensor(index), V).float()                          # (V,)
    product = onehot @ weight                                                    # (V,) @ (V, V_out) -> (V_out,)
    emb = nn.Embedding.from_pretrained(weight)
    row = emb(torch.tensor(index))                                               # (V_out,)
    return OneHotLookup(index, onehot, product, row, float((product - row).abs().max()))


@dataclass(frozen=True)
class LookupGradient:
    x: torch.Tensor           # (B, T) the batch's inputs
    grad: torch.Tensor        # (V, V_out) d loss / d table after one backward pass
    loss: float
    rows_in_batch: list[int]  # the distinct characters of x, sorted
    rows_touched: list[int]   # rows of grad with any non-zero entry, sorted

    @property
    def only_looked_up_rows(self) -> bool:
        return self.rows_in_batch == self.rows_touched


def lookup_gradient(weight: torch.Tensor, ids: torch.Tensor, block_size: int = 8, batch_size: int = 4,
                    seed: int = 0) -> LookupGradient:
    """One batch of the text through a copy of the table (as the bigram's forward does) and one
    backward pass: which rows of the table get a gradient. The model's own weights are not touched."""
    table = nn.Embedding.from_pretrained(weight.detach().float().cpu().clone(), freeze=False)
    x, y = get_batch(ids, block_size, batch_size, generator=torch.Generator().manual_seed(seed))
    logits = table(x)                                                              # (B, T, V)
    loss = F.cross_entropy(logits.view(-1, logits.size(-1)), y.reshape(-1))
    loss.backward()
    grad = table.weight.grad.detach()                                              # (V, V)
    touched = (grad != 0).any(dim=1).nonzero().flatten().tolist()
    return LookupGradient(x, grad, loss.item(), sorted(set(x.flatten().tolist())), touched)
