"""Who said it: batched sliding-context surprisal row by row (the brute-force oracle of each
character's context is tests/unit/test_evaluate.py's), the posterior, and the accuracy curve on the
shipped speaker models against the n-gram baseline."""
from __future__ import annotations

import math

import pytest
import torch
from helpers import BIDEN, OBAMA, ROOT, TRUMP, one_thread  # noqa: F401 (autouse)

from core.errors import UserError
from core.lessons.attribution import (
    BASELINES,
    COMBINED,
    EVERY,
    accuracy_curve,
    standing,
    verdict,
    who_said,
    who_said_each,
)
from core.model.scoring import surprisal, surprisal_rows
from core.runs import checkpoints as ck
from core.text.corpus import load_speaker

SHIPPED = ROOT / "checkpoints"
SPEAKERS = (OBAMA, TRUMP, BIDEN)


@pytest.fixture(scope="module")
def models():
    loaded = {s: ck.load_model(f"{s.lower().replace('.', '').replace(' ', '-')}-gpt-tiny", root=SHIPPED)
              for s in SPEAKERS}
    return {s: ld.model for s, ld in loaded.items()}, loaded[OBAMA].tokenizer


@pytest.fixture(scope="module")
def splits():
    return {s: load_speaker(s).split() for s in SPEAKERS}


def test_batched_rows_equal_one_at_a_time_and_reset_restarts_each_block(models, splits):
    mods, tok = models
    texts = [splits[s][1][1000:1150] for s in SPEAKERS]
    X = torch.stack([tok.encode_tensor(t) for t in texts])
    rows = surprisal_rows(mods[TRUMP], X, "slide")
    for i, t in enumerate(texts):
        assert torch.allclose(rows[i], surprisal(mods[TRUMP], tok.encode_tensor(t)), atol=1e-4)
    ids = tok.encode_tensor(texts[0])
    reset = surprisal(mods[TRUMP], ids, "reset")
    T = mods[TRUMP].config.block_size
    first = surprisal(mods[TRUMP], tok.encode_tensor(texts[0][:T + 1]))  # the first block alone: no context before it
    assert torch.allclose(reset[:T], first, atol=1e-4)
    assert not torch.allclose(reset[T:2 * T], surprisal(mods[TRUMP], ids, "slide")[T:2 * T])


def test_the_posterior_is_bayes_with_equal_priors():
    v = verdict({"a": 1.0, "b": 1.1, "c": 2.0}, chars=20)
    assert v.guess == "a" and math.isclose(sum(v.probabilities.values()), 1.0)
    assert math.isclose(v.probabilities["a"] / v.probabilities["b"], math.exp(0.1 * 20), rel_tol=1e-9)


def test_who_said_refuses_what_it_cannot_score(models):
    mods, tok = models
    with pytest.raises(UserError, match="two characters"):
        who_said(mods, tok, "a")
    with pytest.raises(UserError, match="do not know"):
        who_said(mods, tok, "caf\u00e9 \u4e2d")


def test_who_said_each_scores_every_text_or_says_why_not(models, splits):
    mods, tok = models
    texts = {OBAMA: splits[OBAMA][1][2000:2200], TRUMP: splits[TRUMP][1][2000:2200], "short": "a", "snow": "a \u2603 b"}
    verdicts, notes = who_said_each(mods, tok, texts)
    assert list(verdicts) == [OBAMA, TRUMP] and list(notes) == ["short", "snow"]
    for label in (OBAMA, TRUMP):
        assert verdicts[label] == who_said(mods, tok, texts[label])
        assert math.isclose(sum(verdicts[label].probabilities.values()), 1.0)
    assert "two characters" in notes["short"] and "do not know" in notes["snow"]


def test_accuracy_grows_with_length_and_beats_chance(models, splits):
    curve = accuracy_curve({"from scratch": models}, {s: splits[s][1] for s in SPEAKERS},
                           {s: splits[s][0] for s in SPEAKERS}, lengths=(25, 500), per_speaker=12, seed=3)
    assert curve.counts == [36, 36] and curve.chance == pytest.approx(1 / 3)
    scratch, ngram, kn = curve.methods["from scratch"], curve.methods["3-gram"], curve.methods["Kneser-Ney 7"]
    assert scratch[1] > scratch[0] and scratch[1] > 0.6 and ngram[1] > 1 / 3 and kn[1] > 0.6
    assert set(curve.methods) == {"from scratch", *BASELINES, "from scratch" + COMBINED}
    assert sum(sum(row.values()) for row in curve.confusion["3-gram"]["500"].values()) == 36


def test_every_set_together_sums_the_sets_nats(models, splits):
    """Two sets: every set together guesses from the sum of their nats. The oracle: the same set twice
    doubles each passage's nats, so every guess (and every accuracy) is that set's own."""
    curve = accuracy_curve({"a": models, "b": models}, {s: splits[s][1] for s in SPEAKERS},
                           {s: splits[s][0] for s in SPEAKERS}, lengths=(50, 200), per_speaker=6, seed=5)
    assert curve.methods[EVERY] == curve.methods["a"] == curve.methods["b"]
    assert curve.confusion[EVERY] == curve.confusion["a"]
    assert set(curve.methods) == {"a", "b", EVERY, *BASELINES, *(m + COMBINED for m in ("a", "b", EVERY))}
    one = accuracy_curve({"a": models}, {s: splits[s][1] for s in SPEAKERS}, lengths=(50,), per_speaker=2)
    assert EVERY not in one.methods


def test_standing_says_who_wins_where_lengths_with_one_winner_together():
    curve = {"lengths": [25, 100, 200, 1000], "accuracy": {
        "fine-tuned": [0.60, 0.66, 0.80, 0.90], "fine-tuned + Kneser-Ney 7": [0.62, 0.69, 0.81, 0.91],
        "3-gram": [0.99, 0.99, 0.99, 0.99],  # the weak baseline is no standard method: never the bar
        "Kneser-Ney 7": [0.55, 0.69, 0.78, 0.90], "word 1-2-gram NB": [0.50, 0.65, 0.79, 0.95]}}
    assert standing(curve) == (
        "At 25 characters the GPT (fine-tuned + Kneser-Ney 7) wins: 62% right for the best GPT, 55% for the best "
        "standard method; at 100 characters neither wins (a tie): 69% right for the best GPT, 69% for the best "
        "standard method; at 200 characters the GPT (fine-tuned + Kneser-Ney 7) wins: 81% right for the best GPT, "
        "79% for the best standard method; at 1,000 characters word 1-2-gram NB wins: 91% right for the best GPT, "
        "95% for the best standard method.")
    assert standing({"lengths": [25], "accuracy": {"fine-tuned": [0.6]}}) == ""
