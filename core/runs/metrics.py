"""Reading a run's metrics log (core.train.loop's events, one JSON object a line) into what a person
looks at: loss curves (raw and smoothed like TensorBoard), progress and ETA. Plain Python, no torch."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from core.runs.record import event_ok


def ema(values: list[float], weight: float = 0.9) -> list[float]:
    """Debiased exponential moving average, as TensorBoard smooths scalars: the running average
    starts at 0 and is divided by (1 - weight**n), so the first points are not dragged towards 0.
    weight 0 returns the values unchanged; non-finite values are passed through, not averaged."""
    if not 0.0 <= weight < 1.0:
        raise ValueError(f"smoothing weight must be in [0, 1), got {weight}")
    out, last, n = [], 0.0, 0
    for v in values:
        if not math.isfinite(v):
            out.append(v)
            continue
        n += 1
        last = last * weight + (1.0 - weight) * v
        out.append(last / (1.0 - weight ** n))
    return out


def uniform_loss(vocab_size: int) -> float:
    """The loss of guessing every character equally likely: ln V nats (the loss at init)."""
    if vocab_size < 1:
        raise ValueError(f"vocab_size must be at least 1, got {vocab_size}")
    return math.log(vocab_size)


@dataclass
class Curves:
    """One run's loss curves. A resumed run re-logs from its checkpoint's step: later events
    replace earlier ones at the same or later steps, so every series rises strictly in step."""
    train_step: list[int] = field(default_factory=list)    # from "step" events (mean over log_interval)
    train_loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    tokens_per_s: list[float] = field(default_factory=list)
    val_step: list[int] = field(default_factory=list)      # from "eval" events (estimates)
    val_loss: list[float] = field(default_factory=list)
    eval_train_loss: list[float] = field(default_factory=list)

    def smoothed(self, weight: float) -> list[float]:
        return ema(self.train_loss, weight)


def _rewind(steps: list[int], *series: list, to: int) -> None:
    """Drop the points at step >= to (a resumed leg supersedes them)."""
    keep = next((i for i, s in enumerate(steps) if s >= to), len(steps))
    for s in (steps, *series):
        del s[keep:]


def curves(events: list[dict]) -> Curves:
    c = Curves()
    for e in filter(event_ok, events):
        kind, step = e.get("kind"), e.get("step")
        if step is None:
            continue
        if kind == "step":
            _rewind(c.train_step, c.train_loss, c.lr, c.tokens_per_s, to=step)
            c.train_step.append(step)
            c.train_loss.append(e["train_loss"])
            c.lr.append(e.get("lr", math.nan))
            c.tokens_per_s.append(e.get("tokens_per_s", math.nan))
        elif kind == "eval":
            _rewind(c.val_step, c.val_loss, c.eval_train_loss, to=step)
            c.val_step.append(step)
            c.val_loss.append(e["val_loss"])
            c.eval_train_loss.append(e["train_loss"])
    return c


@dataclass(frozen=True)
class Progress:
    step: int                    # newest step logged
    max_iters: int
    tokens_per_s: float | None   # median over the newest few step events
    eta_s: float | None          # from the current leg's pace, evaluations included

    @property
    def fraction(self) -> float:
        return min(1.0, self.step / self.max_iters) if self.max_iters else 0.0


def progress(events: list[dict], max_iters: int, step: int = 0) -> Progress:
    """Where a run stands from its events (step: a floor, e.g. the step meta.json last saw).
    The pace is measured over the current leg only: elapsed restarts at 0 when a run resumes."""
    leg: list[dict] = []
    for e in filter(event_ok, events):
        if e.get("kind") not in ("step", "eval") or e.get("elapsed") is None:
            continue
        if leg and (e["elapsed"] < leg[-1]["elapsed"] or e["step"] < leg[-1]["step"]):
            leg = []  # a new leg (resume)
        leg.append(e)
    steps = [e for e in leg if e["kind"] == "step"]
    newest = max([step, *(e["step"] for e in leg)])
    recent = [e["tokens_per_s"] for e in steps[-5:] if e.get("tokens_per_s") is not None]
    tps = sorted(recent)[len(recent) // 2] if recent else None  # median of the last few: steadier
    eta = None
    if len(leg) >= 2 and leg[-1]["elapsed"] > leg[0]["elapsed"] and leg[-1]["step"] > leg[0]["step"]:
        rate = (leg[-1]["step"] - leg[0]["step"]) / (leg[-1]["elapsed"] - leg[0]["elapsed"])  # steps / s
        eta = max(0, max_iters - newest) / rate
    return Progress(newest, max_iters, tps, eta)


def format_duration(seconds: float | None) -> str:
    """'42 s', '3 min 05 s', '1 h 02 min'; '?' when unknown."""
    if seconds is None or not math.isfinite(seconds):
        return "?"
    s = int(round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"
