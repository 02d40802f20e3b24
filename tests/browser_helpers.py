"""What the browser tests share: reading the Attention explorer's drawn state back from the DOM,
waiting for Streamlit to finish a run, and timing the context-length slider (key presses and drags)."""
from __future__ import annotations

import os
import statistics
import time

from conftest import ROOT

RESULTS = ROOT / "test-results"
SHOTS = os.environ.get("PODIUM_SHOTS") == "1"  # screenshots of the pages the tests see, for a person to read

T_SLIDER = "Context length T (characters fed to the model)"
# T of the selected head's softmax map, as drawn (the explorer's canvases carry data-t), or -1
SOFTMAX_T = """() => {
  const cv = Array.from(document.querySelectorAll('canvas.pa-stage'))
    .find(c => (c.dataset.name || '').includes('softmax: each row'));
  return cv && cv.dataset.t ? +cv.dataset.t : -1;
}"""
# T of the every-layer-x-head grid, as drawn, or -1
MOSAIC_T = """() => {
  const cv = document.querySelector('canvas.pa-mosaic');
  return cv && cv.dataset.t ? +cv.dataset.t : -1;
}"""
# where the T on show came from: "browser" (cut from the one pass) or "server"
SOURCE = "() => (document.querySelector('.pa-root') || {dataset: {}}).dataset.source || ''"
# Every 'input' event of the slider (keys or mouse) and every redraw of the grid, timed in the page
PROBE = """() => {
  if (window.__paDrag) { window.__paDrag.inputs = []; window.__paDrag.draws = []; return; }
  const log = window.__paDrag = {inputs: [], draws: []};
  const slider = document.querySelector('.pa-root input[type=range]');
  slider.addEventListener('input', () => log.inputs.push([performance.now(), +slider.value]));
  new MutationObserver(() => {
    const cv = document.querySelector('canvas.pa-mosaic');
    log.draws.push([performance.now(), +cv.dataset.t]);
  }).observe(document.querySelector('canvas.pa-mosaic'), {attributes: true, attributeFilter: ['data-t']});
}"""


def shot(page, name: str) -> None:
    """test-results/<name> when PODIUM_SHOTS=1 (`PODIUM_SHOTS=1 make browser`); off by default, as
    drawing every page whole for a picture nobody reads cost the suite ~10 s."""
    if SHOTS:
        RESULTS.mkdir(exist_ok=True)
        page.screenshot(path=str(RESULTS / name), full_page=True)


IDLE = ("() => { const w = document.querySelector('[data-testid=stStatusWidget]');"  # while a script runs,
        " return !w || !/Running|Stop/.test(w.innerText); }")                          # it offers "Stop" (1.67)


def wait_idle(page, timeout=60_000):
    """Wait until Streamlit has finished running the script."""
    page.wait_for_selector("[data-testid=stApp]", timeout=timeout)
    page.wait_for_function(IDLE, timeout=timeout)
    page.wait_for_timeout(300)


def idle_since(page, t0: float, timeout=120_000) -> float:
    """Seconds from t0 (time.perf_counter) to when the script was last seen finished, once it has
    stayed finished for 300 ms: wait_idle's settling pause is not counted."""
    while True:
        page.wait_for_function(IDLE, timeout=timeout)
        done = time.perf_counter() - t0
        page.wait_for_timeout(300)
        if page.evaluate(IDLE):
            return done


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
    page.evaluate(PROBE)
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
    in_page_ms = in_page(page)[2]
    for _ in range(changes):
        page.keyboard.press("ArrowLeft" if up else "ArrowRight")
    page.wait_for_function(f"() => ({SOFTMAX_T})() === {start}", timeout=30_000)
    wait_idle(page)
    return {**summary(start, head_ms, whole_ms), "in_page_median_ms": statistics.median(in_page_ms),
            "in_page_p90_ms": p90(in_page_ms), "in_page_samples_ms": in_page_ms}


def in_page(page) -> tuple[list, list, list[float]]:
    """The probe's input events and redraws, and for each input the time to the next redraw (ms)."""
    log = page.evaluate("() => window.__paDrag")
    inputs, draws = log["inputs"], log["draws"]
    lat = [next(t for t, _ in draws if t >= t_in) - t_in for t_in, _ in inputs if any(t >= t_in for t, _ in draws)]
    return inputs, draws, lat


def p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10, method="inclusive")[-1] if len(values) > 1 else values[0]


def summary(start: int, head_ms: list[float], whole_ms: list[float]) -> dict:
    return {"T_start": start, "changes": len(head_ms), "median_ms": statistics.median(head_ms),
            "p90_ms": p90(head_ms), "samples_ms": head_ms, "whole_median_ms": statistics.median(whole_ms),
            "whole_p90_ms": p90(whole_ms), "whole_samples_ms": whole_ms}


def drag(page, steps: int = 60, pause_ms: int = 8) -> dict:
    """Drag the slider's thumb with the mouse from T=1 to the end of the browser's own range and
    count the redraws on the way: frames drawn per second while the mouse moves, and the time from
    each input event to the next redraw (timed in the page). The page ends back at its start."""
    slider = page.get_by_role("slider", name=T_SLIDER)
    start = int(slider.input_value())
    page.evaluate(PROBE)
    box = slider.bounding_box()
    y = box["y"] + box["height"] / 2
    lo, hi = int(slider.get_attribute("min")), int(slider.get_attribute("max"))
    x_of = lambda t: box["x"] + 8 + (box["width"] - 16) * (t - lo) / max(1, hi - lo)  # noqa: E731
    x_end = x_of(min(hi, 64))
    slider.focus()
    page.keyboard.press("Home")
    page.wait_for_function(f"() => ({SOFTMAX_T})() === 1", timeout=30_000)
    page.evaluate(PROBE)
    page.mouse.move(x_of(1), y)
    page.mouse.down()
    t0 = time.perf_counter()
    for i in range(1, steps + 1):
        page.mouse.move(x_of(1) + (x_end - x_of(1)) * i / steps, y)
        page.wait_for_timeout(pause_ms)
    seconds = time.perf_counter() - t0
    page.mouse.up()
    page.wait_for_timeout(200)
    inputs, draws, lat = in_page(page)
    slider.focus()
    page.keyboard.press("Home")
    for _ in range(start - 1):
        page.keyboard.press("ArrowRight")
    page.wait_for_function(f"() => ({SOFTMAX_T})() === {start}", timeout=30_000)
    return {"drag_s": seconds, "inputs": len(inputs), "frames": len(draws),
            "distinct_T": len({t for _, t in draws}), "frames_per_s": len(draws) / seconds,
            "input_to_draw_median_ms": statistics.median(lat) if lat else None,
            "input_to_draw_p90_ms": p90(lat) if lat else None}


def describe(result: dict) -> str:
    s = result["samples_ms"]
    return (f"median {result['median_ms']:.0f} ms, p90 {result['p90_ms']:.0f} ms over {len(s)} changes "
            f"(min {min(s):.0f}, max {max(s):.0f}); "
            f"with every layer x head redrawn: median {result['whole_median_ms']:.0f} ms")


def key_latency(page, slider_name: str, drawn_js: str, changes: int = 8, up: bool = True) -> dict:
    """Key presses on a browser-side slider (Trick, Batches), each timed from the press to every
    element that follows it showing the new T (drawn_js: a function of T that says so)."""
    slider = page.get_by_role("slider", name=slider_name)
    start = int(slider.input_value())
    slider.focus()
    ms = []
    for i in range(changes):
        want = start + i + 1 if up else start - i - 1
        t0 = time.perf_counter()
        page.keyboard.press("ArrowRight" if up else "ArrowLeft")
        page.wait_for_function(f"() => ({drawn_js})({want})", timeout=30_000, polling="raf")
        ms.append((time.perf_counter() - t0) * 1000)
        page.wait_for_timeout(150)
    return {"T_start": start, "changes": changes, "median_ms": statistics.median(ms), "p90_ms": p90(ms),
            "samples_ms": ms}
