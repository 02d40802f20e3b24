"""Frozen, validated configurations: the model (ModelConfig), the training run (TrainConfig)
and the named presets the CLI and the app offer."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace

from core.errors import UserError

MODEL_TYPES = ("bigram", "gpt")


class ConfigError(UserError):
    """A configuration a user asked for that cannot work; the message says why."""


@dataclass(frozen=True)
class ModelConfig:
    model_type: str = "gpt"  # "bigram" (a V x V table) or "gpt"
    vocab_size: int = 0      # set from the tokenizer
    block_size: int = 64     # context length T: the most characters the model sees at once
    n_layer: int = 4         # transformer blocks
    n_head: int = 4          # attention heads per block
    n_embd: int = 128        # channels C; head_size = n_embd // n_head
    dropout: float = 0.0     # on attention weights, projections and feed-forward

    def __post_init__(self):
        if self.model_type not in MODEL_TYPES:
            raise ConfigError(f"model_type must be one of {MODEL_TYPES}, got {self.model_type!r}")
        if self.vocab_size < 1:
            raise ConfigError(f"vocab_size must be at least 1, got {self.vocab_size}")
        if self.block_size < 1:
            raise ConfigError(f"block_size (context length) must be at least 1, got {self.block_size}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.model_type == "gpt":
            if self.n_layer < 1 or self.n_head < 1 or self.n_embd < 1:
                raise ConfigError("n_layer, n_head and n_embd must each be at least 1")
            if self.n_embd % self.n_head:
                raise ConfigError(
                    f"n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head}): "
                    f"each head gets n_embd / n_head channels")

    @property
    def head_size(self) -> int:
        return self.n_embd // self.n_head

    def n_params(self) -> int:
        """Parameter count, computed from the config alone (matches the built model)."""
        V, C, T, L = self.vocab_size, self.n_embd, self.block_size, self.n_layer
        if self.model_type == "bigram":
            return V * V
        per_block = 4 * C + (3 * C * C) + (C * C + C) + (C * 4 * C + 4 * C) + (4 * C * C + C)
        return V * C + T * C + L * per_block + 2 * C + (C * V + V)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ModelConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ConfigError(f"unknown model config fields: {sorted(unknown)}")
        return cls(**d)


@dataclass(frozen=True)
class TrainConfig:
    batch_size: int = 32        # B: sequences per step
    max_iters: int = 2000       # optimizer steps in the whole run
    learning_rate: float = 1e-3  # peak lr, reached after warmup
    min_lr: float = 1e-4        # cosine decay floor
    warmup_iters: int = 100     # linear warmup steps
    weight_decay: float = 0.1   # AdamW decay on matrices (not on biases, norms, embeddings of size 1)
    beta1: float = 0.9
    beta2: float = 0.99
    grad_clip: float = 1.0      # max global grad norm; 0 disables
    eval_interval: int = 200    # steps between loss estimates (and checkpoints)
    eval_iters: int = 50        # batches per split in each estimate
    log_interval: int = 10      # steps between train-loss events
    seed: int = 1337
    device: str = "auto"        # "auto", "cpu", "cuda", "cuda:1", "mps"
    dtype: str = "auto"         # "auto", "float32", "bfloat16" (autocast)
    compile: bool = False       # torch.compile the model (worth it on GPU for long runs)

    def __post_init__(self):
        if self.batch_size < 1:
            raise ConfigError(f"batch_size must be at least 1, got {self.batch_size}")
        if self.max_iters < 1:
            raise ConfigError(f"max_iters must be at least 1, got {self.max_iters}")
        if not (math.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise ConfigError(f"learning_rate must be a positive number, got {self.learning_rate}")
        if self.min_lr < 0 or self.min_lr > self.learning_rate:
            raise ConfigError(f"min_lr must be in [0, learning_rate], got {self.min_lr}")
        if self.warmup_iters < 0 or self.eval_iters < 1 or self.eval_interval < 1 or self.log_interval < 1:
            raise ConfigError("warmup_iters must be >= 0; eval_iters, eval_interval, log_interval >= 1")
        if self.dtype not in ("auto", "float32", "bfloat16"):
            raise ConfigError(f"dtype must be auto, float32 or bfloat16, got {self.dtype!r}")
        if self.grad_clip < 0:
            raise ConfigError(f"grad_clip must be >= 0, got {self.grad_clip}")

    def lr_at(self, step: int) -> float:
        """Linear warmup to learning_rate, then cosine decay to min_lr at max_iters."""
        if step < self.warmup_iters:
            return self.learning_rate * (step + 1) / (self.warmup_iters + 1)
        span = max(1, self.max_iters - self.warmup_iters)
        progress = min(1.0, (step - self.warmup_iters) / span)
        return self.min_lr + 0.5 * (1.0 + math.cos(math.pi * progress)) * (self.learning_rate - self.min_lr)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


def training_bytes(model: ModelConfig, train: TrainConfig) -> int:
    """Roughly the memory a training run needs, erring high: fp32 weights, gradients and AdamW's
    two moments (16 bytes a parameter), and the activations kept for the backward pass (per layer
    and token ~16 C values, plus, with dropout on the attention weights, two T-long rows of them
    per head: without dropout flash attention never holds the T x T weights; the logits 3 times)."""
    B, T, C, L, V = train.batch_size, model.block_size, model.n_embd, model.n_layer, model.vocab_size
    weights_rows = 2 * model.n_head * T if model.dropout > 0 else 0
    per_token = 3 * V if model.model_type == "bigram" else L * (16 * C + weights_rows) + 3 * V
    return int(1.2 * (16 * model.n_params() + 4 * B * T * per_token))


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    model: ModelConfig
    train: TrainConfig


def _preset(name, description, model, train) -> Preset:
    return Preset(name, description, model, train)


# vocab_size=1 is a placeholder: the tokenizer sets the real size with `with_vocab`.
PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        _preset("bigram", "V x V next-character table; trains in seconds on CPU",
                ModelConfig(model_type="bigram", vocab_size=1, block_size=8),
                TrainConfig(batch_size=64, max_iters=3000, learning_rate=0.1, min_lr=0.01,
                            warmup_iters=0, weight_decay=0.0, eval_interval=500, eval_iters=50)),
        _preset("tiny", "4 layers, 4 heads, 128 wide, block 64; a few minutes on CPU",
                ModelConfig(model_type="gpt", vocab_size=1, block_size=64, n_layer=4, n_head=4,
                            n_embd=128, dropout=0.0),
                TrainConfig(batch_size=32, max_iters=2000, learning_rate=2e-3, min_lr=2e-4,
                            warmup_iters=100, eval_interval=200, eval_iters=40)),
        _preset("lecture", "the lecture's GPT: 6 layers, 6 heads, 384 wide, block 256, ~10.8M params; GPU",
                ModelConfig(model_type="gpt", vocab_size=1, block_size=256, n_layer=6, n_head=6,
                            n_embd=384, dropout=0.2),
                TrainConfig(batch_size=64, max_iters=5000, learning_rate=1e-3, min_lr=1e-4,
                            warmup_iters=200, eval_interval=500, eval_iters=200)),
    )
}


def preset(name: str, vocab_size: int, **overrides) -> tuple[ModelConfig, TrainConfig]:
    """The named preset with the real vocab size and any field overrides (model or train)."""
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
    p = PRESETS[name]
    model_fields = {f.name for f in fields(ModelConfig)}
    train_fields = {f.name for f in fields(TrainConfig)}
    unknown = set(overrides) - model_fields - train_fields
    if unknown:
        raise ConfigError(f"unknown settings: {sorted(unknown)}")
    m = {k: v for k, v in overrides.items() if k in model_fields and v is not None}
    t = {k: v for k, v in overrides.items() if k in train_fields and v is not None}
    train = replace(p.train, **t)
    if train.warmup_iters >= train.max_iters and "warmup_iters" not in t:  # a short run: warm up a tenth
        train = replace(train, warmup_iters=train.max_iters // 10)
    return replace(p.model, vocab_size=vocab_size, **m), train
