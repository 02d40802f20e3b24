"""The checkpoint format, and the only code that knows it.

One run = one folder under checkpoints/:
    meta.json      run metadata, readable without torch: model and train config, vocabulary,
                   speakers, cleaning, status, steps, losses, the eval history
    model.pt       the best-val weights        {"format", "version", "meta", "model"}
    latest.pt      the newest state, to resume {"format", "version", "meta", "model", "optimizer",
                                                "step", "rng"}
    metrics.jsonl  every progress event, one JSON object a line (append-only)
Every file is written to a temp file and renamed into place, so a crash never leaves half a file.
Loading uses torch.load(weights_only=True): no pickled code can run."""
from __future__ import annotations

import contextlib
import json
import os
import pickle
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch

from core.config import ConfigError, ModelConfig
from core.errors import UserError
from core.models import build_model
from core.tokenizer import CharTokenizer

FORMAT = "podium-checkpoint"
VERSION = 1
CHECKPOINTS_DIR = Path(__file__).resolve().parent.parent / "checkpoints"
BEST, LATEST, META, METRICS = "model.pt", "latest.pt", "meta.json", "metrics.jsonl"
STOP = "stop.request"  # present in a run folder: its trainer stops at the next step


def default_root() -> Path:
    """Where runs live: $PODIUM_CHECKPOINTS if set (tests, several installs), else checkpoints/."""
    return Path(os.environ.get("PODIUM_CHECKPOINTS") or CHECKPOINTS_DIR)


_RUN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")


class CheckpointError(UserError):
    """A checkpoint that cannot be used; the message says why."""


def validate_run_name(name: str) -> str:
    if not isinstance(name, str) or not _RUN_NAME.match(name) or ".." in name:
        raise CheckpointError(
            f"invalid run name {name!r}: use 1-80 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit, with no path separators or '..'")
    return name


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "run"


def _atomic_write(path: Path, write) -> None:
    """Write via a temp file in the same folder, fsync, then rename over path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.fchmod(fd, 0o644)  # mkstemp makes 0600; a checkpoint is an ordinary readable file
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_json(path: Path, obj) -> None:
    data = json.dumps(obj, indent=1, ensure_ascii=False).encode("utf-8")
    _atomic_write(path, lambda f: f.write(data))


def read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(f"{path} does not exist") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{path} is not readable run metadata: {e}") from None


def append_metrics(run_dir: Path, event: dict) -> None:
    with open(run_dir / METRICS, "a", encoding="utf-8") as f:
        f.write(json.dumps(event) + "\n")


def read_metrics(run_dir: Path) -> list[dict]:
    """Every complete line of the metrics log (a torn last line after a crash is skipped)."""
    path = Path(run_dir) / METRICS
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def save_checkpoint(path: Path, model: torch.nn.Module, meta: dict, **extra) -> None:
    """Atomically write model weights (+ extra state such as optimizer, step, rng) and meta."""
    payload = {"format": FORMAT, "version": VERSION, "meta": json.dumps(meta, ensure_ascii=False),
               "model": {k: v.detach().cpu() for k, v in model.state_dict().items()}, **extra}
    _atomic_write(Path(path), lambda f: torch.save(payload, f))


def _brief(e: BaseException, limit: int) -> str:
    """An exception's message on one line: some are empty, some open with a bare header line."""
    return " ".join(str(e).split())[:limit] or type(e).__name__


@dataclass
class Checkpoint:
    meta: dict
    model_config: ModelConfig
    tokenizer: CharTokenizer
    state: dict  # the whole payload: "model", and "optimizer", "step", "rng" in latest.pt


def read_checkpoint(path: Path) -> Checkpoint:
    """Load and check a checkpoint file; refuse anything that is not ours, with a reason."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint file at {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        raise CheckpointError(
            f"{path.name} was refused: it holds objects other than tensors and plain data, "
            f"which could run code when loaded ({_brief(e, 160)})") from None
    except Exception as e:  # garbage fails in many ways: IndexError, KeyError, struct.error, a bare EOFError...
        raise CheckpointError(f"{path.name} is not a readable checkpoint (truncated or corrupt?): "
                              f"{_brief(e, 160)}") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path.name} is not a Podium checkpoint")
    if payload.get("version") != VERSION:
        raise CheckpointError(f"{path.name} has format version {payload.get('version')}; "
                              f"this Podium reads version {VERSION}")
    try:
        meta = json.loads(payload["meta"])
        cfg = ModelConfig.from_dict(meta["model"])
        tok = CharTokenizer.from_json(meta["vocab"])
    except (KeyError, TypeError, ValueError, ConfigError) as e:
        raise CheckpointError(f"{path.name} has unusable metadata: {e}") from None
    if cfg.vocab_size != tok.vocab_size:
        raise CheckpointError(f"{path.name}: model vocab_size {cfg.vocab_size} does not match "
                              f"its vocabulary of {tok.vocab_size} characters")
    return Checkpoint(meta, cfg, tok, payload)


def build_from(ckpt: Checkpoint, device: torch.device | str = "cpu") -> torch.nn.Module:
    """The model the checkpoint describes, with its weights; refuses weights of another shape."""
    model = build_model(ckpt.model_config, seed=0)  # weights replaced below; the global RNG untouched
    try:
        model.load_state_dict(ckpt.state["model"], strict=True)
    except (RuntimeError, KeyError, TypeError) as e:
        raise CheckpointError(f"the weights do not match the model config: {_brief(e, 300)}") from None
    return model.to(device).eval()


@dataclass
class LoadedModel:
    model: torch.nn.Module
    tokenizer: CharTokenizer
    meta: dict
    path: Path

    @property
    def config(self) -> ModelConfig:
        return self.model.config


def resolve_run(ref: str | Path, root: Path = CHECKPOINTS_DIR) -> Path:
    """A run folder from a run name under root, a folder path, or a .pt path (its folder)."""
    p = Path(ref)
    if p.suffix == ".pt" and p.is_file():
        return p.parent
    if p.is_dir() and (p / META).exists():
        return p
    if isinstance(ref, str) and os.sep not in ref and "/" not in ref:
        validate_run_name(ref)
        if (root / ref / META).exists():
            return root / ref
    known = ", ".join(r.name for r in list_runs(root)[:8]) or "none yet"
    raise CheckpointError(f"no run {str(ref)!r} (known runs: {known})")


def load_model(ref: str | Path, which: str = "best", device: torch.device | str = "cpu",
               expect_vocab: CharTokenizer | None = None, root: Path = CHECKPOINTS_DIR) -> LoadedModel:
    """Load a run's best (or latest) weights, ready for inference."""
    p = Path(ref)
    path = p if (p.suffix == ".pt" and p.is_file()) else resolve_run(ref, root) / (BEST if which == "best" else LATEST)
    ckpt = read_checkpoint(path)
    if expect_vocab is not None and ckpt.tokenizer != expect_vocab:
        raise CheckpointError(f"{path.parent.name}: its vocabulary ({ckpt.tokenizer.vocab_size} chars) "
                              f"differs from the one expected ({expect_vocab.vocab_size} chars)")
    return LoadedModel(build_from(ckpt, device), ckpt.tokenizer, ckpt.meta, path)


@dataclass(frozen=True)
class RunInfo:
    name: str
    path: Path
    meta: dict

    @property
    def status(self) -> str:
        return self.meta.get("status", "?")


def list_runs(root: Path = CHECKPOINTS_DIR) -> list[RunInfo]:
    """Every run folder with readable metadata, newest first."""
    if not Path(root).is_dir():
        return []
    runs = []
    for d in Path(root).iterdir():
        if d.is_dir() and (d / META).exists():
            try:
                runs.append(RunInfo(d.name, d, read_json(d / META)))
            except CheckpointError:
                continue
    return sorted(runs, key=lambda r: r.meta.get("updated", ""), reverse=True)
