"""One colour per speaker (issue #23, "One speaker, many colours"): every chart builder that takes
speakers draws a speaker in ui.charts.speaker_color, for the default three and for a speaker of one's
own, and the Speeches page's charts (built in the page) do too. No model is trained or loaded."""
from __future__ import annotations

import pytest
from apptest_helpers import figures, open_page

from core.lessons.style import Distinctive
from core.text.corpus import DEFAULT_SPEAKERS
from ui.charts import PALETTE, REF_GREY, SPEAKER_COLORS, speaker_color
from ui.compare.style import words_figure
from ui.ladder.view import chart as ladder_chart
from ui.loss_chart import run_colors

SPEAKERS = [*DEFAULT_SPEAKERS, "Abraham Lincoln"]  # the last: a speaker without a colour of its own


def test_each_speaker_has_one_colour_of_its_own():
    colours = [speaker_color(s) for s in SPEAKERS]
    assert colours[:3] == [SPEAKER_COLORS[s] for s in DEFAULT_SPEAKERS]
    assert colours[3] in PALETTE and colours[3] == speaker_color("Abraham Lincoln")  # the same every time
    assert len(set(colours)) == len(colours) and REF_GREY not in colours


@pytest.mark.parametrize("speaker", SPEAKERS)
def test_every_builder_draws_a_speaker_in_its_colour(speaker):
    want = speaker_color(speaker)
    base = {s: {"uniform": 4.48, "count bigram": 2.4} for s in SPEAKERS}
    ladder = {t.name: t.line.color for t in ladder_chart([], SPEAKERS, base).data}
    assert ladder[speaker] == want
    assert ladder[next(n for n in ladder if n.startswith(f"count bigram, {speaker}:"))] == want
    assert run_colors([[s] for s in SPEAKERS])[SPEAKERS.index(speaker)] == want  # the Train page's loss chart
    words = words_figure(speaker, (Distinctive("nation", 5.0, 0.4, 30, 10, 1.2, 0.3),))
    assert words.data[0].marker.color == want


def test_the_speeches_page_draws_each_speaker_in_its_colour(monkeypatch, tmp_path):
    monkeypatch.setenv("PODIUM_CHECKPOINTS", str(tmp_path))
    at = open_page("speeches")
    assert not at.exception
    figs = figures(at)
    chars = [f for f in figs if f["data"][0].get("orientation") != "h"]  # one frequency chart per speaker
    assert [f["data"][0]["marker"]["color"] for f in chars] == [speaker_color(s) for s in DEFAULT_SPEAKERS]
    split = next(f for f in figs if f["data"][0].get("orientation") == "h")
    train = next(t for t in split["data"] if t["name"] == "train")
    assert train["marker"]["color"] == [speaker_color(s) for s in train["y"]]
