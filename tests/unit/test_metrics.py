"""core.runs.metrics: smoothing, curves from a metrics log (resumes included), progress and ETA."""
import math

import pytest

from core.runs.metrics import curves, ema, format_duration, progress, uniform_loss


def tensorboard_smooth(values, weight):
    """The reference: TensorBoard's debiased EMA, written out as in its frontend."""
    out, last = [], 0.0
    for n, v in enumerate(values, start=1):
        last = last * weight + (1 - weight) * v
        out.append(last / (1 - weight ** n))
    return out


def test_ema_matches_tensorboard_and_is_unbiased_at_the_start():
    values = [4.5, 4.1, 3.2, 3.0, 2.9, 2.7, 2.8, 2.5]
    for w in (0.0, 0.6, 0.9, 0.99):
        assert ema(values, w) == pytest.approx(tensorboard_smooth(values, w))
    assert ema(values, 0.9)[0] == pytest.approx(4.5)        # no pull towards 0
    assert ema([3.0] * 5, 0.95) == pytest.approx([3.0] * 5)  # a constant stays constant
    assert ema(values, 0.0) == values


def test_ema_smooths_noise_and_skips_non_finite():
    noisy = [2.0 + (0.5 if i % 2 else -0.5) for i in range(200)]
    smooth = ema(noisy, 0.9)
    assert max(smooth[50:]) - min(smooth[50:]) < 0.2 * (max(noisy) - min(noisy))
    out = ema([1.0, math.nan, 3.0], 0.5)
    assert math.isnan(out[1]) and out[0] == 1.0 and 1.0 < out[2] < 3.0
    with pytest.raises(ValueError):
        ema([1.0], 1.0)


def test_uniform_loss_is_ln_v():
    assert uniform_loss(88) == pytest.approx(math.log(88))
    with pytest.raises(ValueError):
        uniform_loss(0)


def step(s, loss, elapsed, tps=1000.0):
    return {"kind": "step", "step": s, "train_loss": loss, "lr": 1e-3, "tokens_per_s": tps, "elapsed": elapsed}


def evaluation(s, train, val, elapsed):
    return {"kind": "eval", "step": s, "train_loss": train, "val_loss": val, "lr": 1e-3, "elapsed": elapsed,
            "best": True}


def test_curves_split_train_and_val_and_a_resume_replaces_the_rewound_steps():
    events = [evaluation(0, 4.4, 4.4, 0.5), step(10, 3.5, 1.0), step(20, 3.0, 2.0), evaluation(20, 3.0, 3.1, 2.5),
              step(30, 2.8, 3.0), {"kind": "end", "step": 30, "status": "stopped", "elapsed": 3.1},
              # killed at 30, resumed from the step-20 checkpoint: steps 30 is logged again
              step(30, 2.7, 1.0), step(40, 2.6, 2.0), evaluation(40, 2.6, 2.7, 2.2)]
    c = curves(events)
    assert c.train_step == [10, 20, 30, 40]
    assert c.train_loss == [3.5, 3.0, 2.7, 2.6]
    assert c.val_step == [0, 20, 40] and c.val_loss == [4.4, 3.1, 2.7]
    assert len(c.smoothed(0.6)) == 4
    assert curves([]).train_step == []


def test_progress_uses_the_current_legs_pace():
    events = [evaluation(0, 4.4, 4.4, 1.0), step(10, 3.5, 2.0), step(20, 3.0, 3.0)]
    p = progress(events, max_iters=100)
    assert p.step == 20 and p.tokens_per_s == 1000.0 and p.fraction == pytest.approx(0.2)
    assert p.eta_s == pytest.approx(80 / 10)                # 20 steps in 2 s -> 10 steps/s
    resumed = [*events, step(30, 2.9, 0.5, tps=500.0), step(40, 2.8, 4.5, tps=500.0)]
    p = progress(resumed, max_iters=100)
    assert p.step == 40 and p.tokens_per_s == 500.0
    assert p.eta_s == pytest.approx(60 / (10 / 4.0))        # the new leg: 10 steps in 4 s
    assert progress([], 100, step=7).step == 7 and progress([], 100).eta_s is None
    assert progress([], 0).fraction == 0.0


def test_format_duration():
    assert format_duration(None) == "?"
    assert format_duration(42.4) == "42 s"
    assert format_duration(185) == "3 min 05 s"
    assert format_duration(3720) == "1 h 02 min"
