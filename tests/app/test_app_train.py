"""AppTest: the Train page starts real background runs (validated first, never twice), stops them
with their checkpoint kept, resumes them, and shows their history, curves and attention.
Each test has its own checkpoints folder; every process a test started is stopped in teardown."""
import math
import os
from pathlib import Path

import pytest
from apptest_helpers import decode, figures, heatmaps, open_page, page_text
from conftest import stop_all
from helpers import wait_until

from core.cli.main import BACKGROUND_NICE
from core.device import describe, pick_device
from core.runs import record as rec
from core.runs import start as runs

SMALL = {"n_layer": 1, "n_embd": 32, "n_head": 2, "block_size": 16, "batch_size": 16, "max_iters": 60,
         "eval_interval": 20}


@pytest.fixture
def root(tmp_path, monkeypatch):
    monkeypatch.setenv("PODIUM_CHECKPOINTS", str(tmp_path))
    yield tmp_path
    stop_all(tmp_path)


def run_dirs(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir()) if root.exists() else []


def configure(at, speakers, **fields):
    """Choose the speakers, switch to custom hyperparameters (GPT, tiny preset) and set fields."""
    at.multiselect(key="train_speakers").set_value(speakers).run()
    at.toggle(key="train_custom").set_value(True).run()
    for name, value in fields.items():
        at.number_input(key=f"train_{name}_gpt_tiny").set_value(value).run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def start(at):
    at.button(key="train_start").click().run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def test_page_shows_the_form_the_device_and_no_runs_yet(root):
    at = open_page("train")
    text = page_text(at)
    assert f"Runs on **{describe(pick_device('auto')).name}**" in text
    assert "No runs yet" in text
    assert at.multiselect(key="train_speakers").value == ["Barack Obama", "Donald J. Trump", "Joseph R. Biden Jr."]
    assert "3 run(s)" in text  # one model per speaker by default
    assert not at.button(key="train_start").disabled
    at.radio(key="train_grouping").set_value("one model on all selected together").run()
    assert "1 run(s)" in page_text(at)
    at.segmented_control(key="train_model").set_value("bigram").run()
    assert at.selectbox(key="train_preset_bigram").value == "bigram"
    assert not at.exception
    assert run_dirs(root) == []


def test_invalid_config_shows_a_clear_error_and_starts_nothing(root):
    at = configure(open_page("train"), ["Barack Obama"], n_head=3)
    assert any("divisible by n_head (3)" in e.value for e in at.error)
    assert at.button(key="train_start").disabled
    at.number_input(key="train_n_head_gpt_tiny").set_value(4).run()
    # ranges come from the settings' one declaration: the field itself refuses 0 steps
    steps = at.number_input(key="train_max_iters_gpt_tiny")
    assert (steps.min, steps.max) == (1, 10_000_000)
    steps.set_value(0).run()
    assert at.number_input(key="train_max_iters_gpt_tiny").value == 2000 and not at.button(key="train_start").disabled
    # a context longer than a speaker's val text is only found by the full check when Start is pressed
    at.number_input(key="train_max_iters_gpt_tiny").set_value(100).run()
    at.multiselect(key="train_speakers").set_value(["John Adams"]).run()
    at.number_input(key="train_block_size_gpt_tiny").set_value(5000).run()
    assert not at.error and not at.button(key="train_start").disabled
    start(at)
    errors = [e.value for e in at.error]
    assert any("Nothing was started" in e and "John Adams is too short for a context of 5000" in e
               for e in errors), errors
    assert run_dirs(root) == []


def test_start_trains_for_real_once_and_the_page_shows_the_finished_run(root):
    at = start(configure(open_page("train"), ["Barack Obama"], **SMALL))
    assert any("Started" in s.value for s in at.success), page_text(at)
    dirs = run_dirs(root)
    assert len(dirs) == 1
    status = runs.status(dirs[0])
    assert status.active and status.pid and os.path.exists(f"/proc/{status.pid}")  # a real process
    assert b"core" in Path(f"/proc/{status.pid}/cmdline").read_bytes()
    assert any(dirs[0].name in p.proto.text for p in at.get("progress"))

    start(at)  # the same request again, while it trains
    assert any("not started twice" in i.value for i in at.info), page_text(at)
    assert run_dirs(root) == dirs

    done = runs.wait(dirs[0], timeout=300)
    assert done.status == "finished", done.message
    at.run()
    assert not at.exception
    table = at.dataframe[0].value
    row = table[table["name"] == dirs[0].name].iloc[0]
    assert row["status"] == "finished" and row["step"] == 60 and row["model"] == "gpt"
    assert row["best val loss"] == pytest.approx(done.best_val_loss)
    assert not at.get("progress")  # nothing trains: no progress bars, no polling

    loss = next(f for f in figures(at) if "Loss" in f["layout"]["title"]["text"])
    traces = {t["name"]: t for t in loss["data"]}
    name = dirs[0].name
    assert {f"{name} · train (raw)", f"{name} · train", f"{name} · val"} <= set(traces)
    assert list(decode(traces[f"{name} · val"]["x"])) == [0, 20, 40, 60]
    assert len(decode(traces[f"{name} · train"]["y"])) == 6  # one point per 10 steps
    vocab = done.model.vocab_size
    ln_v = next(t for n, t in traces.items() if n.startswith("ln V"))
    assert decode(ln_v["y"])[0] == pytest.approx(math.log(vocab))
    assert any(n.startswith("count bigram · Obama") for n in traces)
    val = decode(traces[f"{name} · val"]["y"])
    assert val[-1] < val[0]  # it learned something

    # the attention of its newest checkpoint, and its metrics as CSV
    (title, z), = heatmaps(at)
    assert z.shape == (16, 16)
    assert at.get("download_button")
    assert "Status: **finished** at step 60 of 60" in page_text(at)


def test_stop_keeps_the_checkpoint_and_resume_continues(root):
    at = start(configure(open_page("train"), ["Barack Obama"], **{**SMALL, "max_iters": 5000, "eval_interval": 50}))
    run_dir, = run_dirs(root)
    # wait until the trainer runs its loop (its SIGTERM handler is in place by then)
    assert wait_until(lambda: runs.status(run_dir).status == "running"
                      and any(e["kind"] == "step" for e in rec.read_metrics(run_dir)))
    pid = runs.status(run_dir).pid  # the trainer takes only CPU time the app does not want
    assert os.getpriority(os.PRIO_PROCESS, pid) == BACKGROUND_NICE

    assert at.query_params["watch"] == run_dir.name  # the session's runs are in its URL
    fresh = open_page("train", query={"watch": run_dir.name})  # a reload: a new session, the same URL
    assert any(run_dir.name in p.proto.text for p in fresh.get("progress"))
    assert "Training now" in [h.value for h in fresh.subheader]
    assert fresh.session_state["train_watched"] == [run_dir.name]
    other = open_page("train")  # another tab or visitor sees only that one run is training, when it asks
    assert "Training now" not in [h.value for h in other.subheader]
    assert not other.get("progress") and other.session_state["train_watched"] == []
    assert "1 other run(s) training on this server" in [e.label for e in other.expander]
    other.button(key=f"train_watch_{run_dir.name}").click().run()  # asking to watch it
    assert any(run_dir.name in p.proto.text for p in other.get("progress"))

    at.run()
    at.button(key="train_stop").click().run()
    assert any("Stopping" in i.value for i in at.info), page_text(at)
    stopped = runs.wait(run_dir, timeout=180)
    assert stopped.status == "stopped", stopped.message
    assert (run_dir / rec.LATEST).exists()
    assert 0 < stopped.step < 5000

    at.run()
    assert f"Status: **stopped** at step {stopped.step:,}" in page_text(at)
    assert not at.button(key="train_resume").disabled
    at.button(key="train_resume").click().run()
    assert any("Resumed" in s.value for s in at.success), page_text(at)
    assert runs.status(run_dir).active
    assert wait_until(lambda: any(e["kind"] == "step" and e["step"] > stopped.step
                                  for e in rec.read_metrics(run_dir)))  # it trains on from there
    runs.stop(run_dir)
    again = runs.wait(run_dir, timeout=180)
    assert again.status == "stopped" and again.step > stopped.step
    assert len(run_dirs(root)) == 1  # resumed in place
