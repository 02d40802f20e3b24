"""Build a model from its config; the one place that maps model_type to a class."""
from __future__ import annotations

import torch.nn as nn

from core.bigram import BigramLM
from core.config import ModelConfig
from core.gpt import GPT


def build_model(config: ModelConfig) -> nn.Module:
    return BigramLM(config) if config.model_type == "bigram" else GPT(config)
