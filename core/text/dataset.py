"""From speaker names to tensors: the shared vocabulary and each speaker's encoded train/val split."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from core.text.corpus import DEFAULT_SPEAKERS, Speaker, SpeakerError, load_speaker
from core.text.tokenizer import CharTokenizer, UnknownCharError


@dataclass(frozen=True)
class SpeakerData:
    speaker: Speaker
    train: torch.Tensor  # (N_train,) token ids
    val: torch.Tensor    # (N_val,) token ids


@dataclass(frozen=True)
class TrainingData:
    tokenizer: CharTokenizer
    speakers: tuple[SpeakerData, ...]
    train: torch.Tensor  # every training speaker's train split, concatenated
    val: torch.Tensor

    @property
    def names(self) -> list[str]:
        return [s.speaker.name for s in self.speakers]


def shared_vocabulary(speakers: list[Speaker]) -> CharTokenizer:
    """One sorted character vocabulary over all the given speakers' (cleaned) text."""
    return CharTokenizer.from_texts(s.text for s in speakers)


UNKNOWN = ("refuse", "drop", "space")  # what to do with characters outside a given vocabulary


def fit_to_vocabulary(text: str, tokenizer: CharTokenizer, unknown: str) -> str:
    """text with the characters outside the vocabulary dropped, or replaced by a space."""
    if unknown == "refuse" or not tokenizer.unknown(text):
        return text
    sub = " " if unknown == "space" and " " in tokenizer.stoi else ""
    return "".join(c if c in tokenizer.stoi else sub for c in text)


def encode_speaker(speaker: Speaker, tokenizer: CharTokenizer, unknown: str = "refuse") -> SpeakerData:
    train_text, val_text = (fit_to_vocabulary(t, tokenizer, unknown) for t in speaker.split())
    missing = tokenizer.unknown(train_text + val_text)
    if missing:
        more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
        shown = ", ".join(f"{c!r}" for c in missing[:10]) + more
        raise UnknownCharError(missing, f"{speaker.name}'s text holds characters the model's vocabulary does not "
                                        f"have: {shown}. Nothing was changed: drop them, or replace each with a "
                                        "space (--unknown drop / --unknown space, or the choice on the Train page)")
    return SpeakerData(speaker, tokenizer.encode_tensor(train_text), tokenizer.encode_tensor(val_text))


def prepare(names: list[str] | tuple[str, ...], clean: bool = True,
            vocab_speakers: tuple[str, ...] = DEFAULT_SPEAKERS, data_dir: Path | None = None,
            tokenizer: CharTokenizer | None = None, unknown: str = "refuse") -> TrainingData:
    """Load the training speakers; build the vocabulary over them and vocab_speakers (so the
    default three always share one), unless a tokenizer is given (e.g. to resume a run)."""
    names = list(dict.fromkeys(names))
    if not names:
        raise SpeakerError("choose at least one speaker")
    speakers = [load_speaker(n, clean, data_dir) for n in names]
    if tokenizer is None:
        extra = [load_speaker(n, clean, data_dir) for n in vocab_speakers if n not in names]
        tokenizer = shared_vocabulary(speakers + extra)
    parts = tuple(encode_speaker(s, tokenizer, unknown) for s in speakers)
    return TrainingData(tokenizer, parts,
                        torch.cat([p.train for p in parts]), torch.cat([p.val for p in parts]))
