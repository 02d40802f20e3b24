"""Home: what Podium is, the lecture's pipeline with a link to each step, and what is trained."""
import streamlit as st

from core.lessons.milestones import milestones
from ui import charts, fmt, journey, state
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

steps = milestones(runs, chosen[0], state.runs_root()) if runs and chosen else []
if len(steps) > 1:
    st.subheader(f"Where the steps take the loss, on {chosen[0]}'s text")
    fig = charts.bar([m.loss for m in steps], [m.label for m in steps], x_title="val loss (nats per character)",
                     height=90 + 30 * len(steps), color=charts.speaker_color(chosen[0]), orientation="h")
    fig.update_traces(text=[f"{m.loss:.3f}" for m in steps], textposition="outside", cliponaxis=False,
                      customdata=[m.run or "" for m in steps],
                      hovertemplate="%{y}: %{x:.3f} nats/char<br>%{customdata}<extra></extra>")
    fig.update_yaxes(autorange="reversed")
    st.plotly_chart(fig, key="home_milestones")
    st.caption("Each bar is a model the pages build, scored on the same validation text (never trained on): a "
               "uniform guess over the characters, the lecture's ladder from the bigram to LayerNorm (*Build it "
               "up*), the GPT trained on this speaker alone (*Train*), and the same GPT fine-tuned from a base that "
               "read every other president (*Speak like them*). Lower is better: e^loss is how many characters "
               "the model is, in effect, still choosing between.")
