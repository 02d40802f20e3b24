"""Probes of saved weights: the head detectors (core.probe.heads) on each checkpoint of a run, by
step: when do the previous-character and induction heads appear? Reading the files is this room's
part; the scoring is the probe's."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from core.errors import UserError
from core.probe.heads import HeadScore, score_heads
from core.runs.checkpoints import build_from, read_checkpoint
from core.text.corpus import load_speaker


@dataclass(frozen=True)
class CheckpointScores:
    path: str
    step: int | None                  # the training step the weights are from
    scores: list[HeadScore]


def score_checkpoints(paths: Iterable, val_text: str | None = None, **kw) -> list[CheckpointScores]:
    """The detectors on each saved checkpoint of a run (model.pt = best, latest.pt, or any other
    .pt), sorted by step. val_text: the text for the real-text patterns (default: the run's first
    speaker's val split). No ablation unless asked (ablation=True)."""
    kw.setdefault("ablation", False)
    out = []
    for path in paths:
        ckpt = read_checkpoint(path)
        if ckpt.model_config.model_type != "gpt":
            raise UserError(f"{path}: a {ckpt.model_config.model_type} model has no attention heads")
        step = ckpt.state.get("step", ckpt.record.best_step)
        text = val_text
        if text is None:
            text = load_speaker(ckpt.record.speakers[0], ckpt.record.clean).split()[1]
        out.append(CheckpointScores(str(path), None if step is None else int(step),
                                    score_heads(build_from(ckpt), ckpt.tokenizer, text, **kw)))
    return sorted(out, key=lambda c: (c.step is None, c.step or 0))
