"""`python -m bench.fairness`: three runs started together (the Train page's default Start: one tiny
GPT per default speaker, one group) share the cores fairly. Each run's steps after the first minute,
read from its metrics log, against the fastest one's; the target is >= 80% for every run. Written into
docs/benchmarks.md as a section of its own, with the CPU it ran on."""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from bench.machine import cpu_name
from core.runs import record as rec
from core.runs import start as runs
from core.text.corpus import DEFAULT_SPEAKERS

DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
BEGIN, END = "<!-- fairness: measured by python -m bench.fairness -->", "<!-- /fairness -->"
TARGET = 0.8


def steps_done(run_dir: Path) -> int:
    return max((e["step"] for e in rec.read_metrics(run_dir) if e["kind"] in ("step", "eval")), default=0)


def measure(seconds: float = 60.0) -> dict:
    """Start the group, wait `seconds` from the moment they were started, read every run's steps."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        requests = [runs.RunRequest.make([s], "gpt", "tiny", max_iters=100_000) for s in DEFAULT_SPEAKERS]
        t0 = time.perf_counter()
        group = runs.start_group(requests, root)
        try:
            time.sleep(max(0.0, seconds - (time.perf_counter() - t0)))
            steps = {s.name: steps_done(s.path) for s in group}
        finally:
            runs.stop_group(root, group[0].group)
            for s in group:
                runs.wait(s.path, timeout=120)
    fastest = max(steps.values()) or 1
    return {"cpu": cpu_name(), "cores": os.cpu_count(), "seconds": seconds, "steps": steps,
            "share_of_fastest": {k: v / fastest for k, v in steps.items()},
            "worst_share": min(steps.values()) / fastest, "target": TARGET}


def section(r: dict) -> str:
    rows = [f"| {name} | {n:,} | {r['share_of_fastest'][name]:.0%} |" for name, n in r["steps"].items()]
    verdict = "met" if r["worst_share"] >= r["target"] else "**not met**"
    return "\n".join([
        BEGIN, "## Three runs started together", "",
        f"Host: {r['cpu']}, {r['cores']} cores. The Train page's default Start (one tiny GPT per default speaker, "
        f"one group), each run's steps {r['seconds']:.0f} s after the press:", "",
        "| run | steps | share of the fastest |", "|---|---:|---:|", *rows, "",
        f"Worst share {r['worst_share']:.0%} (target >= {r['target']:.0%}: {verdict}). Runs started together get "
        "the same number of threads, the cores divided among them (core.runs.start.threads_each); before, the first "
        "took every core and the others one each, and the first stalled at every OpenMP barrier.", END])


def write(r: dict, doc: Path = DOC) -> None:
    text = doc.read_text(encoding="utf-8") if doc.exists() else "# Benchmarks\n"
    sec = section(r)
    if BEGIN in text and END in text:
        text = text[:text.index(BEGIN)] + sec + text[text.index(END) + len(END):]
    else:
        text = text.rstrip("\n") + "\n\n" + sec + "\n"
    doc.write_text(text, encoding="utf-8")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.fairness", description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md as it is")
    a = p.parse_args(argv)
    r = measure(a.seconds)
    print(json.dumps(r, indent=1))
    if not a.no_write:
        write(r)
        print(f"written: {DOC}", file=sys.stderr)
    return 0 if r["worst_share"] >= r["target"] else 1


if __name__ == "__main__":
    sys.exit(main())
