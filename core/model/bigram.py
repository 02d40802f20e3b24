"""The lecture's first model: a V x V table whose row for the current character holds the logits
of the next one. Tokens do not talk to each other."""
from __future__ import annotations

import torch
import torch.nn as nn
from torch.nn import functional as F

from core.config import ModelConfig


class BigramLM(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        assert config.model_type == "bigram", "BigramLM needs a bigram ModelConfig"
        self.config = config
        self.token_embedding_table = nn.Embedding(config.vocab_size, config.vocab_size)
        nn.init.zeros_(self.token_embedding_table.weight)  # starts uniform: loss = ln V

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None, **_):
        logits = self.token_embedding_table(idx)  # (B, T, V)
        if targets is None:
            return logits, None
        B, T, V = logits.shape
        return logits, F.cross_entropy(logits.float().view(B * T, V), targets.reshape(B * T))

    @torch.no_grad()
    def next_char_probs(self) -> torch.Tensor:
        """(V, V): row i is the distribution of the character that follows character i."""
        return F.softmax(self.token_embedding_table.weight.float(), dim=-1)
