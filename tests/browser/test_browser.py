"""Real browser: Playwright driving Debian's chromium against a live `streamlit run app.py`."""
from __future__ import annotations

import json

import pytest
from browser_helpers import MOSAIC_T, RESULTS, SOFTMAX_T, T_SLIDER, describe, open_attention, slider_latency, wait_idle

pytestmark = pytest.mark.browser
PAGES = ["", "speeches", "tokens", "batches", "bigram", "trick", "attention", "train", "generate", "compare"]


@pytest.fixture(scope="module")
def server(shipped_server):
    """The session's server on a copy of the shipped trained models (so nothing touches checkpoints/)."""
    return shipped_server[0]


@pytest.mark.parametrize("path", PAGES)
def test_every_page_renders_without_exception(page, server, path):
    RESULTS.mkdir(exist_ok=True)
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(f"{server}/{path}")
    wait_idle(page)
    page.wait_for_selector("h1", timeout=60_000)
    if path == "attention":
        page.wait_for_function(f"() => ({SOFTMAX_T})() > 0 && ({MOSAIC_T})() > 0", timeout=60_000)
    errors = page.locator("[data-testid=stException]")
    assert errors.count() == 0, errors.first.inner_text()
    page.screenshot(path=str(RESULTS / f"page-{path or 'home'}.png"), full_page=True)


def test_attention_slider_redraws_heatmap_and_latency(page, server):
    """The heatmaps follow the slider, past block_size the view is cropped, and the latency from
    a key press to the redrawn heatmap is measured and recorded (reported, not asserted)."""
    page.set_viewport_size({"width": 1400, "height": 1000})
    open_attention(page, server)
    slider = page.get_by_role("slider", name=T_SLIDER)
    assert page.evaluate(SOFTMAX_T) == page.evaluate(MOSAIC_T) == int(slider.input_value())
    result = slider_latency(page)
    slider.focus()
    page.keyboard.press("End")  # past block_size: the view is cropped to block_size
    page.wait_for_function(f"() => ({SOFTMAX_T})() === 64 && ({MOSAIC_T})() === 64", timeout=30_000)
    assert "cropped" in page.locator(".pa-warn").inner_text()
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "attention-latency.json").write_text(json.dumps(result, indent=1))
    print(f"\nattention slider -> heatmap, idle: {describe(result)}")
