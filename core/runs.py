"""Training runs as background processes: start, stop, resume, list, and read their progress.

A run is a folder under the checkpoints root (see core.checkpoints). Its trainer is
`python -m core train ...`, started in a session of its own, so it outlives page switches,
browser reloads and a restart of the server; everything anyone needs to know about it is on disk:
launch.json (what was asked, the pid), meta.json, metrics.jsonl, the checkpoints, train.log.
The app, the CLI and the tests all go through these functions."""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from core import checkpoints as ck
from core.config import ConfigError, ModelConfig, TrainConfig, preset
from core.dataset import prepare
from core.device import pick_device
from core.train import check_memory

ROOT_DIR = Path(__file__).resolve().parent.parent
LAUNCH, LOG = "launch.json", "train.log"
MAX_CONCURRENT = 3
PRIORITY = ["--background"]  # runs train on CPU time the app does not want: its pages stay live


@dataclass(frozen=True)
class RunRequest:
    speakers: tuple[str, ...]
    model: str = "gpt"                  # "bigram" or "gpt"
    preset: str = "tiny"
    overrides: tuple[tuple[str, object], ...] = ()  # (field, value) pairs for ModelConfig / TrainConfig
    clean: bool = True

    @classmethod
    def make(cls, speakers, model="gpt", preset_name=None, clean=True, **overrides) -> RunRequest:
        preset_name = preset_name or ("bigram" if model == "bigram" else "tiny")
        items = tuple(sorted((k, v) for k, v in overrides.items() if v is not None))
        return cls(tuple(speakers), model, preset_name, items, clean)

    def key(self) -> str:
        """Same speakers and settings -> same key (used to refuse duplicate runs)."""
        blob = json.dumps([sorted(self.speakers), self.model, self.preset, list(self.overrides), self.clean])
        return hashlib.sha1(blob.encode()).hexdigest()[:12]

    def default_name(self) -> str:
        return ck.slug(f"{'-'.join(self.speakers)}-{self.model}-{self.preset}")


def validate(request: RunRequest) -> tuple[ModelConfig, TrainConfig]:
    """The configs a request would train with; a ConfigError (or SpeakerError) says what is wrong
    before anything starts."""
    if not request.speakers:
        raise ConfigError("choose at least one speaker")
    if request.model not in ("bigram", "gpt"):
        raise ConfigError(f"unknown model {request.model!r}")
    from core.config import PRESETS
    if request.preset not in PRESETS or PRESETS[request.preset].model.model_type != request.model:
        raise ConfigError(f"preset {request.preset!r} does not fit model {request.model!r}")
    data = prepare(list(request.speakers), clean=request.clean)
    model_cfg, train_cfg = preset(request.preset, data.tokenizer.vocab_size, **dict(request.overrides))
    try:
        device = pick_device(train_cfg.device)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    check_memory(model_cfg, train_cfg, device)
    short = [s.speaker.name for s in data.speakers if len(s.val) <= model_cfg.block_size]
    if short:
        raise ConfigError(f"block size {model_cfg.block_size} is longer than the val text of {', '.join(short)} "
                          f"({min(len(s.val) for s in data.speakers)} characters): choose a smaller block size")
    return model_cfg, train_cfg


@dataclass
class RunStatus:
    name: str
    path: Path
    status: str                 # queued, running, finished, stopped, failed, interrupted
    step: int
    max_iters: int
    speakers: list[str]
    model_type: str
    best_val_loss: float | None
    train_loss: float | None
    val_loss: float | None
    tokens_per_s: float | None
    elapsed: float | None
    message: str
    key: str | None
    pid: int | None
    meta: dict = field(repr=False, default_factory=dict)
    started_now: bool = False   # start() spawned it (False: it returned the run already training)

    @property
    def active(self) -> bool:
        return self.status in ("queued", "running")

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("meta")
        d["path"] = str(self.path)
        return d


def _alive(pid: int | None, name: str) -> bool:
    """Is pid a live trainer of this run? (Reaps it if it is our finished child.)"""
    if not pid:
        return False
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        stat = Path(f"/proc/{pid}/stat").read_text().split()
        return "core" in cmd and name in cmd and stat[2] != "Z"
    except OSError:
        return True  # no /proc (macOS): trust kill(0)


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}


def status(run_dir: Path) -> RunStatus:
    run_dir = Path(run_dir)
    launch, meta = _read(run_dir / LAUNCH), _read(run_dir / ck.META)
    pid = launch.get("pid")
    alive = _alive(pid, run_dir.name)
    state = meta.get("status") or ("queued" if alive else "failed")
    if alive and state not in ("queued", "running") and launch.get("started", 0) > (run_dir / ck.META).stat().st_mtime:
        state = "queued"  # resumed: the old meta.json still says how the previous leg ended
    message = meta.get("message", "")
    if state in ("queued", "running") and not alive:
        state, message = "interrupted", message or "the training process ended without saying why: resume it"
        if not meta and (run_dir / LOG).exists():
            tail = (run_dir / LOG).read_text(errors="replace").strip().splitlines()[-1:]
            state, message = "failed", tail[0] if tail else "the trainer did not start"
    train_cfg = meta.get("train") or launch.get("train") or {}
    history = meta.get("history") or []
    return RunStatus(
        name=run_dir.name, path=run_dir, status=state, step=int(meta.get("step") or 0),
        max_iters=int(train_cfg.get("max_iters") or 0), speakers=meta.get("speakers") or launch.get("speakers", []),
        model_type=(meta.get("model") or {}).get("model_type") or launch.get("model", "?"),
        best_val_loss=meta.get("best_val_loss"), train_loss=meta.get("train_loss"), val_loss=meta.get("val_loss"),
        tokens_per_s=meta.get("tokens_per_s"), elapsed=history[-1]["elapsed"] if history else None,
        message=message, key=launch.get("key"), pid=pid if alive else None, meta=meta)


def list_runs(root: Path) -> list[RunStatus]:
    """Every run folder (trained by the app or the CLI), newest first."""
    root = Path(root)
    if not root.is_dir():
        return []
    dirs = [d for d in root.iterdir() if d.is_dir() and ((d / ck.META).exists() or (d / LAUNCH).exists())]
    return sorted((status(d) for d in dirs), key=lambda r: (r.path / ck.META if (r.path / ck.META).exists()
                                                            else r.path / LAUNCH).stat().st_mtime, reverse=True)


def _spawn(argv: list[str], run_dir: Path) -> int:
    run_dir.mkdir(parents=True, exist_ok=True)
    active = sum(r.active for r in list_runs(run_dir.parent) if r.path != run_dir)
    threads = max(1, (os.cpu_count() or 1) // (active + 1))  # runs side by side share the cores
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    with open(run_dir / LOG, "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "core", *argv, *PRIORITY], cwd=ROOT_DIR, stdout=log,
                                env=env, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    return proc.pid


def start(request: RunRequest, root: Path, name: str | None = None) -> RunStatus:
    """Start a run in the background, or return the one already training the same request."""
    root = Path(root)
    model_cfg, train_cfg = validate(request)
    active = [r for r in list_runs(root) if r.active]
    same = [r for r in active if r.key == request.key()]
    if same:
        return same[0]
    if len(active) >= MAX_CONCURRENT:
        raise ConfigError(f"{len(active)} runs are already training (the limit is {MAX_CONCURRENT}): "
                          "stop one or wait for it to finish")
    root.mkdir(parents=True, exist_ok=True)
    lock = root / f".start-{request.key()}.lock"
    try:  # two tabs pressing Start at once: only one gets the lock
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        if time.time() - lock.stat().st_mtime < 30:
            for _ in range(50):
                same = [r for r in list_runs(root) if r.active and r.key == request.key()]
                if same:
                    return same[0]
                time.sleep(0.1)
            raise ConfigError("this run is being started by another session; try again in a moment") from None
        lock.unlink(missing_ok=True)
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    try:
        base = ck.validate_run_name(name or request.default_name())
        run_name, i = base, 2
        while (root / run_name).exists():
            run_name, i = f"{base}-{i}", i + 1
        run_dir = root / run_name
        argv = ["train", "--out", str(root), "--name", run_name, "--model", request.model, "--preset", request.preset,
                "--json"]
        for s in request.speakers:
            argv += ["--speaker", s]
        if not request.clean:
            argv.append("--no-clean")
        flags = {"max_iters": "--max-iters", "learning_rate": "--lr", "batch_size": "--batch-size",
                 "block_size": "--block-size", "n_layer": "--n-layer", "n_head": "--n-head", "n_embd": "--n-embd",
                 "dropout": "--dropout", "eval_interval": "--eval-interval", "eval_iters": "--eval-iters",
                 "seed": "--seed", "device": "--device", "dtype": "--dtype"}
        for k, v in request.overrides:
            if k not in flags:
                raise ConfigError(f"the setting {k!r} cannot be set from here")
            argv += [flags[k], str(v)]
        run_dir.mkdir(parents=True)
        launch = {"key": request.key(), "request": asdict(request), "speakers": list(request.speakers),
                  "model": request.model, "train": train_cfg.to_dict(), "model_config": model_cfg.to_dict(),
                  "argv": argv, "started": time.time()}
        ck.write_json(run_dir / LAUNCH, launch)
        launch["pid"] = _spawn(argv, run_dir)
        ck.write_json(run_dir / LAUNCH, launch)
        return replace(status(run_dir), started_now=True)
    finally:
        os.close(fd)
        lock.unlink(missing_ok=True)


def stop(run_dir: Path) -> RunStatus:
    """Ask a run to stop: it finishes its step, saves latest.pt and marks itself stopped."""
    st = status(run_dir)
    if st.pid:
        (Path(run_dir) / ck.STOP).touch()  # seen even by a trainer still starting up
        if (Path(run_dir) / ck.META).exists():  # it has taken over SIGTERM: stop now
            with contextlib.suppress(ProcessLookupError):
                os.kill(st.pid, signal.SIGTERM)
    return st


def resume(run_dir: Path, max_iters: int | None = None) -> RunStatus:
    """Continue a stopped or interrupted run from its latest checkpoint, in the background."""
    run_dir = Path(run_dir)
    st = status(run_dir)
    if st.active:
        return st
    if not (run_dir / ck.LATEST).exists():
        raise ck.CheckpointError(f"{run_dir.name} has no checkpoint to resume from")
    if max_iters is None and st.step >= st.max_iters:
        raise ConfigError(f"{run_dir.name} already reached its {st.max_iters} steps: give more iterations")
    (run_dir / ck.STOP).unlink(missing_ok=True)
    argv = ["train", "--out", str(run_dir.parent), "--resume", run_dir.name, "--json"]
    if max_iters:
        argv += ["--max-iters", str(max_iters)]
    launch = _read(run_dir / LAUNCH) or {"speakers": st.speakers, "model": st.model_type, "key": None}
    launch.update(argv=argv, started=time.time(), pid=_spawn(argv, run_dir))
    if max_iters:
        launch.setdefault("train", {})["max_iters"] = max_iters
    ck.write_json(run_dir / LAUNCH, launch)
    return status(run_dir)


def wait(run_dir: Path, timeout: float = 600, poll: float = 0.2) -> RunStatus:
    """Block until the run is no longer active (for tests and scripts)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        st = status(run_dir)
        if not st.active:
            return st
        time.sleep(poll)
    return status(run_dir)
