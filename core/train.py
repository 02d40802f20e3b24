"""The training loop. It knows nothing about pages or terminals: progress goes to callbacks as
small typed events, a threading.Event stops it within one step, and a run folder on disk holds
its checkpoints (best-val and latest) and its metrics log."""
from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import torch

from core import checkpoints as ck
from core import distributed
from core.batching import get_batch
from core.config import ConfigError, ModelConfig, TrainConfig, training_bytes
from core.dataset import TrainingData, prepare
from core.device import autocast, available_bytes, enable_fast_math, pick_device, resolve_dtype
from core.models import build_model


@dataclass(frozen=True)
class StepEvent:
    step: int              # optimizer steps done
    train_loss: float      # mean training loss over the last log_interval steps
    lr: float
    tokens_per_s: float
    elapsed: float         # seconds since the run (or its resume) started
    kind: str = "step"


@dataclass(frozen=True)
class EvalEvent:
    step: int
    train_loss: float      # estimate over eval_iters batches
    val_loss: float
    lr: float
    elapsed: float
    best: bool             # a new best val loss (model.pt was written)
    kind: str = "eval"


@dataclass(frozen=True)
class EndEvent:
    step: int
    status: str            # "finished", "stopped" or "failed"
    best_val_loss: float | None
    elapsed: float
    message: str = ""
    kind: str = "end"


Event = StepEvent | EvalEvent | EndEvent
Callback = Callable[[Event], None]


class TrainingDiverged(RuntimeError):
    """The loss stopped being a finite number; the checkpoints written before it are kept."""


class SaveFailed(RuntimeError):
    """A checkpoint or the run's metadata could not be written (disk full, no permission); the
    files written before are kept (every write goes to a temp file first)."""


def check_memory(model_cfg: ModelConfig, cfg: TrainConfig, device: torch.device) -> None:
    """Refuse, before allocating anything, a run whose estimated memory exceeds what is available."""
    need, have = training_bytes(model_cfg, cfg), available_bytes(device)
    if have is not None and need > have:
        raise ConfigError(f"this run would need about {need / 2**30:.1f} GB of memory ({model_cfg.n_params():,} "
                          f"parameters, batch {cfg.batch_size} x block {model_cfg.block_size}) and "
                          f"{'the GPU' if device.type == 'cuda' else 'this machine'} has {have / 2**30:.1f} GB "
                          "available: lower n_embd, n_layer, batch_size or block_size")


@dataclass
class TrainResult:
    run_dir: Path | None
    status: str
    step: int
    best_val_loss: float | None
    best_step: int | None
    train_loss: float | None
    val_loss: float | None
    tokens_per_s: float | None
    elapsed: float
    history: list[dict] = field(default_factory=list)
    model: torch.nn.Module | None = None  # the trained model as the run ended (its latest weights)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def make_optimizer(model: torch.nn.Module, cfg: TrainConfig, device: torch.device) -> torch.optim.AdamW:
    """AdamW with weight decay on matrices only; the fused kernel on CUDA and CPU (measured on CPU:
    4.7 vs 14.9 ms a step at the lecture size with foreach), foreach elsewhere."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [{"params": [p for p in params if p.dim() >= 2], "weight_decay": cfg.weight_decay},
              {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]
    fast = {"fused": True} if device.type in ("cuda", "cpu") else {"foreach": True}
    return torch.optim.AdamW(groups, lr=cfg.learning_rate, betas=(cfg.beta1, cfg.beta2), **fast)


@torch.no_grad()
def estimate_loss(model, data: TrainingData, block_size: int, cfg: TrainConfig,
                  device: torch.device, dtype: torch.dtype,
                  ddp: distributed.Context | None = None) -> dict[str, float]:
    """Mean loss over eval_iters batches of each split, drawn from a fixed seed so that
    successive estimates compare like with like (in a torchrun job: per process, then averaged)."""
    ddp = ddp or distributed.Context()
    was_training = model.training
    model.eval()
    out = {}
    for split, ids in (("train", data.train), ("val", data.val)):
        g = torch.Generator().manual_seed(cfg.seed + 1 + 1000 * ddp.rank)
        total = torch.zeros((), device=device)
        for _ in range(cfg.eval_iters):
            x, y = get_batch(ids, block_size, cfg.batch_size, generator=g, device=device)
            with autocast(device, dtype):
                _, loss = model(x, y)
            total += loss.float()
        out[split] = distributed.mean(total / cfg.eval_iters, ddp).item()
    model.train(was_training)
    return out


class _Run:
    """State of one training run and its folder: meta, checkpoints and the metrics log."""

    def __init__(self, run_dir: Path | None, meta: dict, callbacks: Iterable[Callback]):
        self.dir, self.meta, self.callbacks = run_dir, meta, list(callbacks)

    def emit(self, event: Event) -> None:
        if self.dir is not None:
            with self._writing(ck.METRICS):
                ck.append_metrics(self.dir, asdict(event))
        for cb in self.callbacks:
            cb(event)

    def save_meta(self, **updates) -> None:
        self.meta.update(updates, updated=_now())
        if self.dir is not None:
            with self._writing(ck.META):
                ck.write_json(self.dir / ck.META, self.meta)

    def save(self, name: str, model, **extra) -> None:
        if self.dir is not None:
            with self._writing(name):
                ck.save_checkpoint(self.dir / name, model, self.meta, **extra)

    @contextlib.contextmanager
    def _writing(self, name: str):
        try:
            yield
        except OSError as e:
            raise SaveFailed(f"could not write {name} in {self.dir}: {e.strerror or e}; the run stops here "
                             "and the files it saved before are kept") from e


def train(data: TrainingData, model_cfg: ModelConfig, cfg: TrainConfig, run_dir: Path | None = None, *,
          callbacks: Iterable[Callback] = (), stop: threading.Event | None = None,
          resume: bool = False, name: str | None = None) -> TrainResult:
    """Train a model on data; with run_dir, checkpoint there; with resume, continue the run
    saved in run_dir/latest.pt from its step, up to cfg.max_iters."""
    if model_cfg.vocab_size != data.tokenizer.vocab_size:
        raise ValueError(f"model vocab_size {model_cfg.vocab_size} != tokenizer's {data.tokenizer.vocab_size}")
    too_short = [s.speaker.name for s in data.speakers if len(s.val) <= model_cfg.block_size]
    if too_short or len(data.train) <= model_cfg.block_size:
        raise ValueError(f"the text of {', '.join(too_short) or 'these speakers'} is too short for a "
                         f"context of {model_cfg.block_size}: each split needs more than "
                         f"{model_cfg.block_size} characters")
    ddp = distributed.context()
    device = distributed.device_for(ddp, pick_device(cfg.device))
    check_memory(model_cfg, cfg, device)
    distributed.setup(device)
    dtype = resolve_dtype(device, cfg.dtype)
    enable_fast_math(device)
    model = build_model(model_cfg, seed=cfg.seed).to(device)  # initial weights follow the run's seed
    optimizer = make_optimizer(model, cfg, device)
    gen = torch.Generator().manual_seed(cfg.seed + ddp.rank)  # each process draws its own batches
    run_dir = Path(run_dir) if run_dir is not None else None

    start_step, history, best_val, best_step = 0, [], math.inf, None
    if resume:
        if run_dir is None:
            raise ValueError("resume needs a run folder")
        state = ck.read_checkpoint(run_dir / ck.LATEST)
        if state.model_config != model_cfg or state.tokenizer != data.tokenizer:
            raise ck.CheckpointError(f"{run_dir.name}: the saved run has another model config or vocabulary")
        model.load_state_dict(state.state["model"])
        optimizer.load_state_dict(state.state["optimizer"])
        start_step = int(state.state["step"])
        saved = _rank_state(state.state, "rng", ddp)  # None: a job of another size; a fresh stream
        if saved is not None:
            gen.set_state(saved)
        else:
            gen.manual_seed(cfg.seed + ddp.rank + 7919 * start_step)
        old = ck.read_json(run_dir / ck.META)
        history, best_step = old.get("history", []), old.get("best_step")
        best_val = old.get("best_val_loss") if old.get("best_val_loss") is not None else math.inf
        meta = old
    else:
        taken = ddp.is_main and run_dir is not None and (run_dir / ck.META).exists()  # rank 0 decides for all
        if not distributed.all_ok(not taken, ddp, device):
            raise ck.CheckpointError(f"a run named {run_dir.name!r} already exists: resume it or pick another name")
        meta = {"format": ck.FORMAT, "version": ck.VERSION, "created": _now(),
                "name": name or (run_dir.name if run_dir else "unsaved"),
                "speakers": data.names, "clean": data.speakers[0].speaker.cleaned,
                "vocab": data.tokenizer.to_json(), "n_params": sum(p.numel() for p in model.parameters())}
    meta.update(model=model_cfg.to_dict(), train=cfg.to_dict(), device=str(device),
                dtype=str(dtype).removeprefix("torch."), status="running", message="", pid=_pid())
    if ddp.enabled:
        meta.update(world_size=ddp.world_size, global_batch_size=cfg.batch_size * ddp.world_size)
    run = _Run(run_dir if ddp.is_main else None, meta, callbacks if ddp.is_main else ())  # rank 0 writes
    if run.dir is not None:
        run_dir.mkdir(parents=True, exist_ok=True)
        for stale in run_dir.glob(".*.tmp"):  # a write cut short by a kill: the file it was replacing is whole
            stale.unlink(missing_ok=True)
    run.save_meta()

    fwd = model
    if ddp.enabled:  # gradients averaged across processes during backward
        from torch.nn.parallel import DistributedDataParallel
        fwd = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    fwd = torch.compile(fwd) if cfg.compile else fwd
    model.train()
    t0 = time.perf_counter()
    window_t, window_loss, window_steps, eval_time = t0, torch.zeros((), device=device), 0, 0.0
    tokens_per_step = cfg.batch_size * model_cfg.block_size * ddp.world_size
    last, step, status, message = {}, start_step, "finished", ""

    def save_latest(step: int) -> None:
        rngs = distributed.gather(gen.get_state(), ddp)  # every process's, to resume each where it was
        torch_rngs = distributed.gather(_torch_rng(device), ddp)
        extra = {"rng_ranks": rngs, "torch_rng_ranks": torch_rngs} if ddp.enabled else {}
        run.save(ck.LATEST, model, optimizer=optimizer.state_dict(), step=step, rng=rngs[0], torch_rng=torch_rngs[0],
                 **extra)

    def shared(save) -> None:
        """Rank 0 saves; if it cannot, every process stops with it (none waits on the others)."""
        failure = None
        try:
            save()
        except SaveFailed as e:
            failure = e
        if not distributed.all_ok(failure is None, ddp, device):
            raise failure or SaveFailed("rank 0 could not save the run: see its message")

    def evaluate_and_save(step: int) -> None:
        nonlocal best_val, best_step, eval_time
        te = time.perf_counter()
        losses = estimate_loss(model, data, model_cfg.block_size, cfg, device, dtype, ddp)
        if not all(math.isfinite(v) for v in losses.values()):
            raise TrainingDiverged(f"the loss became {losses['val']} at step {step}: the learning "
                                   f"rate ({cfg.learning_rate}) is probably too high")
        best = losses["val"] < best_val
        point = {"step": step, "train_loss": losses["train"], "val_loss": losses["val"],
                 "lr": cfg.lr_at(step), "elapsed": round(time.perf_counter() - t0, 3)}
        history.append(point)
        last.update(point)
        if best:
            best_val, best_step = losses["val"], step

        def save() -> None:
            run.save_meta(step=step, history=history, best_val_loss=None if best_step is None else best_val,
                          best_step=best_step, train_loss=losses["train"], val_loss=losses["val"])
            if best:
                run.save(ck.BEST, model)
            save_latest(step)
            run.emit(EvalEvent(step, losses["train"], losses["val"], cfg.lr_at(step), point["elapsed"], best))
        shared(save)
        eval_time += time.perf_counter() - te

    rng = contextlib.ExitStack()  # dropout draws from torch's global RNG: seeded by the run, saved with
    rng.enter_context(torch.random.fork_rng(devices=_rng_devices(device)))  # it, the caller's left as it was
    torch.manual_seed(cfg.seed + 2 + 1000 * ddp.rank)
    saved_torch_rng = _rank_state(state.state, "torch_rng", ddp) if resume else None
    if saved_torch_rng is not None:
        _set_torch_rng(saved_torch_rng, device)
    try:
        if start_step == 0:
            evaluate_and_save(0)  # the loss at init: ~ln(vocab_size)
        for step in range(start_step, cfg.max_iters):
            if distributed.any_true(stop is not None and stop.is_set(), ddp, device):  # all stop together
                status, message = "stopped", f"stopped at step {step}"
                break
            lr = cfg.lr_at(step)
            for group in optimizer.param_groups:
                group["lr"] = lr
            x, y = get_batch(data.train, model_cfg.block_size, cfg.batch_size, generator=gen, device=device)
            with autocast(device, dtype):
                _, loss = fwd(x, y)
            loss.backward()
            if cfg.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            window_loss += loss.detach().float()
            window_steps += 1
            done = step + 1
            if done % cfg.log_interval == 0 or done == cfg.max_iters:
                mean = distributed.mean(window_loss / window_steps, ddp).item()  # one sync per log interval
                if not math.isfinite(mean):
                    raise TrainingDiverged(
                        f"the training loss became {mean} at step {done}: the learning rate "
                        f"({cfg.learning_rate}) is probably too high; the checkpoints before it are kept")
                now = time.perf_counter()
                tps = window_steps * tokens_per_step / max(1e-9, now - window_t - eval_time)
                last.update(tokens_per_s=tps)
                run.emit(StepEvent(done, mean, lr, tps, round(now - t0, 3)))
                window_t, window_loss, window_steps, eval_time = now, torch.zeros((), device=device), 0, 0.0
            if done % cfg.eval_interval == 0 or done == cfg.max_iters:
                evaluate_and_save(done)
            step = done
        if status == "stopped" and step != last.get("step"):
            shared(lambda: (run.save_meta(step=step), save_latest(step)))
    except (TrainingDiverged, SaveFailed) as e:
        status, message = "failed", str(e)
        with contextlib.suppress(SaveFailed):  # the disk may still refuse: the exception says it all
            run.save_meta(status=status, message=message, pid=None)
            run.emit(EndEvent(step, status, None if best_step is None else best_val, time.perf_counter() - t0,
                              message))
        raise
    finally:
        rng.close()
    elapsed = time.perf_counter() - t0
    if run.dir is not None and best_step is not None:
        run.meta["val_loss_full"] = _full_val_losses(run_dir, data, device)
    run.save_meta(status=status, message=message, pid=None, tokens_per_s=last.get("tokens_per_s"))
    run.emit(EndEvent(step, status, None if best_step is None else best_val, elapsed, message))
    return TrainResult(run_dir, status, step, None if best_step is None else best_val, best_step,
                       last.get("train_loss"), last.get("val_loss"), last.get("tokens_per_s"), elapsed, history,
                       model)


def _rank_state(saved: dict, key: str, ddp: distributed.Context):
    """This process's saved RNG state: its own if the job had as many processes, else rank 0's
    (for rank 0), else None (the caller reseeds)."""
    per_rank = saved.get(f"{key}_ranks")
    if per_rank is not None and len(per_rank) == ddp.world_size:
        return per_rank[ddp.rank]
    return saved.get(key) if ddp.rank == 0 else None


def _rng_devices(device: torch.device) -> list[int]:
    return [device.index or 0] if device.type == "cuda" else []


def _torch_rng(device: torch.device) -> torch.Tensor:
    """The global RNG state dropout draws from on device (CPU, or the CUDA device)."""
    return torch.cuda.get_rng_state(device) if device.type == "cuda" else torch.get_rng_state()


def _set_torch_rng(state: torch.Tensor, device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.set_rng_state(state, device)
    else:
        torch.set_rng_state(state)


def _full_val_losses(run_dir: Path, data: TrainingData, device: torch.device) -> dict[str, float]:
    """The best weights' loss on each training speaker's whole val split (deterministic)."""
    from core.evaluate import sequence_loss

    best = ck.build_from(ck.read_checkpoint(run_dir / ck.BEST), device)
    return {s.speaker.name: sequence_loss(best, s.val) for s in data.speakers}


def _pid() -> int:
    import os
    return os.getpid()


def resume(run_dir: Path, *, max_iters: int | None = None, callbacks: Iterable[Callback] = (),
           stop: threading.Event | None = None, device: str | None = None) -> TrainResult:
    """Continue a saved run from its latest checkpoint, on the same speakers and vocabulary."""
    run_dir = Path(run_dir)
    state = ck.read_checkpoint(run_dir / ck.LATEST)
    meta = ck.read_json(run_dir / ck.META)
    cfg = TrainConfig.from_dict(meta["train"])
    overrides = {k: v for k, v in (("max_iters", max_iters), ("device", device)) if v is not None}
    if overrides:
        cfg = TrainConfig.from_dict({**cfg.to_dict(), **overrides})
    data = prepare(meta["speakers"], clean=meta.get("clean", True), tokenizer=state.tokenizer)
    return train(data, state.model_config, cfg, run_dir, callbacks=callbacks, stop=stop, resume=True)
