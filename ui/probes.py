"""Cached access to core.probe.heads, core.probe.lens and core.probe.embeddings for the pages. Keyed by the weights
file and its mtime, so a retrained run is scored afresh; the model arguments (leading underscore)
are not hashed. Results are plain data, the same for every visitor."""
from __future__ import annotations

import streamlit as st

from core.model.scoring import surprisal
from core.probe import embeddings, heads
from core.runs import checkpoints as ck
from core.runs import probed
from core.runs import record as rec
from ui import state

PAGE_CHARS = heads.PAGE_CHARS  # the page's ablations read the first PAGE_CHARS characters of each val text


def _key(run: rec.RunRecord) -> tuple[str, float]:
    return ck.weights_key(run.path)


def val_text(speaker: str, clean: bool) -> str:
    return state.speaker(speaker, clean).split()[1]


@st.cache_data(show_spinner="Scoring every head...", max_entries=32)
def _scores(_loaded, path: str, mtime: float, speaker: str, clean: bool) -> list[dict]:
    return probed.head_scores(_loaded, val_text(speaker, clean))


def scores(run: rec.RunRecord, speaker: str | None = None) -> list[dict]:
    """Every head's pattern scores on the speaker's val text (default: the run's own speaker):
    dicts of core.probe.heads.HeadScore.to_dict()."""
    return _scores(state.load_run(run), *_key(run), speaker or run.speakers[0], run.clean)


def head_labels(run: rec.RunRecord) -> list[list[tuple[str, float | None]]]:
    """[layer][head] -> (what the head does, core.probe.heads.HeadScore.label: a pattern, or how broadly
    it spreads and what it leans to; the pattern's score, None for a broad head): the Attention page's grid."""
    out: dict[int, list] = {}
    for r in scores(run):
        out.setdefault(r["layer"], []).append((r["label"], heads.label_score(r["best_score"])))
    return [out[i] for i in sorted(out)]


@st.cache_data(show_spinner="Ablating each head over the val text...", max_entries=32)
def _worth(_loaded, path: str, mtime: float, speaker: str, clean: bool, mode: str) -> dict:
    return probed.head_worth(_loaded, val_text(speaker, clean), mode)


def worth(run: rec.RunRecord, mode: str = "mean") -> dict:
    """{"base": val loss, "worth": [layer][head] loss increase in nats} over the run's val text."""
    return _worth(state.load_run(run), *_key(run), run.speakers[0], run.clean, mode)


@st.cache_data(show_spinner="Ablating...", max_entries=64)
def _ablation(_loaded, path: str, mtime: float, speaker: str, clean: bool, chosen: tuple, mode: str) -> dict:
    return probed.ablation(_loaded, val_text(speaker, clean), list(chosen), mode, PAGE_CHARS)


def ablation(run: rec.RunRecord, speaker: str, chosen: list[tuple[int, int]], mode: str) -> dict:
    """The run's loss on the speaker's val text with and without the chosen heads."""
    return _ablation(state.load_run(run), *_key(run), speaker, run.clean, tuple(chosen), mode)


@st.cache_resource(show_spinner="Knocking the heads out...", max_entries=16)
def _ablated_model(_loaded, path: str, mtime: float, speaker: str, clean: bool, chosen: tuple, mode: str):
    loaded = _loaded
    means = probed.head_means(loaded, val_text(speaker, clean), list(chosen), PAGE_CHARS) if mode == "mean" else None
    return heads.ablated(loaded.model, list(chosen), means, mode)  # a copy: never run with other hooks


def ablated_model(run: rec.RunRecord, chosen: list[tuple[int, int]], mode: str):
    """The run's model with the chosen heads knocked out (means over its own speaker's val text)."""
    return _ablated_model(state.load_run(run), *_key(run), run.speakers[0], run.clean, tuple(chosen), mode)


@st.cache_data(show_spinner="Scoring the passage...", max_entries=64)
def _surprisal(_model, _tokenizer, key: tuple, text: str) -> list[float]:
    return surprisal(_model, _tokenizer.encode_tensor(text)).tolist()


def passage_surprisal(run: rec.RunRecord, text: str, chosen: list[tuple[int, int]] = (), mode: str = "mean"):
    """Each character's surprisal under the run's model (with the chosen heads knocked out, when
    any): the who-said-it table scores the passage again only for the model that changed."""
    loaded = state.load_run(run)
    model = ablated_model(run, chosen, mode) if chosen else loaded.model
    return _surprisal(model, loaded.tokenizer, (*_key(run), tuple(chosen), mode if chosen else ""), text)


@st.cache_data(show_spinner="Reading every layer...", max_entries=32)
def _layer_losses(_loaded, path: str, mtime: float, speaker: str, clean: bool) -> list[float]:
    return probed.layer_losses(_loaded, val_text(speaker, clean))


def layer_losses(run: rec.RunRecord) -> list[float]:
    return _layer_losses(state.load_run(run), *_key(run), run.speakers[0], run.clean)


@st.cache_data(show_spinner="Mapping the embeddings...", max_entries=16)
def _maps(_models, keys: tuple) -> list[dict]:
    return [{"label": m.label, "chars": m.chars, "classes": m.classes, "xy": m.xy.tolist(),
             "explained": m.explained, "aligned_on": m.aligned_on} for m in embeddings.token_maps(_models)]


def maps(runs: list[rec.RunRecord]) -> list[dict]:
    """The token-embedding maps of the runs, aligned to the first one's."""
    loaded = {r.name: state.load_run(r) for r in runs}
    return _maps({k: (v.model, v.tokenizer) for k, v in loaded.items()}, tuple(_key(r) for r in runs))
