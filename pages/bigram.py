"""Step 4 of the lecture: the bigram language model. A V x V table of next-character logits, trained in
seconds, set beside the table you get by counting; its loss, its babble, and why it cannot use context."""
from __future__ import annotations

import math
import time

import pandas as pd
import streamlit as st

from core import checkpoints as ck
from core.config import preset
from core.evaluate import count_bigram_loss, count_bigram_probs, next_char_probs, sequence_loss
from core.sampling import sample_text
from core.tokenizer import visible
from core.train import TrainingDiverged, train
from ui import charts, state

LECTURE_CODE = """class BigramLanguageModel(nn.Module):
    def __init__(self, vocab_size):
        super().__init__()
        # each token directly reads off the logits for the next token from a lookup table
        self.token_embedding_table = nn.Embedding(vocab_size, vocab_size)

    def forward(self, idx, targets=None):
        logits = self.token_embedding_table(idx)  # (B, T, C) with C = vocab_size
        ..."""
TOP_NEXT = 12   # next characters shown in the "tokens don't talk" comparison
TRAINED = "bigram_trained_message"  # survives the rerun after training (not a widget key)
TRAIN_REQUEST = "bigram_train_request"  # set by the Train / Retrain buttons' callback, consumed by the script


def base_name(speaker: str, clean: bool) -> str:
    """The run name the page uses for a speaker's bigram (stage notes kept: a separate run)."""
    return ck.slug(f"{speaker}-bigram" if clean else f"{speaker}-bigram-raw")


def free_name(base: str) -> str:
    """base, or base-2, base-3, ... : the first name no run folder uses yet (nothing is overwritten)."""
    root, name, n = state.runs_root(), base, 1
    while (root / name).exists():
        n += 1
        name = f"{base}-{n}"
    return name


def speaker_runs(speaker: str, clean: bool) -> list[ck.RunInfo]:
    """Finished bigram runs trained on exactly this speaker with this cleaning, newest first (a run cut
    short, e.g. by leaving the page while it trained, is skipped: its best weights may be from step 0)."""
    return [r for r in state.runs("bigram") if r.status == "finished"
            and r.meta.get("speakers") == [speaker] and r.meta.get("clean", True) == clean]


def request_training() -> None:
    """Button callback: a flag in session_state, so the click survives a rerun before the page gets to it."""
    st.session_state[TRAIN_REQUEST] = True


def train_bigram(td, name: str, steps: int) -> None:
    model_cfg, train_cfg = preset("bigram", td.tokenizer.vocab_size, max_iters=steps)
    bar = st.empty()
    bar.progress(0.0, text="step 0")

    def on_event(e) -> None:
        if e.kind == "step":
            bar.progress(min(1.0, e.step / steps), text=f"step {e.step:,} / {steps:,} · train loss {e.train_loss:.3f}")

    t0 = time.perf_counter()
    with st.spinner(f"Training the bigram on {td.names[0]} for {steps:,} steps..."):
        try:
            train(td, model_cfg, train_cfg, run_dir=state.runs_root() / name, callbacks=[on_event], name=name)
        except TrainingDiverged as e:
            st.error(str(e), icon=":material/error:")
            return
        finally:
            bar.empty()
    st.session_state[TRAINED] = (f"Trained **{name}** in {time.perf_counter() - t0:.1f} s and saved it with "
                                 "the other runs.")
    st.rerun()


def char_labels(chars: list[str]) -> list[str]:
    return [visible(c) for c in chars]


def table_heatmap(probs, labels: list[str], title: str, zmax: float):
    fig = charts.heatmap(probs, labels, labels, title, zmin=0.0, zmax=zmax, colorbar_title="p",
                         x_title="next character", y_title="current character", height=690)
    fig.update_traces(hovertemplate="after '%{y}' comes '%{x}' with p = %{z:.4f}<extra></extra>")
    fig.update_xaxes(nticks=len(labels) + 1, tickangle=0, tickfont={"size": 8})   # every character labelled
    fig.update_yaxes(nticks=len(labels) + 1, tickfont={"size": 8})
    fig.update_layout(title={"y": 0.995, "yanchor": "top"})
    return fig


state.require_frame()

st.title("4. Bigram")
st.markdown(
    "The lecture's first language model is a lookup table. `nn.Embedding(V, V)` gives every character a row of "
    "**V logits for the character that comes next**; the softmax of that row is a probability distribution. "
    "Training nudges the rows until they match how often each pair of characters occurs, so the best it can do "
    "is what **counting pairs** gives directly. Train one on a speaker and compare.")

names = state.chosen_speakers()
if st.session_state.get("bigram_speaker") not in names:
    st.session_state.pop("bigram_speaker", None)
speaker = st.selectbox("Speaker", names, key="bigram_speaker",
                       help="Among the speakers chosen in the sidebar; the vocabulary is theirs plus the default three")
clean = state.cleaning()

td = None
with state.friendly_errors():
    td = state.training_data((speaker,), clean)
if td is None:
    st.stop()
tok, sd = td.tokenizer, td.speakers[0]
V = tok.vocab_size
labels = char_labels(tok.chars)
base = base_name(speaker, clean)

runs = speaker_runs(speaker, clean)
steps = st.number_input("Training steps", min_value=100, max_value=20_000, step=500, key="bigram_steps",
                        value=preset("bigram", V)[1].max_iters,
                        help="AdamW steps on random batches of 64 x 8 characters; the preset's 3,000 take a few "
                             "seconds on a CPU")
if TRAINED in st.session_state:
    st.success(st.session_state.pop(TRAINED), icon=":material/check_circle:")
if not runs:
    st.info(f"No bigram has been trained on **{speaker}** yet. Click **Train the bigram**: "
            f"{steps:,} steps take a few seconds on a CPU, and the run is saved as `{free_name(base)}`.",
            icon=":material/info:")
    st.button("Train the bigram", key="bigram_train", type="primary", icon=":material/play_arrow:",
              on_click=request_training)
else:
    run = runs[0]
    left, right = st.columns([3, 1], vertical_alignment="center")
    older = f" ({len(runs) - 1} older bigram run{'s' if len(runs) > 2 else ''} for this speaker kept)" \
        if len(runs) > 1 else ""
    when = str(run.meta.get("created", "?"))[:16].replace("T", " ")
    left.caption(f"Loaded run **{run.name}**, trained {when} UTC for {run.meta.get('step', '?')} steps{older}.")
    right.button("Retrain", key="bigram_retrain", icon=":material/replay:", on_click=request_training,
                 help=f"Train again for the steps above and save a new run, {free_name(base)}; {run.name} is kept")
if st.session_state.pop(TRAIN_REQUEST, False):
    with state.friendly_errors():
        train_bigram(td, free_name(base), int(steps))

loaded = None
if runs:
    with state.friendly_errors():
        loaded = state.load_run(runs[0])
    if loaded is not None and loaded.tokenizer != tok:
        st.warning(f"Run **{runs[0].name}** was trained with another vocabulary ({loaded.tokenizer.vocab_size} "
                   f"characters; {V} now), so it cannot be compared with these counts. Retrain it.",
                   icon=":material/warning:")
        loaded = None

floor = count_bigram_loss(sd.train, sd.val, V)
uniform = math.log(V)

st.header("How good can a bigram be?")
cols = st.columns(3)
if loaded is not None:
    val_loss = sequence_loss(loaded.model, sd.val)
    cols[0].metric("Bigram val loss", f"{val_loss:.3f}", delta=f"{val_loss - uniform:+.3f} vs ln V",
                   delta_color="inverse",
                   help=f"Mean cross-entropy (nats) on the last 10% of {speaker}'s text, which training never saw")
else:
    val_loss = None
    cols[0].metric("Bigram val loss", "not trained", help="Train the bigram above")
cols[1].metric("Uniform guessing: ln V", f"{uniform:.3f}",
               help=f"The loss of a model that gives each of the {V} characters the same 1/{V}: where training starts")
cols[2].metric("Count-based floor", f"{floor:.3f}",
               delta=None if val_loss is None else f"{val_loss - floor:+.3f} bigram above it", delta_color="off",
               help="The val loss of the table you get by counting pairs in the train split (lightly smoothed): "
                    "the best a bigram can do")
if val_loss is not None:
    st.markdown(
        f"Training took the loss from **{uniform:.2f}** (all {V} characters equally likely) to **{val_loss:.3f}**, "
        f"within **{abs(val_loss - floor):.3f}** of what counting gives. Gradient descent found the counts. It can "
        "go no lower: one character of context is all a bigram has.")

st.header("The table, learned and counted")
counted = count_bigram_probs(sd.train, V).numpy()
learned = loaded.model.next_char_probs().numpy() if loaded is not None else None
zmax = float(pd.DataFrame(counted).max().max())
if learned is not None:
    zmax = max(zmax, float(pd.DataFrame(learned).max().max()))
left, right = st.columns(2)
with left:
    if learned is not None:
        st.plotly_chart(table_heatmap(learned, labels, "Learned: softmax of the bigram's V x V table", zmax),
                        key="bigram_learned")
    else:
        st.info("Train the bigram to see its learned table here.", icon=":material/table:")
with right:
    st.plotly_chart(table_heatmap(counted, labels, "Counted: pairs in the train split, each row / its sum", zmax),
                    key="bigram_counted")
st.caption(f"Row = the current character, column = the next one; hover a cell to read \"after 'a' comes 'b' with "
           f"p\". ␣ is a space, ↵ a newline. Grey rows in the counted table are characters {speaker} never uses "
           "(they come from another speaker's share of the vocabulary); the model never trains them, so its rows "
           "there stay uniform.")
with st.expander("The lecture's code"):
    st.code(LECTURE_CODE, language="python")

if loaded is None:
    st.stop()
model = loaded.model

st.header("What it writes")
c1, c2, c3, c4 = st.columns(4)
prompt = c1.text_input("Start from", value="", key="bigram_prompt", max_chars=200,
                       help="Empty starts from a newline, as the lecture does; only the last character matters")
seed = c2.number_input("Seed", min_value=0, max_value=2**31 - 1, value=1337, step=1, key="bigram_seed")
temperature = c3.slider("Temperature", 0.1, 2.0, 1.0, 0.1, key="bigram_temperature",
                        help="Below 1 sharpens each row's distribution, above 1 flattens it")
length = c4.slider("Characters", 50, 1000, 300, 50, key="bigram_length")
with state.friendly_errors():
    text = sample_text(model, tok, prompt, int(length), temperature=float(temperature), seed=int(seed))
    st.code(prompt + text, language=None, wrap_lines=True)
    st.caption("Word-shaped gibberish: the spaces, capitals after full stops and common letter pairs are right, "
               "because those are what a table of pairs knows. Nothing longer than two characters is.")

st.header("Tokens don't talk to each other")
st.markdown(
    "The bigram reads only the **last** character. Whatever came before it is thrown away, so two contexts that "
    "end in the same character get exactly the same prediction. Attention, next, is how the tokens start to "
    "talk to each other.")
c1, c2 = st.columns(2)
ctx_a = c1.text_input("Context A", value="...the", key="bigram_ctx_a", max_chars=200)
ctx_b = c2.text_input("Context B", value="...she", key="bigram_ctx_b", max_chars=200)
if not ctx_a or not ctx_b:
    st.info("Type both contexts to compare what the model predicts after each.", icon=":material/info:")
    st.stop()
with state.friendly_errors():
    pa, pb = next_char_probs(model, tok, ctx_a).tolist(), next_char_probs(model, tok, ctx_b).tolist()
    df = pd.DataFrame({"next": labels, f"A: after {ctx_a!r}": pa, f"B: after {ctx_b!r}": pb})
    top = df.assign(best=df.iloc[:, 1:].max(axis=1)).nlargest(TOP_NEXT, "best").drop(columns="best")
    fig = charts.bar(top["next"], top.iloc[:, 1], title=f"The {TOP_NEXT} likeliest next characters",
                     x_title="next character", y_title="probability", height=460)
    fig.data[0].name = top.columns[1]
    fig.add_bar(x=top["next"].tolist(), y=top.iloc[:, 2].tolist(), name=top.columns[2])
    fig.update_layout(barmode="group", legend={"orientation": "h", "y": 1.12})
    left, right = st.columns([3, 2])
    left.plotly_chart(fig, key="bigram_next")
    right.dataframe(top.style.format({c: "{:.4f}" for c in top.columns[1:]}), hide_index=True,
                    height=35 * (TOP_NEXT + 1) + 3)
    diff = float((df.iloc[:, 1] - df.iloc[:, 2]).abs().max())
    last_a, last_b = visible(ctx_a[-1]), visible(ctx_b[-1])
    if ctx_a[-1] == ctx_b[-1]:
        st.success(f"Identical: both contexts end in '{last_a}', so both read row '{last_a}' of the table "
                   f"(max |difference| = {diff:.2g}). Everything before the last character is ignored.",
                   icon=":material/check_circle:")
    else:
        st.info(f"Different: the contexts end in '{last_a}' and '{last_b}', two different rows of the table "
                f"(max |difference| = {diff:.3f}). Make them end in the same character and the predictions match "
                "exactly, however different the rest.", icon=":material/info:")
