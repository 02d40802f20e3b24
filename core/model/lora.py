"""Low-rank adaptation (LoRA; Hu et al. 2021): fine-tune a base GPT by learning, for each projection
of each block (attention's q-k-v and output, the feed-forward's two), a rank-r update B @ A added to
the frozen weight: W + ALPHA * B @ A, with A (r, in) drawn small and B (out, r) zero, so training
starts from the base exactly. Only A and B train and are saved (a few percent of the weights); the
model a run shows is the base with the updates merged in (`merged`), a plain GPT."""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn.utils import parametrize

from core.config import ModelConfig

TARGETS = ("attn.qkv", "attn.proj", "ffwd.fc", "ffwd.proj")
ALPHA = 2.0  # the update's scale (the paper's alpha / r, with alpha = 2r)


class LowRank(nn.Module):
    """A weight parametrization: W -> W + ALPHA * B @ A."""

    def __init__(self, out_features: int, in_features: int, rank: int, generator: torch.Generator):
        super().__init__()
        self.A = nn.Parameter(torch.randn(rank, in_features, generator=generator) / math.sqrt(in_features))
        self.B = nn.Parameter(torch.zeros(out_features, rank))

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        return weight + ALPHA * (self.B @ self.A).to(weight.dtype)


def shapes(config: ModelConfig, rank: int) -> dict[str, tuple[int, ...]]:
    """The adapters' names and shapes for a config: what a LoRA run's weights file holds."""
    C = config.n_embd
    dims = {"attn.qkv": (3 * C, C), "attn.proj": (C, C), "ffwd.fc": (4 * C, C), "ffwd.proj": (C, 4 * C)}
    out = {}
    for i in range(config.n_layer):
        for t in TARGETS:
            if (t == "attn.proj" and not config.attn_proj) or (t.startswith("ffwd") and not config.ffwd):
                continue
            o, n = dims[t]
            out[f"blocks.{i}.{t}.lora_A"], out[f"blocks.{i}.{t}.lora_B"] = (rank, n), (o, rank)
    return out


def _targets(model) -> dict[str, nn.Linear]:
    found = {}
    for i, block in enumerate(model.blocks):
        for t in TARGETS:
            module = block
            for part in t.split("."):
                module = getattr(module, part, None)
            if isinstance(module, nn.Linear):
                found[f"blocks.{i}.{t}"] = module
    return found


def adapt(model, rank: int, seed: int = 0) -> list[nn.Parameter]:
    """Freeze every weight of the model and give each target projection a rank-r update; returns
    the trainable parameters (the updates' A and B)."""
    for p in model.parameters():
        p.requires_grad_(False)
    g = torch.Generator().manual_seed(seed)
    trainable = []
    for linear in _targets(model).values():
        update = LowRank(linear.out_features, linear.in_features, rank, g).to(linear.weight.device)
        parametrize.register_parametrization(linear, "weight", update)
        trainable += [update.A, update.B]
    return trainable


def adapters(model) -> dict[str, torch.Tensor]:
    """The updates of an adapted model, by name (`shapes`)."""
    out = {}
    for name, linear in _targets(model).items():
        update = linear.parametrizations.weight[0]
        out[f"{name}.lora_A"], out[f"{name}.lora_B"] = update.A.detach(), update.B.detach()
    return out


def load_adapters(model, state: dict[str, torch.Tensor]) -> None:
    """Set an adapted model's updates from saved ones (a resumed run)."""
    with torch.no_grad():
        for name, linear in _targets(model).items():
            update = linear.parametrizations.weight[0]
            update.A.copy_(state[f"{name}.lora_A"])
            update.B.copy_(state[f"{name}.lora_B"])


def merged(base: dict[str, torch.Tensor], state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The base's weights with the updates added in: the fine-tuned model's own weights, in fp32."""
    out = {k: v.float() for k, v in base.items()}
    for key in [k for k in state if k.endswith(".lora_A")]:
        name = key.removesuffix(".lora_A")
        out[f"{name}.weight"] = out[f"{name}.weight"] + ALPHA * (state[f"{name}.lora_B"].float()
                                                                  @ state[key].float())
    return out
