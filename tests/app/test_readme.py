"""The README is tested: every command in its ```bash blocks runs as written, in order, on a copy of
the repository that holds the shipped checkpoints (the .venv linked in), and exits 0 without a
traceback. What is adapted, and only that:
- a command that trains gets small settings appended (--max-iters and a short evaluation; the
  lecture preset also a smaller model, its other settings kept: its 10.8M weights cost half a minute
  a run in evaluations and head probes here, and what is tested is the launch); a --resume's
  --max-iters becomes a few steps past where the run is;
- `core attribution` scores 2 passages a speaker at each length, not 5 (the command's work, 3 models
  of each set reading every passage, is the same; the curve's figures are tests/unit/test_attribution.py's);
- torchrun gets 2 CPU processes (`--nproc_per_node=2`); the two-machine command runs as two
  launchers on this machine (HEAD_ADDR=127.0.0.1, a free port), one process each;
- `make run` is started, answers its health check, and is stopped; `make test` and `make bench`
  are checked with `make -n` (running them here would run this suite inside itself, or take an hour).
"""
from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SMALL = ["--max-iters", "4", "--eval-interval", "2", "--eval-iters", "2"]
LECTURE_SMALL = ["--max-iters", "2", "--eval-interval", "1", "--eval-iters", "1", "--batch-size", "2",
                 "--n-layer", "2", "--n-embd", "96", "--block-size", "64"]


def readme_commands() -> list[str]:
    """Every command of the README's bash blocks: continuation lines joined, comments dropped."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        joined = block.replace("\\\n", " ")
        for line in joined.splitlines():
            line = re.sub(r"\s+#.*$", "", line).strip()
            if line and not line.startswith("#"):
                commands.append(line)
    return commands


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_step(repo: Path, name: str) -> int:
    return int(json.loads((repo / "checkpoints" / name / "meta.json").read_text())["step"])


def adapt(cmd: str, repo: Path) -> list[str]:
    """The command with the small settings a test run needs (see the module docstring)."""
    words = f" {cmd} "
    if " ladder " in words:  # every rung trains: a few steps each
        return [re.sub(r"--max-iters \d+", "", cmd) + " --max-iters 4"]
    if " attribution " in words:
        return [re.sub(r"--passages \d+", "--passages 2", cmd)]
    if " train " not in words and " pretrain " not in words:
        return [cmd]
    small = LECTURE_SMALL if "--preset lecture" in cmd else SMALL
    if "--resume" in cmd:
        run = re.search(r"--resume (\S+)", cmd).group(1)
        target = run_step(repo, run) + 4
        cmd = re.sub(r"--max-iters \d+", f"--max-iters {target}", cmd)
    else:
        cmd = re.sub(r"--max-iters \d+", "", cmd) + " " + shlex.join(small)
    if "torchrun" in cmd:
        procs = "1" if "--nnodes=2" in cmd else "2"
        cmd = re.sub(r"--nproc_per_node=\d+", f"--nproc_per_node={procs}", cmd)
        if "--standalone" in cmd:  # two standalone jobs one after the other: a port of its own each time
            cmd = cmd.replace("--standalone", f"--rdzv_backend=c10d --rdzv_endpoint=127.0.0.1:{free_port()}")
    return [cmd]


def run_make(cmd: str, repo: Path, env: dict) -> None:
    target = cmd.split()[1]
    if target == "run":
        port = free_port()
        proc = subprocess.Popen(["make", "run", f"PORT={port}"], cwd=repo, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline, ok = time.time() + 120, False
            while time.time() < deadline and not ok:
                try:
                    ok = urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).read() == b"ok"
                except OSError:
                    time.sleep(0.5)
                assert proc.poll() is None, proc.stdout.read().decode(errors="replace")[-2000:]
            assert ok, "make run did not answer its health check"
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
        return
    out = subprocess.run(["make", "-n", target], cwd=repo, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    """A copy of the repository as a fresh clone would hold it (tracked files, shipped checkpoints
    included), with this checkout's .venv linked in."""
    dst = tmp_path_factory.mktemp("readme") / "podium"
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout.splitlines()
    for f in files:
        src = ROOT / f
        if src.is_file():
            (dst / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst / f)
    (dst / ".venv").symlink_to(ROOT / ".venv")
    return dst


def test_the_readme_has_the_commands_it_promises():
    cmds = readme_commands()
    assert any(c.startswith("make run") for c in cmds) and any(c.startswith("make test") for c in cmds)
    assert any("torchrun" in c and "--nnodes=2" in c for c in cmds)
    assert any("--resume barack-obama-gpt-tiny" in c for c in cmds)
    assert any(" pretrain " in c for c in cmds) and any("--init-from" in c for c in cmds)
    assert any(" whosaid " in c for c in cmds) and any(" attribution " in c for c in cmds)


def run_command(cmd: str, repo: Path, env: dict) -> None:
    """One README command, adapted (see the module docstring); it must exit 0 without a traceback."""
    assigned = re.match(r"((?:[A-Z_]+=\S+ )*)make ", cmd)  # `VAR=value make target`: make's own rules below
    if assigned:
        given = dict(a.split("=", 1) for a in assigned.group(1).split())
        run_make(cmd[len(assigned.group(1)):], repo, {**env, **given})
        return
    if "--nnodes=2" in cmd:  # both "machines" here: two launchers, one process each
        port = free_port()
        line = adapt(cmd.replace(":29500", f":{port}"), repo)[0]
        procs = [subprocess.Popen(["bash", "-c", line], cwd=repo, env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True) for _ in range(2)]
        outs = [p.communicate(timeout=600)[0] for p in procs]
        for p, out in zip(procs, outs):
            assert p.returncode == 0 and "Traceback" not in out, f"{line}\n{out[-3000:]}"
        return
    for line in adapt(cmd, repo):
        out = subprocess.run(["bash", "-c", line], cwd=repo, env=env, capture_output=True, text=True, timeout=600)
        assert out.returncode == 0, f"{line}\nexit {out.returncode}\n{out.stderr[-3000:]}"
        assert "Traceback" not in out.stderr, f"{line}\n{out.stderr[-3000:]}"


def lane_of(cmd: str) -> str:
    """Commands in different lanes share no run they write: the torchrun commands (obama-ddp); the ones
    that make runs of their own (the ladder's rungs, the base and its fine-tune); the ones that only read
    the speakers' models (whosaid, attribution: every lane's first `rm -rf` waits for them);
    Trump's and Biden's tiny runs trained again (others); and the rest (main: Obama's tiny runs)."""
    if "torchrun" in cmd:
        return "ddp"
    if any(w in f" {cmd} " for w in (" whosaid ", " attribution ")):
        return "readers"
    if any(w in f" {cmd} " for w in (" ladder ", " pretrain ", "--init-from")):
        return "own"
    if cmd.startswith("rm -rf checkpoints/") and " --speaker " in cmd and "barack-obama" not in cmd:
        return "others"  # Trump's and Biden's runs trained again: only the readers read them before
    return "main"


def test_every_readme_command_runs_as_written(repo):
    """In README order within each lane (lane_of); the lanes run side by side, so that one command's
    start-up (imports, torchrun's rendezvous) overlaps another's work."""
    env = {k: v for k, v in os.environ.items() if k not in ("PODIUM_CHECKPOINTS", "PODIUM_DATA")}
    env.update(HEAD_ADDR="127.0.0.1", OMP_NUM_THREADS="1")
    cmds = readme_commands()
    ran = []

    def lane(commands: list[str], before_removing=None) -> None:
        for cmd in commands:
            if before_removing is not None and cmd.startswith("rm "):
                before_removing.result()  # the readers are done with the models this replaces
            t0 = time.perf_counter()
            run_command(cmd, repo, env)
            ran.append(cmd)
            print(f"{time.perf_counter() - t0:6.1f} s  {cmd[:110]}")

    lanes = {name: [c for c in cmds if lane_of(c) == name] for name in ("ddp", "own", "readers", "others", "main")}
    with ThreadPoolExecutor(4) as pool:
        others = {name: pool.submit(lane, lanes[name]) for name in ("ddp", "readers")}
        for name in ("own", "others"):  # their `rm -rf` waits for the readers, as the main lane's does
            others[name] = pool.submit(lane, lanes[name], others["readers"])
        lane(lanes["main"], before_removing=others["readers"])
        for f in others.values():
            f.result()
    assert len(ran) == len(readme_commands())
    # the unnamed tiny run took the next free name beside the shipped one, and said so
    assert (repo / "checkpoints" / "barack-obama-gpt-tiny-2" / "meta.json").exists()
    assert (repo / "checkpoints" / "obama-ddp" / "model.pt").exists()
