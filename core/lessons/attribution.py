"""Who said it, measured. Authorship by per-speaker language models: the speaker whose model finds a
passage least surprising (lowest mean loss per character) is the guess; the probabilities are the
posterior under a uniform prior, p(speaker | passage) proportional to exp(-total nats). The classic
baseline is a character n-gram model per speaker, counted from the same training text and smoothed
(Peng et al. 2003).

`accuracy_curve` cuts many passages of each length from each speaker's validation text (which no
model trained on) and reports the share attributed correctly, per method and length, with the count
of passages behind each point. Context: each character is scored with up to block_size characters
of the passage before it (windows slide by half a block), or, as the simpler way, with the context
reset every block_size characters.

A note on a "background" model (the base, as in speaker verification): subtracting the base's loss
on the passage subtracts the same number from every speaker's score, so it cannot change which
speaker scores best; it matters for a yes/no decision about one speaker, not for picking among them."""
from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import torch

from core.errors import UserError
from core.lessons import baselines
from core.lessons.ngram import NGramCounts
from core.limits import MAX_PASSAGE_CHARS, check_count, check_length
from core.model.scoring import surprisal, surprisal_rows
from core.text.tokenizer import CharTokenizer

LENGTHS = (25, 50, 100, 200, 500, 1000)
MAX_PASSAGES = 1000  # per speaker and length
NGRAM_ORDER, NGRAM_ALPHA = 3, 0.1


@dataclass(frozen=True)
class Verdict:
    """Who said a passage, by Bayes' rule with equal priors: P(speaker | passage) is proportional to
    P(passage | speaker's model) = exp(-total nats), a softmax over the negative total losses."""
    guess: str                                  # the speaker whose model the passage surprises least
    probabilities: dict[str, float]
    mean_loss: dict[str, float]                 # nats per scored character
    chars: int                                  # characters scored (all but the first)
    surprisal: dict[str, list[float]] = field(default_factory=dict, compare=False)  # per character, per model

    def to_dict(self) -> dict:
        return {"guess": self.guess, "probabilities": self.probabilities, "mean_loss": self.mean_loss,
                "chars": self.chars}


def verdict(losses: Mapping[str, float], chars: int, per_char: Mapping[str, list[float]] | None = None) -> Verdict:
    """From each speaker's mean loss over `chars` characters: the guess and the posterior."""
    names = list(losses)
    totals = torch.tensor([-losses[n] * chars for n in names], dtype=torch.float64)
    probs = torch.softmax(totals, 0).tolist()
    guess = min(names, key=lambda n: losses[n])
    return Verdict(guess, dict(zip(names, probs)), dict(losses), chars, dict(per_char or {}))


def who_said(models: Mapping[str, torch.nn.Module], tokenizer: CharTokenizer | Mapping[str, CharTokenizer],
             text: str, context: str = "slide") -> Verdict:
    """One passage: each speaker model's surprisal, character by character, the guess and the
    probabilities. tokenizer: one shared by the models, or one per model name."""
    if not models:
        raise UserError("no model to ask: train a model first")
    toks = {name: tokenizer[name] if isinstance(tokenizer, Mapping) else tokenizer for name in models}
    check_passage(text, toks.values())
    return verdict_of({name: surprisal(m, toks[name].encode_tensor(text), context).tolist()
                       for name, m in models.items()})


def check_passage(text: str, tokenizers: Iterable[CharTokenizer]) -> None:
    """A passage every model can score, or a UserError that says what to change."""
    if not text.strip():
        raise UserError("the passage holds only spaces and line breaks: there is nothing to attribute")
    if len(text) < 2:
        raise UserError("the passage needs at least two characters: every character after the first is scored")
    check_length(text, MAX_PASSAGE_CHARS, "the passage")
    unknown = sorted({c for tok in tokenizers for c in tok.unknown(text)})
    if unknown:
        raise UserError("the passage holds characters the models do not know: "
                        + ", ".join(repr(c) for c in unknown[:10]) + "; remove or replace them")


def verdict_of(per_char: Mapping[str, Sequence[float]]) -> Verdict:
    """The verdict from each model's surprisal of one passage, character by character (who_said's, or
    some of them scored again: a model with a head knocked out)."""
    means = {n: torch.tensor(s).mean().item() for n, s in per_char.items()}
    return verdict(means, len(next(iter(per_char.values()))), {n: list(s) for n, s in per_char.items()})


def who_said_each(models: Mapping[str, torch.nn.Module], tokenizer: CharTokenizer | Mapping[str, CharTokenizer],
                  texts: Mapping[str, str], context: str = "slide") -> tuple[dict[str, Verdict], dict[str, str]]:
    """Several passages (label -> text), each scored by every model as who_said does: the verdicts,
    and for a passage that cannot be scored (too short, a character some model does not know) the
    reason instead."""
    verdicts, notes = {}, {}
    for label, text in texts.items():
        try:
            verdicts[label] = who_said(models, tokenizer, text, context)
        except UserError as e:
            notes[label] = str(e)
    return verdicts, notes


def ngram_surprisal(counts: NGramCounts, ids: torch.Tensor, alpha: float = NGRAM_ALPHA) -> torch.Tensor:
    """Nats of each character from position n on (the first n characters have no full context)."""
    p, _ = counts.probs_of(ids, alpha)
    return -p.log().float()


def passages(text_len: int, length: int, count: int, seed: int) -> list[tuple[int, int]]:
    """Up to `count` non-overlapping (start, end) spans of `length` characters, at random places."""
    n_slots = text_len // length
    if n_slots == 0:
        return []
    rng = random.Random(seed)
    slots = rng.sample(range(n_slots), min(count, n_slots))
    return [(s * length, (s + 1) * length) for s in sorted(slots)]


@dataclass
class Curve:
    lengths: list[int]
    methods: dict[str, list[float]] = field(default_factory=dict)   # method -> accuracy per length
    counts: list[int] = field(default_factory=list)                  # passages behind each point
    chance: float = 0.0
    confusion: dict[str, dict] = field(default_factory=dict)         # method -> length -> true -> guessed -> n

    def to_dict(self) -> dict:
        return {"lengths": self.lengths, "accuracy": self.methods, "passages": self.counts, "chance": self.chance,
                "confusion": self.confusion}


def check_curve(lengths: Sequence[int], per_speaker: int) -> None:
    """Passage lengths of 2 to MAX_PASSAGE_CHARS characters, 1 to MAX_PASSAGES passages each."""
    if not lengths:
        raise UserError("give at least one passage length")
    for n in lengths:
        check_count(n, 2, MAX_PASSAGE_CHARS, "a passage length (characters)")
    check_count(per_speaker, 1, MAX_PASSAGES, "passages per speaker (--passages)")


ModelSet = tuple[Mapping[str, torch.nn.Module], CharTokenizer]  # one model per speaker, and their vocabulary


BASELINES = ("3-gram", "Kneser-Ney 7", "word 1-2-gram NB")  # the weak one, then the standard ones
COMBINED = " + Kneser-Ney 7"  # a GPT set's nats summed with the Kneser-Ney model's, per passage
EVERY = "every GPT set"  # with two sets or more: their nats summed per passage (a product of experts)


def accuracy_curve(model_sets: Mapping[str, ModelSet], val_texts: Mapping[str, str],
                   train_texts: Mapping[str, str] | None = None, lengths: Sequence[int] = LENGTHS,
                   per_speaker: int = 30, seed: int = 0, context: str = "slide") -> Curve:
    """Accuracy of who-said-it per method and passage length, over passages cut at random from each
    speaker's val text, the same passages for every method. Methods: each set of one model per
    speaker; with train_texts, the baselines counted from the same training text (a character 3-gram,
    add-alpha: the weakest there is; Kneser-Ney of order 7 and word 1-2-gram Naive Bayes: the standard
    ones, core.lessons.baselines) and each set combined with Kneser-Ney (the sum of their nats); with two
    sets or more, every set together (EVERY: the sum of their nats), alone and with Kneser-Ney."""
    speakers = list(val_texts)
    if len(speakers) < 2:
        raise UserError("who said it needs at least two speakers")
    check_curve(lengths, per_speaker)
    sets = list(model_sets) + [EVERY] * (len(model_sets) > 1)
    methods: list[str] = list(sets)
    if train_texts:
        tok = CharTokenizer.from_texts([*train_texts.values(), *val_texts.values()])
        grams = {s: NGramCounts.fit(tok.encode_tensor(train_texts[s]), NGRAM_ORDER, tok.vocab_size) for s in speakers}
        kn = baselines.kn_models({s: train_texts[s] for s in speakers})
        nb = baselines.NaiveBayes({s: train_texts[s] for s in speakers})
        methods += [*BASELINES, *(k + COMBINED for k in sets)]
    curve = Curve(list(lengths), chance=1 / len(speakers))
    for m in methods:
        curve.methods[m], curve.confusion[m] = [], {}
    for i, length in enumerate(lengths):
        rows = [(true, val_texts[true][a:b]) for j, true in enumerate(speakers)
                for a, b in passages(len(val_texts[true]), length + 1, per_speaker, seed + 1000 * i + j)]
        curve.counts.append(len(rows))
        if not rows:
            raise UserError(f"the val texts are shorter than {length + 1} characters: choose shorter passages")
        texts = [text for _, text in rows]
        nats: dict[str, torch.Tensor] = {}  # method -> (speakers, passages) total nats: lower is likelier
        for m, (models, mtok) in model_sets.items():
            X = torch.stack([mtok.encode_tensor(text) for text in texts])
            nats[m] = torch.stack([surprisal_rows(models[s], X, context).double().sum(1) for s in speakers])
        if EVERY in sets:
            nats[EVERY] = sum(nats[m] for m in model_sets)
        if train_texts:
            X = torch.stack([tok.encode_tensor(text) for text in texts])
            nats["3-gram"] = torch.stack([torch.stack([ngram_surprisal(grams[s], x).double().sum() for x in X])
                                          for s in speakers])
            per = baselines.kn_nats(kn, texts)
            nats["Kneser-Ney 7"] = torch.tensor([[p[s] for p in per] for s in speakers], dtype=torch.float64)
            per = [nb.nats(t) for t in texts]
            nats["word 1-2-gram NB"] = torch.tensor([[p[s] for p in per] for s in speakers], dtype=torch.float64)
            for k in sets:
                nats[k + COMBINED] = nats[k] + nats["Kneser-Ney 7"]
        for m in methods:
            guesses = nats[m].argmin(0).tolist()  # the lowest loss per passage
            right, confusion = 0, {s: {t: 0 for t in speakers} for s in speakers}
            for (true, _), g in zip(rows, guesses):
                confusion[true][speakers[g]] += 1
                right += speakers[g] == true
            curve.methods[m].append(right / len(rows))
            curve.confusion[m][str(length)] = confusion
    return curve


STANDARD = ("Kneser-Ney 7", "word 1-2-gram NB")  # the standard methods of authorship attribution here


def standing(curve: Mapping) -> str:
    """One honest sentence on who wins where in a curve's dict (Curve.to_dict): at each length, the
    best GPT method (a set alone or combined with Kneser-Ney) against the best standard method, lengths
    with the same winner said together. Empty when the curve has no standard methods."""
    acc = curve["accuracy"]
    standard = [m for m in STANDARD if m in acc]
    gpts = [m for m in acc if m not in BASELINES and m != "n-gram"]  # n-gram: the 3-gram, in older curves
    if not standard or not gpts:
        return ""
    groups: list[list] = []  # [winner, lengths, GPT accuracies, standard accuracies]
    for i, n in enumerate(curve["lengths"]):
        s = max(standard, key=lambda m: acc[m][i])
        g = max(gpts, key=lambda m: acc[m][i])
        a, b = round(100 * acc[g][i]), round(100 * acc[s][i])
        winner = f"the GPT ({g}) wins" if a > b else f"{s} wins" if b > a else "neither wins (a tie)"
        if groups and groups[-1][0] == winner:
            groups[-1][1].append(n), groups[-1][2].append(a), groups[-1][3].append(b)
        else:
            groups.append([winner, [n], [a], [b]])

    def listed(xs) -> str:
        xs = [f"{x:,}" for x in xs]
        return xs[0] if len(xs) == 1 else f"{', '.join(xs[:-1])} and {xs[-1]}"

    clauses = [f"at {listed(ns)} characters {w}: {'/'.join(map(str, a))}% right for the best GPT, "
               f"{'/'.join(map(str, b))}% for the best standard method" for w, ns, a, b in groups]
    text = "; ".join(clauses)
    return text[0].upper() + text[1:] + "."
