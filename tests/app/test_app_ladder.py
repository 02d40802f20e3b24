"""AppTest of the "Build it up" page: the ladder from the runs on disk, the chart's lines, a bad
start request is a message."""
from __future__ import annotations

from core.lessons import ladder
from tests.apptest_helpers import figures, open_page

PAGE = "ladder"


def _page():
    at = open_page(PAGE)
    assert not at.exception, at.exception
    return at


def test_the_page_shows_every_rung_and_the_chart():
    at = _page()
    assert at.title[0].value.startswith("7. Build it up")
    assert [e.label for e in at.expander][:len(ladder.RUNGS)] == [
        f"{r.number}. {r.title}" + (" (needs a GPU)" if r.gpu else "") for r in ladder.RUNGS]
    table = at.dataframe[0].value
    assert list(table["rung"]) == [r.number for r in ladder.RUNGS]
    charts = figures(at)
    names = [t.get("name") for t in charts[0]["data"]]
    assert "the lecture (tiny Shakespeare)" in names and "Barack Obama" in names
    lecture = next(t for t in charts[0]["data"] if t.get("name", "").startswith("the lecture"))
    assert lecture["y"][0] == 2.5 and lecture["y"][-1] == 1.48
    assert any(n and n.startswith("count bigram, Barack Obama") for n in names)  # a line per speaker, in the legend
    assert charts[0]["layout"].get("shapes")  # the uniform guess


def test_starting_without_speakers_is_a_message():
    at = _page()
    at.multiselect(key="ladder_speakers").set_value([]).run()
    at.button(key="ladder_train").click().run()
    assert not at.exception
    assert any("choose at least one speaker" in e.value for e in at.error)


def test_a_fourth_speakers_rungs_are_named_and_shown_once_started_here(tmp_path, monkeypatch):
    monkeypatch.setenv("PODIUM_CHECKPOINTS", str(tmp_path))
    r = ladder.train_rung("Abraham Lincoln", ladder.BY_NUMBER[1], tmp_path, max_iters=3)
    assert r.status == "finished"
    at = _page()
    assert any("Abraham Lincoln" in c.value for c in at.caption)  # on disk, not in the sidebar: named
    assert "Abraham Lincoln" not in at.dataframe[0].value.columns
    at.session_state["ladder_started"] = ["Abraham Lincoln"]  # what Train in the background records
    at.run()
    assert not at.exception
    table = at.dataframe[0].value
    assert "Abraham Lincoln" in table.columns and table["Abraham Lincoln"].notna().sum() == 1
