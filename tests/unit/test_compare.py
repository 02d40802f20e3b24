"""core.lessons.compare: the loss matrix is evaluate_run cell by cell; "who said it" is a proper softmax
over the total losses and prefers a model trained on the passage's speaker; side-by-side
generation is sample_text with the same seed in every column."""
from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from helpers import OBAMA, TRUMP, one_thread, speaker_data, tiny_gpt, tiny_train  # noqa: F401 (autouse)

from core.errors import UserError
from core.lessons.attribution import who_said
from core.lessons.compare import excerpt, loss_matrix, side_by_side, top_chars
from core.model.models import build_model
from core.model.sampling import sample_text
from core.model.scoring import sequence_loss, surprisal
from core.runs import checkpoints as ck
from core.runs import record as rec
from core.runs.evaluate import evaluate_run
from core.runs.start import train

SPEAKERS = [OBAMA, TRUMP]
NAMES = {OBAMA: "obama-tiny", TRUMP: "trump-tiny"}


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    """Two tiny GPTs, one per speaker, briefly trained (40 steps) in a runs folder of their own."""
    root = tmp_path_factory.mktemp("compare-runs")
    for speaker, name in NAMES.items():
        data = speaker_data(speaker)
        train(data, tiny_gpt(data.tokenizer.vocab_size, n_layer=1), tiny_train(max_iters=40, eval_interval=40),
              root / name, name=name)
    return root


@pytest.fixture(scope="module")
def models(root) -> dict[str, ck.LoadedModel]:
    return {s: ck.load_model(NAMES[s], root=root) for s in SPEAKERS}


def test_loss_matrix_is_evaluate_run_for_every_pair(root, models):
    m = loss_matrix(models, SPEAKERS)
    assert m.models == SPEAKERS and m.speakers == SPEAKERS and not m.notes
    for i, model_speaker in enumerate(SPEAKERS):
        for j, text_speaker in enumerate(SPEAKERS):
            expected = evaluate_run(NAMES[model_speaker], text_speaker, root=root)["val_loss"]
            assert m.values[i][j] == pytest.approx(expected, rel=1e-9, abs=1e-9)
    # ... and the diagonal is what training recorded for the whole val split of its own speaker
    for i, s in enumerate(SPEAKERS):
        recorded = rec.read_json(root / NAMES[s] / rec.META)["val_loss_full"][s]
        assert m.values[i][i] == pytest.approx(recorded, abs=1e-5)
        assert m.values[i][i] == pytest.approx(sequence_loss(models[s].model, speaker_data(s).val), abs=1e-9)


def test_row_and_column_best_and_verdicts_follow_the_values():
    from core.lessons.compare import LossMatrix

    m = LossMatrix(["A", "B"], ["A", "B", "C"], [[1.0, 2.0, 0.5], [1.5, 1.8, float("nan")]], [])
    assert m.row_best() == [2, 0]
    assert m.column_best() == [0, 1, 0]           # NaN cells never win
    v = {d["speaker"]: d for d in m.verdicts()}
    assert set(v) == {"A", "B"}                   # C has no model: no verdict
    assert v["A"]["own_best"] and v["A"]["others"] == {"B": 1.5}
    assert v["B"]["own_best"] and v["B"]["own"] == 1.8


def test_a_text_outside_the_vocabulary_is_a_nan_cell_with_a_note(models, tmp_path):
    (tmp_path / "Snowman.txt").write_text("Let it snow ☃ " * 40, encoding="utf-8")
    m = loss_matrix({OBAMA: models[OBAMA]}, ["Snowman"], data_dir=tmp_path)
    assert math.isnan(m.values[0][0])
    assert "☃" in m.notes[0] and "Snowman" in m.notes[0]


def test_who_said_it_is_a_softmax_over_minus_the_total_loss(models):
    text = excerpt(speaker_data(TRUMP).speakers[0].speaker.split()[1], 200)
    g = who_said({s: m.model for s, m in models.items()}, models[OBAMA].tokenizer, text)
    p = g.probabilities
    assert list(p) == SPEAKERS and g.chars == len(text) - 1
    assert sum(p.values()) == pytest.approx(1.0, abs=1e-12)
    assert all(0.0 <= x <= 1.0 for x in p.values())
    total = {s: g.mean_loss[s] * g.chars for s in SPEAKERS}
    # log-odds between two models = difference of their total losses (Bayes with equal priors)
    if min(p.values()) > 1e-200:
        assert math.log(p[OBAMA]) - math.log(p[TRUMP]) == pytest.approx(total[TRUMP] - total[OBAMA], abs=1e-6)
    for s in SPEAKERS:
        ref = surprisal(models[s].model, models[s].tokenizer.encode_tensor(text))
        assert g.surprisal[s] == pytest.approx(ref.tolist(), abs=1e-6)
        assert total[s] == pytest.approx(float(ref.double().sum()), abs=1e-4)
    assert g.guess == max(p, key=p.get)


def test_a_briefly_trained_model_beats_an_untrained_one_on_its_speakers_text(models):
    obama = models[OBAMA]
    untrained = build_model(obama.config, seed=0).eval()
    text = excerpt(speaker_data(OBAMA).speakers[0].speaker.split()[1], 300)
    g = who_said({"trained": obama.model, "untrained": untrained}, obama.tokenizer, text)
    assert g.mean_loss["trained"] < g.mean_loss["untrained"]
    assert g.guess == "trained" and g.probabilities["trained"] > 0.99


def test_who_said_it_refuses_bad_input_clearly(models):
    ms = {s: m.model for s, m in models.items()}
    tok = models[OBAMA].tokenizer
    with pytest.raises(UserError, match="do not know: '☃'"):
        who_said(ms, tok, "Snow ☃ falls")
    with pytest.raises(UserError, match="two characters"):
        who_said(ms, tok, "A")
    with pytest.raises(UserError, match="no model"):
        who_said({}, tok, "Hello")
    with pytest.raises(UserError, match="nothing to attribute"):
        who_said(ms, tok, " \n  \n")


def test_side_by_side_is_sample_text_with_the_same_seed_in_every_column(models):
    pairs = {s: (m.model, m.tokenizer) for s, m in models.items()}
    steps = list(side_by_side(pairs, "We the people", 30, temperature=0.9, top_k=20, seed=5, k=5))
    assert [s.label for s in steps[:4]] == [OBAMA, TRUMP, OBAMA, TRUMP]   # the columns fill together
    for s, (model, tok) in pairs.items():
        mine = [st for st in steps if st.label == s]
        assert [st.index for st in mine] == list(range(30))
        assert "".join(st.char for st in mine) == sample_text(model, tok, "We the people", 30, 0.9, 20, seed=5)
        for st in mine:
            assert len(st.top) == 5 and st.top[0][1] >= st.top[-1][1]
            assert 0 < st.prob <= 1 and st.prob <= st.top[0][1] + 1e-6
    again = "".join(s.char for s in side_by_side(pairs, "We the people", 30, 0.9, 20, seed=5) if s.label == OBAMA)
    assert again == "".join(s.char for s in steps if s.label == OBAMA)


def test_side_by_side_checks_everything_before_the_first_character(models):
    pairs = {s: (m.model, m.tokenizer) for s, m in models.items()}
    with pytest.raises(ValueError, match="prompt holds characters not in the vocabulary: '☃'"):
        side_by_side(pairs, "Snow ☃", 10)
    with pytest.raises(ValueError, match="temperature"):
        side_by_side(pairs, "Hi", 10, temperature=0.0)
    with pytest.raises(ValueError, match="top-k"):
        side_by_side(pairs, "Hi", 10, top_k=10_000)
    empty = list(side_by_side(pairs, "", 3, seed=1))       # empty prompt: starts from a newline
    assert len(empty) == 6


def test_top_chars_and_excerpt(models):
    tok = models[OBAMA].tokenizer
    probs = torch.zeros(tok.vocab_size)
    probs[tok.stoi["a"]], probs[tok.stoi[" "]], probs[tok.stoi["\n"]] = 0.5, 0.3, 0.2
    assert top_chars(probs, tok, 2) == [("a", 0.5), (" ", pytest.approx(0.3))]
    assert [c for c, _ in top_chars(probs, tok, 10)] == ["a", " ", "\n"]   # zero-probability characters left out
    text = " ".join(f"Sentence {i} ends here." for i in range(40))
    ex = excerpt(text, 40)
    assert 20 < len(ex) <= 40 and text.find(ex) >= len(text) // 2      # from the middle on
    assert ex.startswith("Sentence ") and ex.endswith("ends here.")     # whole sentences
    words = " ".join(f"word{i}" for i in range(200))                   # no sentence at all
    ex = excerpt(words, 50)
    assert len(ex) <= 50 and words[words.find(ex) + len(ex)] == " "   # cut at the end of a whole word
