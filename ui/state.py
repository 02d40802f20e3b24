"""Cached access to core for the pages, and the session's choices.

Data that is the same for every visitor is cached process-wide (st.cache_data / cache_resource,
bounded); what one visitor chose lives in their st.session_state only."""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import streamlit as st
import torch

from core.config import TrainConfig, preset
from core.errors import UserError
from core.model.models import build_model
from core.runs import catalog
from core.runs import checkpoints as ck
from core.runs import record as rec
from core.text.corpus import DEFAULT_SPEAKERS, Speaker, list_speakers, load_speaker
from core.text.dataset import TrainingData, prepare
from core.text.tokenizer import CharTokenizer

SPEAKERS = "podium_speakers"   # the speakers chosen in the sidebar (survives page switches)
CLEAN = "podium_clean"
USER_ERRORS = (UserError,)  # what a person can fix is shown as a message; anything else is a bug


@st.cache_resource
def configure_torch() -> int:
    """One intra-op thread for the server's interactive work: small forward passes are 10-50x
    faster than with threads that contend for 2 cores (measured: 12 ms vs 650 ms at T=64).
    Training runs in its own process with its own threads. Process-wide, set once."""
    torch.set_num_threads(1)
    return 1


def chosen_speakers() -> list[str]:
    return list(st.session_state.get(SPEAKERS) or DEFAULT_SPEAKERS)


def cleaning() -> bool:
    return bool(st.session_state.get(CLEAN, True))


@st.cache_data(show_spinner=False, ttl=60)
def speaker_names() -> list[str]:
    return list_speakers()


@st.cache_data(show_spinner="Loading speeches...", max_entries=64)
def speaker(name: str, clean: bool = True) -> Speaker:
    return load_speaker(name, clean)


@st.cache_resource(show_spinner="Encoding speeches...", max_entries=8)
def training_data(names: tuple[str, ...], clean: bool = True) -> TrainingData:
    """Speakers encoded with the shared vocabulary (theirs plus the default three). Read-only."""
    return prepare(list(names), clean=clean)


def data() -> TrainingData:
    return training_data(tuple(chosen_speakers()), cleaning())


def data_or_stop() -> TrainingData:
    """The chosen speakers' data; if they cannot be loaded, a clear message ends the page."""
    try:
        return data()
    except USER_ERRORS as e:
        st.error(str(e), icon=":material/error:")
        st.stop()


def runs_root() -> Path:
    return rec.default_root()


def scan_runs() -> rec.Scan:
    """Every run folder: the readable records and the unreadable folders, with the reason."""
    return rec.scan(runs_root())


def runs(model_type: str | None = None) -> list[rec.RunRecord]:
    """Saved runs with usable best weights, newest first (optionally only one model type)."""
    return [r for r in rec.list_runs(runs_root())
            if (r.path / rec.BEST).exists() and (model_type is None or r.model_type == model_type)]


@st.cache_resource(show_spinner="Loading model...", max_entries=12)
def load_file(path: str, mtime: float) -> ck.LoadedModel:
    """A checkpoint file's model (model.pt or latest.pt), cached until the file changes (the trainer
    replaces it atomically, so a new mtime is a new file)."""
    return ck.load_model(Path(path), device="cpu")


def load_run(run: rec.RunRecord, which: str = "best") -> ck.LoadedModel:
    """A run's best (or latest) model, cached until its file changes."""
    return load_file(*ck.weights_key(run.path, which))


def model_choices(model_type: str = "gpt") -> dict[str, rec.RunRecord]:
    """Every run with best weights, for a page's "Model" box: first each chosen speaker's model as
    core.runs.catalog names it (the first is the page's default), then every other run, newest first,
    for the learner to pick on purpose. Label -> run."""
    records = runs(model_type)
    chosen = chosen_speakers()
    role = catalog.default_role(records, chosen)
    picks = [r for s in chosen if (r := catalog.speaker_model(records, s, role, model_type))]
    named = {r.name for r in picks}
    ordered = picks + [r for r in records if r.name not in named]
    return {f"{r.name} · {catalog.KINDS.get(r.role, r.role)} · {', '.join(r.speakers[:3])}"
            + (f" +{len(r.speakers) - 3}" if len(r.speakers) > 3 else ""): r for r in ordered}


@st.cache_resource(max_entries=4)
def untrained(vocab: str, seed: int = 0) -> ck.LoadedModel:
    """A GPT of the tiny preset with random weights, to compare with a trained one."""
    tok = CharTokenizer(vocab)
    cfg, _ = preset("tiny", tok.vocab_size)
    model = build_model(cfg, seed=seed).eval()
    record = rec.RunRecord(name="untrained", speakers=[], model=cfg, train=TrainConfig(), vocab=tok.to_json())
    return ck.LoadedModel(model, tok, record, Path("untrained"))


@contextmanager
def friendly_errors():
    """Show a user mistake as a clear message on the page instead of a traceback."""
    try:
        yield
    except USER_ERRORS as e:
        st.error(str(e), icon=":material/error:")
