"""AppTest: the Compare page's "Style you can read" section shows core.lessons.style's distinctive words (bars
and tables, with the counts behind them) and the style figures side by side for the sidebar's
speakers, with no model trained; the slider sets how many words; a text with no words is a message."""
from __future__ import annotations

import pytest
from apptest_helpers import decode, figures, open_page, page_text

from core.lessons import style
from core.text.corpus import DEFAULT_SPEAKERS
from ui import state
from ui.compare.style import K_KEY, OPEN_KEY

OBAMA, TRUMP, BIDEN = DEFAULT_SPEAKERS
EXPANDER = "**Style you can read**"


@pytest.fixture(autouse=True)
def _empty_folders(monkeypatch, tmp_path):
    """No trained model (the section needs none) and a data/ folder of the test's own."""
    monkeypatch.setenv("PODIUM_CHECKPOINTS", str(tmp_path / "checkpoints"))
    monkeypatch.setenv("PODIUM_DATA", str(tmp_path / "data"))
    state.speaker_names.clear()
    yield
    state.speaker_names.clear()


@pytest.fixture(scope="module")
def expected() -> style.StyleReport:
    return style.style_report(list(DEFAULT_SPEAKERS), k=10)


def word_bars(at) -> dict[str, tuple[list[str], list[float]]]:
    """speaker -> (words, z) read back from each horizontal bar chart of the section."""
    out = {}
    for fig in figures(at):
        trace = fig["data"][0]
        if trace.get("type") == "bar" and trace.get("orientation") == "h":
            out[fig["layout"]["title"]["text"]] = (list(trace["y"]), decode(trace["x"]).tolist())
    return out


def section(at):
    return next(e for e in at.expander if e.label.startswith(EXPANDER))


def opened(at):
    """The section opened, as a click on it does: the page reruns with it open."""
    at.session_state[OPEN_KEY] = True
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def test_a_closed_section_computes_nothing():
    at = open_page("compare", timeout=120)
    assert section(at).label.startswith(EXPANDER) and word_bars(at) == {}
    assert not section(at).children


def test_distinctive_words_and_figures_side_by_side(expected):
    at = opened(open_page("compare", timeout=120))
    assert not at.error
    bars = word_bars(at)
    assert list(bars) == list(DEFAULT_SPEAKERS)
    for name in DEFAULT_SPEAKERS:
        words, z = bars[name]
        assert words == [d.word for d in expected.distinctive[name]]
        assert z == pytest.approx([d.z for d in expected.distinctive[name]], rel=1e-6)
    tables = [df.value for df in section(at).dataframe]
    assert len(tables) == 4                                    # a word table per speaker + the figures
    for name, table in zip(DEFAULT_SPEAKERS, tables):
        assert table["word"].tolist() == [d.word for d in expected.distinctive[name]]
        assert table["said"].tolist() == [d.count for d in expected.distinctive[name]]
        assert table["others"].tolist() == pytest.approx([d.rest_per_1000 for d in expected.distinctive[name]])
    figs = tables[-1]
    assert list(figs.columns) == list(DEFAULT_SPEAKERS)
    for f in expected.figures:
        assert figs.loc["words", f.speaker] == f"{f.words:,}"
        assert figs.loc['"I", "me", "my" per 1,000 words', f.speaker] == f"{f.i_per_1000:.1f}"
        assert figs.loc["questions per 1,000 words", f.speaker] == f"{f.questions_per_1000:.2f}"
        assert figs.loc["words per sentence (mean)", f.speaker] == f"{f.words_per_sentence:.1f}"
    text = page_text(at)
    assert 'Barack Obama: "the", "to", "and", "of"' in text      # raw counts, shown failing
    assert "Fightin' Words" in text and "log-odds ratio" in text
    assert f"Against {TRUMP} + {BIDEN};" in text


def test_the_slider_sets_the_number_of_words():
    at = opened(open_page("compare", timeout=120))
    at.slider(key=K_KEY).set_value(5).run()
    assert not at.exception
    bars = word_bars(at)
    assert [len(w) for w, _ in bars.values()] == [5, 5, 5]
    assert bars[BIDEN][0] == [d.word for d in style.style_report(list(DEFAULT_SPEAKERS), k=5)
                              .distinctive[BIDEN]]


def test_one_speaker_is_compared_with_every_other_address():
    at = opened(open_page("compare", timeout=120))
    at.multiselect(key=state.SPEAKERS).set_value([TRUMP]).run()
    assert not at.exception
    assert list(word_bars(at)) == [TRUMP]
    assert "Against every other State of the Union address;" in page_text(at)


def test_a_text_with_no_words_is_a_message(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "ledger.txt").write_text("1990 2000 2010 " * 20, encoding="utf-8")
    at = opened(open_page("compare", timeout=120))
    at.multiselect(key=state.SPEAKERS).set_value([OBAMA, "ledger"]).run()
    assert not at.exception
    assert [e.value for e in section(at).error] == ["ledger: the text has no words to measure"]
    assert word_bars(at) == {}
