"""The one writer of a run folder: it turns the trainer's events into the record (meta.json), the
checkpoints (model.pt at each new best, latest.pt at each evaluation), the metrics log, and a
short sample from a fixed prompt and seed at each evaluation (what the model wrote at step 0,
200, 400, ...). A write that fails raises SaveFailed; what was written before is kept."""
from __future__ import annotations

import contextlib
import math
from dataclasses import asdict
from pathlib import Path

import torch

from core.errors import SaveFailed
from core.probe.heads import PATTERNS, detect
from core.runs import checkpoints as ck
from core.runs import record as rec
from core.text.dataset import TrainingData
from core.train.loop import EndEvent, EvalEvent, Event, StartEvent, StepEvent

SAMPLE_CHARS, SAMPLE_SEED, SAMPLE_PROMPT = 160, 1337, "\n"
HEADS_CHARS = 4000  # of the val text, for the head detectors at each evaluation


def sample_prompt(tokenizer) -> str:
    """The fixed prompt every evaluation's sample starts from (a newline, as the lecture's)."""
    return SAMPLE_PROMPT if SAMPLE_PROMPT in tokenizer.stoi else tokenizer.chars[0]


class Recorder:
    def __init__(self, run_dir: Path, record: rec.RunRecord, data: TrainingData, samples: bool = True):
        self.dir, self.record, self.data, self.samples = Path(run_dir), record, data, samples
        self.device = torch.device("cpu")

    def __call__(self, event: Event) -> None:
        r = self.record
        if isinstance(event, StartEvent):
            self.device = torch.device(event.device)
            r.status, r.message, r.device, r.dtype = "running", "", event.device, event.dtype
            r.n_params, r.world_size = event.n_params, event.world_size
            r.history = [h for h in r.history if h["step"] <= event.step]  # a resumed leg re-logs past that
            r.samples = [s for s in r.samples if s["step"] <= event.step]
            r.heads = [h for h in r.heads if h.get("step", 0) <= event.step]
            self._save_record()
            self._log(asdict(event))
        elif isinstance(event, StepEvent):
            r.tokens_per_s = event.tokens_per_s
            self._log(asdict(event))
        elif isinstance(event, EvalEvent):
            self._checkpoint(event)
        elif isinstance(event, EndEvent):
            self._end(event)

    def _checkpoint(self, e: EvalEvent) -> None:
        r = self.record
        r.step = e.step
        if e.kind == "eval":
            r.history.append({"step": e.step, "train_loss": e.train_loss, "val_loss": e.val_loss, "lr": e.lr,
                              "elapsed": e.elapsed})
            r.train_loss, r.val_loss = e.train_loss, e.val_loss
            if e.best:
                r.best_val_loss, r.best_step = e.val_loss, e.step
            if self.samples:
                r.samples.append({"step": e.step, "text": self._sample(e.model)})
                if r.model_type == "gpt":
                    r.heads.append({"step": e.step, "patterns": list(PATTERNS), "scores": self._heads(e.model)})
        self._save_record()
        if e.kind == "eval" and e.best:
            self._write(rec.BEST, lambda: ck.save_checkpoint(self.dir / rec.BEST, e.model, r))
        self._write(rec.LATEST, lambda: ck.save_checkpoint(self.dir / rec.LATEST, e.model, r, **e.latest))
        if e.kind == "eval":
            self._log(e.log())

    def _sample(self, model) -> str:
        from core.model.sampling import generate

        tok = self.data.tokenizer
        device = next(model.parameters()).device
        idx = torch.tensor([tok.encode(sample_prompt(tok))], dtype=torch.long, device=device)
        g = torch.Generator().manual_seed(SAMPLE_SEED)
        out = generate(model, idx, SAMPLE_CHARS, temperature=1.0, generator=g, dtype="float32")
        return tok.decode(out[0, idx.size(1):].tolist())

    def _heads(self, model) -> list:
        """Every head's score on each pattern (core.probe.heads), on the start of the val text: when do the
        previous-character and induction heads appear?"""
        text = self.data.tokenizer.decode(self.data.val[:HEADS_CHARS].tolist())
        return [[[round(x, 4) for x in head] for head in layer]
                for layer in detect(model, self.data.tokenizer, text, n_windows=8, n_random=8).tolist()]

    def _end(self, e: EndEvent) -> None:
        r = self.record
        r.status, r.message, r.pid = e.status, e.message, None
        if e.status == "failed":
            with contextlib.suppress(SaveFailed):
                self._save_record()
                self._log(asdict(e))
            return
        if e.status == "finished" and r.best_step is not None and (self.dir / rec.BEST).exists() and r.role != "base":
            # a base's dozens of val splits are never read per speaker (its speakers' models are scored on their own)
            r.val_loss_full = full_val_losses(self.dir / rec.BEST, self.data, self.device)
        self._save_record()
        self._log(asdict(e))

    def _save_record(self) -> None:
        self._write(rec.META, lambda: self.record.save(self.dir))

    def _log(self, event: dict) -> None:
        self._write(rec.METRICS, lambda: rec.append_metrics(self.dir, event))

    def _write(self, name: str, write) -> None:
        if not self.dir.is_dir():  # deleted while it trained: stop, and never create it again
            raise SaveFailed(f"the run folder {self.dir} was deleted while it trained: the run stops here and "
                             "writes nothing more")
        try:
            write()
        except OSError as e:
            raise SaveFailed(f"could not write {name} in {self.dir}: {e.strerror or e}; the run stops here "
                             "and the files it saved before are kept") from e


def full_val_losses(best: Path, data: TrainingData, device: torch.device) -> dict[str, float]:
    """The best weights' loss on each training speaker's whole val split (deterministic)."""
    from core.model.scoring import sequence_loss

    model = ck.build_from(ck.read_checkpoint(best), device)
    out = {s.speaker.name: sequence_loss(model, s.val) for s in data.speakers}
    return {k: v for k, v in out.items() if math.isfinite(v)}
