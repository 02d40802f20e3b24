"""Real browser: Playwright driving Debian's chromium against a live `streamlit run app.py`."""
from __future__ import annotations

import json
import shutil
import statistics
import time
from pathlib import Path

import pytest
from conftest import ROOT, start_server

pytestmark = pytest.mark.browser
RESULTS = ROOT / "test-results"
PAGES = ["", "speeches", "tokens", "batches", "bigram", "trick", "attention", "train", "generate", "compare"]
SOFTMAX_T = """() => {
  for (const el of document.querySelectorAll('[data-testid=stPlotlyChart] .js-plotly-plot')) {
    for (const tr of (el.data || [])) {
      if ((tr.name || '').includes('softmax: each row') && tr.y) return tr.y.length;
    }
  }
  return -1;
}"""
GRID_T = SOFTMAX_T.replace("(tr.name || '').includes('softmax: each row')", "(tr.name || '').startsWith('layer ')")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A server on a copy of the shipped trained models (so nothing touches checkpoints/)."""
    root = tmp_path_factory.mktemp("browser-runs")
    for run in (ROOT / "checkpoints").glob("*-gpt-tiny"):
        shutil.copytree(run, root / run.name)
    proc, url = start_server(root)
    yield url
    proc.terminate()
    proc.wait(timeout=10)


def wait_idle(page, timeout=60_000):
    """Wait until Streamlit has finished running the script."""
    page.wait_for_selector("[data-testid=stApp]", timeout=timeout)
    page.wait_for_function(  # while a script runs, the status widget offers "Stop" (1.67)
        "() => { const w = document.querySelector('[data-testid=stStatusWidget]');"
        " return !w || !/Running|Stop/.test(w.innerText); }", timeout=timeout)
    page.wait_for_timeout(300)


@pytest.mark.parametrize("path", PAGES)
def test_every_page_renders_without_exception(page, server, path):
    RESULTS.mkdir(exist_ok=True)
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(f"{server}/{path}")
    wait_idle(page)
    page.wait_for_selector("h1", timeout=60_000)
    if path == "attention":
        page.wait_for_function(f"() => ({SOFTMAX_T})() > 0", timeout=60_000)
    errors = page.locator("[data-testid=stException]")
    assert errors.count() == 0, errors.first.inner_text()
    page.screenshot(path=str(RESULTS / f"page-{path or 'home'}.png"), full_page=True)


def test_attention_slider_redraws_heatmap_and_latency(page, server):
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(f"{server}/attention")
    wait_idle(page)
    page.wait_for_function(f"() => ({SOFTMAX_T})() > 0", timeout=60_000)
    slider = page.get_by_role("slider", name="Context length T (characters fed to the model)")
    start = int(slider.input_value())
    assert page.evaluate(SOFTMAX_T) == start
    slider.focus()
    latencies, whole = [], []
    for i in range(12):
        key = "ArrowLeft" if i % 2 else "ArrowRight"  # alternate so T stays near its start
        want = start + 1 if key == "ArrowRight" else start
        t0 = time.perf_counter()
        page.keyboard.press(key)
        page.wait_for_function(f"() => ({SOFTMAX_T})() === {want}", timeout=30_000, polling="raf")
        latencies.append((time.perf_counter() - t0) * 1000)
        page.wait_for_function(f"() => ({GRID_T})() === {want}", timeout=30_000, polling="raf")
        whole.append((time.perf_counter() - t0) * 1000)  # every layer x head redrawn too
        page.wait_for_timeout(150)
    page.keyboard.press("End")  # past block_size: the view is cropped to block_size
    page.wait_for_function(f"() => ({SOFTMAX_T})() === 64", timeout=30_000)
    assert "cropped" in page.locator("[data-testid=stAlert]").first.inner_text()
    median = statistics.median(latencies)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "attention-latency.json").write_text(json.dumps(
        {"median_ms": median, "samples_ms": latencies, "whole_page_median_ms": statistics.median(whole),
         "whole_page_samples_ms": whole, "T": start}, indent=1))
    print(f"\nattention slider -> heatmap: median {median:.0f} ms over {len(latencies)} changes "
          f"(min {min(latencies):.0f}, max {max(latencies):.0f}); every layer x head redrawn: "
          f"median {statistics.median(whole):.0f} ms")
    assert Path(RESULTS / "attention-latency.json").exists()
