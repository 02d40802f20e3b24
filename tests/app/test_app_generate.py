"""AppTest: the Generate page writes one column per speaker's model, reproducibly from the seed,
scores each text with every speaker's model (who said it, in percentages that sum to 100%), shows
the distribution behind any generated character, and turns bad input into messages."""
from __future__ import annotations

import html
import os
import re

import pytest
from apptest_helpers import assert_no_raw_numbers, assert_percentages_sum_to_100, figures, open_page, page_text
from helpers import (  # noqa: F401 (autouse)
    BIDEN,
    OBAMA,
    SHIPPED,
    TRUMP,
    copy_shipped,
    one_thread,
    speaker_data,
    tiny_train,
)

from core.config import preset
from core.lessons.attribution import who_said
from core.model.sampling import sample_text
from core.runs import checkpoints as ck
from core.runs.start import train

RESULT = "generate_result"
NAMES = SHIPPED


@pytest.fixture(scope="module")
def runs_root(tmp_path_factory):
    """The shipped tiny GPT of each default speaker, and an Obama bigram (60 steps), in a runs folder
    of their own."""
    root = copy_shipped(tmp_path_factory.mktemp("generate-runs"))
    data = speaker_data(OBAMA)
    cfg, _ = preset("bigram", data.tokenizer.vocab_size)
    train(data, cfg, tiny_train(max_iters=60, eval_interval=60, learning_rate=0.1, min_lr=0.01), root / "obama-bigram")
    return root


@pytest.fixture
def gen(runs_root, monkeypatch):
    monkeypatch.setenv("PODIUM_CHECKPOINTS", str(runs_root))
    return open_page("generate")


def shown_texts(at) -> list[str]:
    """The generated text of each column as drawn on the page (prompt span removed, unescaped)."""
    out = []
    for el in at.get("html"):
        m = re.match(r'<div style="white-space:pre-wrap.*?"><span style="color:#888">.*?</span>(.*)</div>$',
                     el.proto.body, re.S)
        if m:
            out.append(html.unescape(m.group(1)))
    return out


def who_tables(at) -> list:
    """The who-said-it table under each column, as shown (strings)."""
    return [df.value for df in at.dataframe if "P(said it)" in df.value.columns]


def assert_scores_sum_to_100(table, verdict) -> None:
    assert_percentages_sum_to_100(list(table["P(said it)"]))
    assert sum(verdict.probabilities.values()) == pytest.approx(1.0, abs=1e-9)
    assert list(table["model"]) == list(verdict.probabilities)


def generate(at, **settings):
    for key, value in settings.items():
        widget = at.text_input(key=f"generate_{key}") if key == "prompt" else at.number_input(key=f"generate_{key}")
        widget.set_value(value)
    at.button(key="generate_go").click().run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def test_each_speaker_column_gets_text_of_the_requested_length(gen, runs_root):
    generate(gen, length=40, prompt="We the people", seed=3)
    result = gen.session_state[RESULT]
    assert list(result["texts"]) == [OBAMA, TRUMP, BIDEN]
    assert all(len(t) == 40 for t in result["texts"].values())
    assert shown_texts(gen) == list(result["texts"].values())
    for speaker, text in result["texts"].items():  # exactly what the engine writes with that seed
        loaded = ck.load_model(NAMES[speaker], root=runs_root)
        assert text == sample_text(loaded.model, loaded.tokenizer, "We the people", 40, 1.0, None, seed=3)
    assert page_text(gen).count("40 characters generated") == 3


def test_every_speakers_model_scores_each_text(gen, runs_root):
    """Under each column, who said it: every speaker's model scores the generated characters, and
    the percentages shown sum to 100% (within their rounding), as who_said computes them."""
    generate(gen, length=120, prompt="We the people", seed=3)
    result = gen.session_state[RESULT]
    tables = who_tables(gen)
    assert len(tables) == 3 and result["notes"] == {}
    models = {s: ck.load_model(NAMES[s], root=runs_root) for s in (OBAMA, TRUMP, BIDEN)}
    for table, (label, text) in zip(tables, result["texts"].items()):
        verdict = result["verdicts"][label]
        assert list(table["model"]) == [OBAMA, TRUMP, BIDEN]
        expected = who_said({s: m.model for s, m in models.items()}, models[OBAMA].tokenizer, text)
        assert verdict.probabilities == pytest.approx(expected.probabilities, abs=1e-6)
        assert_scores_sum_to_100(table, verdict)
        assert f"Sounds most like **{verdict.guess}**" in page_text(gen)
    assert "every speaker's model scores the generated characters" in page_text(gen)
    generate(gen, length=120, prompt="We the people", seed=3)   # the same seed: the same scores
    assert [t.equals(u) for t, u in zip(who_tables(gen), tables)] == [True] * 3
    assert_no_raw_numbers(gen)


def test_the_lecture_window_by_default_and_shift_on_the_toggle(gen, runs_root):
    """Past block_size (16 here) the default is the lecture's window; the toggle gives 'shift', whose
    text is the same up to the block and differs after it."""
    loaded = ck.load_model(NAMES[OBAMA], root=runs_root)
    block = loaded.model.config.block_size
    prompt, n = "We the people", 4 * block
    generate(gen, length=n, prompt=prompt, seed=5)
    slide = gen.session_state[RESULT]["texts"][OBAMA]
    assert slide == sample_text(loaded.model, loaded.tokenizer, prompt, n, 1.0, None, seed=5, window="slide")
    assert "shift" not in page_text(gen)
    gen.toggle(key="generate_shift").set_value(True).run()
    assert "another way" in page_text(gen)
    generate(gen, length=n, prompt=prompt, seed=5)
    shift = gen.session_state[RESULT]["texts"][OBAMA]
    assert shift == sample_text(loaded.model, loaded.tokenizer, prompt, n, 1.0, None, seed=5, window="shift")
    first = block - len(prompt) + 1
    assert shift[:first] == slide[:first] and shift != slide


def test_a_first_visit_reads_back_what_this_server_wrote_and_the_button_writes_afresh(tmp_path, monkeypatch):
    """The same weights, settings and seed write the same text: a second visitor's first screen is the
    first one's text, read back instead of written; Generate writes again; a retrained run (a new
    weights file) is written afresh."""
    import core.lessons.compare as compare

    root = copy_shipped(tmp_path / "runs")  # weights files no other test has generated from
    monkeypatch.setenv("PODIUM_CHECKPOINTS", str(root))
    writes = []
    real = compare.side_by_side
    monkeypatch.setattr(compare, "side_by_side", lambda *a, **k: writes.append(1) or real(*a, **k))
    first = open_page("generate").session_state[RESULT]
    assert len(writes) == 1 and all(len(t) == 300 for t in first["texts"].values())
    second = open_page("generate")  # another session, the same defaults: read back
    assert len(writes) == 1 and second.session_state[RESULT]["texts"] == first["texts"]
    assert second.session_state[RESULT]["verdicts"].keys() == first["verdicts"].keys()
    generate(second)                # the button always writes: the same text again
    assert len(writes) == 2 and second.session_state[RESULT]["texts"] == first["texts"]
    weights = root / NAMES[OBAMA] / "model.pt"
    os.utime(weights, (weights.stat().st_atime, weights.stat().st_mtime + 10))  # as a retrained run's new file
    open_page("generate")
    assert len(writes) == 3


def test_same_seed_same_text_other_seed_other_text(gen):
    generate(gen, length=30, seed=11)
    first = dict(gen.session_state[RESULT]["texts"])
    generate(gen, length=30, seed=11)
    assert gen.session_state[RESULT]["texts"] == first
    generate(gen, length=30, seed=12)
    assert gen.session_state[RESULT]["texts"] != first


def test_settings_wait_for_the_button(gen):
    generate(gen, length=25)
    gen.number_input(key="generate_length").set_value(35).run()
    assert all(len(t) == 25 for t in gen.session_state[RESULT]["texts"].values())
    assert "press **Generate**" in page_text(gen)


def test_the_inspector_shows_the_distribution_each_character_was_drawn_from(gen):
    generate(gen, length=30, seed=4, top_k=5)
    gen.selectbox(key="generate_inspect").set_value(TRUMP).run()
    text = gen.session_state[RESULT]["texts"][TRUMP]
    gen.slider(key=f"generate_position_{TRUMP}_30").set_value(7).run()
    fig = [f for f in figures(gen) if "most likely characters" in f["layout"]["title"]["text"]][0]
    assert "position 7" in fig["layout"]["title"]["text"] and TRUMP in fig["layout"]["title"]["text"]
    bars = fig["data"][0]
    probs = list(bars["y"])
    assert len(probs) == 5                                   # top-k = 5: nothing else can be drawn
    assert sum(probs) == pytest.approx(1.0, abs=1e-4)
    assert probs == sorted(probs, reverse=True)
    drawn = [x for x, c in zip(bars["x"], bars["marker"]["color"]) if c == "#d62728"]
    assert drawn == [{" ": "␣", "\n": "↵"}.get(text[6], text[6])]


def test_bigram_column(gen):
    gen.toggle(key="generate_bigram").set_value(True).run()
    assert gen.selectbox(key="generate_bigram_speaker").value == OBAMA
    generate(gen, length=20)
    texts = gen.session_state[RESULT]["texts"]
    assert list(texts) == [OBAMA, TRUMP, BIDEN, f"bigram · {OBAMA}"]
    assert all(len(t) == 20 for t in texts.values())
    tables = who_tables(gen)                                 # the bigram's text is scored by the speakers' GPTs
    assert len(tables) == 4 and all(list(t["model"]) == [OBAMA, TRUMP, BIDEN] for t in tables)
    for table, label in zip(tables, texts):
        assert_scores_sum_to_100(table, gen.session_state[RESULT]["verdicts"][label])


def test_empty_prompt_starts_from_a_newline(gen):
    generate(gen, prompt="", length=15)
    assert "starts from a newline" in page_text(gen)
    assert all(len(t) == 15 for t in gen.session_state[RESULT]["texts"].values())


def test_bad_input_is_a_message_not_a_traceback(gen):
    gen.text_input(key="generate_prompt").set_value("A snowman ☃ says").run()
    assert not gen.exception
    assert "☃" in page_text(gen) and "vocabulary" in page_text(gen)
    gen.text_input(key="generate_prompt").set_value("Fine").run()
    generate(gen, temperature=0.0)
    assert "temperature must be above 0" in page_text(gen)
    generate(gen, temperature=1.0, top_k=1000)
    assert "top-k must be between 1 and the vocabulary size" in page_text(gen)


def test_a_speaker_without_a_model_says_so(runs_root, monkeypatch):
    monkeypatch.setenv("PODIUM_CHECKPOINTS", str(runs_root))
    at = open_page("generate")
    at.session_state["podium_speakers"] = [OBAMA, "George Washington"]
    at.run()
    assert not at.exception
    assert "No finished GPT trained on George Washington alone" in page_text(at)
    generate(at, length=12)
    assert list(at.session_state[RESULT]["texts"]) == [OBAMA]
    assert who_tables(at) == [] and "needs a second speaker's model" in page_text(at)


def test_no_model_at_all_is_a_clear_message(tmp_path, monkeypatch):
    monkeypatch.setenv("PODIUM_CHECKPOINTS", str(tmp_path))
    at = open_page("generate")
    assert "No trained GPT for these speakers yet" in page_text(at)
    at.button(key="generate_go").click().run()
    assert not at.exception


def test_a_verdict_that_rounded_to_certainty_reads_as_its_neighbours_do():
    """exp(-total nats) of a 300-character text underflows: 1.0 beside 1e-30 reads "> 99.9%", not
    "100%" beside "< 0.1%" (a softmax over finite losses is never exactly 0 or 1)."""
    from core.lessons.attribution import Verdict
    from ui.generate.who_said import P_COLUMN, table
    v = Verdict(OBAMA, {OBAMA: 1.0, TRUMP: 1e-30, BIDEN: 0.0}, {OBAMA: 1.2, TRUMP: 1.4, BIDEN: 1.5}, 300)
    assert list(table(v)[P_COLUMN]) == ["> 99.9%", "< 0.1%", "< 0.1%"]
    assert list(table(Verdict(OBAMA, {OBAMA: 1.0}, {OBAMA: 1.2}, 300))[P_COLUMN]) == ["100%"]
