"""Home: what Podium is, the lecture's pipeline with a link to each step, and what is trained."""
import streamlit as st

from ui import state

st.title("Podium: build a GPT, one step at a time")
st.markdown(
    "Follow Karpathy's *Let's build GPT* lecture on the **State of the Union addresses** of "
    "Barack Obama, Donald J. Trump and Joseph R. Biden Jr. (or any president, or your own text). "
    "Every step below is live: move a slider and watch the tensors change.")

STEPS = [
    ("app_pages/speeches.py", "Speeches", "the raw text of each speaker, its statistics and the 90/10 split"),
    ("app_pages/tokens.py", "Characters -> ids", "one shared character vocabulary; encode and decode"),
    ("app_pages/batches.py", "Batches", "B x T windows and the (context -> target) pairs inside them"),
    ("app_pages/bigram.py", "Bigram", "a V x V table of next-character logits: tokens don't talk yet"),
    ("app_pages/trick.py", "The trick", "averaging the past with a triangular matrix and a softmax"),
    ("app_pages/attention.py", "Attention", "queries, keys, the mask and the softmax of a trained GPT"),
    ("app_pages/train.py", "Train", "train a bigram or a GPT per speaker and watch the losses and heads live"),
    ("app_pages/generate.py", "Generate", "every speaker's model continues the same prompt with the same seed"),
    ("app_pages/compare.py", "Compare", "whose model knows whose words: the cross-loss matrix and who said it"),
]
st.subheader("The pipeline")
st.caption("speeches -> characters -> ids -> batches -> bigram -> attention -> GPT -> samples")
for i, (path, label, what) in enumerate(STEPS, 1):
    cols = st.columns([1, 3])
    with cols[0]:
        st.page_link(path, label=f"{i}. {label}")
    cols[1].caption(what)

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
st.dataframe(rows, hide_index=True, width="stretch")
if not runs:
    st.info("No trained model yet. Train a bigram on the Bigram page in seconds, or a GPT with "
            "`python -m core train --speaker \"Barack Obama\" --preset tiny` (a few minutes on CPU).")
