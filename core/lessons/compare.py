"""Speakers against speakers: every model's loss on every speaker's val text, and the small pieces
the Generate and Compare pages need (the models writing side by side, the top next characters, a real
excerpt). Who said a passage is core.lessons.attribution's; which run is whose model, core.runs.catalog's.
Plain numbers out."""
from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from core.errors import UserError
from core.model.sampling import check_sampling, stream
from core.runs import probed
from core.runs.checkpoints import LoadedModel
from core.text.corpus import load_speaker
from core.text.tokenizer import CharTokenizer, UnknownCharError


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
    core.runs.evaluate.evaluate_run (the model's cleaning setting, its tokenizer, sequence_loss)."""
    texts: dict[tuple[str, bool], str] = {}
    values, notes = [], []
    for label, loaded in models.items():
        clean = loaded.record.clean
        row = []
        for name in speakers:
            if (name, clean) not in texts:
                texts[(name, clean)] = load_speaker(name, clean, data_dir).split()[1]
            try:
                row.append(probed.val_loss(loaded, texts[(name, clean)]))  # once per weights file and text
            except ValueError as e:  # UnknownCharError, or a text shorter than a block
                row.append(float("nan"))
                notes.append(f"{label}'s model cannot score {name}'s text: {e}")
        values.append(row)
    return LossMatrix(list(models), list(speakers), values, notes)


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
