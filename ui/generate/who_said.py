"""Under each generated text: how every speaker's model scores it (core.lessons.attribution's who
said it, on the generated characters alone), as a small table of percentages."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from core.lessons.attribution import Verdict
from ui import fmt

P_COLUMN = "P(said it)"
LOSS_COLUMN = "nats/char"
WIDTHS = (140, 76, 72)  # pixels: the three fit a third of the page at 1,400 px ("Joseph R. Biden Jr.", "> 99.9%")


def table(v: Verdict) -> pd.DataFrame:
    """One row per speaker's model, in the columns' order: P(speaker | text) and the mean loss."""
    n = len(v.probabilities)
    return pd.DataFrame([{"model": name, P_COLUMN: fmt.posterior(p, n), LOSS_COLUMN: fmt.number(v.mean_loss[name])}
                         for name, p in v.probabilities.items()])


def render(v: Verdict | None, note: str | None, own: str, key: str) -> None:
    """The verdict on one column's text (own: that column's label), or why there is none."""
    if v is None:
        st.caption(f"Not scored: {note}" if note else "Not scored.")
        return
    st.dataframe(table(v), hide_index=True, width="stretch", key=key, placeholder=fmt.MISSING,
                 column_config={"model": st.column_config.TextColumn("scored by", width=WIDTHS[0]),
                                P_COLUMN: st.column_config.TextColumn(P_COLUMN, width=WIDTHS[1]),
                                LOSS_COLUMN: st.column_config.TextColumn(LOSS_COLUMN, width=WIDTHS[2])})
    st.caption(f"Sounds most like **{v.guess}**" + (", its own model." if v.guess == own else "."))


def explain(n_models: int) -> None:
    """The one caption under the columns."""
    if n_models < 2:
        st.caption("Who said it needs a second speaker's model: with one, there is nobody to compare it with.")
        return
    st.caption("Under each text, every speaker's model scores the generated characters (not the prompt): "
               "P(said it) is who said it by Bayes' rule with equal priors, a softmax over minus each model's "
               "**total** loss on the text, as on the Compare page; nats/char is the mean loss (lower: less "
               "surprised). A model usually finds its own writing least surprising.")
