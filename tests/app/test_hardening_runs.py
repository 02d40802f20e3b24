"""Hardening, second round (issue 13), the cases that need processes: a run folder the server cannot
read (permissions), a second trainer on a run that is training (CLI --resume while it trains), the
memory a lying 34 KB checkpoint costs to refuse, and CLI settings whose value is 0."""
from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from bad_runs import BIG, copy_run, edit_checkpoint, expanded
from helpers import OBAMA, ROOT, one_thread, speaker_data, tiny_gpt, tiny_train, wait_until  # noqa: F401

from core import settings
from core.cli.main import build_parser, main
from core.runs import record as rec
from core.runs import start as runs
from core.runs.start import train

SMALL = {"n_layer": 1, "n_embd": 32, "n_head": 2, "block_size": 16, "batch_size": 8, "eval_interval": 10,
         "eval_iters": 1, "max_iters": 100_000}
NOBODY = 65534


@pytest.fixture(scope="module")
def small_run(tmp_path_factory) -> Path:
    """A real trained run, 1 layer 16 wide: its model.pt is about 34 KB."""
    root = tmp_path_factory.mktemp("runs")
    d = speaker_data(OBAMA)
    train(d, tiny_gpt(d.tokenizer.vocab_size, n_layer=1, n_embd=16), tiny_train(max_iters=4, eval_interval=4),
          root / "small")
    return root / "small"


def captured(call) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = call()
    return code, out.getvalue()


def as_nobody(call) -> tuple[int, str]:
    """Run call() in a forked child with the uid of nobody (the test runs as root here, and root reads
    anything): its exit status and what it printed. Everything it needs is imported already."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        code = 1
        try:
            os.close(r)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            code, said = captured(call)
            os.write(w, said.encode())
        except BaseException as e:  # noqa: BLE001 (anything raised is the failure we report)
            os.write(w, f"RAISED {type(e).__name__}: {e}".encode())
        finally:
            os._exit(code if isinstance(code, int) else 0)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        said = f.read().decode()
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), said


def test_a_run_folder_the_server_cannot_read_is_listed_with_the_reason(small_run):
    """Case 2: chmod 000 on one run folder. The listing (what every page's sidebar and `core runs`
    read) shows it as unreadable, with the reason, beside the readable one."""
    root = Path(tempfile.mkdtemp(prefix="podium-perm-"))
    try:
        os.chmod(root, 0o755)
        copy_run(small_run, root, "readable")
        locked = copy_run(small_run, root, "locked")
        for p in (root, *root.rglob("*")):
            os.chmod(p, 0o755 if p.is_dir() else 0o644)
        os.chmod(locked, 0)

        def listing() -> int:
            found = rec.scan(root)
            print(json.dumps({"records": [r.name for r in found.records],
                              "unreadable": {u.name: u.reason for u in found.unreadable}}))
            return main(["runs", "--out", str(root)])
        code, said = as_nobody(listing) if os.geteuid() == 0 else captured(listing)
        first, *cli = said.splitlines()
        scan = json.loads(first)
        assert code == 0 and "RAISED" not in said, said
        assert scan["records"] == ["readable"] and "Permission denied" in scan["unreadable"]["locked"], scan
        assert any(line.startswith("locked") and "unreadable: cannot be read: Permission denied" in line
                   for line in cli), cli
    finally:
        os.chmod(root / "locked", 0o755)
        subprocess.run(["rm", "-rf", str(root)], check=False)


def test_cli_resume_while_the_run_trains_is_refused_and_the_run_goes_on(tmp_path):
    """Case 4: `core train --resume RUN` while RUN trains in the background: one line, status 2, and
    the trainer's metrics keep one event per step."""
    s = runs.start(runs.RunRequest.make([OBAMA], "gpt", "tiny", **SMALL), tmp_path)
    try:
        assert wait_until(lambda: any(e["kind"] == "step" for e in rec.read_metrics(s.path))), runs.status(s.path)
        proc = subprocess.run([sys.executable, "-m", "core", "train", "--resume", s.name, "--out", str(tmp_path),
                               "--max-iters", "200000"], cwd=ROOT, capture_output=True, text=True, timeout=300,
                              env={**os.environ, "OMP_NUM_THREADS": "1"})
        assert proc.returncode == 2, proc
        assert proc.stderr.strip().splitlines()[-1].startswith(f"error: run {s.name} is being trained by another "
                                                               "process"), proc.stderr
        assert "Traceback" not in proc.stderr
        assert runs.status(s.path).status == "running"
    finally:
        runs.stop(s.path)
        done = runs.wait(s.path, timeout=120)
    steps = [e["step"] for e in rec.read_metrics(s.path) if e["kind"] == "step"]
    ends = [e for e in rec.read_metrics(s.path) if e["kind"] == "end"]
    assert done.status == "stopped" and len(steps) == len(set(steps)) and len(ends) == 1, (done, ends)


MEASURE = r"""
import re, sys
from core.runs import checkpoints as ck
# The peak resident size of this process (VmHWM). getrusage's ru_maxrss is the same figure but also
# carries the parent's peak across fork + exec (pytest's ~500 MB here), so it is read from /proc.
def peak(): return int(re.search(r"VmHWM:\s+(\d+) kB", open("/proc/self/status").read())[1]) * 1024
import torch
ck.load_model(sys.argv[1])  # a good checkpoint first: the code paths are imported and warm
with open("/proc/self/clear_refs", "w") as f:  # reset the peak to the present size: imports peak higher
    f.write("5")
before = peak()
try:
    if sys.argv[2] == "control":  # the measure sees a real allocation: 300 MB of ones
        said = str(float(torch.ones(75_000_000).sum()))
    else:
        ck.read_checkpoint(sys.argv[2])
        said = "loaded"
except ck.CheckpointError as e:
    said = str(e)
print(peak() - before, before)
print(said)
"""


@pytest.mark.parametrize("kind", ["wrong shapes", "views of one number"])
def test_a_tiny_checkpoint_claiming_48_layers_is_refused_before_any_big_allocation(small_run, tmp_path, kind):
    """Case 5: the stored config says 48 layers x 1024 wide (~600M parameters, 2.4 GB); the file is
    ~34 KB. It is refused, and loading it raises the process's peak memory by under 100 MB."""
    bad = copy_run(small_run, tmp_path, "liar")
    edit_checkpoint(bad, model=BIG, weights=expanded if kind == "views of one number" else None)
    size = (bad / rec.BEST).stat().st_size
    assert size < 100_000, size
    proc = subprocess.run([sys.executable, "-c", MEASURE, str(small_run), str(bad / rec.BEST)], cwd=ROOT,
                          capture_output=True,
                          text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr
    grown, said = proc.stdout.splitlines()[0], proc.stdout.splitlines()[1]
    print(f"{kind}: {size / 1e3:.0f} KB file, peak memory +{int(grown.split()[0]) / 2**20:.1f} MB while refusing: "
          f"{said}")
    assert said != "loaded" and ("do not match" in said or "their own values" in said), said
    assert int(grown.split()[0]) < 100 * 2**20
    if kind == "wrong shapes":  # the control: the same measure sees 300 MB allocated
        control = subprocess.run([sys.executable, "-c", MEASURE, str(small_run), "control"], cwd=ROOT,
                                 capture_output=True,
                                 text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
        assert int(control.stdout.split()[0]) > 250 * 2**20, control


def test_a_setting_of_0_on_the_command_line_is_a_value_not_a_default():
    """--seed 0 and --dropout 0 were read as 'not given' (0 == False) and the preset's values stood."""
    args = build_parser().parse_args(["train", "--seed", "0", "--dropout", "0", "--warmup-iters", "0",
                                      "--compile"])
    got = settings.overrides_from(args)
    assert got["seed"] == 0 and got["dropout"] == 0.0 and got["warmup_iters"] == 0 and got["compile"] is True
    assert "lr" not in got and "learning_rate" not in got  # a flag not given stays the preset's
