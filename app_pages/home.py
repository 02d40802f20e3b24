"""Home: what Podium is, the lecture's pipeline with a link to each step, and what is trained."""
import streamlit as st

from ui import fmt, journey, state
from ui.pages import STEPS

journey.header(__file__)
st.markdown(
    "Follow Karpathy's *Let's build GPT* lecture on the **State of the Union addresses** of "
    "Barack Obama, Donald J. Trump and Joseph R. Biden Jr. (or any president, or your own text). "
    "Every step below is live: move a slider and watch the tensors change.")

st.subheader("The pipeline")
st.caption("speeches -> characters -> ids -> batches -> bigram -> attention -> GPT -> samples -> inside")
for step in STEPS:
    cols = st.columns([1, 3])
    with cols[0]:
        st.page_link(step.path, label=step.title, icon=step.icon)
    cols[1].caption(step.what)

st.subheader("Trained models")
runs = state.runs()
chosen = state.chosen_speakers()
rows = []
for name in chosen:
    mine = [r for r in runs if name in r.speakers]
    gpt = [r for r in mine if r.model_type == "gpt"]
    bigram = [r for r in mine if r.model_type == "bigram"]
    losses = [r.best_val_loss for r in gpt if r.best_val_loss is not None]
    rows.append({"speaker": name, "GPT runs": len(gpt), "bigram runs": len(bigram),
                 "best GPT val loss": round(min(losses), 4) if losses else None})
st.dataframe(rows, hide_index=True, width="stretch", placeholder=fmt.MISSING,
             column_config={"best GPT val loss": st.column_config.NumberColumn(format="%.4f")})
if not runs:
    st.info("No trained model yet. Train a bigram on the Bigram page in seconds, or a GPT with "
            "`python -m core train --speaker \"Barack Obama\" --preset tiny` (a few minutes on CPU).")
