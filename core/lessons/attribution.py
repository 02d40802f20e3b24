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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import torch
from torch.nn import functional as F

from core.errors import UserError
from core.lessons.ngram import NGramCounts
from core.limits import MAX_PASSAGE_CHARS, check_count, check_length
from core.text.tokenizer import CharTokenizer

LENGTHS = (25, 50, 100, 200, 500, 1000)
MAX_PASSAGES = 1000  # per speaker and length
NGRAM_ORDER, NGRAM_ALPHA = 3, 0.1


def _spans(n: int, T: int, context: str) -> list[tuple[int, int, int]]:
    """(start, end, keep_from): the window ids[start:end] predicts ids[start+1:end+1]; its outputs
    from keep_from on are kept (each character scored once)."""
    if context not in ("slide", "reset"):
        raise UserError(f"context must be slide or reset, got {context!r}")
    if context == "reset":
        return [(s, min(n, s + T), s) for s in range(0, n, T)]
    spans, pos, stride = [], 0, max(1, T // 2)
    while pos < n:
        end = min(n, T if pos == 0 else pos + stride)
        spans.append((max(0, end - T), end, pos))
        pos = end
    return spans


@torch.no_grad()
def surprisal_rows(model, ids: torch.Tensor, context: str = "slide", batch: int = 256) -> torch.Tensor:
    """ids (N, L), rows of one length -> (N, L - 1) nats: out[:, j] scores ids[:, j + 1] from up to
    block_size characters of its row before it ("slide": windows move by half a block) or from the
    start of its block ("reset"). Every row is cut the same way, so each window is one batched pass."""
    was_training = model.training
    model.eval()
    T = model.config.block_size
    device = next(model.parameters()).device
    N, L = ids.shape
    out = torch.empty(N, max(0, L - 1))
    for s, e, keep in _spans(L - 1, T, context):
        for i in range(0, N, batch):
            x, y = ids[i:i + batch, s:e].to(device), ids[i:i + batch, s + 1:e + 1].to(device)
            logits, _ = model(x)
            nll = F.cross_entropy(logits.float().flatten(0, 1), y.flatten(), reduction="none").view(len(x), e - s)
            out[i:i + batch, keep:e] = nll[:, keep - s:].cpu()
    model.train(was_training)
    return out


def surprisal(model, ids: torch.Tensor, context: str = "slide") -> torch.Tensor:
    """One text's (1-D ids) surprisal, as surprisal_rows."""
    return surprisal_rows(model, ids.unsqueeze(0), context)[0]


@dataclass(frozen=True)
class Verdict:
    guess: str
    probabilities: dict[str, float]
    mean_loss: dict[str, float]
    chars: int  # characters scored (all but the first)

    def to_dict(self) -> dict:
        return {"guess": self.guess, "probabilities": self.probabilities, "mean_loss": self.mean_loss,
                "chars": self.chars}


def verdict(losses: Mapping[str, float], chars: int) -> Verdict:
    """From each speaker's mean loss over `chars` characters: the guess and the posterior."""
    names = list(losses)
    totals = torch.tensor([-losses[n] * chars for n in names], dtype=torch.float64)
    probs = torch.softmax(totals, 0).tolist()
    guess = min(names, key=lambda n: losses[n])
    return Verdict(guess, dict(zip(names, probs)), dict(losses), chars)


def who_said(models: Mapping[str, torch.nn.Module], tokenizer: CharTokenizer, text: str,
             context: str = "slide") -> Verdict:
    """One passage: each speaker model's mean surprisal, the guess and the probabilities."""
    if not text.strip():
        raise UserError("the passage holds only spaces and line breaks: there is nothing to attribute")
    if len(text) < 2:
        raise UserError("the passage needs at least two characters: every character after the first is scored")
    check_length(text, MAX_PASSAGE_CHARS, "the passage")
    unknown = tokenizer.unknown(text)
    if unknown:
        raise UserError("the passage holds characters the models do not know: "
                        + ", ".join(repr(c) for c in unknown[:10]) + "; remove or replace them")
    ids = tokenizer.encode_tensor(text)
    losses = {name: surprisal(m, ids, context).mean().item() for name, m in models.items()}
    return verdict(losses, len(ids) - 1)


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


def accuracy_curve(model_sets: Mapping[str, ModelSet], val_texts: Mapping[str, str],
                   train_texts: Mapping[str, str] | None = None, lengths: Sequence[int] = LENGTHS,
                   per_speaker: int = 30, seed: int = 0, context: str = "slide") -> Curve:
    """Accuracy of who-said-it per method (a set of one model per speaker; plus the character
    n-gram baseline when train_texts is given) and passage length, over passages cut at random
    from each speaker's val text: the same passages for every method."""
    speakers = list(val_texts)
    if len(speakers) < 2:
        raise UserError("who said it needs at least two speakers")
    check_curve(lengths, per_speaker)
    sets = dict(model_sets)
    if train_texts:
        tok = CharTokenizer.from_texts([*train_texts.values(), *val_texts.values()])
        sets["n-gram"] = ({s: NGramCounts.fit(tok.encode_tensor(train_texts[s]), NGRAM_ORDER, tok.vocab_size)
                           for s in speakers}, tok)
    curve = Curve(list(lengths), chance=1 / len(speakers))
    for m in sets:
        curve.methods[m], curve.confusion[m] = [], {}
    for i, length in enumerate(lengths):
        rows = [(true, val_texts[true][a:b]) for j, true in enumerate(speakers)
                for a, b in passages(len(val_texts[true]), length + 1, per_speaker, seed + 1000 * i + j)]
        curve.counts.append(len(rows))
        if not rows:
            raise UserError(f"the val texts are shorter than {length + 1} characters: choose shorter passages")
        for m, (models, tok) in sets.items():
            X = torch.stack([tok.encode_tensor(text) for _, text in rows])
            if m == "n-gram":
                scores = torch.stack([torch.stack([ngram_surprisal(models[s], x).mean() for x in X]) for s in speakers])
            else:
                scores = torch.stack([surprisal_rows(models[s], X, context).mean(1) for s in speakers])
            guesses = scores.argmin(0).tolist()  # the lowest loss per passage
            right, confusion = 0, {s: {t: 0 for t in speakers} for s in speakers}
            for (true, _), g in zip(rows, guesses):
                confusion[true][speakers[g]] += 1
                right += speakers[g] == true
            curve.methods[m].append(right / len(rows))
            curve.confusion[m][str(length)] = confusion
    return curve


def loss_matrix(models: ModelSet, val_texts: Mapping[str, str], context: str = "slide") -> dict[str, dict[str, float]]:
    """Each model's mean loss on each speaker's whole val text: rows models, columns texts."""
    mods, tok = models
    rows = {s: _rows(tok.encode_tensor(text)) for s, text in val_texts.items()}
    return {m: {s: surprisal_rows(model, x, context).mean().item() for s, x in rows.items()}
            for m, model in mods.items()}


def _rows(ids: torch.Tensor, width: int = 1024) -> torch.Tensor:
    """A long text as rows of width + 1 characters overlapping by one, so each character after the
    first is scored once (the context restarts at each row: a negligible loss of context)."""
    n = (len(ids) - 1) // width
    if n == 0:
        return ids.unsqueeze(0)
    return ids[:n * width + 1].unfold(0, width + 1, width)


def _arch(r) -> tuple:
    d = r.model.to_dict()
    d.pop("vocab_size")
    return tuple(sorted(d.items()))


def speaker_runs_by_kind(records, speakers: Sequence[str]) -> dict[str, dict]:
    """Per kind ("fine-tuned", "from scratch"), per speaker, the newest finished GPT run trained on that
    speaker alone (records newest first, as core.runs.record.list_runs gives them). Within a kind every
    speaker's model has one architecture: the fine-tuned runs' (so that scratch and fine-tuned compare
    like with like), else the newest run's; runs of other sizes (the ladder's rungs, say) are left out."""
    single = [r for r in records if r.status == "finished" and r.model_type == "gpt" and len(r.speakers) == 1
              and r.speakers[0] in speakers]
    tuned = [r for r in single if r.init_from]
    scratch = [r for r in single if not r.init_from]
    out = {}
    for kind, runs in (("fine-tuned", tuned), ("from scratch", scratch)):
        arch = _arch(tuned[0]) if tuned and any(_arch(r) == _arch(tuned[0]) for r in runs) else (
            _arch(runs[0]) if runs else None)
        picked: dict = {}
        for r in runs:
            if _arch(r) == arch:
                picked.setdefault(r.speakers[0], r)
        out[kind] = picked
    return out


def speaker_sets(records, speakers: Sequence[str]) -> dict[str, dict[str, str]]:
    """The kinds with a model for every speaker: kind -> speaker -> run name."""
    found = speaker_runs_by_kind(records, speakers)
    return {k: {s: v[s].name for s in speakers} for k, v in found.items() if all(s in v for s in speakers)}
