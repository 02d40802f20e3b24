"""The run record, the settings declared once, names, the trainer lock and run groups."""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import OBAMA, TRUMP, one_thread  # noqa: F401 (autouse)

from core import settings
from core.config import ConfigError, ModelConfig, TrainConfig
from core.errors import RunBusy
from core.runs import record as rec
from core.runs import start as runs

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "checkpoints"
SMALL = {"max_iters": 400, "eval_interval": 100, "eval_iters": 2, "batch_size": 4, "block_size": 16, "n_layer": 1,
         "n_head": 1, "n_embd": 16}


def shipped() -> list[str]:
    """The runs git tracks (a checkout may hold runs of its own beside them)."""
    files = subprocess.run(["git", "ls-files", "checkpoints/*/meta.json"], cwd=ROOT, capture_output=True, text=True,
                           check=True).stdout.split()
    return [Path(f).parent.name for f in files]


def test_every_shipped_run_loads_as_a_record():
    names = shipped()
    assert {"barack-obama-gpt-tiny", "donald-j-trump-gpt-tiny", "joseph-r-biden-jr-gpt-tiny"} <= set(names)
    for r in (rec.RunRecord.load(SHIPPED / n) for n in names):
        assert r.status == "finished" and r.best_val_loss is not None and r.path == SHIPPED / r.name
        assert r.tokenizer().vocab_size == r.model.vocab_size


def copy_run(tmp_path: Path, name: str = "barack-obama-gpt-tiny") -> Path:
    """A copy of the shipped Obama run, named name."""
    dst = tmp_path / name
    shutil.copytree(SHIPPED / "barack-obama-gpt-tiny", dst)
    return dst


@pytest.mark.parametrize("edit, reason", [
    (lambda m: m.update(best_val_loss="0.5"), "best_val_loss must be a number"),
    (lambda m: m.update(model="gpt"), "settings are unusable"),
    (lambda m: m["model"].update(block_size=8.5), "block_size must be a whole number"),
    (lambda m: m["train"].update(seed=2**70), "seed must be between"),
    (lambda m: m.update(speakers="Barack Obama"), "speakers must be a list"),
    (lambda m: m.update(status="dancing"), "unknown status"),
    (lambda m: m.update(history=[1, 2]), "history"),
])
def test_a_bad_record_is_listed_as_unreadable_and_hides_nothing_else(tmp_path, edit, reason):
    bad = copy_run(tmp_path, "bad")
    meta = json.loads((bad / rec.META).read_text())
    edit(meta)
    (bad / rec.META).write_text(json.dumps(meta))
    good = copy_run(tmp_path)
    found = rec.scan(tmp_path)
    assert [r.name for r in found.records] == [good.name]
    assert [u.name for u in found.unreadable] == ["bad"] and reason in found.unreadable[0].reason
    with pytest.raises(rec.RecordError, match=reason):
        rec.RunRecord.load(bad)


def test_a_folder_that_cannot_be_read_is_unreadable_not_an_error(tmp_path):
    (tmp_path / "odd" / rec.META).mkdir(parents=True)  # meta.json is a folder: reading it fails with an OSError
    copy_run(tmp_path)
    found = rec.scan(tmp_path)
    assert len(found.records) == 1 and found.unreadable[0].name == "odd"
    out = subprocess.run([sys.executable, "-m", "core", "runs", "--out", str(tmp_path)], cwd=ROOT,
                         capture_output=True, text=True)
    assert out.returncode == 0 and "odd" in out.stdout and "unreadable" in out.stdout, out.stderr


def test_a_record_round_trips_and_a_dead_trainer_reads_as_interrupted(tmp_path):
    r = rec.RunRecord.load(copy_run(tmp_path))
    r.status = "running"
    r.save(tmp_path / r.name)
    back = rec.RunRecord.load(tmp_path / r.name)
    assert back == r and back.to_dict() == r.to_dict()
    live = rec.status(tmp_path / r.name)  # nobody holds its lock
    assert live.status == "interrupted" and "resume" in live.message
    with rec.TrainerLock(tmp_path / r.name):
        assert rec.trainer_alive(tmp_path / r.name) and rec.status(tmp_path / r.name).status == "running"
        with pytest.raises(RunBusy, match="another process"):
            rec.TrainerLock(tmp_path / r.name).acquire()
    assert not rec.trainer_alive(tmp_path / r.name)


def test_a_trainer_that_stopped_between_the_read_and_the_lock_check_reads_as_stopped(tmp_path):
    """The record is read, then the lock is checked: a trainer that wrote "stopped" and exited in
    between was reported "interrupted" (seen under load: a run stopped at its first step)."""
    r = rec.RunRecord.load(copy_run(tmp_path))
    r.status = "running"
    r.save(tmp_path / r.name)
    stale = rec.RunRecord.load(tmp_path / r.name)  # read while it ran
    r.status, r.message = "stopped", "stopped at step 0"
    r.save(tmp_path / r.name)  # its last write; then its process (and its lock) went
    assert rec.live(stale, tmp_path / r.name).status == "stopped"


@pytest.mark.parametrize("bad", ["rt-nl\n", "../x", "a/b", "", ".hidden", "x" * 81])
def test_run_names_are_checked_whole(bad):
    with pytest.raises(rec.RecordError):
        rec.validate_run_name(bad)


def test_an_unnamed_run_takes_the_next_free_name_and_a_named_one_is_refused(tmp_path):
    copy_run(tmp_path)
    request = runs.RunRequest.make([OBAMA], "gpt", "tiny", **SMALL)
    assert request.default_name() == "barack-obama-gpt-tiny"
    first = runs.create(request, tmp_path)
    second = runs.create(request, tmp_path)
    assert (first.name, second.name) == ("barack-obama-gpt-tiny-2", "barack-obama-gpt-tiny-3")
    assert rec.status(tmp_path / first.name).status in ("queued", "failed")
    with pytest.raises(ConfigError, match="already exists"):
        runs.create(request, tmp_path, name="barack-obama-gpt-tiny")


def test_settings_are_declared_once_and_every_front_end_derives_them():
    parser = argparse.ArgumentParser()
    settings.add_flags(parser)
    args = parser.parse_args(["--lr", "0.01", "--n-layer", "2", "--compile"])
    assert settings.overrides_from(args) == {"learning_rate": 0.01, "n_layer": 2, "compile": True}
    flags = {a.dest for a in parser._actions}
    assert {"max_iters", "learning_rate", "batch_size", "block_size", "n_embd", "dropout", "seed", "dtype"} <= flags
    assert "vocab_size" not in flags and "device" not in flags  # set by the tokenizer, and a common flag
    form = [s.name for s in settings.form_settings("gpt")]
    assert form == ["block_size", "n_layer", "n_head", "n_embd", "dropout", "batch_size", "max_iters",
                    "learning_rate", "eval_interval"]
    assert [s.name for s in settings.form_settings("bigram")] == [n for n in form if n not in
                                                                  ("n_layer", "n_head", "n_embd", "dropout")]
    for s in settings.SETTINGS:  # every declared range admits its default
        if s.lo is not None and s.name != "vocab_size":
            assert s.lo <= s.default <= s.hi, s.name
    with pytest.raises(SystemExit):
        parser.parse_args(["--dtype", "float8"])  # choices come from the declaration too


@pytest.mark.parametrize("make, match", [
    (lambda: ModelConfig(vocab_size=88, block_size=8.5), "whole number"),
    (lambda: ModelConfig(vocab_size=88.0), "whole number"),
    (lambda: ModelConfig(vocab_size=88, n_embd=100000), "between"),
    (lambda: ModelConfig(vocab_size=88, n_layer=True), "whole number"),
    (lambda: TrainConfig(learning_rate=1e30), "between"),
    (lambda: TrainConfig(learning_rate=float("nan")), "finite"),
    (lambda: TrainConfig(seed=2**70), "between"),
    (lambda: TrainConfig(dtype="float8"), "one of"),
    (lambda: TrainConfig(min_lr=1.0, learning_rate=0.1), "min_lr"),
])
def test_configs_refuse_what_their_declarations_do_not_allow(make, match):
    with pytest.raises(ConfigError, match=match):
        make()


def test_runs_started_together_stop_together(tmp_path):
    requests = [runs.RunRequest.make([s], "gpt", "tiny", **SMALL) for s in (OBAMA, TRUMP)]
    started = runs.start_group(requests, tmp_path)
    try:
        group = {s.record.group for s in started}
        assert len(group) == 1 and None not in group and all(s.started_now for s in started)
        again = runs.start_group(requests, tmp_path)  # the same requests while they train: not started twice
        assert [a.name for a in again] == [s.name for s in started] and not any(a.started_now for a in again)
        stopped = runs.stop_group(tmp_path, group.pop())
        assert {r.name for r in stopped} <= {s.name for s in started}
        ends = [runs.wait(s.path, timeout=180) for s in started]
        assert all(e.status in ("stopped", "finished") for e in ends), ends
        assert any(e.status == "stopped" for e in ends)
    finally:
        for s in started:
            runs.stop(s.path)
            runs.wait(s.path, timeout=60)
