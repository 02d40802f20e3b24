"""The training loop, and only the loop. It knows nothing about pages, terminals or files: it
reports through small typed events to callbacks (core.runs.recorder.Recorder turns them into the run
folder), and a stop flag (anything with is_set()) ends it within one step. Where a run starts
(fresh weights, a base model's weights, or a saved state to resume) is given by `Start`."""
from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field

import torch

from core.config import ConfigError, ModelConfig, TrainConfig, training_bytes
from core.device import autocast, available_bytes, enable_fast_math, pick_device, resolve_dtype
from core.errors import SaveFailed, TrainingDiverged
from core.model import lora
from core.model.models import build_model
from core.text.batching import get_batch
from core.text.dataset import TrainingData
from core.train import distributed


@dataclass(frozen=True)
class StartEvent:
    step: int              # where this leg starts (0, or the resumed step)
    device: str
    dtype: str
    n_params: int
    world_size: int
    kind: str = "start"


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
    best: bool             # a new best val loss
    kind: str = "eval"
    model: torch.nn.Module | None = field(default=None, repr=False, compare=False)  # the weights now
    latest: dict | None = field(default=None, repr=False, compare=False)  # optimizer, step, rngs: to resume

    def log(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k not in ("model", "latest")}


@dataclass(frozen=True)
class EndEvent:
    step: int
    status: str            # "finished", "stopped" or "failed"
    best_val_loss: float | None
    elapsed: float
    message: str = ""
    kind: str = "end"


Event = StartEvent | StepEvent | EvalEvent | EndEvent
Callback = Callable[[Event], None]


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


@dataclass
class Start:
    """Where a run starts: fresh weights from the run's seed (the default), a base run's weights
    (fine-tuning: weights only, a fresh optimizer), or a saved state to resume (weights, optimizer,
    step, every process's RNG states, and the history so far)."""
    weights: dict | None = None
    adapters: dict | None = None   # a LoRA run's saved low-rank updates (weights: its base's)
    optimizer: dict | None = None
    step: int = 0
    saved: dict = field(default_factory=dict)  # latest.pt's payload: rng, torch_rng (and *_ranks)
    history: list[dict] = field(default_factory=list)
    best_val: float = math.inf
    best_step: int | None = None


def check_data(data: TrainingData, model_cfg: ModelConfig) -> None:
    if model_cfg.vocab_size != data.tokenizer.vocab_size:
        raise ConfigError(f"model vocab_size {model_cfg.vocab_size} != the tokenizer's {data.tokenizer.vocab_size}")
    too_short = [s.speaker.name for s in data.speakers if len(s.val) <= model_cfg.block_size]
    if too_short or len(data.train) <= model_cfg.block_size:
        raise ConfigError(f"the text of {', '.join(too_short) or 'these speakers'} is too short for a "
                          f"context of {model_cfg.block_size}: each split needs more than "
                          f"{model_cfg.block_size} characters; choose a smaller block size")


def fit(data: TrainingData, model_cfg: ModelConfig, cfg: TrainConfig, *, start: Start | None = None,
        callbacks: Iterable[Callback] = (), stop=None) -> TrainResult:
    """Train a model on data from start up to cfg.max_iters, reporting events to callbacks (on
    rank 0 of a torchrun job; the other processes train silently)."""
    check_data(data, model_cfg)
    start = start or Start()
    ddp = distributed.context()
    device = distributed.device_for(ddp, pick_device(cfg.device))
    check_memory(model_cfg, cfg, device)
    distributed.setup(device)
    dtype = resolve_dtype(device, cfg.dtype)
    enable_fast_math(device)
    model = build_model(model_cfg, seed=cfg.seed).to(device)  # initial weights follow the run's seed
    if start.weights is not None:
        model.load_state_dict(start.weights)
    if cfg.lora_rank:  # the base frozen; low-rank updates of its projections train
        lora.adapt(model, cfg.lora_rank, seed=cfg.seed)
        if start.adapters is not None:
            lora.load_adapters(model, start.adapters)
    optimizer = make_optimizer(model, cfg, device)
    if start.optimizer is not None:
        optimizer.load_state_dict(start.optimizer)
    gen = torch.Generator().manual_seed(cfg.seed + ddp.rank)  # each process draws its own batches
    start_step, history = start.step, list(start.history)
    best_val, best_step = start.best_val, start.best_step
    if start.saved:
        saved = _rank_state(start.saved, "rng", ddp)  # None: a job of another size; a fresh stream
        if saved is not None:
            gen.set_state(saved)
        else:
            gen.manual_seed(cfg.seed + ddp.rank + 7919 * start_step)
    callbacks = list(callbacks) if ddp.is_main else []  # rank 0 reports (and so writes) for all

    def emit(event: Event) -> None:
        for cb in callbacks:
            cb(event)

    fwd = model
    if ddp.enabled:  # gradients averaged across processes during backward
        from torch.nn.parallel import DistributedDataParallel
        fwd = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    fwd = torch.compile(fwd) if cfg.compile else fwd
    model.train()
    bound = 2 * math.log(model_cfg.vocab_size) if model_cfg.vocab_size > 1 else math.inf
    t0 = time.perf_counter()
    window_t, window_loss, window_steps, eval_time = t0, torch.zeros((), device=device), 0, 0.0
    tokens_per_step = cfg.batch_size * model_cfg.block_size * ddp.world_size
    last, step, status, message = {}, start_step, "finished", ""

    def latest_state(step: int) -> dict:
        rngs = distributed.gather(gen.get_state(), ddp)  # every process's, to resume each where it was
        torch_rngs = distributed.gather(_torch_rng(device), ddp)
        extra = {"rng_ranks": rngs, "torch_rng_ranks": torch_rngs} if ddp.enabled else {}
        return {"optimizer": optimizer.state_dict(), "step": step, "rng": rngs[0], "torch_rng": torch_rngs[0], **extra}

    def shared(report) -> None:
        """Rank 0 reports (its recorder saves); if that fails, every process stops with it."""
        failure = None
        try:
            report()
        except SaveFailed as e:
            failure = e
        if not distributed.all_ok(failure is None, ddp, device):
            raise failure or SaveFailed("rank 0 could not save the run: see its message")

    def diverged(loss: float, what: str, at: int) -> TrainingDiverged:
        return TrainingDiverged(f"the {what} loss became {loss:.4g} at step {at} (a uniform guess scores "
                                f"{math.log(model_cfg.vocab_size):.2f}): the learning rate ({cfg.learning_rate:g}) "
                                "is probably too high; the checkpoints before it are kept")

    def evaluate(step: int) -> None:
        nonlocal best_val, best_step, eval_time
        te = time.perf_counter()
        losses = estimate_loss(model, data, model_cfg.block_size, cfg, device, dtype, ddp)
        for split in ("val", "train"):
            if not math.isfinite(losses[split]) or (step > start_step and losses[split] > bound):
                raise diverged(losses[split], split, step)
        if not all(torch.isfinite(p).all() for p in model.parameters()):
            raise TrainingDiverged(f"the weights hold NaN or infinite values at step {step}: the learning rate "
                                   f"({cfg.learning_rate:g}) is probably too high; the checkpoints before it are kept")
        best = losses["val"] < best_val
        point = {"step": step, "train_loss": losses["train"], "val_loss": losses["val"],
                 "lr": cfg.lr_at(step), "elapsed": round(time.perf_counter() - t0, 3)}
        history.append(point)
        last.update(point)
        if best:
            best_val, best_step = losses["val"], step
        state = latest_state(step)  # a collective: every process takes part
        shared(lambda: emit(EvalEvent(step, losses["train"], losses["val"], cfg.lr_at(step), point["elapsed"], best,
                                      model=model, latest=state)))
        eval_time += time.perf_counter() - te

    rng = contextlib.ExitStack()  # dropout draws from torch's global RNG: seeded by the run, saved with
    rng.enter_context(torch.random.fork_rng(devices=_rng_devices(device)))  # it, the caller's left as it was
    torch.manual_seed(cfg.seed + 2 + 1000 * ddp.rank)
    saved_torch_rng = _rank_state(start.saved, "torch_rng", ddp) if start.saved else None
    if saved_torch_rng is not None:
        _set_torch_rng(saved_torch_rng, device)
    try:
        shared(lambda: emit(StartEvent(start_step, str(device), str(dtype).removeprefix("torch."),
                                       sum(p.numel() for p in model.parameters()), ddp.world_size)))
        if start_step == 0:
            evaluate(0)  # the loss at init: ~ln(vocab_size)
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
                if not math.isfinite(mean) or mean > bound:
                    raise diverged(mean, "training", done)
                now = time.perf_counter()
                tps = window_steps * tokens_per_step / max(1e-9, now - window_t - eval_time)
                last.update(tokens_per_s=tps)
                shared(lambda: emit(StepEvent(done, mean, lr, tps, round(now - t0, 3))))  # noqa: B023
                window_t, window_loss, window_steps, eval_time = now, torch.zeros((), device=device), 0, 0.0
            if done % cfg.eval_interval == 0 or done == cfg.max_iters:
                evaluate(done)
            step = done
        if status == "stopped" and step != last.get("step"):
            state = latest_state(step)
            shared(lambda: emit(EvalEvent(step, math.nan, math.nan, cfg.lr_at(step), round(time.perf_counter() - t0, 3),
                                          False, kind="stop", model=model, latest=state)))
    except (TrainingDiverged, SaveFailed) as e:
        with contextlib.suppress(SaveFailed):  # the disk may still refuse: the exception says it all
            emit(EndEvent(step, "failed", None if best_step is None else best_val, time.perf_counter() - t0, str(e)))
        raise
    finally:
        rng.close()
    elapsed = time.perf_counter() - t0
    emit(EndEvent(step, status, None if best_step is None else best_val, elapsed, message))
    return TrainResult(status, step, None if best_step is None else best_val, best_step,
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


