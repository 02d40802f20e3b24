"""The app's figures, taken in chromium by the browser tests that record them (the same code that
`make test` runs, so the benchmark and the tests measure one thing): the Attention slider's latency
idle and while a run trains, the home page's render time, and the server's memory with the three
default models loaded."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from statistics import median

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "test-results"
TESTS = ["tests/test_browser.py::test_attention_slider_redraws_heatmap_and_latency",
         "tests/test_browser_train.py", "tests/test_browser_perf.py"]
FILES = {"idle": "attention-latency.json", "training": "attention-latency-training.json", "app": "app-perf.json"}


def measure(rounds: int = 1) -> dict:
    """Run the browser tests `rounds` times; each figure is the median over the rounds."""
    if not shutil.which("chromium") and not Path("/usr/bin/chromium").exists():
        return {"skipped": "chromium is not installed (make browser-deps)"}
    runs = []
    for i in range(rounds):
        print(f"  ui round {i + 1}/{rounds}: browser tests", file=sys.stderr, flush=True)
        for name in FILES.values():
            (RESULTS / name).unlink(missing_ok=True)
        proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *TESTS], cwd=ROOT,
                              capture_output=True, text=True)
        if proc.returncode:
            return {"failed": proc.stdout[-2000:]}
        runs.append({k: json.loads((RESULTS / f).read_text()) for k, f in FILES.items()})
    return {
        "slider_idle_ms": median([r["idle"]["median_ms"] for r in runs]),
        "slider_idle_whole_ms": median([r["idle"]["whole_median_ms"] for r in runs]),
        "slider_training_ms": median([r["training"]["while_training"]["median_ms"] for r in runs]),
        "slider_training_idle_ms": median([r["training"]["idle"]["median_ms"] for r in runs]),
        "home_render_s": median([r["app"]["home_render_s"] for r in runs]),
        "rss_three_models_mb": median([r["app"]["rss_three_models_mb"] for r in runs]),
        "peak_rss_mb": median([r["app"]["peak_rss_mb"] for r in runs]),
        "rounds": rounds, "samples": runs,
    }

