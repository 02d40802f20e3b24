"""What the "Speak like them" page and the Compare page share: the base models, each speaker's
from-scratch and fine-tuned runs, their losses and samples (cached), and the who-said-it curve."""
from __future__ import annotations

import json
from pathlib import Path

import streamlit as st

from core.lessons.attribution import accuracy_curve
from core.runs import catalog, probed
from core.runs import checkpoints as ck
from core.runs import record as rec
from ui import state

SHIPPED_CURVE = "attribution.json"  # `make checkpoints` measures the shipped models' curve into checkpoints/


def bases() -> list[rec.RunRecord]:
    """Finished base runs (their record's role), the best first."""
    return catalog.bases(state.runs("gpt"))


@st.cache_data(show_spinner="Scoring the base model on the speaker's val text...", max_entries=64)
def zero_shot(path: str, mtime: float, speaker: str, clean: bool) -> float:
    """The base model's loss on a speaker's whole val split (the same measure as each run's own).
    path, mtime: its weights' key (core.runs.checkpoints.weights_key)."""
    run = rec.RunRecord.load(Path(path).parent)
    loaded = state.load_run(run)
    _, val = state.speaker(speaker, clean).split()
    return probed.val_loss(loaded, val)  # stored beside the base (probes.json): a fresh server reads it


def val_loss(run: rec.RunRecord, speaker: str) -> float | None:
    """A run's recorded loss on a speaker's whole val split (its best weights), if it was measured."""
    return run.val_loss_full.get(speaker)


@st.cache_data(show_spinner="Sampling...", max_entries=64)
def sample(path: str, mtime: float, prompt: str, n: int, seed: int, temperature: float) -> str:
    run = rec.RunRecord.load(Path(path).parent)
    loaded = state.load_run(run)
    return probed.sample(loaded, prompt, n, seed, temperature)


def seen_in_pretraining(base: rec.RunRecord | None, speaker: str) -> bool:
    return base is not None and speaker in base.speakers


def model_sets(speakers: list[str]) -> dict[str, dict[str, str]]:
    """kind ("fine-tuned", "from scratch") -> speaker -> run name: core.runs.catalog's sets."""
    return {kind: {s: r.name for s, r in models.items()}
            for kind, models in catalog.labelled_sets(state.runs("gpt"), speakers).items()}


def shipped_curve(speakers: list[str]) -> dict | None:
    """The who-said-it curve measured when the shipped models were made, if it is for these models."""
    path = state.runs_root() / SHIPPED_CURVE
    try:
        curve = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(curve, dict) or curve.get("speakers") != speakers:
        return None
    sets = model_sets(speakers)
    return curve if all(curve.get("models", {}).get(k) == v for k, v in sets.items()) else None


@st.cache_data(show_spinner="Measuring who said it on many passages (about a minute on a CPU)...", max_entries=8)
def measured_curve(key: tuple, speakers: tuple[str, ...], per_speaker: int) -> dict:
    """key: (kind, speaker, run, mtime) for every model: a retrained run is measured again."""
    sets = model_sets(list(speakers))
    model_sets_ = {}
    for kind, names in sets.items():
        loaded = {s: state.load_run(rec.RunRecord.load(state.runs_root() / n)) for s, n in names.items()}
        model_sets_[kind] = ({s: ld.model for s, ld in loaded.items()}, next(iter(loaded.values())).tokenizer)
    split = {s: state.speaker(s, True).split() for s in speakers}
    curve = accuracy_curve(model_sets_, {s: split[s][1] for s in speakers}, {s: split[s][0] for s in speakers},
                           per_speaker=per_speaker)
    return {"speakers": list(speakers), "models": sets, **curve.to_dict()}


def curve_key(speakers: list[str]) -> tuple:
    return tuple((k, s, *ck.weights_key(state.runs_root() / n))
                 for k, names in sorted(model_sets(speakers).items()) for s, n in sorted(names.items()))


def choose_models(speakers: list[str], key: str = "compare_kind") -> dict[str, rec.RunRecord | None]:
    """Per speaker, its model as core.runs.catalog names it: fine-tuned from a base or from scratch, as
    the learner picks (the fine-tuned ones first, when every speaker has one); one architecture a set."""
    records = state.runs("gpt")
    found = {role: catalog.speaker_models(records, speakers, role) for role in catalog.KINDS}
    available = [r for r in catalog.KINDS if any(found[r].values())] or ["scratch"]
    role = catalog.default_role(records, speakers) if catalog.default_role(records, speakers) in available \
        else available[0]
    if len(available) > 1:
        role = st.segmented_control("Speaker models", available, default=role, key=key,
                                    format_func=lambda r: {"fine-tune": "fine-tuned from a base",
                                                           "scratch": "from scratch"}[r],
                                    help="Each speaker's model fine-tuned from a base model, or trained on that "
                                         "speaker alone from scratch") or role
    bases = catalog.fine_tune_bases(records, speakers) if role == "fine-tune" else []
    if len(bases) > 1:  # a model per speaker from each base: the learner picks the size
        sizes = {r.name: r.model.n_params() for r in catalog.bases(records)}
        base = st.segmented_control(
            "Base", bases, default=bases[0], key=f"{key}_base",
            format_func=lambda b: f"{b} ({sizes[b] / 1e6:.1f}M parameters)" if b in sizes else b,
            help="The fine-tuned models of one base (their losses are on Speak like them). A bigger base is "
                 "better only once it has read enough, and it is slower to sample from") or bases[0]
        return catalog.speaker_models(records, speakers, "fine-tune", base=base)
    return found[role]
