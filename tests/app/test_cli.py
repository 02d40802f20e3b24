"""`python -m core` end to end, in subprocesses: train, sample, eval, speakers and resume on real
speeches into a temporary folder; bad input exits with status 2 and one "error: ..." line.

The commands run a few at a time (each one pays for importing torch): the module fixture starts
everything that needs no trained run alongside the training, then the rest."""
from __future__ import annotations

import json
import math
import os
import shutil
import signal
import subprocess
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import pytest
from helpers import BIDEN, OBAMA, ROOT, TRUMP

from core.cli.main import main
from core.model.sampling import sample_text
from core.runs import checkpoints as ck
from core.runs import record as rec

TRAIN = ["train", "--speaker", OBAMA, "--model", "gpt", "--preset", "tiny", "--max-iters", "20", "--n-layer", "1",
         "--n-embd", "32", "--n-head", "2", "--block-size", "16", "--eval-interval", "10", "--eval-iters", "2",
         "--name", "cli-run", "--json"]


@dataclass
class Ran:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> dict:
        assert self.returncode == 0, f"{self.args} exited {self.returncode}:\n{self.stderr[-2000:]}"
        return json.loads(self.stdout)


def run_cli(*args: str) -> Ran:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("PODIUM_CHECKPOINTS", None)  # every command names its folder with --out
    p = subprocess.run([sys.executable, "-m", "core", *args], cwd=ROOT, env=env, capture_output=True,
                       text=True, encoding="utf-8", timeout=180)
    return Ran(list(args), p.returncode, p.stdout, p.stderr)


ERRORS = {  # name -> (arguments, a word the one-line message must hold); "OUT" is the runs folder
    "unknown speaker": (["train", "--speaker", "Nobody Atall", "--max-iters", "2", "--out", "OUT"], "Nobody Atall"),
    "n_embd not divisible": (["train", "--n-embd", "30", "--n-head", "4", "--max-iters", "2", "--out", "OUT",
                              "--name", "bad-shape"], "divisible"),
    "unknown checkpoint": (["sample", "--checkpoint", "no-such-run", "--out", "OUT"], "no-such-run"),
    "prompt outside vocab": (["sample", "--checkpoint", "cli-run", "--out", "OUT", "--prompt", "Hi ☃"], "☃"),
    "temperature 0": (["sample", "--checkpoint", "cli-run", "--out", "OUT", "--temperature", "0"], "temperature"),
}
NEEDS_RUN = {"prompt outside vocab", "temperature 0"}
# more bad input, through core.cli.main.main in this process (the same code, without paying for a process)
MORE_ERRORS = {
    "unknown resume": (["train", "--resume", "no-such-run", "--out", "OUT"], "no-such-run"),
    "bad run name": (["train", "--name", "../escape", "--max-iters", "2", "--out", "OUT"], "invalid run name"),
    "top-k 0": (["sample", "--checkpoint", "cli-run", "--out", "OUT", "--top-k", "0"], "top-k"),
    "top-k over vocab": (["sample", "--checkpoint", "cli-run", "--out", "OUT", "--top-k", "1000"], "top-k"),
    "negative tokens": (["sample", "--checkpoint", "cli-run", "--out", "OUT", "--max-new-tokens", "-1"], "between 0"),
    "run exists": ([*TRAIN[:-3], "--name", "cli-run", "--out", "OUT", "--json"], "already exists"),
    "bigram preset for gpt": (["train", "--model", "gpt", "--preset", "bigram", "--out", "OUT"], "preset"),
    "missing .pt": (["sample", "--checkpoint", "OUT/cli-run/nothing.pt", "--out", "OUT"], "no run"),
}


@pytest.fixture(scope="module")
def cli(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli-runs")
    out2 = tmp_path_factory.mktemp("cli-resume")
    shipped = set(os.listdir(ROOT / "checkpoints"))
    ran: dict[str, Future] = {}

    def sub(args):
        return [str(out) if a == "OUT" else a for a in args]

    with ThreadPoolExecutor(max_workers=3) as pool:
        ran["train"] = pool.submit(run_cli, *TRAIN, "--out", str(out))
        ran["speakers"] = pool.submit(run_cli, "speakers", "--json")
        for name, (args, _) in ERRORS.items():
            if name not in NEEDS_RUN:
                ran[name] = pool.submit(run_cli, *sub(args))
        ran["train"].result()
        if (out / "cli-run" / rec.META).exists():
            shutil.copytree(out / "cli-run", out2 / "cli-run")
        ran["resume"] = pool.submit(run_cli, "train", "--resume", "cli-run", "--max-iters", "30", "--out", str(out2),
                                    "--json")
        ran["sample"] = pool.submit(run_cli, "sample", "--checkpoint", "cli-run", "--out", str(out), "--prompt",
                                    "The ", "--max-new-tokens", "40", "--seed", "1", "--json")
        ran["eval"] = pool.submit(run_cli, "eval", "--checkpoint", "cli-run", "--out", str(out), "--speaker", TRUMP,
                                  "--json")
        for name in NEEDS_RUN:
            ran[name] = pool.submit(run_cli, *sub(ERRORS[name][0]))
    results = {k: f.result() for k, f in ran.items()}
    ours = {"cli-run", "bad-shape", "nobody-atall-gpt-tiny", "barack-obama-gpt-tiny"}
    assert not (set(os.listdir(ROOT / "checkpoints")) - shipped) & ours, "a test command wrote into checkpoints/"
    return out, out2, results


def test_train_prints_a_json_summary(cli):
    out, _, ran = cli
    s = ran["train"].json()
    assert s["run"] == "cli-run" and s["status"] == "finished" and s["step"] == 20
    assert isinstance(s["best_val_loss"], float) and math.isfinite(s["best_val_loss"])
    assert s["best_step"] in (0, 10, 20) and s["path"] == str(out / "cli-run")
    for name in (rec.BEST, rec.LATEST, rec.META, rec.METRICS):
        assert (out / "cli-run" / name).is_file()
    meta = json.loads((out / "cli-run" / rec.META).read_text())
    assert meta["model"]["n_layer"] == 1 and meta["model"]["n_embd"] == 32 and meta["model"]["block_size"] == 16
    assert meta["train"]["max_iters"] == 20 and meta["speakers"] == [OBAMA]
    assert ran["train"].stderr == "", "--json keeps stderr quiet"


def test_sample_gives_40_characters_and_same_seed_same_text(cli):
    out, _, ran = cli
    a = ran["sample"].json()
    assert a["prompt"] == "The " and a["seed"] == 1 and a["run"] == "cli-run" and a["temperature"] == 1.0
    assert len(a["text"]) == 40
    loaded = ck.load_model("cli-run", root=out)
    assert loaded.tokenizer.unknown(a["text"]) == []
    # the same seed gives the same text in another process; another seed, another text
    assert sample_text(loaded.model, loaded.tokenizer, "The ", 40, seed=1) == a["text"]
    assert sample_text(loaded.model, loaded.tokenizer, "The ", 40, seed=2) != a["text"]


def test_eval_prints_the_val_loss(cli):
    _, _, ran = cli
    res = ran["eval"].json()
    assert res["speaker"] == TRUMP and res["run"] == "cli-run" and res["trained_on"] == [OBAMA]
    assert isinstance(res["val_loss"], float) and 0 < res["val_loss"] < 10


def test_speakers_lists_the_default_three_first(cli):
    names = cli[2]["speakers"].json()["speakers"]
    assert names[:3] == [OBAMA, TRUMP, BIDEN]
    assert "George W. Bush" in names and "George Washington" in names


def test_resume_continues_to_the_new_max_iters(cli):
    _, out2, ran = cli
    s = ran["resume"].json()
    assert s["run"] == "cli-run" and s["status"] == "finished" and s["step"] == 30
    assert math.isfinite(s["best_val_loss"])
    steps = [e["step"] for e in rec.read_metrics(out2 / "cli-run") if e["kind"] == "eval"]
    assert steps == [0, 10, 20, 30]
    assert ck.read_checkpoint(out2 / "cli-run" / rec.LATEST).state["step"] == 30


@pytest.mark.parametrize("case", list(ERRORS))
def test_bad_input_exits_2_with_one_error_line(cli, case):
    out, _, ran = cli
    r = ran[case]
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert r.returncode == 2, f"{r.args}: exit {r.returncode}\n{r.stderr[-2000:]}"
    assert "Traceback" not in r.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    assert ERRORS[case][1] in lines[0]
    assert r.stdout == ""
    assert not (out / "bad-shape").exists() and not (out.parent / "escape").exists()


@pytest.mark.parametrize("case", list(MORE_ERRORS))
def test_more_bad_input_exits_2_with_one_error_line(cli, case, capsys):
    out = cli[0]
    args, word = MORE_ERRORS[case]
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        code = main([a.replace("OUT", str(out)) for a in args])
    finally:  # `train` takes over SIGINT/SIGTERM to stop cleanly: give them back to pytest
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert code == 2, captured.err
    assert len(lines) == 1 and lines[0].startswith("error: ") and word in lines[0], captured.err
    assert captured.out == ""
    assert sorted(os.listdir(out)) == ["cli-run"]


def test_argparse_errors_also_exit_2(capsys):
    with pytest.raises(SystemExit) as e:
        main(["sample"])  # --checkpoint is required
    assert e.value.code == 2 and "error:" in capsys.readouterr().err
