"""From speaker names to tensors: the shared vocabulary and each speaker's encoded train/val split."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from core.corpus import DEFAULT_SPEAKERS, Speaker, SpeakerError, load_speaker
from core.tokenizer import CharTokenizer


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


def encode_speaker(speaker: Speaker, tokenizer: CharTokenizer) -> SpeakerData:
    train_text, val_text = speaker.split()
    return SpeakerData(speaker, tokenizer.encode_tensor(train_text), tokenizer.encode_tensor(val_text))


def prepare(names: list[str] | tuple[str, ...], clean: bool = True,
            vocab_speakers: tuple[str, ...] = DEFAULT_SPEAKERS, data_dir: Path | None = None,
            tokenizer: CharTokenizer | None = None) -> TrainingData:
    """Load the training speakers; build the vocabulary over them and vocab_speakers (so the
    default three always share one), unless a tokenizer is given (e.g. to resume a run)."""
    names = list(dict.fromkeys(names))
    if not names:
        raise SpeakerError("choose at least one speaker")
    speakers = [load_speaker(n, clean, data_dir) for n in names]
    if tokenizer is None:
        extra = [load_speaker(n, clean, data_dir) for n in vocab_speakers if n not in names]
        tokenizer = shared_vocabulary(speakers + extra)
    parts = tuple(encode_speaker(s, tokenizer) for s in speakers)
    return TrainingData(tokenizer, parts,
                        torch.cat([p.train for p in parts]), torch.cat([p.val for p in parts]))
