"""Checkpoint files: the tensors of a run (core.runs.record owns the folder and its record).

    model.pt    the best-val weights        {"format", "version", "meta", "model"}
    latest.pt   the newest state, to resume {"format", "version", "meta", "model", "optimizer", "step",
                                             "rng", "torch_rng"}
"meta" is the run's record (JSON) as it was when the file was written, so a .pt file alone says
which model, vocabulary and speakers it holds. Files are written atomically and loaded with
torch.load(weights_only=True): no pickled code can run. Before a model is built, the stored
config is validated and the shapes it implies are checked against the tensors in the file (on
torch's meta device, so a tiny file that claims a huge model allocates nothing)."""
from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import pickle
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.overrides import TorchFunctionMode

from core.device import available_bytes
from core.model import lora
from core.model.models import build_model
from core.runs.record import (
    BEST,
    FORMAT,
    LATEST,
    META,
    VERSION,
    RecordError,
    RunRecord,
    atomic_write,
    default_root,
    resolve_run,
)
from core.text.tokenizer import CharTokenizer


class CheckpointError(RecordError):
    """A checkpoint file that cannot be used; the message says why."""


def save_checkpoint(path: Path, model: torch.nn.Module, record: RunRecord, **extra) -> None:
    """Atomically write the model's weights (+ extra state: optimizer, step, rng) with the record. A
    LoRA run's weights are its low-rank updates alone (core.model.lora): the base holds the rest."""
    weights = lora.adapters(model) if record.train.lora_rank else model.state_dict()
    payload = {"format": FORMAT, "version": VERSION, "meta": json.dumps(record.to_dict(), ensure_ascii=False),
               "model": {k: v.detach().cpu() for k, v in weights.items()}, **extra}
    atomic_write(Path(path), lambda f: torch.save(payload, f))


def _brief(e: BaseException, limit: int) -> str:
    """An exception's message on one line: some are empty, some open with a bare header line."""
    return " ".join(str(e).split())[:limit] or type(e).__name__


@dataclass
class Checkpoint:
    record: RunRecord
    tokenizer: CharTokenizer
    state: dict  # the whole payload: "model", and "optimizer", "step", "rng" in latest.pt
    path: Path | None = None

    @property
    def model_config(self):
        return self.record.model


class _ShapesOnly(TorchFunctionMode):
    """Inside it, normal initialisers do nothing: for a model built on the meta device only to read
    its shapes. On meta, Tensor.normal_ runs through torch._refs, whose first call imports
    torch._dynamo: 2.1 s on an idle CPU, ~5 s on a busy one, paid by the first model a process loads
    (the Generate page's first character waited for it). uniform_ and zero_ stay: they do not."""
    SKIP = (torch.nn.init.normal_, torch.nn.init.trunc_normal_, torch.Tensor.normal_)

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in self.SKIP:  # nn.init passes its tensor by keyword, Tensor.normal_ as self
            return args[0] if args else kwargs["tensor"]
        return func(*args, **kwargs)


class _NoInit(_ShapesOnly):
    """Inside it, every initialiser does nothing and a new model's tensors hold whatever memory held:
    for a model whose every weight is loaded next (strict load_state_dict; the models here have no
    buffers). Not the meta device: leaving it for the CPU imports sympy, 0.2 s the first time."""
    SKIP = (*_ShapesOnly.SKIP, torch.nn.init.kaiming_uniform_, torch.nn.init.uniform_, torch.Tensor.uniform_,
            torch.nn.init.zeros_, torch.nn.init.ones_, torch.Tensor.zero_, torch.Tensor.fill_)


def _check_tensors(path: Path, record: RunRecord, weights) -> None:
    """The weights are exactly the tensors the config implies (names and shapes, checked on the
    meta device: nothing is allocated), finite, and would fit in memory."""
    if not isinstance(weights, dict) or not all(isinstance(v, torch.Tensor) for v in weights.values()):
        raise CheckpointError(f"{path.name} holds no weights")
    if record.train.lora_rank:  # a LoRA run: its low-rank updates
        expected = lora.shapes(record.model, record.train.lora_rank)
    else:
        with torch.device("meta"), _ShapesOnly():
            expected = {k: tuple(v.shape) for k, v in build_model(record.model).state_dict().items()}
    got = {k: tuple(v.shape) for k, v in weights.items()}
    if expected != got:
        missing = sorted(set(expected) - set(got))[:3]
        extra = sorted(set(got) - set(expected))[:3]
        wrong = [k for k in expected if k in got and expected[k] != got[k]][:3]
        detail = "; ".join(filter(None, [
            f"missing {', '.join(missing)}" if missing else "", f"unexpected {', '.join(extra)}" if extra else "",
            ", ".join(f"{k} is {list(got[k])}, the config says {list(expected[k])}" for k in wrong)]))
        raise CheckpointError(f"{path.name}: the weights do not match the model config ({detail})")
    hollow = [k for k, v in weights.items() if not v.is_contiguous() or v.untyped_storage().nbytes()
              < (v.storage_offset() + v.numel()) * v.element_size()]
    if hollow:  # e.g. one stored number expanded to a 1024 x 1024 view: a tiny file claiming a huge model
        raise CheckpointError(f"{path.name}: its tensors do not hold their own values ({', '.join(hollow[:3])} "
                              "are views of fewer stored numbers): this is not a saved model")
    need, have = 4 * record.model.n_params(), available_bytes(torch.device("cpu"))
    if have is not None and need > have:
        raise CheckpointError(f"{path.name}: the model would need {need / 2**30:.1f} GB and this machine has "
                              f"{have / 2**30:.1f} GB available")
    bad = [k for k, v in weights.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        raise CheckpointError(f"{path.name}: the weights hold NaN or infinite values ({', '.join(bad[:3])}): "
                              "the run diverged before it was saved; use an earlier checkpoint or train again")


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
        record = RunRecord.from_dict(json.loads(payload["meta"]), name=path.parent.name)
        tok = record.tokenizer()
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"{path.name} has unusable metadata: {e}") from None
    if record.model.vocab_size != tok.vocab_size:
        raise CheckpointError(f"{path.name}: model vocab_size {record.model.vocab_size} does not match "
                              f"its vocabulary of {tok.vocab_size} characters")
    _check_tensors(path, record, payload.get("model"))
    return Checkpoint(record, tok, payload, path)


def compact(run_dir: Path) -> int:
    """Store a finished run's best weights in bf16 (half the bytes; they load into fp32 and predict
    within bf16's rounding) and drop its optimizer state (latest.pt): how a big model ships. Returns
    the new size in bytes."""
    path = Path(run_dir) / BEST
    ckpt = read_checkpoint(path)
    weights = {k: v.to(torch.bfloat16) if v.is_floating_point() else v for k, v in ckpt.state["model"].items()}
    payload = {**{k: v for k, v in ckpt.state.items() if k in ("format", "version", "meta")}, "model": weights}
    atomic_write(path, lambda f: torch.save(payload, f))
    (Path(run_dir) / LATEST).unlink(missing_ok=True)
    return path.stat().st_size


@functools.lru_cache(maxsize=4)
def _read_base(path: str, version: tuple[int, ...]) -> Checkpoint:
    """read_checkpoint of a file that LoRA runs adapt, once per version of the file (its inode, size and
    times: a trainer replaces it atomically, so a new version is a new inode): three speakers on one stage
    read the stage and the base once, not three times. Read-only: whatever builds a model copies them."""
    return read_checkpoint(Path(path))


def read_base(path: Path) -> Checkpoint:
    """A base's (or a stage's) checkpoint, as read_checkpoint, from the cache when the file is unchanged."""
    try:
        stat = Path(path).stat()
    except OSError:
        return read_checkpoint(path)  # its own message: no checkpoint file
    return _read_base(str(path), (stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns))


def base_weights(record: RunRecord, root: Path, _seen: tuple[str, ...] = ()) -> dict:
    """The weights of the run a LoRA run adapts (its init_from, in the same runs folder); when that
    run is a LoRA run too (a stage between a base and a speaker), its own base with its updates merged."""
    try:
        base = read_base(resolve_run(record.init_from, root) / BEST)
    except RecordError as e:
        raise CheckpointError(f"{record.name} adapts {record.init_from}, which cannot be read: {e}") from None
    if base.record.model.to_dict() != record.model.to_dict() or base.tokenizer != record.tokenizer():
        raise CheckpointError(f"{record.name} adapts {record.init_from}, whose model is no longer the one it "
                              "adapted (another architecture or vocabulary)")
    return full_weights(base, root, _seen + (record.name,))


def full_weights(ckpt: Checkpoint, root: Path, _seen: tuple[str, ...] = ()) -> dict:
    """A checkpoint's model weights: its own, or for a LoRA run its base's with the updates merged in."""
    if not ckpt.record.train.lora_rank:
        return ckpt.state["model"]
    if ckpt.record.name in _seen:
        raise CheckpointError(f"{ckpt.record.name} adapts itself through {' -> '.join(_seen)}")
    return lora.merged(base_weights(ckpt.record, root, _seen), ckpt.state["model"])


def build_from(ckpt: Checkpoint, device: torch.device | str = "cpu") -> torch.nn.Module:
    """The model the checkpoint describes, with its weights (shapes checked by read_checkpoint); a
    LoRA run's is its base with the low-rank updates merged in. Weights stored in bf16 (a shipped
    base) load into fp32."""
    with _NoInit():  # no initial weights to draw (68 ms for the lecture's model): load_state_dict sets every one
        model = build_model(ckpt.record.model)
    weights = ckpt.state["model"]
    if ckpt.record.train.lora_rank:
        if ckpt.path is None or not (ckpt.path.parent / META).exists():
            raise CheckpointError(f"{ckpt.record.name} holds low-rank updates only: load it from its run folder, "
                                  f"beside its base {ckpt.record.init_from}")
        weights = full_weights(ckpt, ckpt.path.parent.parent)
    model.load_state_dict(weights, strict=True)
    return model.to(device).eval()


@dataclass
class LoadedModel:
    model: torch.nn.Module
    tokenizer: CharTokenizer
    record: RunRecord
    path: Path

    @property
    def config(self):
        return self.model.config

    @functools.cached_property
    def digest(self) -> str:
        """SHA-256 of the weights file as loaded (and of its base's, for a LoRA run): what anything
        computed from these weights is stored under (core.runs.probed), the same in a fresh clone
        (unlike the file's mtime)."""
        return weights_digest(self.path, self.record)


def weights_digest(path: Path, record: RunRecord) -> str:
    """The digest of a weights file as a model: its SHA-256, and for a LoRA run (its file holds only
    the updates) the SHA-256 of that and its base's digest (as a model: a stage's, its own base's too)."""
    own = file_digest(path)
    if not record.train.lora_rank:
        return own
    base = resolve_run(record.init_from, Path(path).parent.parent)
    return hashlib.sha256((own + weights_digest(base / BEST, RunRecord.load(base))).encode()).hexdigest()


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def weights_key(run_dir: Path, which: str = "best") -> tuple[str, float]:
    """(path, mtime) of a run's weights file: the key anything computed from the weights is cached
    under, so a retrained run is computed afresh (a trainer replaces the file atomically: a new mtime
    is a new file). RecordError when the file cannot be read."""
    path = Path(run_dir) / (BEST if which == "best" else LATEST)
    try:
        return str(path), path.stat().st_mtime
    except OSError as e:
        raise RecordError(f"{Path(run_dir).name}: {path.name} cannot be read ({e.strerror or e})") from None


def checkpoint_path(ref: str | Path, which: str = "best", root: Path | None = None) -> Path:
    p = Path(ref)
    if p.suffix == ".pt" and p.is_file():
        return p
    return resolve_run(ref, root) / (BEST if which == "best" else LATEST)


def load_model(ref: str | Path, which: str = "best", device: torch.device | str = "cpu",
               expect_vocab: CharTokenizer | None = None, root: Path | None = None) -> LoadedModel:
    """Load a run's best (or latest) weights, ready for inference. The record is the run's own
    (meta.json) when the file sits in a run folder, else the one stored in the file."""
    path = checkpoint_path(ref, which, root if root is not None else default_root())
    ckpt = read_checkpoint(path)
    if expect_vocab is not None and ckpt.tokenizer != expect_vocab:
        raise CheckpointError(f"{path.parent.name}: its vocabulary ({ckpt.tokenizer.vocab_size} chars) "
                              f"differs from the one expected ({expect_vocab.vocab_size} chars)")
    record = ckpt.record  # a lone .pt file: the record it carries; in a run folder, the folder's
    with contextlib.suppress(RecordError):
        record = RunRecord.load(path.parent)
    return LoadedModel(build_from(ckpt, device), ckpt.tokenizer, record, path)
