"""Speakers against speakers: every model's loss on every speaker's val text, "who said it"
(which model finds a passage least surprising), and the small pieces the Generate and Compare
pages need (one model per speaker, the top next characters, a real excerpt). Plain numbers out."""
from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from core.errors import UserError
from core.model.sampling import check_sampling, stream
from core.model.scoring import per_char_loss, sequence_loss
from core.runs.checkpoints import LoadedModel
from core.runs.record import RunRecord
from core.text.corpus import load_speaker
from core.text.tokenizer import CharTokenizer, UnknownCharError


def speaker_runs(runs: Iterable[RunRecord], speakers: Sequence[str],
                 model_type: str = "gpt") -> dict[str, RunRecord | None]:
    """Per speaker, the newest finished run of model_type trained on that speaker alone (or None).
    runs must come newest first, as core.runs.record.list_runs gives them."""
    runs = list(runs)
    out = {}
    for name in speakers:
        out[name] = next((r for r in runs if r.status == "finished" and r.speakers == [name]
                          and r.model_type == model_type), None)
    return out


@dataclass(frozen=True)
class LossMatrix:
    models: list[str]            # row i: the model trained on this speaker
    speakers: list[str]          # column j: the speaker whose val text is scored
    values: list[list[float]]    # [i][j] mean loss (nats/char) of model i on speaker j's val text; NaN: unscorable
    notes: list[str]             # why a cell is NaN

    def row_best(self) -> list[int | None]:
        """Per model, the column of the text it finds easiest."""
        return [_argmin(row) for row in self.values]

    def column_best(self) -> list[int | None]:
        """Per speaker's text, the row of the model that predicts it best."""
        return [_argmin([row[j] for row in self.values]) for j in range(len(self.speakers))]

    def verdicts(self) -> list[dict]:
        """For each speaker that has both a model and a column: does their own model score their text
        best of all the models? {speaker, own, best_model, best, others: {model: loss}}."""
        best = self.column_best()
        out = []
        for j, name in enumerate(self.speakers):
            if name not in self.models or best[j] is None:
                continue
            i = self.models.index(name)
            col = {m: self.values[k][j] for k, m in enumerate(self.models)}
            out.append({"speaker": name, "own": col[name], "own_best": best[j] == i,
                        "best_model": self.models[best[j]], "best": self.values[best[j]][j],
                        "others": {m: v for m, v in col.items() if m != name}})
        return out


def _argmin(values: Sequence[float]) -> int | None:
    finite = [(v, i) for i, v in enumerate(values) if math.isfinite(v)]
    return min(finite)[1] if finite else None


def loss_matrix(models: Mapping[str, LoadedModel], speakers: Sequence[str],
                data_dir: Path | None = None) -> LossMatrix:
    """Each model's loss on each speaker's val split: the same computation as
    core.model.scoring.evaluate_run (the model's cleaning setting, its tokenizer, sequence_loss)."""
    texts: dict[tuple[str, bool], str] = {}
    values, notes = [], []
    for label, loaded in models.items():
        clean = loaded.record.clean
        row = []
        for name in speakers:
            if (name, clean) not in texts:
                texts[(name, clean)] = load_speaker(name, clean, data_dir).split()[1]
            try:
                ids = loaded.tokenizer.encode_tensor(texts[(name, clean)])
                row.append(sequence_loss(loaded.model, ids))
            except ValueError as e:  # UnknownCharError, or a text shorter than a block
                row.append(float("nan"))
                notes.append(f"{label}'s model cannot score {name}'s text: {e}")
        values.append(row)
    return LossMatrix(list(models), list(speakers), values, notes)


@dataclass(frozen=True)
class Guess:
    models: list[str]
    mean_loss: list[float]       # nats per scored character (lower: the passage surprises this model less)
    total_loss: list[float]      # nats over the whole passage = -log P(passage | model), first char not scored
    probs: list[float]           # softmax over -total_loss: P(model | passage) with equal priors
    surprisal: list[list[float]]  # per model, surprisal of text[1:], character by character
    n_scored: int

    @property
    def best(self) -> str:
        return self.models[max(range(len(self.probs)), key=self.probs.__getitem__)]


def who_said_it(models: Mapping[str, torch.nn.Module], tokenizer: CharTokenizer | Mapping[str, CharTokenizer],
                text: str) -> Guess:
    """Score text under every model. The guess is Bayes' rule with equal priors: P(model | text) is
    proportional to P(text | model) = exp(-total loss), i.e. a softmax over the negative total losses.
    tokenizer: one shared by all the models, or one per model name."""
    if not models:
        raise UserError("no model to ask: train a model first")
    if len(text) < 2:
        raise UserError("the passage needs at least two characters: every character after the first is scored")
    names, surprisal = list(models), []
    for name in names:
        tok = tokenizer[name] if isinstance(tokenizer, Mapping) else tokenizer
        surprisal.append(per_char_loss(models[name], tok, text))
    s = torch.stack(surprisal).double()                       # (M, len(text) - 1)
    total = s.sum(1)
    probs = torch.softmax(-total, dim=0)
    return Guess(names, s.mean(1).tolist(), total.tolist(), probs.tolist(), s.tolist(), s.size(1))


def top_chars(probs: torch.Tensor, tokenizer: CharTokenizer, k: int = 10) -> list[tuple[str, float]]:
    """The k most likely characters of a (V,) distribution, most likely first (those with
    probability 0, e.g. cut by top-k, are left out)."""
    p = torch.as_tensor(probs).float()
    values, ids = torch.topk(p, min(k, p.numel()))
    return [(tokenizer.chars[int(i)], float(v)) for v, i in zip(values, ids) if v > 0]


@dataclass(frozen=True)
class SideStep:
    label: str                    # which model drew it
    index: int                    # position in the generated text (0 = first new character)
    char: str
    prob: float                   # the probability the drawn character had
    top: list[tuple[str, float]]  # the distribution it was drawn from: the most likely characters


def check_settings(tokenizers: Iterable[CharTokenizer], prompt: str, max_new_tokens: int,
                   temperature: float, top_k: int | None) -> None:
    """A clear ValueError for a prompt or sampling settings that some model cannot use."""
    if max_new_tokens < 1:
        raise UserError(f"the length must be at least 1 character, got {max_new_tokens}")
    for tok in tokenizers:
        check_sampling(temperature, top_k, tok.vocab_size)
        unknown = tok.unknown(prompt)
        if unknown:
            raise UserError(f"the prompt holds {UnknownCharError(unknown)}; remove them to continue")


def side_by_side(models: Mapping[str, tuple[torch.nn.Module, CharTokenizer]], prompt: str, max_new_tokens: int,
                 temperature: float = 1.0, top_k: int | None = None, seed: int = 1337,
                 k: int = 10, window: str = "slide") -> Iterator[SideStep]:
    """Every model continues the same prompt with the same seed (its own generator, seeded alike),
    one character per model in turn, so the columns fill together. Checks the prompt and the
    settings first: the errors come before any character."""
    check_settings([tok for _, tok in models.values()], prompt, max_new_tokens, temperature, top_k)
    streams = {label: stream(model, tok, prompt, max_new_tokens, temperature, top_k,
                             torch.Generator().manual_seed(int(seed)), window=window)
               for label, (model, tok) in models.items()}
    toks = {label: tok for label, (_, tok) in models.items()}

    def run() -> Iterator[SideStep]:
        for _ in range(max_new_tokens):
            for label, it in streams.items():
                s = next(it)
                yield SideStep(label, s.index, s.char, float(s.probs[s.token]), top_chars(s.probs, toks[label], k))

    return run()


def excerpt(text: str, n: int = 300, at: float = 0.5) -> str:
    """At most n characters of text from the sentence that starts after the fraction `at` of it,
    ending at the end of a sentence if one ends in its second half, else at the end of a word."""
    start = int(len(text) * at)
    dot = text.find(". ", start)
    start = dot + 2 if 0 <= dot < len(text) - n // 2 else text.find(" ", start) + 1
    chunk = text[start:start + n]
    if start + n < len(text):
        ends = [chunk.rfind(p) for p in (". ", "! ", "? ", ".\n")]
        if max(ends) >= n // 2:
            chunk = chunk[:max(ends) + 1]
        elif " " in chunk:
            chunk = chunk[:chunk.rfind(" ")]
    return chunk.strip()
