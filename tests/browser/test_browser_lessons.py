"""Real browser: the Bigram page trains its bigram in the background and shows the one-hot lookup and
the counting sections; the Attention page's "token + position" and "story of one character" sections
render, and the position slider picks the character followed. Screenshots in test-results/."""
from __future__ import annotations

import pytest
from browser_helpers import shot, wait_idle

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(shipped_server):
    """The session's server on a copy of the shipped models (conftest.shipped_server); the bigram
    this module trains is written beside them."""
    return shipped_server[0]


def no_exception(page) -> None:
    errors = page.locator("[data-testid=stException]")
    assert errors.count() == 0, errors.first.inner_text()


def test_bigram_trains_in_the_background_then_shows_the_lessons(page, server):
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(f"{server}/bigram")
    page.wait_for_selector("h1:has-text('Bigram')", timeout=60_000)
    wait_idle(page)
    page.get_by_text("Counting does not scale with context").wait_for(timeout=60_000)
    page.get_by_label("Training steps", exact=True).fill("300")
    page.get_by_label("Training steps", exact=True).press("Enter")
    wait_idle(page)
    page.get_by_role("button", name="Train the bigram").click()
    page.get_by_text("in the background: step").first.wait_for(timeout=60_000)   # the fragment's progress
    page.get_by_text("Trained barack-obama-bigram").wait_for(timeout=120_000)     # polled to the end, reloaded
    page.get_by_text("One-hot times a matrix is a lookup").wait_for(timeout=60_000)
    wait_idle(page)
    assert page.get_by_text("= True").count() >= 1
    assert page.get_by_text("exactly these").count() == 1
    no_exception(page)
    page.get_by_text("One-hot times a matrix is a lookup").scroll_into_view_if_needed()
    shot(page, "bigram-lessons.png")


def test_attention_story_sections_and_the_position_slider(page, server):
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(f"{server}/attention")
    page.wait_for_selector("h1:has-text('Self-attention')", timeout=60_000)
    page.get_by_text("The story of one character").wait_for(timeout=60_000)
    wait_idle(page)
    no_exception(page)
    position = page.get_by_role("slider", name="Position (1 = first character)")
    assert position.input_value() == "16"                                 # the last character of T = 16
    page.get_by_text("Pick the position with the slider").scroll_into_view_if_needed()
    position.focus()
    page.keyboard.press("Home")                                           # the first character
    page.get_by_text("attends to 1 character:").wait_for(timeout=30_000)
    wait_idle(page)
    no_exception(page)
    page.get_by_text("Token + position").scroll_into_view_if_needed()
    shot(page, "attention-story.png")
