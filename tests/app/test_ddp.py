"""Data-parallel training with torchrun, on the CPU with the gloo backend and 2 processes: a few
steps run, the checkpoint rank 0 writes holds the parameters every rank ends with, a resume goes on
from the saved step, and 2 processes x batch B reach a loss comparable to 1 process x batch 2B."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch
from helpers import OBAMA, ROOT

from core.runs import checkpoints as ck
from core.runs import record as rec

SMALL = ["--speaker", OBAMA, "--n-layer", "1", "--n-embd", "32", "--n-head", "2", "--block-size", "32",
         "--eval-iters", "4", "--seed", "3", "--json"]
def torchrun(nproc: int, *args: str, dump: str | None = None) -> subprocess.CompletedProcess:
    """`torchrun --standalone --nproc_per_node=nproc -m core train ...`, one thread per process.
    With dump, each rank also saves the parameters it ends with there (tests/ddp_dump.py)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    target = ["tests/ddp_dump.py", dump] if dump else ["-m", "core"]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
           *target, "train", *args]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def summary(proc: subprocess.CompletedProcess) -> dict:
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert len(lines) == 1, proc.stdout  # only rank 0 prints its summary
    return json.loads(lines[0])


@pytest.fixture(scope="module")
def ddp_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("ddp")
    proc = torchrun(2, *SMALL, "--batch-size", "8", "--max-iters", "30", "--eval-interval", "10",
                    "--out", str(out), "--name", "two", dump=str(out / "dump"))
    return out, summary(proc)


def test_two_processes_train_and_rank_0_writes_the_run(ddp_run):
    out, s = ddp_run
    assert s["status"] == "finished" and s["step"] == 30
    meta = rec.read_json(out / "two" / rec.META)
    assert meta["world_size"] == 2 and meta["world_size"] * meta["train"]["batch_size"] == 16  # the global batch
    assert {p.name for p in (out / "two").iterdir()} >= {rec.META, rec.BEST, rec.LATEST, rec.METRICS}
    steps = [e["step"] for e in rec.read_metrics(out / "two") if e["kind"] == "step"]
    assert steps == sorted(set(steps)) and steps[-1] == 30  # one writer: no step logged twice
    assert ck.load_model(out / "two").model is not None  # the app reads it like any other run


def test_the_saved_checkpoint_holds_the_parameters_every_rank_ends_with(ddp_run):
    out, _ = ddp_run
    saved = ck.read_checkpoint(out / "two" / rec.LATEST).state["model"]
    ranks = [torch.load(out / "dump" / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    for name, value in saved.items():
        assert torch.equal(ranks[0][name], value), name
        assert torch.equal(ranks[1][name], value), name  # gradients were averaged: the ranks agree
    latest = ck.read_checkpoint(out / "two" / rec.LATEST).state
    assert len(latest["rng_ranks"]) == 2 and not torch.equal(*latest["rng_ranks"])  # their own batches


def test_resume_goes_on_from_the_saved_step(ddp_run):
    out, _ = ddp_run
    s = summary(torchrun(2, "--resume", "two", "--max-iters", "40", "--out", str(out), "--json"))
    assert s["status"] == "finished" and s["step"] == 40
    steps = [e["step"] for e in rec.read_metrics(out / "two") if e["kind"] == "step"]
    assert steps == [10, 20, 30, 40]  # 31..40 after the saved 30, nothing done twice
    assert [h["step"] for h in rec.read_json(out / "two" / rec.META)["history"]] == [0, 10, 20, 30, 40]


def test_two_processes_and_one_with_the_same_global_batch_reach_comparable_loss(ddp_run, tmp_path):
    out, two = ddp_run
    one = summary(torchrun(1, *SMALL, "--batch-size", "16", "--max-iters", "30", "--eval-interval", "10",
                           "--out", str(tmp_path), "--name", "one"))
    start = rec.read_json(out / "two" / rec.META)["history"][0]["val_loss"]
    assert one["val_loss"] < start - 0.5 and two["val_loss"] < start - 0.5  # both learned
    assert abs(two["val_loss"] - one["val_loss"]) < 0.15, (two["val_loss"], one["val_loss"])


def test_a_refusal_that_only_rank_0_can_see_stops_every_process(ddp_run):
    """The run exists: rank 0 finds out, every process hears it, none waits forever."""
    out, _ = ddp_run
    proc = torchrun(2, *SMALL, "--batch-size", "8", "--max-iters", "5", "--out", str(out), "--name", "two")
    assert proc.returncode != 0
    assert proc.stderr.count("error: a run named 'two' already exists") == 1  # rank 0 says it, once
    # every process stops (torchrun ran with a timeout); the first to exit with 2 may have torchrun
    # end the other with SIGTERM before it exits with 2 itself, so at least one says 2
    # (torchrun's launcher prints a traceback of its own around a failed worker; none comes from ours)
    assert proc.stderr.count("exitcode  : 2") >= 1 and str(ROOT / "core") not in proc.stderr, proc.stderr[-2000:]
