"""core.lessons.baselines: the Kneser-Ney character model is a distribution (it sums to one after any
context, unseen ones included) that finds a speaker's own val text likelier than the others' models
do; word Naive Bayes scores per speaker; both beside the GPTs in the who-said-it curve."""
from __future__ import annotations

import math

import pytest
from helpers import BIDEN, OBAMA, TRUMP

from core.lessons import baselines
from core.text.corpus import load_speaker

SPEAKERS = (OBAMA, TRUMP, BIDEN)


@pytest.fixture(scope="module")
def splits():
    return {s: load_speaker(s).split() for s in SPEAKERS}


@pytest.fixture(scope="module")
def kn(splits):
    return baselines.kn_models({s: splits[s][0] for s in SPEAKERS})


def test_kneser_ney_is_a_distribution_after_any_context(kn, splits):
    m = kn[OBAMA]
    chars = sorted(set("".join(t for t, _ in splits.values())))
    for context in ("", "T", "The Ameri", "qzx", "of the people, by the "):
        total = sum(m.prob(context, c) for c in chars) + (m.vocab - len(chars)) * m.prob(context, "\u2603")
        assert total == pytest.approx(1.0, abs=1e-9), context
    assert m.prob("of the peopl", "e") > 0.9 and m.prob("of the peopl", "q") < 0.01


def test_each_speakers_val_text_is_likeliest_under_their_own_kneser_ney(kn, splits):
    for s in SPEAKERS:
        text = splits[s][1][:4000]
        nats = {k: m.nats(text) / (len(text) - 1) for k, m in kn.items()}
        assert min(nats, key=nats.get) == s, nats
        assert 0.8 < nats[s] < math.log(kn[s].vocab)


def test_word_naive_bayes_scores_each_speaker(splits):
    nb = baselines.NaiveBayes({s: splits[s][0] for s in SPEAKERS})
    assert baselines.words("We're here, America!") == ["we're", "here", ",", "america", "!"]
    for s in SPEAKERS:
        nats = nb.nats(splits[s][1][:3000])
        assert min(nats, key=nats.get) == s, nats
