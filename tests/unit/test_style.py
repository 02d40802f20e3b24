"""core.lessons.style: the Fightin' Words log-odds against hand-computed values, a word used equally scores
~0, function words win raw counts but not z-scores on the real speeches, and the style figures of a
hand-made text counted by hand."""
from __future__ import annotations

import math
from collections import Counter

import pytest

from core.errors import UserError
from core.lessons import style
from core.text.corpus import DEFAULT_SPEAKERS, SpeakerError, load_speaker

OBAMA, TRUMP, BIDEN = DEFAULT_SPEAKERS


@pytest.fixture(scope="module")
def background() -> Counter:
    return style.background_counts()


@pytest.fixture(scope="module")
def default_report(background) -> style.StyleReport:
    return style.style_report(list(DEFAULT_SPEAKERS), k=10, background=background)


def test_log_odds_matches_hand_computation():
    # Two words, a_w = 1 each (a_0 = 2), n_i = n_j = 4:
    # delta_a = ln((3+1)/(4+2-3-1)) - ln((1+1)/(4+2-1-1)) = ln 2 - ln 0.5 = 2 ln 2; var = 1/4 + 1/2.
    scores = style.log_odds({"a": 3, "b": 1}, {"a": 1, "b": 3}, {"a": 1.0, "b": 1.0})
    delta, var, z = scores["a"]
    assert delta == pytest.approx(1.3862944, abs=1e-6)
    assert var == pytest.approx(0.75)
    assert z == pytest.approx(1.3862944 / 0.8660254, abs=1e-6)            # 1.60075
    assert scores["b"] == pytest.approx((-delta, var, -z))                  # the mirror image
    # Unequal prior, a word one side never says: a = (0.5, 0.25, 0.25), a_0 = 1, n_i = n_j = 10.
    scores = style.log_odds({"x": 2, "z": 8}, {"x": 5, "y": 5}, {"x": 0.5, "y": 0.25, "z": 0.25})
    assert scores["x"][0] == pytest.approx(math.log(2.5 / 8.5) - math.log(5.5 / 5.5))
    # odds: (y + a) / (n + a_0 - y - a); y on side i: 0.25 / (10 + 1 - 0 - 0.25), on side j: 5.25 / (11 - 5.25)
    assert scores["y"][0] == pytest.approx(math.log(0.25 / 10.75) - math.log(5.25 / 5.75))
    assert scores["y"][1] == pytest.approx(1 / 0.25 + 1 / 5.25)
    assert scores["z"][2] == pytest.approx((math.log(8.25 / 2.75) - math.log(0.25 / 10.75))
                                           / math.sqrt(1 / 8.25 + 1 / 0.25))


def test_informative_prior_follows_the_background_and_sums_to_its_mass():
    alpha = style.informative_prior({"the": 99, "cat": 4}, ["the", "cat", "zebra"], mass=10.0)
    # (b_w + 0.5) / (99.5 + 4.5 + 0.5) * 10
    assert alpha == pytest.approx({"the": 99.5 / 104.5 * 10, "cat": 4.5 / 104.5 * 10, "zebra": 0.5 / 104.5 * 10})
    assert sum(alpha.values()) == pytest.approx(10.0)
    assert alpha["zebra"] > 0                      # a word the background never used still has a prior


def test_a_word_used_equally_scores_about_zero():
    # "shared" is 10% of both sides (sizes 100 and 200); "cat" only on side i, "dog" only on side j.
    y_i, y_j = {"shared": 10, "cat": 90}, {"shared": 20, "dog": 180}
    top, mass = style.distinctive(y_i, y_j, {"shared": 12, "cat": 50, "dog": 40}, k=3)
    z = {d.word: d.z for d in top}
    assert abs(z["shared"]) < 0.1 < 5 < z["cat"]
    assert z["dog"] < -5
    assert mass == pytest.approx(style.PRIOR_SHARE * 100)           # the smaller side's 100 words
    same = style.log_odds({"a": 7, "b": 3}, {"a": 7, "b": 3}, {"a": 0.4, "b": 0.6})
    assert all(v[0] == pytest.approx(0.0) and v[2] == pytest.approx(0.0) for v in same.values())


def test_a_heavy_prior_from_a_foreign_background_makes_differences():
    """Why the prior is light (module docstring): a background where "shared" is 98% of the words pulls
    the smaller side's rate toward 98% harder, and the equal use starts to look like a difference."""
    y_i, y_j, foreign = {"shared": 10, "cat": 90}, {"shared": 20, "dog": 180}, {"shared": 980, "cat": 10, "dog": 10}
    z = [{d.word: d.z for d in style.distinctive(y_i, y_j, foreign, k=3, prior_share=share)[0]}["shared"]
         for share in (0.004, style.PRIOR_SHARE, 1.0, 10.0)]
    assert abs(z[0]) < 0.1 and z == sorted(z) and z[-1] > 2 * z[1] > 0


def test_function_words_win_raw_counts_but_not_z(default_report):
    r = default_report
    function_words = {"the", "and", "to", "of", "a", "in"}
    for name in DEFAULT_SPEAKERS:
        raw = [w for w, _ in r.raw_top[name]]
        assert set(raw[:4]) <= function_words, (name, raw)          # raw counts: English, not the speaker
        top = [d.word for d in r.distinctive[name]]
        assert not function_words & set(top), (name, top)
        assert all(a.z >= b.z > 0 for a, b in zip(r.distinctive[name], r.distinctive[name][1:]))
        assert r.rest[name] == " + ".join(n for n in DEFAULT_SPEAKERS if n != name)
    assert "folks" in [d.word for d in r.distinctive[BIDEN]]              # his signature word


def test_counts_behind_the_words_are_the_speakers_own(default_report):
    r = default_report
    obama = Counter(style.words(load_speaker(OBAMA, clean=True).text))
    others = Counter(style.words(load_speaker(TRUMP).text)) + Counter(style.words(load_speaker(BIDEN).text))
    n, n_rest = sum(obama.values()), sum(others.values())
    for d in r.distinctive[OBAMA]:
        assert (d.count, d.rest_count) == (obama[d.word], others[d.word])
        assert d.per_1000 == pytest.approx(1000 * obama[d.word] / n)
        assert d.rest_per_1000 == pytest.approx(1000 * others[d.word] / n_rest)
        assert d.per_1000 > d.rest_per_1000                          # a positive z: said more often
    assert r.prior_mass[OBAMA] == pytest.approx(style.PRIOR_SHARE * min(n, n_rest))


def test_one_speaker_alone_is_compared_with_every_other_address(background):
    r = style.style_report([TRUMP], k=5, background=background)
    trump = Counter(style.words(load_speaker(TRUMP).text))
    assert r.rest[TRUMP] == "every other State of the Union address"
    for d in r.distinctive[TRUMP]:
        assert d.rest_count == background[d.word] - trump[d.word]


def test_words_and_sentences():
    assert style.words("Don\u2019t stop: America's 21st-century jobs, U.S. caf\u00e9") == \
        ["don't", "stop", "america's", "st", "century", "jobs", "u", "s", "caf\u00e9"]
    text = ("Mr. Speaker, Joseph R. Biden Jr. is here. Did we win? Yes! We did... and more.\n"
            "A heading without a stop\n\"Are you sure?\" she asked. U.S. troops came home.")
    assert style.sentences(text) == ["Mr. Speaker, Joseph R. Biden Jr. is here.", "Did we win?", "Yes!",
                                     "We did... and more.", "A heading without a stop",
                                     "\"Are you sure?\" she asked.", "U.S. troops came home."]


def test_style_figures_of_a_hand_made_text():
    text = "I think we can. Can we? My team and our team won! Did I say that us two agree?"
    f = style.style_figures("hand", text)
    # sentences: 4, 2, 6, 7 words; 19 words; I-words: I, My, I = 3; we-words: we, we, our, us = 4
    assert (f.words, f.sentences) == (19, 4)
    assert f.words_per_sentence == pytest.approx(19 / 4)
    assert f.median_words_per_sentence == pytest.approx(5.0)
    assert f.i_per_1000 == pytest.approx(3 * 1000 / 19)
    assert f.we_per_1000 == pytest.approx(4 * 1000 / 19)
    assert f.questions_per_1000 == pytest.approx(2 * 1000 / 19)
    assert f.mean_word_length == pytest.approx(56 / 19)   # 1+5+2+3 +3+2 +2+4+3+3+4+3 +3+1+3+4+2+3+5 letters


def test_real_style_figures_point_the_known_way(default_report):
    f = {x.speaker: x for x in default_report.figures}
    assert f[BIDEN].i_per_1000 > f[OBAMA].i_per_1000                  # Biden: "I", "my"; Obama: "we", "our"
    assert f[OBAMA].we_per_1000 > f[BIDEN].we_per_1000
    assert f[OBAMA].words_per_sentence > f[BIDEN].words_per_sentence
    for x in f.values():
        assert x.median_words_per_sentence <= x.words_per_sentence < 40     # a split, not whole paragraphs


def test_bad_input_is_a_user_error(background):
    with pytest.raises(style.StyleError, match="no words"):
        style.style_figures("numbers", "1990 2000 2010.")
    with pytest.raises(SpeakerError, match="unknown speaker"):
        style.style_report(["Barak Obama"], background=background)
    with pytest.raises(UserError, match="at least one speaker"):
        style.style_report([], background=background)


def test_the_sotu_background_is_counted_once_and_read_only(background):
    """What ui.serve warms at launch and Compare reads: every address's counts, one object per process."""
    first = style.sotu_background()
    assert first is style.sotu_background() and dict(first) == dict(background)
    with pytest.raises(TypeError):
        first["the"] = 0  # shared by every session of the server: nobody may change it
