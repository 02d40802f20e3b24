"""The journey in one number: the loss on one speaker's validation text (nats per character) that each
stage the pages build reaches, from a uniform guess to the speaker's fine-tuned model. Read from the
runs' records (the whole val split where measured): nothing is trained or scored here."""
from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from core.lessons import ladder
from core.runs import catalog
from core.runs.record import RunRecord


@dataclass(frozen=True)
class Milestone:
    label: str
    loss: float         # nats per character on the speaker's val text
    run: str | None     # the run it was read from; None for the uniform guess


def milestones(records: Iterable[RunRecord], speaker: str, root: Path) -> list[Milestone]:
    """Uniform guess, the lecture's ladder (rungs 1-7, where trained), the speaker's GPT from scratch and
    fine-tuned from a base (where there is one), in the order the pages build them."""
    records = list(records)
    scratch = catalog.speaker_model(records, speaker, "scratch")
    tuned = catalog.speaker_models(records, [speaker], "fine-tune")[speaker]
    rungs = [r for r in ladder.results([speaker], root) if r.status == "finished" and r.val_loss is not None]
    vocab = next((r.model.vocab_size for r in (scratch, tuned) if r is not None), None)
    out = [Milestone(f"uniform guess: ln {vocab}", math.log(vocab), None)] if vocab else []
    out += [Milestone(f"rung {r.rung}: {ladder.BY_NUMBER[r.rung].title}", r.val_loss, r.run) for r in rungs]
    if scratch is not None:
        out.append(Milestone(f"GPT from scratch ({scratch.n_params / 1e6:.1f}M parameters)",
                             catalog.own_loss(scratch, speaker), scratch.name))
    if tuned is not None:
        out.append(Milestone(f"fine-tuned from a base ({tuned.n_params / 1e6:.1f}M)", catalog.own_loss(tuned, speaker),
                             tuned.name))
    return out
