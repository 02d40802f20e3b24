"""What the browser tests share: reading the Attention page's plotly figures back from the DOM,
waiting for Streamlit to finish a run, and timing the context-length slider."""
from __future__ import annotations

import statistics
import time

from conftest import ROOT

RESULTS = ROOT / "test-results"
T_SLIDER = "Context length T (characters fed to the model)"
# T of the selected head's softmax map, as drawn (the number of rows of that trace), or -1
SOFTMAX_T = """() => {
  for (const el of document.querySelectorAll('[data-testid=stPlotlyChart] .js-plotly-plot')) {
    for (const tr of (el.data || [])) {
      if ((tr.name || '').includes('softmax: each row') && tr.y) return tr.y.length;
    }
  }
  return -1;
}"""
# T of the every-layer-x-head mosaic, as drawn, or -1
MOSAIC_T = """() => {
  for (const el of document.querySelectorAll('[data-testid=stPlotlyChart] .js-plotly-plot')) {
    for (const tr of (el.data || [])) if (tr.name === 'every layer x head') return tr.meta.T;
  }
  return -1;
}"""


def wait_idle(page, timeout=60_000):
    """Wait until Streamlit has finished running the script."""
    page.wait_for_selector("[data-testid=stApp]", timeout=timeout)
    page.wait_for_function(  # while a script runs, the status widget offers "Stop" (1.67)
        "() => { const w = document.querySelector('[data-testid=stStatusWidget]');"
        " return !w || !/Running|Stop/.test(w.innerText); }", timeout=timeout)
    page.wait_for_timeout(300)


def nav_link(page, title: str):
    """A page's link in the sidebar's navigation (Home has links to the pages too)."""
    return page.get_by_test_id("stSidebarNavItems").get_by_role("link", name=title)


def open_attention(page, url: str | None = None) -> None:
    """Go to the Attention page (by URL, or through the sidebar link) and wait for its heatmaps."""
    if url:
        page.goto(f"{url}/attention")
    else:
        nav_link(page, "6. Attention").click()
    page.wait_for_selector("h1:has-text('Self-attention')", timeout=60_000)
    wait_idle(page)
    page.wait_for_function(f"() => ({SOFTMAX_T})() > 0 && ({MOSAIC_T})() > 0", timeout=60_000)


def slider_latency(page, changes: int = 16) -> dict:
    """Move the context-length slider one step at a time with the keyboard and time each change
    from the key press to (a) the selected head's softmax map redrawn at the new T and (b) the
    layer x head mosaic redrawn too. Every step is a T not seen before (no cached figures), going
    down from the default T (which is at most block_size, so nothing is cropped); the slider then
    goes back up, so the page ends where it started."""
    slider = page.get_by_role("slider", name=T_SLIDER)
    start = int(slider.input_value())
    up = start - changes < 1
    slider.focus()
    head_ms, whole_ms = [], []
    for i in range(changes):
        want = start + i + 1 if up else start - i - 1
        t0 = time.perf_counter()
        page.keyboard.press("ArrowRight" if up else "ArrowLeft")
        page.wait_for_function(f"() => ({SOFTMAX_T})() === {want}", timeout=30_000, polling="raf")
        head_ms.append((time.perf_counter() - t0) * 1000)
        page.wait_for_function(f"() => ({MOSAIC_T})() === {want}", timeout=30_000, polling="raf")
        whole_ms.append((time.perf_counter() - t0) * 1000)
        page.wait_for_timeout(150)  # a person's pace, and the page settles
    for _ in range(changes):
        page.keyboard.press("ArrowLeft" if up else "ArrowRight")
    page.wait_for_function(f"() => ({SOFTMAX_T})() === {start}", timeout=30_000)
    wait_idle(page)
    return {"T_start": start, "changes": changes, "median_ms": statistics.median(head_ms), "samples_ms": head_ms,
            "whole_median_ms": statistics.median(whole_ms), "whole_samples_ms": whole_ms}


def describe(result: dict) -> str:
    s = result["samples_ms"]
    return (f"median {result['median_ms']:.0f} ms over {len(s)} changes (min {min(s):.0f}, max {max(s):.0f}); "
            f"with every layer x head redrawn: median {result['whole_median_ms']:.0f} ms")
