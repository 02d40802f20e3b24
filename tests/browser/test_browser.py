"""Real browser: Playwright driving Debian's chromium against a live `streamlit run app.py`. (Every
page renders without an exception: tests/browser/test_browser_overlap.py walks each one by the Next
links and checks that, and what it draws.)"""
from __future__ import annotations

import json

import pytest
from browser_helpers import MOSAIC_T, RESULTS, SOFTMAX_T, T_SLIDER, describe, open_attention, slider_latency

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(shipped_server):
    """The session's server on a copy of the shipped trained models (so nothing touches checkpoints/)."""
    return shipped_server[0]


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
