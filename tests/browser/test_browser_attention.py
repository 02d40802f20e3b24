"""Real browser: the Attention explorer draws what the model computes. Hovering a cell shows the
value of a forward pass of exactly T characters (the browser cut it from one longer pass); a click
on the layer x head grid picks that head; the encoder view and T past block_size are drawn from
the server's pass for that T."""
from __future__ import annotations

import re

import pytest
from browser_helpers import MOSAIC_T, SOFTMAX_T, SOURCE, T_SLIDER, open_attention

from core.probe.attention_view import attention_view
from core.runs import checkpoints as ck

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(shipped_server):
    """The session's server on a copy of the shipped models (conftest.shipped_server)."""
    return shipped_server


def shown_run(page, root):
    """The model the page names ("Showing <run>"), loaded from the server's folder."""
    name = re.search(r"Showing (\S+)", page.locator("[data-testid=stMain]").inner_text())[1].rstrip(".,;:")
    return ck.load_model(root / name)


def hover(page, name: str, i: int, j: int) -> str:
    """Hover cell (row i, column j) of the stage map called name; the tooltip's text."""
    names = page.eval_on_selector_all("canvas.pa-stage", "cs => cs.map(c => c.dataset.name)")
    cv = page.locator("canvas.pa-stage").nth(next(k for k, n in enumerate(names) if name in n))
    T = int(cv.get_attribute("data-t"))
    left, top, cell = 64, 64, 300 / T  # the explorer's margins and plot size (ui/attention/widget.js)
    cv.hover(position={"x": left + (j + 0.5) * cell, "y": top + (i + 0.5) * cell})
    return page.locator(".pa-tip").inner_text()


def value(tip: str) -> float:
    return float(re.search(r"(?:weight|affinity) (-?[\d.]+)", tip)[1])


def test_hover_shows_the_forward_pass_of_exactly_T_characters(page, server):
    url, root = server
    page.set_viewport_size({"width": 1400, "height": 1200})
    open_attention(page, url)
    slider = page.get_by_role("slider", name=T_SLIDER)
    slider.focus()
    for _ in range(12):
        page.keyboard.press("ArrowLeft")
    page.wait_for_function(f"() => ({SOFTMAX_T})() === 20 && ({MOSAIC_T})() === 20", timeout=30_000)
    assert page.evaluate(SOURCE) == "browser"
    text = page.locator("textarea").first.input_value()
    loaded = shown_run(page, root)
    want = attention_view(loaded.model, loaded.tokenizer, text, 20)
    tip = hover(page, "softmax", 13, 5)
    assert f"query {want.labels[13]}" in tip and f"key {want.labels[5]}" in tip
    assert value(tip) == pytest.approx(float(want.weights[0, 0, 13, 5]), abs=2e-4)
    tip = hover(page, "q @ k^T", 7, 2)
    assert value(tip) == pytest.approx(float(want.scores[0, 0, 7, 2]), abs=2e-3)

    grid = page.locator("canvas.pa-mosaic")  # layer 2, head 3: its tile's middle
    grid.click(position={"x": 60 + 2 * 160 + 75, "y": 24 + 1 * 160 + 75})
    page.wait_for_function("() => document.querySelector('.pa-root').dataset.layer === '1' "
                           "&& document.querySelector('.pa-root').dataset.head === '2'", timeout=10_000)
    assert "layer 2, head 3" in page.locator(".pa-h").first.inner_text()
    assert value(hover(page, "softmax", 13, 5)) == pytest.approx(float(want.weights[1, 2, 13, 5]), abs=2e-4)


def test_encoder_view_and_cropping_are_drawn_from_the_server(page, server):
    url, root = server
    page.set_viewport_size({"width": 1400, "height": 1200})
    open_attention(page, url)
    page.locator("[data-testid=stButtonGroup]").get_by_text("encoder (no mask)").click()
    page.wait_for_function("() => document.querySelector('.pa-root').dataset.source === 'server'", timeout=60_000)
    slider = page.get_by_role("slider", name=T_SLIDER)
    slider.focus()
    page.keyboard.press("ArrowLeft")  # T = 31: not held by the browser in the encoder view
    page.wait_for_function(f"() => ({SOFTMAX_T})() === 31 && ({MOSAIC_T})() === 31", timeout=60_000)
    assert page.evaluate(SOURCE) == "server" and "on the server" in page.locator(".pa-note").first.inner_text()
    text = page.locator("textarea").first.input_value()
    loaded = shown_run(page, root)
    want = attention_view(loaded.model, loaded.tokenizer, text, 31, causal=False)
    assert value(hover(page, "softmax", 2, 20)) == pytest.approx(float(want.weights[0, 0, 2, 20]), abs=2e-4)
    assert float(want.weights[0, 0, 2, 20]) > 0  # the encoder sees the future

    page.locator("[data-testid=stButtonGroup]").get_by_text("decoder (causal)").click()
    page.wait_for_function("() => document.querySelector('.pa-root').dataset.source === 'browser'", timeout=60_000)
    slider.focus()
    page.keyboard.press("End")
    page.wait_for_function(f"() => ({SOFTMAX_T})() === 64 && document.querySelector('.pa-root').dataset.source "
                           "=== 'server'", timeout=60_000)
    assert "cropped" in page.locator(".pa-warn").inner_text()
    assert page.locator("[data-testid=stException]").count() == 0
