"""A run scored on a speaker: its best weights' loss on the speaker's whole val split (the same
measure a finished run records for its own speakers, and the Compare page's matrix cell by cell)."""
from __future__ import annotations

import math
from pathlib import Path

from core.model.scoring import sequence_loss
from core.runs.checkpoints import load_model
from core.text.corpus import load_speaker


def evaluate_run(run: str | Path, speaker: str, clean: bool | None = None,
                 root: Path | None = None, data_dir: Path | None = None, device: str = "cpu") -> dict:
    """The loss of a run's best weights on a speaker's val split."""
    loaded = load_model(run, device=device, root=root)
    clean = loaded.record.clean if clean is None else clean
    _, val_text = load_speaker(speaker, clean, data_dir).split()
    ids = loaded.tokenizer.encode_tensor(val_text)
    loss = sequence_loss(loaded.model, ids)
    return {"run": loaded.path.parent.name, "speaker": speaker, "val_loss": loss,
            "bits_per_char": loss / math.log(2), "val_chars": len(ids),
            "trained_on": loaded.record.speakers, "step": loaded.record.best_step}
