"""The one start path: every way to train (the CLI, the Train and Bigram pages, torchrun, the
benchmark) plans a run from a request, creates its record, and trains it with `execute`, in this
process or in a background one (`start`, which runs `python -m core train --run NAME`).

    request --plan--> record (queued, in its folder) --execute--> fit + Recorder --> finished
A run's folder and record are described in core.runs.record. One trainer at a time holds a run's lock;
a stop request is a file the trainer sees within one step; runs started together share a group
and stop together."""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

from core.config import PRESETS, ConfigError, ModelConfig, TrainConfig, preset
from core.device import pick_device, usable_cores
from core.errors import RunBusy
from core.runs import checkpoints as ck
from core.runs import record as rec
from core.runs.record import RunRecord, list_runs, status  # noqa: F401  (runs.status / runs.list_runs: the record's)
from core.runs.recorder import Recorder
from core.text.corpus import DEFAULT_SPEAKERS, sotu_speakers
from core.text.dataset import TrainingData, prepare
from core.train.loop import Start, TrainResult, check_data, check_memory, fit

ROOT_DIR = Path(__file__).resolve().parents[2]
MAX_CONCURRENT = 3


@dataclass(frozen=True)
class RunRequest:
    """What a person asks for: speakers, a model and preset, the settings that differ from it."""
    speakers: tuple[str, ...]
    model: str = "gpt"                  # "bigram" or "gpt"
    preset: str = "tiny"
    overrides: tuple[tuple[str, object], ...] = ()  # (field, value) pairs for ModelConfig / TrainConfig
    clean: bool = True
    init_from: str | None = None        # a run whose weights (and vocabulary) this one starts from
    vocab_from: tuple[str, ...] = ()    # more speakers whose characters join the vocabulary (a base: all)
    name_hint: str | None = None        # the default name's stem, when the speakers' names would not do
    unknown: str = "refuse"             # characters outside a base's vocabulary: refuse, drop, or a space
    role: str = "scratch"               # what the run is for (core.runs.record.ROLES), written into its record

    @classmethod
    def make(cls, speakers, model="gpt", preset_name=None, clean=True, init_from=None, vocab_from=(),
             name_hint=None, unknown="refuse", role=None, **overrides) -> RunRequest:
        preset_name = preset_name or ("bigram" if model == "bigram" else "tiny")
        items = tuple(sorted((k, v) for k, v in overrides.items() if v is not None))
        role = role or ("fine-tune" if init_from else "scratch")
        if role not in rec.ROLES:
            raise ConfigError(f"unknown role {role!r}: one of {', '.join(rec.ROLES)}")
        return cls(tuple(speakers), model, preset_name, items, clean, init_from, tuple(vocab_from), name_hint,
                   unknown, role)

    @classmethod
    def pretrain(cls, exclude, model="gpt", preset_name=None, clean=True, **overrides) -> RunRequest:
        """A base model: every president's addresses except the excluded speakers' (so none of their
        text, train or val, is in it), on the vocabulary of the whole corpus."""
        exclude = tuple(dict.fromkeys(exclude))
        speakers = [n for n in sotu_speakers() if n not in exclude]
        if not speakers:
            raise ConfigError("nothing is left to pretrain on: exclude fewer speakers")
        stem = "sotu-base" if set(DEFAULT_SPEAKERS) <= set(exclude) else "sotu-base-" + "-".join(
            rec.slug(n).split("-")[-1] for n in exclude)[:40]
        return cls.make(speakers, model, preset_name, clean, None, exclude, stem, role="base", **overrides)

    def key(self) -> str:
        """Same speakers and settings -> same key (used to refuse duplicate runs)."""
        blob = json.dumps([sorted(self.speakers), self.model, self.preset, [list(o) for o in self.overrides],
                           self.clean, self.init_from, sorted(self.vocab_from), self.unknown, self.role])
        return hashlib.sha1(blob.encode()).hexdigest()[:12]

    def default_name(self) -> str:
        lora = self.preset == "lora" or dict(self.overrides).get("lora_rank")
        how = f"{'lora' if lora else 'ft'}-{self.init_from}" if self.init_from else self.preset  # as the Makefile names
        stem = self.name_hint or "-".join(self.speakers)
        return rec.slug(f"{stem}-{self.model}-{how}")


def _base(init_from: str, root: Path) -> ck.Checkpoint:
    try:
        return ck.read_checkpoint(rec.resolve_run(init_from, root) / rec.BEST)
    except rec.RecordError as e:
        raise ConfigError(f"cannot start from {init_from!r}: {e}") from None


def plan(request: RunRequest, root: Path | None = None, data_dir: Path | None = None) -> tuple[RunRecord, TrainingData]:
    """The record a request would train (not yet named or saved) and its data; a UserError says
    what is wrong before anything starts."""
    root = Path(root) if root is not None else rec.default_root()
    if not request.speakers:
        raise ConfigError("choose at least one speaker")
    if request.model not in ("bigram", "gpt"):
        raise ConfigError(f"unknown model {request.model!r}")
    if request.preset not in PRESETS or PRESETS[request.preset].model.model_type != request.model:
        fits = [n for n, p in PRESETS.items() if p.model.model_type == request.model]
        raise ConfigError(f"preset {request.preset!r} does not fit model {request.model!r}: use "
                          f"{' or '.join(fits)}")
    base = _base(request.init_from, root) if request.init_from else None
    if base is not None and base.record.model_type != request.model:
        raise ConfigError(f"{request.init_from} is a {base.record.model_type} model: a run started from it is a "
                          f"{base.record.model_type} too (drop --model {request.model}, or start from a "
                          f"{request.model} run)")
    data = prepare(list(request.speakers), clean=request.clean, data_dir=data_dir,
                   tokenizer=base.tokenizer if base else None, unknown=request.unknown,
                   vocab_speakers=tuple(dict.fromkeys(DEFAULT_SPEAKERS + request.vocab_from)))
    overrides = dict(request.overrides)
    if base is not None:  # the base fixes the architecture; training settings stay the request's
        arch = {k: v for k, v in base.record.model.to_dict().items() if k != "vocab_size"}
        clash = {k: v for k, v in overrides.items() if k in arch and v != arch[k]}
        if clash:
            raise ConfigError(f"a fine-tuned run keeps its base's architecture: {clash} differs from "
                              f"{request.init_from}")
        overrides.update(arch)
    try:
        model_cfg, train_cfg = preset(request.preset, data.tokenizer.vocab_size, **overrides)
    except TypeError as e:
        raise ConfigError(str(e)) from None
    try:
        device = pick_device(train_cfg.device)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    if train_cfg.lora_rank and base is None:
        raise ConfigError("a LoRA run adapts a base model: give the run it starts from (--init-from RUN)")
    check_memory(model_cfg, train_cfg, device)
    check_data(data, model_cfg)
    record = RunRecord(name="", speakers=data.names, model=model_cfg, train=train_cfg,
                       vocab=data.tokenizer.to_json(), clean=request.clean, unknown=request.unknown,
                       preset=request.preset, role=request.role,
                       init_from=base.record.name if base else None, init_step=base.record.best_step if base else None,
                       key=request.key(), n_params=model_cfg.n_params(), created=rec.now())
    return record, data


def validate(request: RunRequest, root: Path | None = None) -> tuple[ModelConfig, TrainConfig]:
    record, _ = plan(request, root)
    return record.model, record.train


def _check_limit(root: Path, adding: int = 1, exclude: str | None = None) -> None:
    """At most MAX_CONCURRENT trainers at once: active runs, counted by the process that holds them
    (a chain of rungs queued for one process is one)."""
    trainers = {r.pid or r.name for r in rec.list_runs(root) if r.active and r.name != exclude}
    if len(trainers) + adding > MAX_CONCURRENT:
        raise ConfigError(f"{len(trainers)} run(s) already training"
                          f"{' and ' + str(adding) + ' new' if adding > 1 else ''}"
                          f": the limit is {MAX_CONCURRENT} at once; stop one or wait for it to finish")


def create(request: RunRequest, root: Path, name: str | None = None, group: str | None = None,
           data_dir: Path | None = None, check_limit: bool = True) -> RunRecord:
    """Plan a run and write its record (queued) in a folder of its own. An unnamed run takes the
    next free name (barack-obama-gpt-tiny-2); an explicit name that exists is refused. The record
    comes back holding the run's trainer lock (record.lock): pass it to execute, or let start hand
    it to the process it spawns; until then the run shows as queued, and it fails if this process dies."""
    root = Path(root)
    record, _ = plan(request, root, data_dir)
    if check_limit:
        _check_limit(root)
    root.mkdir(parents=True, exist_ok=True)
    for _ in range(100):
        run_name = rec.validate_run_name(name) if name else rec.free_name(root, request.default_name())
        try:
            (root / run_name).mkdir()
            break
        except FileExistsError:
            if name:
                raise ConfigError(f"a run named {name!r} already exists: resume it (--resume {name}) or pick "
                                  "another name") from None
    else:
        raise ConfigError("could not find a free run name")
    lock = rec.TrainerLock(root / run_name).acquire()
    record = replace(record, name=run_name, group=group, pid=os.getpid())
    record.save(root / run_name)
    record.lock = lock
    return record


class StopFlag:
    """Set by a signal (set()) or by a stop request file in the run folder (another process)."""

    def __init__(self, run_dir: Path | None):
        self.file = Path(run_dir) / rec.STOP if run_dir is not None else None
        self._set = False

    def set(self) -> None:
        self._set = True

    def is_set(self) -> bool:
        return self._set or (self.file is not None and self.file.exists())


def _start_state(run_dir: Path, record: RunRecord, root: Path) -> tuple[Start, str]:
    """Where this run's training starts, and a line saying so. A LoRA run always starts from its
    base's weights; what it saved (and resumes) is its low-rank updates."""
    lora = record.train.lora_rank > 0
    base = ck.base_weights(record, root) if lora else None
    if record.step > 0 or (run_dir / rec.LATEST).exists():
        if (run_dir / rec.LATEST).exists():
            saved = ck.read_checkpoint(run_dir / rec.LATEST)
            state = saved.state
            return Start(weights=base if lora else state["model"], adapters=state["model"] if lora else None,
                         optimizer=state.get("optimizer"), step=int(state["step"]),
                         saved=state, history=record.history, best_val=rec.best_loss(record),
                         best_step=record.best_step), f"resuming {record.name} from step {int(state['step']):,}"
        best = ck.read_checkpoint(run_dir / rec.BEST)
        step = record.best_step or 0
        history = [h for h in record.history if h["step"] <= step]
        return (Start(weights=base if lora else best.state["model"], adapters=best.state["model"] if lora else None,
                      step=step, history=history, best_val=rec.best_loss(record), best_step=record.best_step),
                f"{record.name} has no optimizer state (latest.pt): continuing from its best weights (step "
                f"{step:,}) with a fresh optimizer")
    if record.init_from:
        weights = base if lora else ck.full_weights(_base(record.init_from, root), root)
        how = f"low-rank updates of rank {record.train.lora_rank}" if lora else "fine-tuning"
        return Start(weights=weights), f"starting from {record.init_from}'s weights ({how})"
    return Start(), ""


def execute(run_dir: Path, *, callbacks=(), stop=None, max_iters: int | None = None, device: str | None = None,
            data_dir: Path | None = None, samples: bool = True, on_start=None,
            data: TrainingData | None = None, lock: rec.TrainerLock | None = None) -> TrainResult:
    """Train the run whose record is in run_dir, in this process: new, resumed or fine-tuned alike.
    One process at a time (the trainer lock, or `lock`, the one create() took; RunBusy otherwise);
    under torchrun, rank 0 holds the lock and writes, the others train beside it. data: the record's
    text, when the caller holds it already (a library call); otherwise it is read again from the
    record's speakers."""
    from core.train import distributed

    run_dir = Path(run_dir)
    ctx = distributed.context()
    main = ctx.is_main
    record = rec.RunRecord.load(run_dir)
    changes = {k: v for k, v in (("max_iters", max_iters), ("device", device)) if v is not None}
    if changes:
        record.train = replace(record.train, **changes)
    held: dict = {}

    def claim() -> bool:
        """Rank 0 takes the run (its lock, the concurrent-run limit); a refusal reaches every process."""
        held["lock"] = lock if lock is not None and lock.fd is not None else rec.TrainerLock(run_dir).acquire()
        if record.step >= record.max_iters and record.status != "queued":
            raise ConfigError(f"{record.name} already reached its {record.max_iters:,} steps: give more "
                              "iterations (--max-iters)")
        if record.status != "queued":  # a resume (CLI, torchrun); a queued run was counted when queued
            _check_limit(run_dir.parent, exclude=record.name)
        return True

    try:
        distributed.from_main(claim, ctx, distributed.device_for(ctx, pick_device(record.train.device)))
    except BaseException:
        for held_lock in (held.get("lock"), lock):
            if held_lock is not None:
                held_lock.release()
        raise
    lock = held.get("lock")
    try:
        if data is None:
            data = prepare(record.speakers, clean=record.clean, tokenizer=record.tokenizer(), data_dir=data_dir,
                           unknown=record.unknown)
        start, said = _start_state(run_dir, record, run_dir.parent)
        if on_start is not None and said:
            on_start(said)
        if main:
            if record.status != "queued":  # a resume: an old request is served; a queued run's is honoured
                (run_dir / rec.STOP).unlink(missing_ok=True)
            for stale in run_dir.glob(".*.tmp"):  # a write cut short by a kill: the file it replaced is whole
                stale.unlink(missing_ok=True)
            record.pid = os.getpid()
        flag = StopFlag(run_dir) if stop is None else _Either(stop, StopFlag(run_dir))  # a signal, or the file
        recorder = [Recorder(run_dir, record, data, samples=samples)] if main else []
        return fit(data, record.model, record.train, start=start, callbacks=[*recorder, *callbacks], stop=flag)
    finally:
        if lock is not None:
            (run_dir / rec.STOP).unlink(missing_ok=True)  # the request, if any, has been served
            lock.release()


class _Either:
    def __init__(self, *flags):
        self.flags = flags

    def is_set(self) -> bool:
        return any(f.is_set() for f in self.flags)


def train(data: TrainingData, model_cfg: ModelConfig, cfg: TrainConfig, run_dir: Path | None = None, *,
          callbacks=(), stop=None, name: str | None = None, samples: bool = False) -> TrainResult:
    """Train given data and configs in this process (a library call, and the tests' way in): with
    run_dir, the run gets a record and folder like any other and goes through execute; without,
    nothing is written."""
    if run_dir is None:
        return fit(data, model_cfg, cfg, callbacks=callbacks, stop=stop)
    run_dir = Path(run_dir)
    try:
        run_dir.parent.mkdir(parents=True, exist_ok=True)
        run_dir.mkdir()
    except FileExistsError:
        raise ConfigError(f"a run named {run_dir.name!r} already exists: resume it or pick another name") from None
    check_data(data, model_cfg)
    record = RunRecord(name=name or run_dir.name, speakers=data.names, model=model_cfg, train=cfg,
                       vocab=data.tokenizer.to_json(), clean=data.speakers[0].speaker.cleaned,
                       n_params=model_cfg.n_params(), created=rec.now(), pid=os.getpid())
    lock = rec.TrainerLock(run_dir).acquire()
    record.save(run_dir)
    return execute(run_dir, callbacks=callbacks, stop=stop, samples=samples, data=data, lock=lock)


# --- background runs --------------------------------------------------------------------------------
def threads_each(root: Path, starting: int = 1, exclude: tuple[str, ...] = ()) -> int:
    """CPU threads for each of `starting` runs that start now beside the ones already training
    (other than `exclude`, the starting runs' own records): the cores shared evenly, at least one each
    (runs started together get the same share; a lone run keeps them all). More threads than cores
    would make every OpenMP barrier wait on a thread the scheduler parked: one run of a group that
    took two threads on two cores stalled 15x."""
    active = sum(r.active and r.name not in exclude for r in rec.list_runs(root))
    return max(1, usable_cores() // (active + starting))


def _spawn(argv: list[str], run_dir: Path, locks: list[rec.TrainerLock], threads: int) -> int:
    """Start `python -m core ARGV --background` (its output in run_dir's train.log), handing it the runs'
    locks (held from here on by it)."""
    fds, lock_env = rec.TrainerLock.handover(locks)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), **lock_env}
    with open(run_dir / rec.LOG, "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "core", *argv, "--background"], cwd=ROOT_DIR, stdout=log,
                                env=env, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
                                pass_fds=fds)
    return proc.pid


def _launch(record: RunRecord, run_dir: Path, argv: list[str], lock: rec.TrainerLock,
            threads: int | None = None) -> RunRecord:
    """Train a run in a process of its own; the lock this process holds for it goes with it."""
    try:
        record.pid = _spawn(argv, run_dir, [lock], threads or threads_each(run_dir.parent, exclude=(record.name,)))
        record.status, record.message = "queued", ""
        record.save(run_dir)
    finally:
        lock.release()  # the child holds it now (or, if it did not start, nobody: the run shows failed)
    return rec.status(run_dir)


@dataclass
class Started:
    """A run start() returned: its record (whose fields read through: .name, .path, .status...),
    and whether this call started it (False: the same request was already training)."""
    record: RunRecord
    started_now: bool

    def __getattr__(self, name):
        return getattr(self.record, name)


def start(request: RunRequest, root: Path, name: str | None = None, group: str | None = None,
          threads: int | None = None) -> Started:
    """Start a run in a background process, or return the one already training the same request.
    threads: its CPU threads (default: its share of the cores beside the runs training now)."""
    root = Path(root)
    same = [r for r in rec.list_runs(root) if r.active and r.key == request.key()]
    if same:
        return Started(same[0], False)
    lock = rec.TrainerLock(root / f".start-{request.key()}")  # two tabs pressing Start at once: one starts
    try:
        lock.acquire()
    except RunBusy:
        for _ in range(100):
            same = [r for r in rec.list_runs(root) if r.active and r.key == request.key()]
            if same:
                return Started(same[0], False)
            time.sleep(0.1)
        raise ConfigError("this run is being started by another session; try again in a moment") from None
    try:
        same = [r for r in rec.list_runs(root) if r.active and r.key == request.key()]
        if same:
            return Started(same[0], False)
        record = create(request, root, name, group)
        run_dir = root / record.name
        argv = ["train", "--run", record.name, "--out", str(root), "--json"]
        return Started(_launch(record, run_dir, argv, record.lock, threads), True)
    finally:
        lock.release()
        with contextlib.suppress(OSError):
            lock.path.unlink()
            lock.path.parent.rmdir()


def start_group(requests: list[RunRequest], root: Path) -> list[Started]:
    """Start several runs as one group (one Start press): all are checked first, so either every
    run starts or none does, and they stop together (stop_group)."""
    root = Path(root)
    if not requests:
        raise ConfigError("choose at least one speaker to train on")
    for r in requests:
        plan(r, root)
    active = {r.key for r in rec.list_runs(root) if r.active}
    new = [r for r in requests if r.key() not in active]
    if new:
        _check_limit(root, adding=len(new))
    group = f"group-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid() % 1000:03d}"
    threads = threads_each(root, starting=max(1, len(new)))  # one share each, fixed before the first starts
    return [start(r, root, group=group, threads=threads) for r in requests]


def start_chain(entries: list[tuple[RunRequest | None, str]], root: Path) -> list[RunRecord]:
    """Train several runs one after another in one background process (the ladder's rungs). Each
    entry is (request, name): a run created here under that name, or (None, name): a stopped or
    interrupted run resumed. All are locked here and every lock goes to that process, so each shows
    queued until its turn; the chain counts as one trainer against MAX_CONCURRENT."""
    root = Path(root)
    if not entries:
        raise ConfigError("nothing to train")
    _check_limit(root)
    locks, records = [], []
    try:
        for request, name in entries:
            if request is None:
                locks.append(rec.TrainerLock(root / name).acquire())  # RunBusy if it trains now
                (root / name / rec.STOP).unlink(missing_ok=True)
                records.append(rec.RunRecord.load(root / name))
            else:
                records.append(create(request, root, name, check_limit=False))
                locks.append(records[-1].lock)
        names = [r.name for r in records]
        argv = ["train", *(a for n in names for a in ("--run", n)), "--out", str(root), "--json"]
        pid = _spawn(argv, root / names[0], locks, threads_each(root, exclude=tuple(names)))
        for r in records:
            r.pid, r.status, r.message = pid, "queued", ""
            r.save(root / r.name)
    finally:
        for lk in locks:
            lk.release()  # the chain's process holds them now (or nobody, if it did not start)
    return [rec.status(root / r.name) for r in records]


def delete(run_dir: Path) -> None:
    """Delete a run's folder, weights included: only for a request that names the run (--replace; a
    Delete button that asked first). A run that trains now is refused (RunBusy)."""
    run_dir = Path(run_dir)
    with rec.TrainerLock(run_dir):  # nobody trains it while it goes
        shutil.rmtree(run_dir)


def stop(run_dir: Path) -> RunRecord:
    """Ask a run to stop: its trainer finishes the step, saves latest.pt and marks itself stopped."""
    st = rec.status(run_dir)
    if st.active:
        (Path(run_dir) / rec.STOP).touch()
    return st


def stop_group(root: Path, group: str) -> list[RunRecord]:
    return [stop(Path(root) / r.name) for r in rec.list_runs(root) if r.group == group and r.active]


def resumable(run_dir: Path) -> bool:
    return (Path(run_dir) / rec.LATEST).exists() or (Path(run_dir) / rec.BEST).exists()


def resume(run_dir: Path, max_iters: int | None = None) -> RunRecord:
    """Continue a stopped, interrupted or finished run in the background (from latest.pt, or from
    its best weights with a fresh optimizer when it has no latest.pt)."""
    run_dir = Path(run_dir)
    st = rec.status(run_dir)
    if st.active:
        raise RunBusy(f"{st.name} is already training")
    if not resumable(run_dir):
        raise ck.CheckpointError(f"{run_dir.name} has no checkpoint to resume from")
    if max_iters is None and st.step >= st.max_iters:
        raise ConfigError(f"{run_dir.name} already reached its {st.max_iters:,} steps: give more iterations")
    if max_iters is not None and max_iters <= st.step:
        raise ConfigError(f"{run_dir.name} is at step {st.step:,}: resume it until a later step")
    _check_limit(run_dir.parent)
    lock = rec.TrainerLock(run_dir).acquire()  # RunBusy if a trainer took it meanwhile
    (run_dir / rec.STOP).unlink(missing_ok=True)
    record = rec.RunRecord.load(run_dir)
    if max_iters:
        record.train = replace(record.train, max_iters=max_iters)
    argv = ["train", "--resume", run_dir.name, "--out", str(run_dir.parent), "--json"]
    if max_iters:
        argv += ["--max-iters", str(max_iters)]
    return _launch(record, run_dir, argv, lock)


def wait(run_dir: Path, timeout: float = 600, poll: float = 0.2) -> RunRecord:
    """Block until the run is no longer active (for tests and scripts)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        st = rec.status(run_dir)
        if not st.active:
            return st
        time.sleep(poll)
    return rec.status(run_dir)

