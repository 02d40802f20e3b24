"""AppTest: every page opens with its numbered heading and a "What to notice" box, ends with a link to
the next step (also when it stops early for want of a model), and the sidebar draws the GPT part by part
with what the page teaches lit, each part linking to the page that teaches it."""
from __future__ import annotations

from pathlib import Path

import pytest
from apptest_helpers import open_page

from ui.pages import HOME, PAGES, PARTS, STEPS, following, info, page_of


@pytest.fixture(autouse=True)
def _checkpoints(monkeypatch, tmp_path):
    monkeypatch.setenv("PODIUM_CHECKPOINTS", str(tmp_path))  # no trained model: pages that need one stop early


def footer(at):
    """The page's last element in the main area, and the link inside it."""
    last = list(at.main.children.values())[-1]
    links = last.get("page_link")
    assert len(links) == 1, f"the main area does not end with the Next link: {last}"
    return links[0]


def diagram(at) -> list:
    return list(at.sidebar.get("page_link"))


def test_following_walks_home_to_the_last_step_once_each():
    seen, page = [HOME], following(HOME.path)
    while page is not None:
        assert page not in seen, f"{page.title} comes twice"
        seen.append(page)
        page = following(page.path)
    assert seen == PAGES and seen[1] == STEPS[0] and seen[-1] == STEPS[-1]
    assert seen[-1].title.startswith(f"{len(STEPS)}. ")


def test_trick_opens_with_what_to_notice_and_links_to_attention():
    at = open_page("trick")
    trick = info("app_pages/trick.py")
    assert at.title[0].value == "5. The trick"
    assert any(trick.notice in m.value and "What to notice" in m.value for m in at.markdown)
    assert any(c.value.startswith(f"Lecture chapter: {trick.chapter}") for c in at.caption)
    link = footer(at)
    assert link.value.startswith("Next: 6. Attention") and link.proto.page.endswith("attention")


def test_home_has_no_number_and_links_to_step_one():
    at = open_page("home")
    assert at.title[0].value == HOME.heading
    assert not any("What to notice" in m.value for m in at.markdown)
    assert footer(at).value.startswith(f"Next: {STEPS[0].title}")


def test_a_page_that_stops_early_still_ends_with_its_link():
    """Heads with no trained GPT says so and calls st.stop(); the last step links back to Home."""
    at = open_page("heads")
    assert at.title[0].value == "12. Inside the heads"
    assert "No trained GPT yet" in at.info[0].value
    link = footer(at)
    assert link.value == "Back to Home" and link.proto.page == ""  # Home is the default page: the app's root


def test_the_diagram_lights_what_the_page_teaches_and_links_each_part():
    at = open_page("attention")
    links = diagram(at)
    assert len(links) == len(PARTS)
    lit = set(info("app_pages/attention.py").parts)
    for part, link in zip(PARTS, links, strict=True):
        assert part.label in link.value
        assert link.value.startswith("**:primary[") == (part.key in lit), (part.key, link.value)
        assert link.proto.page.endswith(Path(page_of(part.key).path).stem)
    home = open_page("home")
    assert not any(link.value.startswith("**") for link in diagram(home))  # Home teaches no part
