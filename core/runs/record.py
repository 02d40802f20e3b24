"""A run, as one typed record: what was asked (speakers, cleaning, vocabulary, model and training
settings, where its weights start) and how it went (status, step, losses, history, timings).

One run = one folder under the checkpoints root:
    meta.json      this record (readable without torch)
    model.pt       the best-val weights, latest.pt the state to resume (core.runs.checkpoints)
    metrics.jsonl  every progress event, one JSON object a line (append-only)
    train.log      what a background trainer printed
    trainer.lock   held (flock) by the one trainer writing the folder, for its whole life
    stop.request   present: the trainer stops at its next step
Every reader goes through RunRecord; nobody else reads meta.json. A record that does not parse is
refused with the reason (RecordError), and listings show such a folder as unreadable instead of
failing. Records written by earlier releases (format 1) load as they are."""
from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
import re
import tempfile
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import datetime, timezone
from pathlib import Path

from core.config import ConfigError, ModelConfig, TrainConfig
from core.errors import RunBusy, UserError

FORMAT, VERSION = "podium-checkpoint", 1
CHECKPOINTS_DIR = Path(__file__).resolve().parents[2] / "checkpoints"
BEST, LATEST, META, METRICS = "model.pt", "latest.pt", "meta.json", "metrics.jsonl"
STOP, LOG, LOCK = "stop.request", "train.log", "trainer.lock"
LOCK_FD_ENV = "PODIUM_TRAINER_LOCK_FD"  # a spawned trainer finds the lock its starter handed it here
STATUSES = ("queued", "running", "finished", "stopped", "failed", "interrupted")
ROLES = ("scratch", "base", "fine-tune", "rung")  # written when a run is created (core.runs.start), read back
ACTIVE = ("queued", "running")
_RUN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,79}")


class RecordError(UserError):
    """A run folder or file that cannot be used; the message says why."""


def default_root() -> Path:
    """Where runs live: $PODIUM_CHECKPOINTS if set (tests, several installs), else checkpoints/."""
    return Path(os.environ.get("PODIUM_CHECKPOINTS") or CHECKPOINTS_DIR)


def validate_run_name(name: str) -> str:
    if not isinstance(name, str) or not _RUN_NAME.fullmatch(name) or ".." in name:
        raise RecordError(
            f"invalid run name {name!r}: use 1-80 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit, with no path separators or '..'")
    return name


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "run"


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


# --- atomic files ---------------------------------------------------------------------------------
def atomic_write(path: Path, write) -> None:
    """Write via a temp file in the same folder, fsync, then rename over path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.fchmod(fd, 0o644)  # mkstemp makes 0600; a run file is an ordinary readable file
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
    atomic_write(path, lambda f: f.write(data))


def read_json(path: Path) -> dict:
    try:
        obj = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RecordError(f"{path} does not exist") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise RecordError(f"{path} is not readable run metadata: {e.strerror if isinstance(e, OSError) else e}") \
            from None
    if not isinstance(obj, dict):
        raise RecordError(f"{path} is not a JSON object")
    return obj


# --- the record -----------------------------------------------------------------------------------
def _num(v, name: str, *, optional: bool = True, integer: bool = False):
    if v is None and optional:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or (integer and not float(v).is_integer()):
        raise RecordError(f"{name} must be {'a whole number' if integer else 'a number'}, got {v!r}")
    return int(v) if integer else float(v)


@dataclass
class RunRecord:
    name: str
    speakers: list[str]
    model: ModelConfig
    train: TrainConfig
    vocab: str                          # the CharTokenizer's JSON: the vocabulary the weights index
    clean: bool = True                  # stage notes like [Applause] dropped
    unknown: str = "refuse"             # characters outside a base's vocabulary: refuse, drop or space
    preset: str | None = None
    role: str = "scratch"               # scratch (one speaker's model), base (pretrained on many), fine-tune
                                        # (a base continued on one speaker), rung (a step of the ladder)
    init_from: str | None = None        # the run whose weights this one started from (None: from scratch)
    init_step: int | None = None        # ... and that run's step
    group: str | None = None            # runs started together (one Start press) stop together
    key: str | None = None              # same request -> same key: a duplicate is not started twice
    status: str = "queued"
    message: str = ""
    step: int = 0
    best_step: int | None = None
    best_val_loss: float | None = None
    train_loss: float | None = None
    val_loss: float | None = None
    tokens_per_s: float | None = None
    val_loss_full: dict[str, float] = field(default_factory=dict)  # best weights, whole val split per speaker
    history: list[dict] = field(default_factory=list)             # one point per evaluation
    samples: list[dict] = field(default_factory=list)             # what the model wrote at each evaluation
    heads: list[dict] = field(default_factory=list)               # each head's pattern scores at each evaluation
    n_params: int = 0
    device: str = ""
    dtype: str = ""
    world_size: int = 1
    pid: int | None = None              # the process started to train it (shown; liveness is the lock's)
    created: str = ""
    updated: str = ""
    path: Path | None = field(default=None, compare=False, repr=False)  # its folder, once loaded or saved
    lock: TrainerLock | None = field(default=None, compare=False, repr=False)  # held from creation to the trainer

    @property
    def model_type(self) -> str:
        return self.model.model_type

    @property
    def max_iters(self) -> int:
        return self.train.max_iters

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    def to_dict(self) -> dict:
        d = asdict(replace(self, path=None, lock=None))
        d.pop("path"), d.pop("lock")
        d.update(format=FORMAT, version=VERSION, model=self.model.to_dict(), train=self.train.to_dict())
        return d

    def summary(self) -> dict:
        """The fields a listing shows (CLI `runs --json`, the pages' tables)."""
        return {"run": self.name, "status": self.status, "role": self.role, "speakers": self.speakers,
                "model": self.model_type,
                "step": self.step, "max_iters": self.max_iters, "best_val_loss": self.best_val_loss,
                "init_from": self.init_from, "group": self.group, "updated": self.updated,
                "message": self.message}

    @classmethod
    def from_dict(cls, d: dict, name: str | None = None) -> RunRecord:
        """Parse and check a record; RecordError names the first field that is wrong."""
        if not isinstance(d, dict):
            raise RecordError("the run metadata is not a JSON object")
        d = {k: v for k, v in d.items() if k not in ("path", "lock")}
        try:
            model = ModelConfig.from_dict(d.get("model"))
            train = TrainConfig.from_dict(d.get("train") if d.get("train") is not None else {})
        except (ConfigError, TypeError) as e:
            raise RecordError(f"its settings are unusable: {e}") from None
        speakers = d.get("speakers")
        if not isinstance(speakers, list) or not speakers or not all(isinstance(s, str) for s in speakers):
            raise RecordError(f"speakers must be a list of names, got {speakers!r}")
        vocab = d.get("vocab")
        if not isinstance(vocab, str):
            raise RecordError("its vocabulary is missing")
        status = d.get("status", "queued")
        if status not in STATUSES:
            raise RecordError(f"unknown status {status!r}")
        history = d.get("history") or []
        if not isinstance(history, list) or not all(
                isinstance(h, dict) and _num(h.get("step"), "history step", optional=False, integer=True) is not None
                and all(_num(h.get(k), f"history {k}") is not None or h.get(k) is None
                        for k in ("train_loss", "val_loss"))
                for h in history):
            raise RecordError("its history is not a list of evaluations")
        full = d.get("val_loss_full") or {}
        if not isinstance(full, dict):
            raise RecordError("val_loss_full must map speakers to losses")
        samples = d.get("samples") or []
        if not isinstance(samples, list) or not all(isinstance(s, dict) and isinstance(s.get("text"), str)
                                                    for s in samples):
            raise RecordError("samples must be a list of {step, text}")
        heads = d.get("heads") or []
        if not isinstance(heads, list) or not all(isinstance(h, dict) and isinstance(h.get("scores"), list)
                                                  for h in heads):
            raise RecordError("heads must be a list of {step, patterns, scores}")
        strings = {k: d.get(k) for k in ("preset", "init_from", "group", "key")}
        for k, v in strings.items():
            if v is not None and not isinstance(v, str):
                raise RecordError(f"{k} must be text, got {v!r}")
        role = d.get("role") or _legacy_role(str(name or d.get("name") or ""), speakers, strings["init_from"])
        if role not in ROLES:
            raise RecordError(f"unknown role {role!r} (one of {', '.join(ROLES)})")
        rec_name = name or d.get("name")
        if not isinstance(rec_name, str):
            raise RecordError("the run has no name")
        return cls(
            name=rec_name, speakers=speakers, model=model, train=train, vocab=vocab,
            clean=bool(d.get("clean", True)), unknown=str(d.get("unknown") or "refuse"), role=role, **strings,
            init_step=_num(d.get("init_step"), "init_step", integer=True),
            status=status, message=str(d.get("message") or ""),
            step=_num(d.get("step") or 0, "step", optional=False, integer=True),
            best_step=_num(d.get("best_step"), "best_step", integer=True),
            best_val_loss=_num(d.get("best_val_loss"), "best_val_loss"),
            train_loss=_num(d.get("train_loss"), "train_loss"), val_loss=_num(d.get("val_loss"), "val_loss"),
            tokens_per_s=_num(d.get("tokens_per_s"), "tokens_per_s"),
            val_loss_full={str(k): _num(v, f"val_loss_full[{k}]", optional=False) for k, v in full.items()},
            history=history, samples=samples, heads=heads,
            n_params=_num(d.get("n_params") or 0, "n_params", optional=False, integer=True),
            device=str(d.get("device") or ""), dtype=str(d.get("dtype") or ""),
            world_size=_num(d.get("world_size") or 1, "world_size", optional=False, integer=True),
            pid=_num(d.get("pid"), "pid", integer=True),
            created=str(d.get("created") or ""), updated=str(d.get("updated") or ""))

    def tokenizer(self):
        from core.text.tokenizer import CharTokenizer
        try:
            return CharTokenizer.from_json(self.vocab)
        except (ValueError, TypeError) as e:
            raise RecordError(f"{self.name}: its vocabulary is unusable ({e})") from None

    # --- on disk ----------------------------------------------------------------------------------
    def save(self, run_dir: Path) -> None:
        self.updated = now()
        write_json(Path(run_dir) / META, self.to_dict())
        self.path = Path(run_dir)

    @classmethod
    def load(cls, run_dir: Path) -> RunRecord:
        run_dir = Path(run_dir)
        try:
            return replace(cls.from_dict(read_json(run_dir / META), name=run_dir.name), path=run_dir)
        except RecordError as e:
            raise RecordError(f"run {run_dir.name}: {e}") from None

    def updated_with(self, **changes) -> RunRecord:
        return replace(self, **changes)


def _legacy_role(name: str, speakers: list[str], init_from: str | None) -> str:
    """The role of a record written before roles were (format 1 without "role"), read once from what
    it holds: the ladder's names, a start from another run, a base's many speakers. New records carry
    theirs, and so do the shipped ones."""
    if re.search(r"-ladder-\d+-", name):
        return "rung"
    if init_from:
        return "fine-tune"
    return "base" if len(speakers) >= 5 else "scratch"


def best_loss(r: RunRecord) -> float:
    return r.best_val_loss if r.best_val_loss is not None and math.isfinite(r.best_val_loss) else math.inf


# --- the trainer's lock and liveness ---------------------------------------------------------------
class TrainerLock:
    """Held by the one process that writes a run folder, for its whole life: an flock on
    trainer.lock, which the kernel releases when the process ends in any way (kill -9 included).
    A run is locked from the moment it is created: the creator holds the lock until it trains the
    run itself, or hands it to the process it starts (handover: the child inherits the locked file,
    and acquire() there adopts it), so "queued" never rests on a pid that may be reused."""

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / LOCK
        self.fd: int | None = None

    def acquire(self) -> TrainerLock:
        if self._adopt():
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise RunBusy(f"run {self.path.parent.name} is being trained by another process: stop it first, "
                          "or wait for it to finish") from None
        self.fd = fd
        self._stamp()
        return self

    def _stamp(self) -> None:
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, str(os.getpid()).encode(), 0)

    def _adopt(self) -> bool:
        """The lock this process inherited from its starter (handover), if one of them is this run's."""
        try:
            here = os.stat(self.path)
        except OSError:
            return False
        for given in os.environ.get(LOCK_FD_ENV, "").split(","):
            if not given.isdigit():
                continue
            try:
                mine = os.fstat(int(given))
            except OSError:
                continue
            if (mine.st_dev, mine.st_ino) == (here.st_dev, here.st_ino):
                fd = int(given)
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # the same open file that holds it: succeeds
                os.set_inheritable(fd, False)
                self.fd = fd
                self._stamp()
                return True
        return False

    @staticmethod
    def handover(locks: list[TrainerLock]) -> tuple[tuple[int, ...], dict[str, str]]:
        """(pass_fds, env) for a child process that takes these locks over; release() them here once
        it started (the child's copies keep the files locked)."""
        assert all(lk.fd is not None for lk in locks), "hand over locks that are held"
        fds = tuple(lk.fd for lk in locks)
        return fds, {LOCK_FD_ENV: ",".join(map(str, fds))}

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing releases the flock (unless a child holds the same open file)
            self.fd = None

    def __del__(self) -> None:
        self.release()

    def __enter__(self) -> TrainerLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def trainer_alive(run_dir: Path) -> bool:
    """Does a live process hold this run's trainer lock?"""
    try:
        fd = os.open(Path(run_dir) / LOCK, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def live(record: RunRecord, run_dir: Path) -> RunRecord:
    """The record with its status as it is now. The trainer's lock is the truth: an active record
    whose lock nobody holds is not training, whatever its pid says (a pid is reused after a crash or
    a reboot): queued, it failed to start; running, it was interrupted."""
    if not record.active or trainer_alive(run_dir):
        return record
    with contextlib.suppress(RecordError, OSError):  # read again: the trainer may have written its last status
        again = RunRecord.load(run_dir)   # (stopped, finished) between our read and its lock's release
        if not again.active:
            return again
    if record.status == "queued":
        tail = ""
        with contextlib.suppress(OSError, IndexError):
            tail = (Path(run_dir) / LOG).read_text(errors="replace").strip().splitlines()[-1]
        return replace(record, status="failed", message=tail or "the training process did not start")
    return replace(record, status="interrupted",
                   message=record.message or "the training process ended without saying why: resume it")


# --- listing ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Unreadable:
    name: str
    path: Path
    reason: str
    status: str = "unreadable"


@dataclass
class Scan:
    records: list[RunRecord]
    unreadable: list[Unreadable]


def scan(root: Path | None = None) -> Scan:
    """Every run folder under root: the readable records (live status, newest first), and the
    folders that could not be read, with the reason. One bad folder never hides the others."""
    root = Path(root) if root is not None else default_root()
    records, bad = [], []
    try:
        entries = sorted(root.iterdir()) if root.is_dir() else []
    except OSError as e:
        return Scan([], [Unreadable(root.name, root, f"the runs folder cannot be read: {e.strerror or e}")])
    for d in entries:
        try:
            if not d.is_dir() or d.name.startswith(".") or not (d / META).exists():
                continue
            records.append(live(RunRecord.load(d), d))
        except RecordError as e:
            bad.append(Unreadable(d.name, d, str(e).removeprefix(f"run {d.name}: ")))
        except OSError as e:
            bad.append(Unreadable(d.name, d, f"cannot be read: {e.strerror or e}"))
    records.sort(key=lambda r: r.updated or r.created, reverse=True)
    return Scan(records, bad)


def list_runs(root: Path | None = None) -> list[RunRecord]:
    return scan(root).records


def run_dir(root: Path, name: str) -> Path:
    return Path(root) / validate_run_name(name)


def status(run_dir: Path) -> RunRecord:
    """A run's record, with its live status."""
    return live(RunRecord.load(run_dir), run_dir)


def resolve_run(ref: str | Path, root: Path | None = None) -> Path:
    """A run folder from a run name under root, a folder path, or a .pt path (its folder)."""
    root = Path(root) if root is not None else default_root()
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
    raise RecordError(f"no run {str(ref)!r} (known runs: {known})")


def free_name(root: Path, base: str) -> str:
    """base, or base-2, base-3, ...: the first name no run folder uses (nothing is overwritten)."""
    base = validate_run_name(slug(base) if not _RUN_NAME.fullmatch(base) else base)
    name, i = base, 2
    while (Path(root) / name).exists():
        name, i = f"{base}-{i}", i + 1
    return name


def read_metrics(run_dir: Path) -> list[dict]:
    """Every complete, well-formed event of the metrics log (a torn last line after a crash, or a
    line that is not an event object, is skipped)."""
    path = Path(run_dir) / METRICS
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return []
    except OSError as e:
        raise RecordError(f"{path} cannot be read: {e.strerror or e}") from None
    out = []
    for line in lines:
        try:
            e = json.loads(line)
        except json.JSONDecodeError:
            continue
        if event_ok(e):
            out.append(e)
    return out


def event_ok(e) -> bool:
    """A metrics event the readers can use: an object of a known kind with numbers where numbers go."""
    if not isinstance(e, dict) or e.get("kind") not in ("start", "step", "eval", "end"):
        return False
    numbers = {"step": ("step", "train_loss"), "eval": ("step", "train_loss", "val_loss"),
               "end": ("step",), "start": ("step",)}[e["kind"]]
    for k in numbers:
        v = e.get(k)
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return False
    return all(v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))
               for k, v in e.items() if k in ("lr", "tokens_per_s", "elapsed"))


def append_metrics(run_dir: Path, event: dict) -> None:
    with open(Path(run_dir) / METRICS, "a", encoding="utf-8") as f:
        f.write(json.dumps(event) + "\n")


def known_fields() -> set[str]:
    return {f.name for f in fields(RunRecord)}
