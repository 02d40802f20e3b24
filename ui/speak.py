"""What the "Speak like them" page and the Compare page share: the base models, each speaker's
from-scratch and fine-tuned runs, their losses and samples (cached), and the who-said-it curve."""
from __future__ import annotations

import json
from pathlib import Path

import streamlit as st

from core.lessons.attribution import accuracy_curve, speaker_runs_by_kind, speaker_sets
from core.model.sampling import sample_text
from core.model.scoring import sequence_loss
from core.runs import record as rec
from ui import state

SHIPPED_CURVE = "attribution.json"  # `make checkpoints` measures the shipped models' curve into checkpoints/


def bases() -> list[rec.RunRecord]:
    """GPT runs that pretrained on many speakers, or that another run started from; newest first."""
    records = [r for r in state.runs("gpt")]
    used = {r.init_from for r in records if r.init_from}
    return [r for r in records if (len(r.speakers) >= 5 or r.name in used) and not r.init_from]


def newest(records: list[rec.RunRecord], speaker: str, base: str | None) -> rec.RunRecord | None:
    """The newest finished GPT run on this speaker alone: fine-tuned from base, or from scratch (None)."""
    return next((r for r in records if r.status == "finished" and r.model_type == "gpt" and r.speakers == [speaker]
                 and r.init_from == base), None)


def load(run: rec.RunRecord):
    return state.load_run(run)


@st.cache_data(show_spinner="Scoring the base model on the speaker's val text...", max_entries=64)
def zero_shot(base_path: str, mtime: float, speaker: str, clean: bool) -> float:
    """The base model's loss on a speaker's whole val split (the same measure as each run's own)."""
    run = rec.RunRecord.load(Path(base_path))
    loaded = state.load_run(run)
    _, val = state.speaker(speaker, clean).split()
    return sequence_loss(loaded.model, loaded.tokenizer.encode_tensor(val))


def val_loss(run: rec.RunRecord, speaker: str) -> float | None:
    """A run's recorded loss on a speaker's whole val split (its best weights), if it was measured."""
    return run.val_loss_full.get(speaker)


@st.cache_data(show_spinner="Sampling...", max_entries=64)
def sample(path: str, mtime: float, prompt: str, n: int, seed: int, temperature: float) -> str:
    run = rec.RunRecord.load(Path(path))
    loaded = state.load_run(run)
    return sample_text(loaded.model, loaded.tokenizer, prompt, n, temperature, None, seed)


def mtime(run: rec.RunRecord) -> float:
    return (run.path / rec.BEST).stat().st_mtime


def seen_in_pretraining(base: rec.RunRecord | None, speaker: str) -> bool:
    return base is not None and speaker in base.speakers


def shipped_curve(speakers: list[str]) -> dict | None:
    """The who-said-it curve measured when the shipped models were made, if it is for these models."""
    path = state.runs_root() / SHIPPED_CURVE
    try:
        curve = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(curve, dict) or curve.get("speakers") != speakers:
        return None
    sets = speaker_sets(state.runs("gpt"), speakers)
    return curve if all(curve.get("models", {}).get(k) == v for k, v in sets.items()) else None


@st.cache_data(show_spinner="Measuring who said it on many passages (about a minute on a CPU)...", max_entries=8)
def measured_curve(key: tuple, speakers: tuple[str, ...], per_speaker: int) -> dict:
    """key: (kind, speaker, run, mtime) for every model: a retrained run is measured again."""
    sets = speaker_sets(state.runs("gpt"), list(speakers))
    model_sets = {}
    for kind, names in sets.items():
        loaded = {s: state.load_run(rec.RunRecord.load(state.runs_root() / n)) for s, n in names.items()}
        model_sets[kind] = ({s: ld.model for s, ld in loaded.items()}, next(iter(loaded.values())).tokenizer)
    split = {s: state.speaker(s, True).split() for s in speakers}
    curve = accuracy_curve(model_sets, {s: split[s][1] for s in speakers}, {s: split[s][0] for s in speakers},
                           per_speaker=per_speaker)
    return {"speakers": list(speakers), "models": sets, **curve.to_dict()}


def curve_key(speakers: list[str]) -> tuple:
    sets = speaker_sets(state.runs("gpt"), speakers)
    return tuple((k, s, n, (state.runs_root() / n / rec.BEST).stat().st_mtime)
                 for k, names in sorted(sets.items()) for s, n in sorted(names.items()))


def choose_models(speakers: list[str]) -> dict[str, rec.RunRecord | None]:
    """Per speaker, the newest finished GPT trained on that speaker alone, fine-tuned from a base or
    from scratch (one architecture per kind: core.lessons.attribution.speaker_runs_by_kind), as the learner
    picks (fine-tuned first, when there are any)."""
    found = speaker_runs_by_kind(state.runs("gpt"), speakers)
    labels = {"fine-tuned": "fine-tuned from a base", "from scratch": "from scratch"}
    available = [k for k, v in found.items() if v] or ["from scratch"]
    kind = available[0]
    if len(available) > 1:
        kind = st.segmented_control("Speaker models", available, default=available[0], key="compare_kind",
                                    format_func=labels.get,
                                    help="Each speaker's model fine-tuned from a base model, or trained on that "
                                         "speaker alone from scratch") or available[0]
    return {s: found.get(kind, {}).get(s) for s in speakers}
