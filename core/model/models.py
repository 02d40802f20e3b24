"""Build a model from its config; the one place that maps model_type to a class."""
from __future__ import annotations

import torch
import torch.nn as nn

from core.config import ModelConfig
from core.model.bigram import BigramLM
from core.model.gpt import GPT


def build_model(config: ModelConfig, seed: int | None = None) -> nn.Module:
    """The model for config; with a seed, its initial weights depend on that seed alone
    (drawn under fork_rng, so the process-wide RNG is left as it was)."""
    cls = BigramLM if config.model_type == "bigram" else GPT
    if seed is None:
        return cls(config)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return cls(config)
