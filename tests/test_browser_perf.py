"""Real browser, on a fresh server with the shipped models: how long the home page takes to render
after the server first answers, and the server's memory once the three default speakers' models
are loaded and used (Attention, Generate, Compare). Recorded in test-results/app-perf.json for the
benchmarks (bench/ui.py); nothing here asserts a time."""
from __future__ import annotations

import json
import shutil
import time

import pytest
from browser_helpers import RESULTS, nav_link, open_attention, wait_idle
from conftest import ROOT, start_server

pytestmark = pytest.mark.browser
TEXTS_DONE = """() => {
  const t = Array.from(document.querySelectorAll('[data-testid=stHtml] div'))
    .filter(d => d.style.whiteSpace === 'pre-wrap' && d.firstElementChild && d.firstElementChild.style.color);
  return t.length === 3;
}"""
MATRIX_DRAWN = """() => Array.from(document.querySelectorAll('[data-testid=stPlotlyChart] .js-plotly-plot'))
  .some(el => ((el.layout && el.layout.title && el.layout.title.text) || '').includes('val loss (nats/char)'))"""


def memory_kb(pid: int) -> dict[str, int]:
    """Resident memory now (VmRSS) and at its peak (VmHWM), in kB, from /proc."""
    out = {}
    with open(f"/proc/{pid}/status", encoding="utf-8") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0])
    return out


def test_home_render_time_and_memory_with_the_three_models(page, tmp_path):
    for run in (ROOT / "checkpoints").glob("*-gpt-tiny"):
        shutil.copytree(run, tmp_path / run.name)
    proc, url = start_server(tmp_path)  # returns as soon as the server answers its health check
    try:
        answered = time.perf_counter()
        page.set_viewport_size({"width": 1400, "height": 1000})
        page.goto(url)
        page.wait_for_selector("h1:has-text('Podium')", timeout=60_000)
        page.wait_for_selector("[data-testid=stDataFrame]", timeout=60_000)  # the trained-models table
        home_s = time.perf_counter() - answered
        after_home = memory_kb(proc.pid)

        open_attention(page)
        nav_link(page, "8. Generate").click()
        page.wait_for_function(TEXTS_DONE, timeout=120_000)
        wait_idle(page)
        nav_link(page, "9. Compare").click()
        page.wait_for_function(MATRIX_DRAWN, timeout=120_000)
        wait_idle(page)
        assert page.locator("[data-testid=stException]").count() == 0
        loaded = memory_kb(proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert loaded["VmRSS"] > after_home["VmRSS"] > 0
    result = {"home_render_s": home_s, "rss_after_home_mb": after_home["VmRSS"] / 1024,
              "rss_three_models_mb": loaded["VmRSS"] / 1024, "peak_rss_mb": loaded["VmHWM"] / 1024}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "app-perf.json").write_text(json.dumps(result, indent=1))
    print(f"\nhome page rendered {home_s:.2f} s after the server answered; server memory with the three "
          f"models loaded and used: {result['rss_three_models_mb']:.0f} MB (peak {result['peak_rss_mb']:.0f} MB)")
