"""AppTest: the Compare page's matrix is evaluate_run for every (model, speaker) pair, it says in
words whether each speaker's own model wins, and "who said it" guesses with escaped, coloured text."""
from __future__ import annotations

import numpy as np
import pytest
from apptest_helpers import decode, figures, heatmaps, open_page, page_text
from helpers import BIDEN, OBAMA, SHIPPED, TRUMP, copy_shipped, one_thread  # noqa: F401 (autouse)

from core.runs.evaluate import evaluate_run

NAMES = SHIPPED
SPEAKERS = list(NAMES)


@pytest.fixture(scope="module")
def runs_root(tmp_path_factory):
    """The shipped tiny GPT of each default speaker, in a runs folder of their own."""
    return copy_shipped(tmp_path_factory.mktemp("compare-page-runs"))


@pytest.fixture
def cmp(runs_root, monkeypatch):
    monkeypatch.setenv("PODIUM_CHECKPOINTS", str(runs_root))
    return open_page("compare")


def matrix(at) -> np.ndarray:
    return [z for title, z in heatmaps(at) if title.startswith("val loss")][0]


def surprisal_rows(at) -> list[str]:
    return [el.proto.body for el in at.get("html") if "white-space:pre-wrap" in el.proto.body]


def test_matrix_is_evaluate_run_for_every_pair(cmp, runs_root):
    z = matrix(cmp)
    assert z.shape == (3, 3)
    for i, model_speaker in enumerate(SPEAKERS):
        for j, text_speaker in enumerate(SPEAKERS):
            expected = evaluate_run(NAMES[model_speaker], text_speaker, root=runs_root)["val_loss"]
            assert z[i, j] == pytest.approx(expected, abs=1e-5)   # the figure holds float32
    fig = [f for f in figures(cmp) if f["layout"]["title"]["text"].startswith("val loss")][0]
    assert fig["data"][0]["y"] == SPEAKERS and fig["data"][0]["x"] == SPEAKERS
    boxes = fig["layout"]["shapes"]
    assert sorted((b["x0"] + 0.5, b["y0"] + 0.5) for b in boxes) == [(0, 0), (1, 1), (2, 2)]  # the diagonal
    text = fig["data"][0]["text"]
    for i in range(3):
        assert sum("★" in cell for cell in text[i]) == 1                           # each row's best
        assert "★" in text[i][int(np.argmin(z[i]))]


def test_the_verdict_is_in_words(cmp):
    z = matrix(cmp)
    text = page_text(cmp)
    assert "Does each speaker's own model score that speaker's text best?" in text
    wins = sum(int(np.argmin(z[:, j])) == j for j in range(3))
    assert f"{'Yes' if wins == 3 else 'No'}: {wins} of 3." in text
    for j, s in enumerate(SPEAKERS):
        assert (f"**{s}**: their own model scores their text best" in text) == (int(np.argmin(z[:, j])) == j)


def test_who_said_it_guesses_from_a_real_excerpt(cmp):
    text = page_text(cmp)
    assert "Guess: **" in text and "It really is Barack Obama." in text
    guess = [f for f in figures(cmp) if "P(speaker | passage)" in f["layout"]["title"]["text"]][0]["data"][0]
    probs = decode(guess["y"])
    assert list(guess["x"]) == SPEAKERS and probs.sum() == pytest.approx(1.0, abs=1e-6)
    best = SPEAKERS[int(np.argmax(probs))]
    assert f"Guess: **{best}**" in text
    rows = surprisal_rows(cmp)
    assert len(rows) == 3                                   # one coloured row per model
    assert all("background:#" in r for r in rows)


def test_another_excerpt_and_a_pasted_passage(cmp):
    cmp.selectbox(key="compare_source").set_value(TRUMP).run()
    assert "It really is Donald J. Trump." in page_text(cmp)
    key = f"compare_passage_{TRUMP}"
    cmp.text_area(key=key).set_value('Tom & "Jerry" said: we will win, and win, and win again.').run()
    assert not cmp.exception
    assert "Guess: **" in page_text(cmp) and "It really is" not in page_text(cmp)
    row = surprisal_rows(cmp)[0]
    assert "&amp;" in row and "&quot;" in row and '"Jerry"' not in row          # escaped
    assert row.count("<span") == len('Tom & "Jerry" said: we will win, and win, and win again.')


def test_bad_passages_are_messages(cmp):
    key = f"compare_passage_{OBAMA}"
    cmp.text_area(key=key).set_value("A snowman ☃ speaks").run()
    assert not cmp.exception and "☃" in page_text(cmp) and "vocabulary" in page_text(cmp)
    cmp.text_area(key=key).set_value("   ").run()
    assert not cmp.exception and "empty" in page_text(cmp)
    cmp.text_area(key=key).set_value("A").run()
    assert not cmp.exception and "at least two characters" in page_text(cmp)


def test_a_speaker_without_a_model_has_no_row(runs_root, monkeypatch):
    monkeypatch.setenv("PODIUM_CHECKPOINTS", str(runs_root))
    at = open_page("compare")
    at.session_state["podium_speakers"] = [OBAMA, TRUMP, "Abraham Lincoln"]
    at.run()
    assert not at.exception
    assert "No finished GPT trained on Abraham Lincoln alone" in page_text(at)
    z = matrix(at)
    assert z.shape == (2, 3)                                  # two models, three texts
    for i, s in enumerate([OBAMA, TRUMP]):   # Lincoln's text is still scored by every model
        assert z[i, 2] == pytest.approx(evaluate_run(NAMES[s], "Abraham Lincoln", root=runs_root)["val_loss"], abs=1e-5)


def test_no_model_is_a_clear_message(tmp_path, monkeypatch):
    monkeypatch.setenv("PODIUM_CHECKPOINTS", str(tmp_path))
    at = open_page("compare")
    assert not at.exception
    assert "nothing to compare" in page_text(at)
    assert not heatmaps(at)
