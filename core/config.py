"""Frozen, validated configurations: the model (ModelConfig), the training run (TrainConfig)
and the named presets the CLI and the app offer."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields, replace

from core.errors import UserError

MODEL_TYPES = ("bigram", "gpt")
GPT, ALL = ("gpt",), ("bigram", "gpt")


class ConfigError(UserError):
    """A configuration a user asked for that cannot work; the message says why."""


def setting(default, label: str, help: str, lo=None, hi=None, *, step=None, flag: str | None = None,
            choices: tuple = (), models: tuple[str, ...] = ALL, form: bool = False, cli: bool = True):
    """A dataclass field that declares one setting once: its default, label, range and help. The CLI's
    flags (core.settings.add_flags), the Train page's form and the benchmark leg are derived from these,
    and every config is checked against them when it is built (and when it is loaded from a file)."""
    return field(default=default, metadata={"label": label, "help": help, "lo": lo, "hi": hi, "step": step,
                                            "flag": flag, "choices": choices, "models": models, "form": form,
                                            "cli": cli})


def _check_fields(obj) -> None:
    """Every field has its declared type and lies in its declared range (a float 8.5 is not a
    block size, True is not a number, 2**70 is not a seed); one message per problem."""
    hints = {"int": int, "float": float, "str": str, "bool": bool}
    for f in fields(obj):
        v, m, kind = getattr(obj, f.name), f.metadata, hints[str(f.type).split(" ")[0]]
        label = m.get("label") or f.name
        name = f.name if f.name in label else f"{f.name} ({label})"
        if kind is float and isinstance(v, int) and not isinstance(v, bool):
            object.__setattr__(obj, f.name, float(v))
            v = float(v)
        if not isinstance(v, kind) or (kind is not bool and isinstance(v, bool)):
            want = {int: "a whole number", float: "a number", bool: "true or false", str: "text"}[kind]
            raise ConfigError(f"{name} must be {want}, got {v!r}")
        if kind is float and not math.isfinite(v):
            raise ConfigError(f"{name} must be a finite number, got {v}")
        lo, hi = m.get("lo"), m.get("hi")
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            fmt = (lambda x: f"{x:,}") if kind is int else (lambda x: f"{x:g}")
            raise ConfigError(f"{name} must be between {fmt(lo)} and {fmt(hi)}, got {fmt(v)}")
        if m.get("choices") and v not in m["choices"]:
            raise ConfigError(f"{f.name} must be one of {', '.join(map(str, m['choices']))}, got {v!r}")


@dataclass(frozen=True)
class ModelConfig:
    model_type: str = setting("gpt", "model", "a V x V table (bigram) or a GPT", choices=MODEL_TYPES, cli=False)
    vocab_size: int = setting(0, "vocabulary size", "set from the tokenizer", 1, 1_000_000, cli=False)
    block_size: int = setting(64, "context (block_size)", "the most characters the model sees at once", 1, 8192,
                              step=8, form=True)
    n_layer: int = setting(4, "layers (n_layer)", "transformer blocks", 1, 48, models=GPT, form=True)
    n_head: int = setting(4, "heads (n_head)", "attention heads per block; must divide n_embd", 1, 64,
                          models=GPT, form=True)
    n_embd: int = setting(128, "width (n_embd)", "channels C; each head gets n_embd / n_head", 1, 4096, step=16,
                          models=GPT, form=True)
    dropout: float = setting(0.0, "dropout", "on attention weights, projections and feed-forward; 0 for small "
                             "models", 0.0, 0.95, step=0.05, models=GPT, form=True)
    # The lecture's ladder (core.ladder) switches pieces off; the defaults are the full GPT, so a config
    # saved before these existed (the shipped runs' meta.json) loads as the model it was.
    attn_proj: bool = setting(True, "attention output projection", "a linear map after the heads are "
                              "concatenated (off: the heads' outputs go on as they are)", models=GPT)
    ffwd: bool = setting(True, "feed-forward", "the 4x ReLU MLP after attention in each block (computation "
                         "after communication)", models=GPT)
    residual: bool = setting(True, "residual connections", "x + attn(x), x + ffwd(x) (off: x = attn(x), "
                             "x = ffwd(x); deep stacks then optimise badly)", models=GPT)
    layer_norm: bool = setting(True, "LayerNorm", "pre-norm before attention and feed-forward, and a final "
                               "one before the head", models=GPT)
    init: str = setting("normal", "initial weights", "normal: every weight from N(0, 0.02), biases 0, as nanoGPT "
                        "and GPT-2 (deep, wide models); torch: PyTorch's own defaults, as the lecture's gpt.py",
                        choices=("normal", "torch"), models=GPT)

    def __post_init__(self):
        _check_fields(self)
        if self.model_type == "gpt" and self.n_embd % self.n_head:
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
        norm = 2 * C if self.layer_norm else 0                              # a LayerNorm's weight and bias
        per_block = (2 * norm + 3 * C * C + (C * C + C if self.attn_proj else 0)
                     + ((C * 4 * C + 4 * C) + (4 * C * C + C) if self.ffwd else 0))
        return V * C + T * C + L * per_block + norm + (C * V + V)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ModelConfig:
        if not isinstance(d, dict):
            raise ConfigError(f"a model config must be a mapping of settings, got {type(d).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ConfigError(f"unknown model config fields: {sorted(unknown)}")
        return cls(**d)


@dataclass(frozen=True)
class TrainConfig:
    batch_size: int = setting(32, "batch size", "sequences per step (B)", 1, 4096, step=8, form=True)
    max_iters: int = setting(2000, "iterations (max_iters)", "optimizer steps in the whole run", 1, 10_000_000,
                             step=100, form=True)
    learning_rate: float = setting(1e-3, "learning rate", "peak, after warmup; cosine decay to min_lr", 1e-8, 10.0,
                                   step=1e-4, flag="--lr", form=True)
    min_lr: float = setting(1e-4, "minimum learning rate", "cosine decay floor", 0.0, 10.0)
    warmup_iters: int = setting(100, "warmup steps", "linear warmup steps", 0, 10_000_000)
    weight_decay: float = setting(0.1, "weight decay", "AdamW decay on matrices (not biases or norms)", 0.0, 10.0)
    beta1: float = setting(0.9, "Adam beta1", "momentum of the gradient average", 0.0, 0.9999)
    beta2: float = setting(0.99, "Adam beta2", "momentum of the squared-gradient average", 0.0, 0.99999)
    grad_clip: float = setting(1.0, "gradient clip", "max global gradient norm; 0 disables", 0.0, 1e6)
    eval_interval: int = setting(200, "eval interval (steps)", "steps between val-loss estimates and checkpoints",
                                 1, 10_000_000, step=50, form=True)
    eval_iters: int = setting(50, "eval batches", "batches per split in each loss estimate", 1, 100_000)
    log_interval: int = setting(10, "log interval (steps)", "steps between train-loss events", 1, 10_000_000)
    seed: int = setting(1337, "seed", "initial weights, batches and dropout all follow it", 0, 2**31 - 1)
    device: str = setting("auto", "device", "auto (cuda, mps, cpu), cpu, cuda, cuda:1, mps", cli=False)
    dtype: str = setting("auto", "dtype", "auto: bf16 autocast where the device multiplies bf16 natively",
                         choices=("auto", "float32", "bfloat16"))
    compile: bool = setting(False, "torch.compile", "compile the model (worth it on a GPU for long runs)")
    lora_rank: int = setting(0, "LoRA rank", "fine-tune a low-rank update of this rank for each projection "
                             "instead of every weight (0: every weight); needs a base (--init-from)", 0, 1024,
                             models=GPT)

    def __post_init__(self):
        _check_fields(self)
        if self.min_lr > self.learning_rate:
            raise ConfigError(f"min_lr ({self.min_lr:g}) must not be above the learning rate "
                              f"({self.learning_rate:g})")

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
        if not isinstance(d, dict):
            raise ConfigError(f"a training config must be a mapping of settings, got {type(d).__name__}")
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
        _preset("finetune", "continue a base model on one speaker: its architecture, a small learning rate, "
                "600 steps (the lecture's last chapter); use with a base run (--init-from)",
                ModelConfig(model_type="gpt", vocab_size=1, block_size=64, n_layer=4, n_head=4, n_embd=128),
                TrainConfig(batch_size=32, max_iters=600, learning_rate=3e-4, min_lr=3e-5, warmup_iters=30,
                            eval_interval=100, eval_iters=40)),
        _preset("lora", "continue a base model on one speaker through low-rank updates (rank 8) of its "
                "projections, the base's weights frozen: a few percent of the weights train and are saved; "
                "use with a base run (--init-from)",
                ModelConfig(model_type="gpt", vocab_size=1, block_size=64, n_layer=4, n_head=4, n_embd=128),
                TrainConfig(batch_size=32, max_iters=400, learning_rate=1e-3, min_lr=1e-4, warmup_iters=20,
                            weight_decay=0.0, eval_interval=50, eval_iters=40, lora_rank=8)),
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
