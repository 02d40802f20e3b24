"""Real browser: the "Inside the heads" page on the shipped models renders its table, lens and maps
without an exception; its first render (scores computed) and a cached re-render are timed and a
screenshot is kept in test-results/."""
from __future__ import annotations

import json
import shutil
import time

import pytest
from browser_helpers import RESULTS, nav_link, shot, wait_idle
from conftest import ROOT, start_server

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("heads-browser-runs")
    for run in (ROOT / "checkpoints").glob("*-gpt-tiny"):
        shutil.copytree(run, root / run.name)
    proc, url = start_server(root)
    yield url
    proc.terminate()
    proc.wait(timeout=10)


def open_heads(page, server) -> float:
    """Go Home, then to the page by its sidebar link; seconds from the click to the heads table."""
    page.goto(server)
    wait_idle(page)
    t0 = time.perf_counter()
    nav_link(page, "12. Inside the heads").click()
    page.wait_for_selector("h1:has-text('12. Inside the heads')", timeout=60_000)
    page.wait_for_selector("[data-testid=stDataFrame]", timeout=60_000)
    seconds = time.perf_counter() - t0
    wait_idle(page, timeout=120_000)
    return seconds


def test_heads_page_renders_and_is_timed(page, server):
    page.set_viewport_size({"width": 1400, "height": 1000})
    first = open_heads(page, server)
    page.wait_for_selector("[data-testid=stPlotlyChart] .js-plotly-plot", timeout=60_000)
    errors = page.locator("[data-testid=stException]")
    assert errors.count() == 0, errors.first.inner_text()
    assert page.locator("h2:has-text('What each head does')").count() == 1
    assert page.locator("[data-testid=stDataFrame]").count() >= 3  # heads, ablation, who said it, lens
    RESULTS.mkdir(exist_ok=True)
    shot(page, "page-heads.png")
    cached = open_heads(page, server)
    (RESULTS / "heads-render.json").write_text(json.dumps({"first_s": first, "cached_s": cached}))
    print(f"\nInside the heads: table after {first:.2f} s (first render), {cached:.2f} s (cached)")
    assert cached <= first + 1.0
