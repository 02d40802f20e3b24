"""The standard methods of authorship attribution, to set the GPTs beside: a Kneser-Ney character
language model per speaker (interpolated, order 7; Chen and Goodman 1999), and a multinomial Naive
Bayes over word unigrams and bigrams. Each scores a passage under every speaker's model (nats: lower
is likelier); the speaker whose model the passage surprises least is the guess, as with the GPTs.
Plain Python over the speakers' training text; no model, no file."""
from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence

KN_ORDER, KN_DISCOUNT = 7, 0.75
_WORD = re.compile(r"[a-z0-9']+|[^\sa-z0-9']")


class KneserNey:
    """An interpolated Kneser-Ney character model of order n (the next character given the n - 1
    before it). The highest order counts what follows each context; the lower orders count in how
    many contexts a string continues (continuation counts), so a character common only after one
    context is not taken for a common one; the lowest interpolates with a uniform guess."""

    def __init__(self, text: str, order: int = KN_ORDER, discount: float = KN_DISCOUNT, vocab: int | None = None):
        self.n, self.d = order, discount
        self.vocab = vocab or len(set(text)) + 1                          # + 1: a character never seen
        self.count: list[Counter] = [Counter() for _ in range(order + 1)]  # [k][gram of length k]
        for k in range(1, order + 1):
            grams = (text[i:i + k] for i in range(len(text) - k + 1))
            if k == order:
                self.count[k].update(grams)
            else:  # continuation: how many distinct characters come before each gram
                self.count[k].update(g[1:] for g in set(text[i:i + k + 1] for i in range(len(text) - k)))
        self.total: list[dict] = [defaultdict(int) for _ in range(order + 1)]   # context -> sum of counts
        self.types: list[dict] = [defaultdict(int) for _ in range(order + 1)]   # context -> distinct nexts
        for k in range(1, order + 1):
            for gram, c in self.count[k].items():
                self.total[k][gram[:-1]] += c
                self.types[k][gram[:-1]] += 1

    def prob(self, context: str, char: str) -> float:
        """P(char | the last n - 1 characters of context)."""
        p = 1.0 / self.vocab
        for k in range(1, self.n + 1):                                    # lowest order first
            h = context[len(context) - (k - 1):] if k > 1 else ""
            if k > 1 and len(h) < k - 1:
                break
            total = self.total[k].get(h, 0)
            if total == 0:
                continue  # an unseen context: the lower order stands
            c = self.count[k].get(h + char, 0)
            p = max(c - self.d, 0.0) / total + self.d * self.types[k][h] / total * p
        return p

    def nats(self, text: str) -> float:
        """-log P(text[1:] | text[0] ...): every character after the first, each given the ones before."""
        return -sum(math.log(self.prob(text[max(0, i - self.n + 1):i], text[i])) for i in range(1, len(text)))


def words(text: str) -> list[str]:
    """Lower-cased words and punctuation marks, each a token."""
    return _WORD.findall(text.lower())


def word_features(text: str) -> Counter:
    """Word unigrams and bigrams (a bigram is two words joined by a space)."""
    w = words(text)
    return Counter(w) + Counter(f"{a} {b}" for a, b in zip(w, w[1:]))


class NaiveBayes:
    """Multinomial Naive Bayes over word unigrams and bigrams, add-one smoothing, equal priors."""

    def __init__(self, train_texts: Mapping[str, str]):
        self.counts = {s: word_features(t) for s, t in train_texts.items()}
        vocab = set().union(*self.counts.values())
        self.size = len(vocab) + 1
        self.totals = {s: sum(c.values()) for s, c in self.counts.items()}

    def nats(self, text: str) -> dict[str, float]:
        """-log P(the passage's features | speaker), per speaker."""
        feats = word_features(text)
        return {s: -sum(n * math.log((c.get(f, 0) + 1) / (self.totals[s] + self.size)) for f, n in feats.items())
                for s, c in self.counts.items()}


def kn_models(train_texts: Mapping[str, str], order: int = KN_ORDER) -> dict[str, KneserNey]:
    vocab = len(set("".join(train_texts.values()))) + 1
    return {s: KneserNey(t, order, vocab=vocab) for s, t in train_texts.items()}


def kn_nats(models: Mapping[str, KneserNey], passages: Sequence[str]) -> list[dict[str, float]]:
    """Per passage, each speaker's Kneser-Ney nats."""
    return [{s: m.nats(p) for s, m in models.items()} for p in passages]
