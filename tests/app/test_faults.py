"""Faults: a training process killed with SIGKILL resumes from its latest checkpoint; a process
killed while writing checkpoints never leaves a half-written one; a save that fails (disk full,
no permission) stops the run with a message and keeps what was saved before; and the limits hold
(concurrent runs, upload size, bounded caches)."""
from __future__ import annotations

import ast
import errno
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from helpers import (  # noqa: F401
    OBAMA,
    ROOT,
    one_thread,
    process_alive,
    speaker_data,
    tiny_gpt,
    tiny_train,
    wait_until,
)

from core.cli.main import main
from core.config import ConfigError
from core.device import usable_cores
from core.errors import SaveFailed
from core.runs import checkpoints as ck
from core.runs import record as rec
from core.runs import start as runs
from core.runs.start import train
from core.text.corpus import MAX_TEXT_BYTES, MAX_TEXT_MB

SMALL = {"n_layer": 1, "n_embd": 32, "n_head": 2, "block_size": 16, "batch_size": 8, "eval_interval": 10,
         "max_iters": 100_000}


def saved_step(run_dir) -> int:
    try:
        return int(ck.read_checkpoint(run_dir / rec.LATEST).state["step"])
    except (ck.CheckpointError, OSError):
        return -1


def test_a_run_killed_with_sigkill_resumes_from_its_latest_checkpoint(tmp_path, capsys):
    s = runs.start(runs.RunRequest.make([OBAMA], "gpt", "tiny", **SMALL), tmp_path)
    run_dir = s.path
    try:
        assert wait_until(lambda: saved_step(run_dir) >= 30), runs.status(run_dir)
        os.kill(runs.status(run_dir).pid, signal.SIGKILL)
        assert wait_until(lambda: not runs.status(run_dir).active)
        killed = runs.status(run_dir)
        assert killed.status == "interrupted" and "resume" in killed.message
        assert main(["runs", "--out", str(tmp_path)]) == 0  # and so says `core runs` (the pages read the same)
        assert re.search(rf"(?m)^{run_dir.name} +interrupted ", capsys.readouterr().out)
        step = saved_step(run_dir)  # the latest checkpoint loads, whole
        assert step >= 30 and ck.load_model(run_dir, which="latest").model is not None
        assert ck.load_model(run_dir).model is not None  # and so do the best weights
        runs.resume(run_dir, max_iters=step + 20)
        done = runs.wait(run_dir, timeout=120)
        assert done.status == "finished" and done.step == step + 20, done
        steps = [e["step"] for e in rec.read_metrics(run_dir) if e["kind"] == "step"]
        assert max(steps) == step + 20 and [x for x in steps if x > step]  # it went on from the saved step
        assert not [p for p in run_dir.iterdir() if p.name.endswith(".tmp")]  # no stray temp file left
    finally:
        runs.stop(run_dir)
        runs.wait(run_dir, timeout=60)


WRITER = """
import os
import sys
from pathlib import Path
import torch
from core.runs import checkpoints as ck
from core.runs import record as rec
from core.model.models import build_model
from core.config import ModelConfig, TrainConfig
from core.text.tokenizer import CharTokenizer
model = build_model(ModelConfig("gpt", 80, 64, 4, 4, 128), seed=0)   # ~3 MB a checkpoint
vocab = CharTokenizer("".join(chr(32 + i) for i in range(80))).to_json()
record = rec.RunRecord(name="model", speakers=["x"], model=model.config, train=TrainConfig(), vocab=vocab)
for n in range(int(sys.argv[2])):  # a writer process a round, forked: torch is imported once
    pid = os.fork()
    if pid == 0:
        i = 1000 * n
        while True:
            i += 1
            with torch.no_grad():
                model.lm_head.bias.fill_(i)
            ck.save_checkpoint(Path(sys.argv[1]), model, record, step=i)
    print(pid, flush=True)
    os.waitpid(pid, 0)         # until the test kills it
    sys.stdin.readline()       # and has read what it left
"""


def test_sigkill_while_writing_checkpoints_never_leaves_a_half_written_file(tmp_path):
    """A process saving checkpoints in a loop is killed at random moments, 8 times (8 writers forked
    from one that imported torch): the file is always whole (the previous or the next version), never
    a part of one."""
    target, rounds = tmp_path / "model.pt", 8
    rng = random.Random(0)
    steps = []
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(target), str(rounds)], cwd=ROOT, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env={**os.environ, "OMP_NUM_THREADS": "1"})
    try:
        for _ in range(rounds):
            writer = int(proc.stdout.readline())
            time.sleep(rng.uniform(0.05, 0.4))
            os.kill(writer, signal.SIGKILL)
            assert wait_until(lambda w=writer: not process_alive(w), timeout=10)
            if target.exists():
                payload = torch.load(target, weights_only=True)  # whole: it loads
                assert payload["format"] == rec.FORMAT
                steps.append(payload["step"])
                assert float(payload["model"]["lm_head.bias"][0]) == payload["step"]
            proc.stdin.write("next\n")
            proc.stdin.flush()
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
    assert steps, "the writer never finished a single checkpoint"
    assert len(set(steps)) > 1  # later writers wrote over earlier ones


def test_a_save_that_fails_stops_the_run_with_a_message_and_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    data = speaker_data(OBAMA)
    cfg = tiny_gpt(data.tokenizer.vocab_size)
    real, calls = ck.save_checkpoint, []

    def disk_fills_up(path, *args, **kwargs):
        calls.append(path)
        if len(calls) > 2:  # model.pt and latest.pt at step 0 are written, then the disk is full
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(path, *args, **kwargs)
    monkeypatch.setattr(ck, "save_checkpoint", disk_fills_up)
    run_dir = tmp_path / "full"
    with pytest.raises(SaveFailed, match="No space left on device.*saved before are kept") as e:
        train(data, cfg, tiny_train(max_iters=20, eval_interval=5), run_dir)
    meta = rec.read_json(run_dir / rec.META)
    assert meta["status"] == "failed" and "No space left" in meta["message"]
    assert ck.read_checkpoint(run_dir / rec.LATEST).state["step"] == 0  # the one saved before, whole
    assert ck.load_model(run_dir).model is not None
    assert "could not write" in str(e.value)


def test_a_permission_error_on_the_metadata_is_a_message_too(tmp_path, monkeypatch):
    data = speaker_data(OBAMA)
    real = rec.write_json

    def read_only(path, obj):  # the folder turns read-only once the run is past step 5
        if obj.get("step", 0) > 5:
            raise PermissionError(errno.EACCES, "Permission denied")
        return real(path, obj)
    monkeypatch.setattr(rec, "write_json", read_only)
    with pytest.raises(SaveFailed, match="Permission denied"):
        train(data, tiny_gpt(data.tokenizer.vocab_size), tiny_train(max_iters=20, eval_interval=5), tmp_path / "ro")
    saved = ck.read_checkpoint(tmp_path / "ro" / rec.LATEST).state["step"]  # whole, and the one meta.json names
    assert saved == rec.read_json(tmp_path / "ro" / rec.META)["step"] == 5


def test_the_cli_reports_a_failed_save_in_one_line(tmp_path, monkeypatch, capsys):
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(ck, "save_checkpoint", full)
    rc = main(["train", "--speaker", OBAMA, "--max-iters", "5", "--n-layer", "1", "--n-embd", "32", "--n-head", "2",
               "--block-size", "16", "--eval-iters", "1", "--out", str(tmp_path), "--name", "x", "--json"])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("error: could not write model.pt") and "Traceback" not in err


def test_no_more_than_max_concurrent_runs(tmp_path, capsys):
    data = speaker_data(OBAMA)
    train(data, tiny_gpt(data.tokenizer.vocab_size), tiny_train(max_iters=4, eval_interval=4), tmp_path / "done")
    started = []
    try:
        for i in range(runs.MAX_CONCURRENT):
            started.append(runs.start(runs.RunRequest.make([OBAMA], "gpt", "tiny", **{**SMALL, "seed": i}), tmp_path))
        with pytest.raises(ConfigError, match=f"the limit is {runs.MAX_CONCURRENT}"):
            runs.start(runs.RunRequest.make([OBAMA], "gpt", "tiny", **{**SMALL, "seed": 99}), tmp_path)
        # the CLI's --resume of a finished run honours the limit too (it used to start a 4th trainer)
        assert main(["train", "--resume", "done", "--max-iters", "8", "--out", str(tmp_path)]) == 2
        assert f"the limit is {runs.MAX_CONCURRENT}" in capsys.readouterr().err
        assert rec.RunRecord.load(tmp_path / "done").step == 4  # untouched
    finally:
        for s in started:
            runs.stop(s.path)
        for s in started:
            runs.wait(s.path, timeout=60)


def test_the_upload_limit_is_stated_once_in_core():
    """The uploader gets core's limit (max_upload_size, in the browser's MB of 10**6 bytes off Windows);
    config.toml's maxUploadSize (MiB) is only the server's backstop above it, never below."""
    assert MAX_TEXT_BYTES == MAX_TEXT_MB * 10**6
    assert "max_upload_size=MAX_TEXT_MB" in (ROOT / "app_pages" / "speeches.py").read_text()
    megabytes = re.search(r"(?m)^maxUploadSize\s*=\s*(\d+)", (ROOT / ".streamlit" / "config.toml").read_text())
    assert megabytes and int(megabytes[1]) * 2**20 >= MAX_TEXT_BYTES


def test_every_cache_is_bounded():
    """Every st.cache_data / st.cache_resource in the app has max_entries or a ttl, unless the
    function takes no argument (then it holds one entry)."""
    unbounded = []
    for path in [ROOT / "app.py", *(ROOT / "app_pages").glob("*.py"), *(ROOT / "ui").glob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.FunctionDef):
                continue
            for dec in node.decorator_list:
                target = dec.func if isinstance(dec, ast.Call) else dec
                if not (isinstance(target, ast.Attribute) and target.attr in ("cache_data", "cache_resource")):
                    continue
                keywords = {k.arg for k in dec.keywords} if isinstance(dec, ast.Call) else set()
                if not keywords & {"max_entries", "ttl"} and node.args.args:
                    unbounded.append(f"{path.name}:{node.name}")
    assert not unbounded, unbounded


def test_a_run_folder_deleted_while_it_trains_stops_its_trainer_and_stays_deleted(tmp_path):
    """Issue 20, 5.12: the trainer used to re-create the folder as it exited (its last record write)."""
    import shutil

    s = runs.start(runs.RunRequest.make([OBAMA], "gpt", "tiny", **SMALL), tmp_path)
    run_dir = s.path
    assert wait_until(lambda: saved_step(run_dir) >= 10), runs.status(run_dir)
    pid = runs.status(run_dir).pid

    def delete():  # as `rm -rf` is run again when the trainer wrote a file between its listing and rmdir
        shutil.rmtree(run_dir, ignore_errors=True)
        return not run_dir.exists()

    assert wait_until(delete, timeout=30), "the folder could not be deleted"
    assert wait_until(lambda: not process_alive(pid), timeout=60), "the trainer did not stop"
    assert not run_dir.exists(), sorted(p.name for p in run_dir.iterdir())


def test_a_stale_record_whose_pid_lives_on_is_not_training(tmp_path):
    """Issue 20, 4: records left queued or running, whose pid now belongs to another live process
    (this one: pid reuse after a crash or a reboot), do not count as training: nobody holds their
    lock. A new run starts beside them."""
    live = train(speaker_data(OBAMA), tiny_gpt(speaker_data(OBAMA).tokenizer.vocab_size),
                 tiny_train(max_iters=2, eval_interval=2), tmp_path / "done")
    assert live.status == "finished"
    for i, status in enumerate(("queued", "queued", "running")):
        r = rec.RunRecord.load(tmp_path / "done")
        r.status, r.pid = status, os.getpid()  # alive, and not a trainer
        (tmp_path / f"stale-{i}").mkdir()
        r.save(tmp_path / f"stale-{i}")
    seen = {r.name: r.status for r in rec.list_runs(tmp_path)}
    assert seen == {"done": "finished", "stale-0": "failed", "stale-1": "failed", "stale-2": "interrupted"}, seen
    started = runs.start(runs.RunRequest.make([OBAMA], "gpt", "tiny", **{**SMALL, "max_iters": 5}), tmp_path)
    assert started.started_now and runs.wait(started.path, timeout=120).status == "finished"


def test_a_queued_run_is_locked_from_its_creation_to_its_trainer(tmp_path):
    """The lock is held from the moment the record exists: by its creator, then by the process it
    started (handed over, never released in between), so queued means a live holder, not a pid."""
    record = runs.create(runs.RunRequest.make([OBAMA], "gpt", "tiny", **{**SMALL, "max_iters": 5}), tmp_path)
    run_dir = tmp_path / record.name
    assert rec.trainer_alive(run_dir) and rec.status(run_dir).status == "queued"
    record.lock.release()  # its creator gave up without starting it
    assert rec.status(run_dir).status == "failed"
    other = runs.start(runs.RunRequest.make([OBAMA], "gpt", "tiny", **{**SMALL, "max_iters": 3000}), tmp_path)
    try:
        assert rec.trainer_alive(other.path)  # at once: the child holds the lock its starter took
        assert rec.status(other.path).status in rec.ACTIVE
    finally:
        runs.stop(other.path)
        assert runs.wait(other.path, timeout=120).status in ("stopped", "finished")


def test_runs_started_together_share_the_cores_evenly(tmp_path):
    """Issue 20, 2: each run of a group gets the same number of threads (cores // runs, at least
    one); a lone run keeps every core. (The throughput figure is the benchmark's: python -m bench.)"""
    cores = usable_cores()  # this process's cores: a test worker may hold only some of them
    assert runs.threads_each(tmp_path, starting=1) == cores
    assert runs.threads_each(tmp_path, starting=3) == max(1, cores // 3)

    def omp_threads(pid: int) -> int:
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        return int(dict(kv.split(b"=", 1) for kv in environ if b"=" in kv)[b"OMP_NUM_THREADS"])
    alone = runs.start(runs.RunRequest.make([OBAMA], "gpt", "tiny", **{**SMALL, "max_iters": 3000}), tmp_path)
    try:
        assert omp_threads(alone.pid) == cores  # a lone run keeps every core
    finally:
        runs.stop(alone.path)
        runs.wait(alone.path, timeout=120)
    group = runs.start_group([runs.RunRequest.make([s], "gpt", "tiny", **{**SMALL, "max_iters": 3000})
                              for s in (OBAMA, "Donald J. Trump", "Joseph R. Biden Jr.")], tmp_path)
    try:
        assert {omp_threads(s.pid) for s in group} == {max(1, cores // 3)}
    finally:
        runs.stop_group(tmp_path, group[0].group)
        for s in group:
            runs.wait(s.path, timeout=120)
