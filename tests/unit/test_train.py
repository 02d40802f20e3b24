"""The trainer on real speeches with a tiny GPT: events, the loss at step 0, stopping, resuming
to bit-identical weights, divergence, the run folder's files and refusing to overwrite a run."""
from __future__ import annotations

import json
import math
import os
import shutil
import threading
from dataclasses import replace

import pytest
import torch
from helpers import OBAMA, one_thread, speaker_data, tiny_gpt, tiny_train  # noqa: F401 (autouse)

from core.config import ConfigError
from core.errors import TrainingDiverged
from core.runs import checkpoints as ck
from core.runs import record as rec
from core.runs.start import execute, train
from core.train.loop import EndEvent, EvalEvent, StartEvent, StepEvent, TrainResult


@pytest.fixture(scope="module")
def data():
    return speaker_data(OBAMA)


@pytest.fixture(scope="module")
def cfg(data):
    return tiny_gpt(data.tokenizer.vocab_size)


def weights(run_dir, which="latest") -> dict[str, torch.Tensor]:
    return ck.read_checkpoint(run_dir / (rec.LATEST if which == "latest" else rec.BEST)).state["model"]


def no_tmp_files(run_dir) -> bool:
    return not [n for n in os.listdir(run_dir) if n.endswith(".tmp")]


@pytest.fixture(scope="module")
def finished(data, cfg, tmp_path_factory):
    """One 20-step run, its events and result."""
    run_dir = tmp_path_factory.mktemp("runs") / "obama-tiny"
    events = []
    result = train(data, cfg, tiny_train(max_iters=20, eval_interval=5, log_interval=2), run_dir,
                   callbacks=[events.append], name="obama-tiny")
    return run_dir, events, result


def test_callbacks_receive_typed_events_with_their_fields(finished):
    run_dir, events, result = finished
    tc = tiny_train(max_iters=20, eval_interval=5, log_interval=2)
    steps = [e for e in events if isinstance(e, StepEvent)]
    evals = [e for e in events if isinstance(e, EvalEvent)]
    ends = [e for e in events if isinstance(e, EndEvent)]
    starts = [e for e in events if isinstance(e, StartEvent)]
    assert len(starts) == 1 and events[0] is starts[0] and starts[0].step == 0
    assert len(starts) + len(steps) + len(evals) + len(ends) == len(events)
    assert [e.step for e in steps] == list(range(2, 21, 2))
    assert [e.step for e in evals] == [0, 5, 10, 15, 20]
    assert len(ends) == 1 and events[-1] is ends[0]
    for e in steps:
        assert e.kind == "step" and math.isfinite(e.train_loss) and e.tokens_per_s > 0 and e.elapsed >= 0
        assert e.lr == pytest.approx(tc.lr_at(e.step - 1))  # the lr of the step just taken
    for e in evals:
        assert e.kind == "eval" and math.isfinite(e.train_loss) and math.isfinite(e.val_loss)
        assert e.lr == pytest.approx(tc.lr_at(e.step))
    vals = [e.val_loss for e in evals]
    assert [e.best for e in evals] == [v < min(vals[:i], default=math.inf) for i, v in enumerate(vals)]
    end = ends[0]
    assert (end.kind, end.status, end.step, end.message) == ("end", "finished", 20, "")
    assert end.best_val_loss == pytest.approx(min(vals)) and end.elapsed > 0
    assert isinstance(result, TrainResult) and result.status == "finished" and result.step == 20
    assert result.best_val_loss == pytest.approx(min(vals))
    assert result.best_step == evals[vals.index(min(vals))].step
    assert [h["step"] for h in result.history] == [0, 5, 10, 15, 20]
    assert result.val_loss == pytest.approx(vals[-1])


def test_first_eval_at_step_0_is_about_ln_vocab(finished, data):
    _, events, _ = finished
    first = next(e for e in events if isinstance(e, EvalEvent))
    assert first.step == 0
    assert abs(first.val_loss - math.log(data.tokenizer.vocab_size)) < 0.1
    assert abs(first.train_loss - math.log(data.tokenizer.vocab_size)) < 0.1
    last = [e for e in events if isinstance(e, EvalEvent)][-1]
    assert last.val_loss < first.val_loss - 0.3, "20 steps at lr 3e-3 should already lower the loss"


def test_run_folder_holds_its_files_and_no_temp_files(finished, data, cfg):
    run_dir, events, _ = finished
    for name in (rec.BEST, rec.LATEST, rec.META, rec.METRICS):
        assert (run_dir / name).is_file(), name
    assert no_tmp_files(run_dir)
    meta = json.loads((run_dir / rec.META).read_text())
    assert meta["status"] == "finished" and meta["step"] == 20 and meta["name"] == "obama-tiny"
    assert meta["speakers"] == [OBAMA] and meta["clean"] is True and meta["pid"] is None
    assert meta["model"] == cfg.to_dict() and meta["vocab"] == data.tokenizer.to_json()
    assert meta["n_params"] == cfg.n_params()
    assert [h["step"] for h in meta["history"]] == [0, 5, 10, 15, 20]
    logged = rec.read_metrics(run_dir)
    assert [e["kind"] for e in logged] == [e.kind for e in events]
    assert logged[-1]["status"] == "finished"
    latest = ck.read_checkpoint(run_dir / rec.LATEST)
    assert latest.state["step"] == 20 and "optimizer" in latest.state and "rng" in latest.state
    best = ck.load_model(run_dir)
    assert best.record.best_step == meta["best_step"]


def test_a_run_name_that_exists_is_refused_unless_resuming(finished, data, cfg, tmp_path):
    run_dir = tmp_path / "obama-tiny"
    shutil.copytree(finished[0], run_dir)
    before = (run_dir / rec.META).read_bytes()
    with pytest.raises(ConfigError, match="already exists"):
        train(data, cfg, tiny_train(max_iters=20), run_dir)
    assert (run_dir / rec.META).read_bytes() == before, "the refused run must not touch the folder"
    with pytest.raises(ConfigError, match="already reached its 20 steps"):
        execute(run_dir)  # already done: nothing to add unless asked
    again = execute(run_dir, max_iters=24)
    assert again.status == "finished" and again.step == 24


@pytest.mark.parametrize("k", [3, 5])  # between evals (the stop saves latest.pt) and on an eval step
def test_stop_is_honoured_within_one_step(data, cfg, tmp_path, k):
    stop = threading.Event()
    events = []

    def cb(e):
        events.append(e)
        if isinstance(e, StepEvent) and e.step == k:
            stop.set()

    run_dir = tmp_path / "stopped"
    result = train(data, cfg, tiny_train(max_iters=50, eval_interval=5), run_dir, callbacks=[cb], stop=stop)
    assert result.status == "stopped" and k <= result.step <= k + 1
    end = events[-1]
    assert isinstance(end, EndEvent) and end.status == "stopped" and end.step == result.step
    assert max(e.step for e in events if isinstance(e, StepEvent)) <= k + 1
    assert (run_dir / rec.LATEST).is_file() and no_tmp_files(run_dir)
    assert ck.read_checkpoint(run_dir / rec.LATEST).state["step"] == result.step
    meta = json.loads((run_dir / rec.META).read_text())
    assert meta["status"] == "stopped" and meta["step"] == result.step


def test_stop_set_before_the_first_step(data, cfg, tmp_path):
    stop = threading.Event()
    stop.set()
    result = train(data, cfg, tiny_train(max_iters=50), tmp_path / "r", stop=stop)
    assert result.status == "stopped" and result.step == 0
    assert ck.read_checkpoint(tmp_path / "r" / rec.LATEST).state["step"] == 0


def test_resume_continues_from_the_saved_step(data, cfg, tmp_path):
    stop = threading.Event()
    run_dir = tmp_path / "r"
    train(data, cfg, tiny_train(max_iters=16, eval_interval=4), run_dir,
          callbacks=[lambda e: isinstance(e, StepEvent) and e.step == 6 and stop.set()], stop=stop)
    events = []
    result = execute(run_dir, callbacks=[events.append])
    assert result.status == "finished" and result.step == 16
    step_events = [e.step for e in events if isinstance(e, StepEvent)]
    assert step_events == list(range(7, 17))
    assert [e.step for e in events if isinstance(e, EvalEvent)] == [8, 12, 16]
    assert [h["step"] for h in result.history] == [0, 4, 8, 12, 16]
    logged = [e["step"] for e in rec.read_metrics(run_dir) if e["kind"] == "step"]
    assert logged == list(range(1, 17)), "the metrics log continues where it stopped"
    meta = json.loads((run_dir / rec.META).read_text())
    assert meta["status"] == "finished" and meta["step"] == 16
    assert ck.read_checkpoint(run_dir / rec.LATEST).state["step"] == 16


def test_resume_can_extend_a_finished_run(finished, tmp_path):
    run_dir = tmp_path / "extended"
    shutil.copytree(finished[0], run_dir)
    result = execute(run_dir, max_iters=25)
    assert result.status == "finished" and result.step == 25
    assert ck.read_checkpoint(run_dir / rec.LATEST).state["step"] == 25


@pytest.mark.parametrize("eval_interval,dropout", [(5, 0.0), (4, 0.0), (4, 0.2)])  # N/2 on an eval step or not
def test_interrupted_and_resumed_run_equals_an_uninterrupted_one(data, cfg, tmp_path, eval_interval, dropout):
    """The strong oracle: stop at N/2, resume, and end with exactly the weights of one N-step run
    with the same seed (float32 on CPU; with dropout, its RNG is saved in latest.pt and restored)."""
    cfg = replace(cfg, dropout=dropout)
    N = 20
    tc = tiny_train(max_iters=N, eval_interval=eval_interval, log_interval=1, seed=123)
    straight = train(data, cfg, tc, tmp_path / "straight")
    stop = threading.Event()
    half = train(data, cfg, tc, tmp_path / "halves",
                 callbacks=[lambda e: isinstance(e, StepEvent) and e.step == N // 2 and stop.set()], stop=stop)
    assert half.status == "stopped" and half.step == N // 2
    mid = weights(tmp_path / "halves")
    rest = execute(tmp_path / "halves")
    assert straight.step == rest.step == N
    a, b = weights(tmp_path / "straight"), weights(tmp_path / "halves")
    assert a.keys() == b.keys()
    assert not all(torch.equal(mid[k], b[k]) for k in b), "the resumed half trained nothing"
    for k in a:
        assert torch.equal(a[k], b[k]), f"{k} differs after resuming"
    assert rest.val_loss == straight.val_loss


def test_same_seed_same_run_different_seed_different_run(data, cfg, tmp_path):
    """A run is reproducible from its TrainConfig.seed alone (the weights' initialisation too)."""
    cfg = replace(cfg, dropout=0.1)  # dropout's draws follow the run's seed too
    torch.manual_seed(0)
    train(data, cfg, tiny_train(max_iters=3, seed=5), tmp_path / "a")
    torch.manual_seed(99)  # whatever the caller's global RNG holds, and the run leaves it as it was
    before = torch.get_rng_state()
    train(data, cfg, tiny_train(max_iters=3, seed=5), tmp_path / "b")
    assert torch.equal(torch.get_rng_state(), before)
    train(data, cfg, tiny_train(max_iters=3, seed=6), tmp_path / "c")
    a, b, c = (weights(tmp_path / n) for n in "abc")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_a_huge_learning_rate_diverges_with_a_clear_message(data, cfg, tmp_path):
    run_dir = tmp_path / "boom"
    events = []
    tc = tiny_train(max_iters=200, learning_rate=10.0, min_lr=0.0, warmup_iters=0, eval_interval=100,
                    log_interval=5)
    with pytest.raises(TrainingDiverged) as e:
        train(data, cfg, tc, run_dir, callbacks=[events.append])
    msg = str(e.value)
    assert "learning rate (10)" in msg and "loss became" in msg
    end = events[-1]
    assert isinstance(end, EndEvent) and end.status == "failed" and end.message == msg
    meta = json.loads((run_dir / rec.META).read_text())
    assert meta["status"] == "failed" and meta["message"] == msg
    assert no_tmp_files(run_dir)
    for which in ("best", "latest"):  # the step-0 checkpoints are intact and usable
        loaded = ck.load_model(run_dir, which=which)
        logits, _ = loaded.model(torch.zeros(1, 4, dtype=torch.long))
        assert torch.isfinite(logits).all()
    assert ck.read_checkpoint(run_dir / rec.LATEST).state["step"] == 0


def test_train_refuses_a_mismatched_vocab_or_too_short_text(data, cfg):
    with pytest.raises(ValueError, match="vocab_size"):
        train(data, replace(cfg, vocab_size=cfg.vocab_size + 1), tiny_train())
    short = replace(data, speakers=tuple(replace(s, val=s.val[:cfg.block_size]) for s in data.speakers))
    with pytest.raises(ConfigError, match="too short"):
        train(short, cfg, tiny_train())
