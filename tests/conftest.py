"""Shared test set-up: quiet Streamlit logging, Playwright pointed at Debian's chromium, and a
live Streamlit server for the browser tests."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage"]


def pytest_collection_modifyitems(config, items):
    """Benchmark-only tests (they take figures, they check nothing a test does not) run under
    `python -m bench` (PODIUM_BENCH=1), not in the suite. Browser tests need Debian's chromium:
    skip them without it, except under CI=true."""
    if os.environ.get("PODIUM_BENCH") != "1":
        later = pytest.mark.skip(reason="a benchmark: `python -m bench` runs it (PODIUM_BENCH=1)")
        for item in items:
            if "bench" in item.keywords:
                item.add_marker(later)
    if Path(CHROMIUM).exists():
        return
    if os.environ.get("CI") == "true":
        raise pytest.UsageError("CI=true but chromium is missing: install it with "
                                "`apt-get update && apt-get install -y chromium` (make test does this as root)")
    skip = pytest.mark.skip(reason="chromium not found: `sudo apt-get install chromium` to run the browser tests")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": BROWSER_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    """Every test's browser context asks for reduced motion, as a learner may: Streamlit's running
    indicator and skeletons stop animating. Headless chromium draws in software, and on 2 cores four
    tabs animating while their scripts run measured 20 s to open the Train page against 12 s with
    reduced motion (chromium's CPU 37 s against 23 s). The benchmarks keep the default."""
    if os.environ.get("PODIUM_BENCH") == "1":
        return browser_context_args
    return {**browser_context_args, "reduced_motion": "reduce"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(tmp_root: Path, extra_env: dict | None = None, entry: tuple[str, ...] = ("ui.serve",)):
    """Start the app (`python -m ui.serve`: `streamlit run app.py` with the engine preloaded) on a
    free port with its own checkpoints folder. entry: what follows `python -m`, e.g.
    ("streamlit", "run", "app.py") for the bare command."""
    port = _free_port()
    env = {**os.environ, "PODIUM_CHECKPOINTS": str(tmp_root), **(extra_env or {})}
    proc = subprocess.Popen(
        [sys.executable, "-m", *entry, "--server.headless", "true",  # as `make run` starts it
         "--server.address", "127.0.0.1", "--server.port", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                return proc, url
        except OSError:
            time.sleep(0.3)
        if proc.poll() is not None:
            break
    proc.kill()
    out = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
    raise RuntimeError(f"streamlit did not start:\n{out[-3000:]}")


def stop_all(root: Path) -> None:
    """Stop every run still training in root, and wait for each to end."""
    from core.runs import start as runs

    for s in runs.list_runs(root):
        if s.active:
            runs.stop(s.path)
    for s in runs.list_runs(root):
        runs.wait(s.path, timeout=120)


def served(root: Path, extra_env: dict | None = None):
    """A server on its own checkpoints folder, for a module fixture to yield from: (url, root); at the
    end every run still training there is stopped and waited for, and the server goes."""
    proc, url = start_server(root, extra_env)
    try:
        yield url, root
    finally:
        stop_all(root)
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="session")
def shipped_server(tmp_path_factory):
    """(url, root): one server for the session on a copy of the shipped speakers' tiny GPTs, shared by
    the browser modules that only read them (a module that trains, or times a first render, starts
    its own)."""
    root = tmp_path_factory.mktemp("shipped-runs")
    for run in (ROOT / "checkpoints").glob("*-gpt-tiny"):
        shutil.copytree(run, root / run.name)
    yield from served(root)
