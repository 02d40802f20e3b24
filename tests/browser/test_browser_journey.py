"""Real browser: the Next links alone walk from Home through every step to the last, each page under its
own numbered heading, and a part of the sidebar's GPT diagram opens the page that teaches it, all in one
session (no reload: st.page_link switches pages in place)."""
from __future__ import annotations

import pytest
from browser_helpers import wait_idle
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from ui.pages import PAGES, STEPS

pytestmark = pytest.mark.browser
HEADINGS = [p.heading if i == 0 else f"{i}. {p.heading}" for i, p in enumerate(PAGES)]
H1_IS = "h => ((document.querySelector('h1') || {}).innerText || '').trim() === h"


def arrive(page, heading: str) -> None:
    try:
        page.wait_for_function(H1_IS, arg=heading, timeout=120_000)
    except PlaywrightTimeout as e:
        shown = page.evaluate("() => Array.from(document.querySelectorAll('h1')).map(h => h.innerText)")
        raise AssertionError(f"waiting for {heading!r}, the page shows {shown} at {page.url}") from e
    wait_idle(page, timeout=120_000)
    errors = page.locator("[data-testid=stException]")
    assert errors.count() == 0, f"{heading}: {errors.first.inner_text()}"


def test_next_links_walk_every_step_and_the_diagram_links_its_parts(page, app_server):
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(app_server)
    arrive(page, HEADINGS[0])
    page.evaluate("() => { window.__sameSession = true; }")  # gone if anything reloads the page
    for heading, step in zip(HEADINGS[1:], STEPS, strict=True):
        nxt = page.locator(".st-key-journey_next").get_by_role("link")
        assert nxt.inner_text().strip().endswith(f"Next: {step.title} →"), nxt.inner_text()
        nxt.click()
        arrive(page, heading)
    back = page.locator(".st-key-journey_next").get_by_role("link")
    assert "Back to Home" in back.inner_text()

    # on the last step (Inside the heads), the diagram's "attention heads" opens the Attention page
    diagram = page.get_by_test_id("stSidebar").get_by_test_id("stExpander").filter(has_text="The GPT, part by part")
    diagram.get_by_role("link", name="attention heads").click()
    arrive(page, HEADINGS[6])
    assert page.url.rstrip("/").endswith("/attention")
    assert page.evaluate("() => window.__sameSession === true"), "a link reloaded the app (a new session)"
