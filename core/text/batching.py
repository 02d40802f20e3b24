"""Random (x, y) batches for training, drawn the lecture's way but vectorised, and the
lecture's "when input is [...] the target is ..." pairs."""
from __future__ import annotations

from dataclasses import dataclass

import torch


def get_batch(data: torch.Tensor, block_size: int, batch_size: int, *,
              generator: torch.Generator | None = None,
              device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """x: (B, T) random windows of data, y: the same windows shifted one character right."""
    if data.dim() != 1:
        raise ValueError("data must be a 1-D tensor of token ids")
    if len(data) <= block_size:
        raise ValueError(
            f"the text has {len(data)} tokens; a block of {block_size} needs at least {block_size + 1}")
    ix = torch.randint(len(data) - block_size, (batch_size,), generator=generator)   # (B,)
    offsets = ix.unsqueeze(1) + torch.arange(block_size + 1)                          # (B, T+1)
    window = data[offsets]                                                            # (B, T+1)
    x, y = window[:, :-1], window[:, 1:]
    device = torch.device(device)
    if device.type == "cuda":
        x = x.pin_memory().to(device, non_blocking=True)
        y = y.pin_memory().to(device, non_blocking=True)
    elif device.type != "cpu":
        x, y = x.to(device), y.to(device)
    return x, y


@dataclass(frozen=True)
class Pair:
    context: list[int]
    target: int
    context_text: str
    target_text: str

    def __str__(self) -> str:
        return f"when input is {self.context} the target is {self.target}"


def context_target_pairs(x_row, y_row, decode=None) -> list[Pair]:
    """The T training examples packed in one row: for t in 0..T-1, x[:t+1] -> y[t]."""
    x_row, y_row = [int(i) for i in x_row], [int(i) for i in y_row]
    decode = decode or (lambda ids: "")
    return [Pair(x_row[:t + 1], y_row[t], decode(x_row[:t + 1]), decode([y_row[t]]))
            for t in range(len(x_row))]
