"""Real browser, on a fresh server with the shipped models: how long the home page takes to render
after the server first answers, and the server's memory once the three default speakers' models
are loaded and used (Attention, Generate, Compare); the Attention page's first paint; the context
slider's latency for one user (keys and a mouse drag) and for four users pressing at once while
two runs train. Recorded in test-results/ for the benchmarks (bench/ui.py, docs/benchmarks.md);
nothing here asserts a time. The pure measurements are marked bench: `python -m bench` runs them
(PODIUM_BENCH=1); the suite runs the Trick and Batches check, which also compares the pairs the
browser writes with Python's."""
from __future__ import annotations

import asyncio
import json
import os
import shutil
import statistics
import threading
import time
from pathlib import Path

import pytest
import torch
from browser_helpers import (
    MOSAIC_T,
    PROBE,
    RESULTS,
    SOFTMAX_T,
    SOURCE,
    T_SLIDER,
    describe,
    drag,
    idle_since,
    key_latency,
    nav_link,
    open_attention,
    p90,
    slider_latency,
    summary,
    wait_idle,
)
from conftest import BROWSER_ARGS, CHROMIUM, ROOT, start_server, stop_all

from core.runs import start as runs
from core.text.batching import context_target_pairs, get_batch
from core.text.dataset import prepare

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


@pytest.mark.bench
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
        nav_link(page, "9. Generate").click()
        page.wait_for_function(TEXTS_DONE, timeout=120_000)
        wait_idle(page)
        nav_link(page, "10. Compare").click()
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


def machine() -> dict:
    """The CPU model, its cores and the load while measuring: the figures depend on all three.
    A hypervisor may show only "AMD EPYC": the family and model numbers say which generation."""
    info = {}
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        key, _, value = line.partition(":")
        info.setdefault(key.strip(), value.strip())
    family, model = info.get("cpu family", "?"), info.get("model", "?")
    zen = {("25", "17"): "Zen 4 (Genoa)"}  # the kind this project measures on
    kind = zen.get((family, model), "") if info.get("vendor_id") == "AuthenticAMD" else ""
    return {"cpu": f"{info.get('model name', 'unknown')}, family {family} model {model}", "kind": kind,
            "cores": os.cpu_count(), "load_1m": os.getloadavg()[0]}


@pytest.fixture(scope="module")
def shipped(shipped_server):
    """The session's server on a copy of the shipped models (conftest.shipped_server)."""
    return shipped_server


@pytest.mark.bench
def test_attention_first_paint_slider_and_drag_one_user(page, shipped):
    """One user: the Attention page's first paint, key presses (a fresh T each) and a mouse drag."""
    url, _ = shipped
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(url)
    wait_idle(page)
    t0 = time.perf_counter()
    nav_link(page, "6. Attention").click()
    page.wait_for_function(f"() => ({SOFTMAX_T})() > 0 && ({MOSAIC_T})() > 0", timeout=60_000)
    first_paint_s = time.perf_counter() - t0
    wait_idle(page)
    keys = slider_latency(page)
    assert page.evaluate(SOURCE) == "browser"
    dragged = drag(page)
    assert dragged["frames"] > 1 and dragged["distinct_T"] > 1  # it follows the mouse, not only the release
    assert page.locator("[data-testid=stException]").count() == 0
    result = {"machine": machine(), "attention_first_paint_s": first_paint_s, "keys": keys, "drag": dragged}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "attention-latency-one-user.json").write_text(json.dumps(result, indent=1))
    print(f"\nAttention first paint {first_paint_s:.2f} s; slider, one user: {describe(keys)}; drag: "
          f"{dragged['frames_per_s']:.0f} frames/s, input -> redraw median {dragged['input_to_draw_median_ms']:.1f} ms")


async def _press_loop(page, changes: int) -> tuple[list[float], list[float]]:
    """One user's key presses, each a fresh T, timed from the press to the redrawn map and grid."""
    slider = page.get_by_role("slider", name=T_SLIDER)
    start = int(await slider.input_value())
    await page.evaluate(PROBE)
    await slider.focus()
    head, whole = [], []
    for i in range(changes):
        want = start - i - 1
        t0 = time.perf_counter()
        await page.keyboard.press("ArrowLeft")
        await page.wait_for_function(f"() => ({SOFTMAX_T})() === {want}", timeout=30_000, polling="raf")
        head.append((time.perf_counter() - t0) * 1000)
        await page.wait_for_function(f"() => ({MOSAIC_T})() === {want}", timeout=30_000, polling="raf")
        whole.append((time.perf_counter() - t0) * 1000)
        await page.wait_for_timeout(150)
    return head, whole


async def _four_users(url: str, users: int, changes: int) -> dict:
    from playwright.async_api import async_playwright
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        pages = []
        for _ in range(users):  # one browser context each: four sessions of the app
            page = await (await browser.new_context(viewport={"width": 1400, "height": 1000})).new_page()
            await page.goto(f"{url}/attention")
            await page.wait_for_function(f"() => ({SOFTMAX_T})() > 0 && ({MOSAIC_T})() > 0", timeout=120_000)
            pages.append(page)
        await asyncio.sleep(1)
        loops = await asyncio.gather(*(_press_loop(page, changes) for page in pages))
        in_page_ms = []
        for page in pages:
            log = await page.evaluate("() => window.__paDrag")
            in_page_ms += [next(t for t, _ in log["draws"] if t >= t_in) - t_in for t_in, _ in log["inputs"]
                           if any(t >= t_in for t, _ in log["draws"])]
            assert await page.evaluate(SOURCE) == "browser"
            assert await page.locator("[data-testid=stException]").count() == 0
        await browser.close()
    head = [ms for h, _ in loops for ms in h]
    whole = [ms for _, w in loops for ms in w]
    return {**summary(32, head, whole), "users": users, "in_page_median_ms": statistics.median(in_page_ms),
            "in_page_p90_ms": p90(in_page_ms)}


@pytest.mark.bench
def test_four_users_press_at_once_while_two_runs_train(shipped):
    """Four sessions press the slider's keys at the same time while two background runs train."""
    url, root = shipped
    started = [runs.start(runs.RunRequest.make([speaker], "gpt", "tiny", max_iters=100_000, eval_interval=500), root)
               for speaker in ("Barack Obama", "Donald J. Trump")]
    try:
        deadline = time.time() + 120
        while sum(s.active and s.step > 0 for s in runs.list_runs(root)) < 2 and time.time() < deadline:
            time.sleep(0.5)
        training = sum(s.active for s in runs.list_runs(root))
        out: dict = {}
        worker = threading.Thread(target=lambda: out.update(asyncio.run(_four_users(url, 4, 16))))
        worker.start()
        worker.join(timeout=600)
        still = sum(s.active for s in runs.list_runs(root))
        load = os.getloadavg()[0]
    finally:
        stop_all(root)
    assert started and out, "the four users did not finish"
    assert training == still == 2
    result = {"machine": {**machine(), "load_1m": load}, "runs_training": training, **out}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "attention-latency-four-users.json").write_text(json.dumps(result, indent=1))
    print(f"\nslider, four users at once while {training} runs train: {describe(out)}; "
          f"in the page: median {out['in_page_median_ms']:.1f} ms, p90 {out['in_page_p90_ms']:.1f} ms")


TRICK_DRAWN = """T => Array.from(document.querySelectorAll('.tw-root[data-t]')).length >= 8
  && Array.from(document.querySelectorAll('.tw-root[data-t]')).every(r => r.dataset.t === String(T))"""
BATCHES_DRAWN = """T => Array.from(document.querySelectorAll('.bw-root[data-t]')).length === 3
  && Array.from(document.querySelectorAll('.bw-root[data-t]')).every(r => r.dataset.t === String(T))"""


def test_trick_and_batches_sliders_redraw_in_the_browser(page, shipped):
    """The Trick's T and the Batches' block size: every matrix, grid and pair list follows a key
    press without the server; the pairs the browser writes are Python's, line for line."""
    url, _ = shipped
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(f"{url}/trick")
    page.wait_for_function(f"() => ({TRICK_DRAWN})(8)", timeout=60_000)
    trick = key_latency(page, "T (tokens, time)", TRICK_DRAWN)
    assert page.locator(".tw-badge").inner_text().startswith("allclose: True")
    page.goto(f"{url}/batches")
    page.wait_for_function(f"() => ({BATCHES_DRAWN})(8)", timeout=60_000)
    batches = key_latency(page, "Block size T (context length)", BATCHES_DRAWN)
    T = batches["T_start"] + batches["changes"]
    data = prepare(["Barack Obama"])
    x, y = get_batch(data.speakers[0].train, T, 4, generator=torch.Generator().manual_seed(1337))
    want = [f"when input is {p.context} ({p.context_text!r}) the target is {p.target} ({p.target_text!r})"
            for p in context_target_pairs(x[0], y[0], data.tokenizer.decode)]
    assert page.locator(".bw-pairs").inner_text().splitlines() == want
    assert page.locator("[data-testid=stException]").count() == 0
    result = {"machine": machine(), "trick": trick, "batches": batches}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "trick-batches-latency.json").write_text(json.dumps(result, indent=1))
    print(f"\nTrick T slider: median {trick['median_ms']:.0f} ms, p90 {trick['p90_ms']:.0f} ms; Batches block size: "
          f"median {batches['median_ms']:.0f} ms, p90 {batches['p90_ms']:.0f} ms")


FIRST_RENDERS = {  # page link -> what shows that its content is drawn (then the script must be idle too)
    "10. Compare": MATRIX_DRAWN,
    "11. Speak like them": "() => document.querySelectorAll('[data-testid=stCode]').length >= 9",
    "12. Inside the heads": "() => document.querySelectorAll('[data-testid=stDataFrame]').length >= 3"
                            " && document.querySelector('[data-testid=stPlotlyChart] .js-plotly-plot') !== null",
}


@pytest.mark.bench
def test_first_render_of_the_heavy_pages_on_a_fresh_server(page, tmp_path):
    """Compare, Speak like them and Inside the heads, each on a fresh server with every shipped run
    (what `make run` opens on), Home read first (drawn whole, its chart too: the first chart loads
    Plotly): seconds from the sidebar click to the page drawn and the script done."""
    root = tmp_path / "runs"
    shutil.copytree(ROOT / "checkpoints", root, ignore=shutil.ignore_patterns("latest.pt", "trainer.lock", "*.log"))
    page.set_viewport_size({"width": 1400, "height": 1000})
    seconds = {}
    for link, drawn in FIRST_RENDERS.items():
        proc, url = start_server(root)
        try:
            page.goto(url)
            page.wait_for_selector("[data-testid=stDataFrame]", timeout=60_000)  # Home's models table
            page.wait_for_selector("[data-testid=stPlotlyChart] svg.main-svg", timeout=60_000)  # and its chart
            wait_idle(page)
            t0 = time.perf_counter()
            nav_link(page, link).click()
            page.wait_for_function(drawn, timeout=120_000)
            seconds[link.split(". ", 1)[1]] = idle_since(page, t0)
            assert page.locator("[data-testid=stException]").count() == 0
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "first-renders.json").write_text(json.dumps({"machine": machine(), "first_render_s": seconds},
                                                           indent=1))
    print("\nfirst render on a fresh server: " + ", ".join(f"{k} {v:.2f} s" for k, v in seconds.items()))
