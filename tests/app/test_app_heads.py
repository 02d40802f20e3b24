"""AppTest: the "Inside the heads" page on the shipped speaker models: labels and scores, ablation
(per speaker and who said it), the logit lens and the embedding maps; bad input gives messages."""
import re
import shutil

import pytest
from apptest_helpers import (
    assert_no_raw_numbers,
    assert_percentages_sum_to_100,
    figures,
    open_page,
    page_text,
    percent_bounds,
)
from conftest import ROOT

SHIPPED = ("barack-obama-gpt-tiny", "donald-j-trump-gpt-tiny", "joseph-r-biden-jr-gpt-tiny")


@pytest.fixture(scope="module")
def runs_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("heads-runs")
    for name in SHIPPED:
        shutil.copytree(ROOT / "checkpoints" / name, root / name)
    return root


@pytest.fixture(scope="module")
def page(runs_root):
    mp = pytest.MonkeyPatch()
    mp.setenv("PODIUM_CHECKPOINTS", str(runs_root))
    at = open_page("heads", timeout=120)
    yield at
    mp.undo()


def frames(at):
    return [d.value for d in at.dataframe]


def test_heads_are_labelled_and_the_previous_char_head_is_found(page):
    assert page.selectbox(key="heads_model").value.startswith("barack-obama-gpt-tiny")
    heads = frames(page)[0]
    assert len(heads) == 16 and set(heads.columns) >= {"head", "does", "score", "previous char", "induction"}
    best = heads.loc[heads["previous char"].idxmax()]
    assert best["head"].startswith("L1") and best["does"] == "previous char" and best["score"] > 0.5
    assert ((heads["score"] >= 0) & (heads["score"] <= 1)).all()


def test_ablation_shows_the_change_per_speaker_and_who_said_it(page):
    assert page.multiselect(key="heads_knocked").value == [(0, 1)]  # the clearest head, L1 H2
    abl = frames(page)[1]
    assert list(abl["speaker's val text"]) == ["Barack Obama", "Donald J. Trump", "Joseph R. Biden Jr."]
    assert (abl["change (nats)"] > 0.3).all()  # the previous-char head matters on every text
    who = frames(page)[2]
    assert len(who) == 3
    assert_percentages_sum_to_100(list(who["P(model | passage)"]))
    assert_percentages_sum_to_100(list(who["after ablation"]))
    obama = who[who["model"] == "Barack Obama"].iloc[0]
    assert percent_bounds(obama["after ablation"])[1] < percent_bounds(obama["P(model | passage)"])[0]
    page.multiselect(key="heads_knocked").set_value([]).run()
    abl = frames(page)[1]
    assert (abl["change (nats)"] == 0).all()  # ablating nothing changes nothing
    page.radio(key="heads_mode").set_value("zero").run()
    page.multiselect(key="heads_knocked").set_value([(3, 2)]).run()
    assert not page.exception and "zeros" in page_text(page)


def test_numbers_are_printed_as_numbers(page):
    """The who-said-it table shows percentages (ui.fmt.pct: "< 0.1%", never 9e-29 or 0.0000...0009),
    its losses with three decimals, and no table on the page shows None."""
    who = frames(page)[2]
    for col in ("P(model | passage)", "after ablation"):
        assert all(p.endswith("%") and "e-" not in p and "0000" not in p for p in who[col]), list(who[col])
    assert all(re.fullmatch(r"\d+\.\d{3}", x) for col in ("nats/char", "after (nats/char)") for x in who[col])
    assert "< 0.1%" in set(who["P(model | passage)"]) | set(who["after ablation"])  # a 300-character passage is sure
    lens = frames(page)[3]
    assert all(re.fullmatch(r".+ (< 0\.1|> 99\.9|\d{1,3}(\.\d)?)%", c) for c in lens["#1"]), list(lens["#1"])
    assert_no_raw_numbers(page)
    page.toggle(key="heads_worth").set_value(True).run()
    assert_no_raw_numbers(page)
    page.toggle(key="heads_worth").set_value(False).run()


def test_worth_column_and_lens_and_maps(page):
    page.toggle(key="heads_worth").set_value(True).run()
    heads = frames(page)[0]
    assert heads.loc[heads["worth (nats)"].idxmax(), "head"] == "L1 H2"
    lens = frames(page)[3]
    assert list(lens["readout of"]) == ["embeddings", "layer 1", "layer 2", "layer 3", "layer 4"]
    page.slider(key="heads_lens_pos").set_value(10).run()
    assert "P(next)" in frames(page)[3].columns
    names = [f["layout"].get("title", {}).get("text", "") for f in figures(page)]
    assert any("Token embeddings" in n for n in names) and any("Position embeddings" in n for n in names)
    emb = next(f for f in figures(page) if "Token embeddings" in f["layout"]["title"]["text"])
    titles = [a["text"] for a in emb["layout"]["annotations"]]  # each map: its speaker, then how it was made
    assert titles == [f"{s}<br>from scratch" for s in ("Barack Obama", "Donald J. Trump", "Joseph R. Biden Jr.")]
    assert all(name in page_text(page) for name in SHIPPED)  # the caption names each map's run
    page.toggle(key="heads_worth").set_value(False).run()


def test_bad_probe_and_passage_give_messages(page):
    probe = [t for t in page.text_input if t.key.startswith("heads_probe")][0]
    probe.set_value("snow ☃").run()
    assert not page.exception and "vocabulary" in page_text(page)
    passage = [t for t in page.text_area if t.key.startswith("heads_passage")][0]
    passage.set_value("☃☃").run()
    assert not page.exception and "☃" in page_text(page)


def test_no_trained_model_says_how_to_train(tmp_path, monkeypatch):
    monkeypatch.setenv("PODIUM_CHECKPOINTS", str(tmp_path))
    at = open_page("heads")
    assert "No trained GPT yet" in page_text(at)
