"""Which runs a session follows on the Train page: the names on its chart (kept in the URL, so a
reload re-attaches), the run its history panel acts on, the group it started last. Shared by the
pages that start runs and hand them to the Train page (Train, Speak like them)."""
from __future__ import annotations

import streamlit as st

from core.runs import catalog
from core.runs import record as rec
from ui import state

WATCHED = "train_watched"        # run names on the chart (not a widget key: survives page switches)
WATCH_PARAM = "watch"            # the same names in the URL: survives a reload
SELECTED = "train_selected_run"  # the run the history panel acts on
GROUP = "train_group"            # the group this session started last (Stop all)


def watch(names: list[str]) -> None:
    """This session follows these runs; the URL keeps them (?watch=...), so a reload re-attaches
    while another tab or visitor, without them in its URL, sees only its own."""
    st.session_state[WATCHED] = list(names)
    st.query_params[WATCH_PARAM] = ",".join(names)


def first_watched(records: list[rec.RunRecord]) -> list[str]:
    """A new session (or a reload) watches the runs named in its URL, else the first chosen speaker's
    model as core.runs.catalog names it (never a rung or a run stopped at step 0 that another page
    started), else the newest finished run."""
    on_disk = {r.name for r in records}
    from_url = [n for n in st.query_params.get(WATCH_PARAM, "").split(",") if n in on_disk]
    if from_url:
        return from_url
    chosen = state.chosen_speakers()
    pick = catalog.speaker_model(records, chosen[0], catalog.default_role(records, chosen)) if chosen else None
    return [pick.name] if pick else [r.name for r in records if r.status == "finished"][:1]
