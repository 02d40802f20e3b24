"""The Bigram page's sections that read a trained bigram: how good it is against counting, its table
beside the counted one, what it writes, and why two contexts with the same last character get the
same prediction. Each takes what the page already loaded and draws; the math is in core."""
from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from core.lessons.ngram import count_bigram_loss, count_bigram_probs
from core.limits import MAX_PROMPT_CHARS
from core.model.sampling import sample_text
from core.model.scoring import next_char_probs, sequence_loss
from core.text.tokenizer import visible
from ui import charts, fmt, state

LECTURE_CODE = """class BigramLanguageModel(nn.Module):
    def __init__(self, vocab_size):
        super().__init__()
        # each token directly reads off the logits for the next token from a lookup table
        self.token_embedding_table = nn.Embedding(vocab_size, vocab_size)

    def forward(self, idx, targets=None):
        logits = self.token_embedding_table(idx)  # (B, T, C) with C = vocab_size
        ..."""
TOP_NEXT = 12   # next characters shown in the "tokens don't talk" comparison


def char_labels(chars: list[str]) -> list[str]:
    return [visible(c) for c in chars]


def table_heatmap(probs, labels: list[str], title: str, zmax: float):
    fig = charts.heatmap(probs, labels, labels, title, zmin=0.0, zmax=zmax, colorbar_title="p",
                         x_title="next character", y_title="current character", height=690)
    fig.update_traces(hovertemplate="after '%{y}' comes '%{x}' with p = %{z:.4f}<extra></extra>")
    # every row labelled; the columns as many as fit side by side (two tables share the width; hover names each)
    fig.update_xaxes(tickangle=0, tickfont={"size": 8})
    fig.update_yaxes(nticks=len(labels) + 1, tickfont={"size": 8})
    return fig


def how_good(loaded, sd, V: int, speaker: str) -> None:
    """The bigram's val loss against uniform guessing and the count-based floor."""
    floor, uniform = count_bigram_loss(sd.train, sd.val, V), math.log(V)
    st.header("How good can a bigram be?")
    cols = st.columns(3)
    val_loss = None
    if loaded is not None:
        val_loss = sequence_loss(loaded.model, sd.val)
        cols[0].metric("Bigram val loss", f"{val_loss:.3f}", delta=f"{val_loss - uniform:+.3f} vs ln V",
                       delta_color="inverse",
                       help=f"Mean cross-entropy (nats) on the last 10% of {speaker}'s text, which training never saw")
    else:
        cols[0].metric("Bigram val loss", "not trained", help="Train the bigram above")
    cols[1].metric("Uniform guessing: ln V", f"{uniform:.3f}",
                   help=f"The loss of a model that gives each of the {V} characters the same 1/{V}: "
                        "where training starts")
    cols[2].metric("Count-based floor", f"{floor:.3f}",
                   delta=None if val_loss is None else f"{val_loss - floor:+.3f} bigram above it", delta_color="off",
                   help="The val loss of the table you get by counting pairs in the train split (lightly "
                        "smoothed): the best a bigram can do")
    if val_loss is not None:
        st.markdown(
            f"Training took the loss from **{uniform:.2f}** (all {V} characters equally likely) to "
            f"**{val_loss:.3f}**, within **{abs(val_loss - floor):.3f}** of what counting gives. Gradient descent "
            "found the counts. It can go no lower: one character of context is all a bigram has.")


def tables(loaded, sd, V: int, labels: list[str], speaker: str) -> None:
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
    st.caption(f"Row = the current character, column = the next one; hover a cell to read \"after 'a' comes 'b' "
               f"with p\". ␣ is a space, ↵ a newline. Grey rows in the counted table are characters {speaker} never "
               "uses (they come from another speaker's share of the vocabulary); the model never trains them, so "
               "its rows there stay uniform.")
    with st.expander("The lecture's code"):
        st.code(LECTURE_CODE, language="python")


def writes(model, tok) -> None:
    st.header("What it writes")
    c1, c2, c3, c4 = st.columns(4)
    prompt = c1.text_input("Start from", value="", key="bigram_prompt", max_chars=MAX_PROMPT_CHARS,
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


def tokens_dont_talk(model, tok, labels: list[str]) -> None:
    st.header("Tokens don't talk to each other")
    st.markdown(
        "The bigram reads only the **last** character. Whatever came before it is thrown away, so two contexts "
        "that end in the same character get exactly the same prediction. Attention, next, is how the tokens "
        "start to talk to each other.")
    c1, c2 = st.columns(2)
    ctx_a = c1.text_input("Context A", value="...the", key="bigram_ctx_a", max_chars=MAX_PROMPT_CHARS)
    ctx_b = c2.text_input("Context B", value="...she", key="bigram_ctx_b", max_chars=MAX_PROMPT_CHARS)
    if not ctx_a or not ctx_b:
        st.info("Type both contexts to compare what the model predicts after each.", icon=":material/info:")
        return
    with state.friendly_errors():
        pa, pb = next_char_probs(model, tok, ctx_a).tolist(), next_char_probs(model, tok, ctx_b).tolist()
        df = pd.DataFrame({"next": labels, f"A: after {ctx_a!r}": pa, f"B: after {ctx_b!r}": pb})
        top = df.assign(best=df.iloc[:, 1:].max(axis=1)).nlargest(TOP_NEXT, "best").drop(columns="best")
        fig = charts.bar(top["next"], top.iloc[:, 1], title=f"The {TOP_NEXT} likeliest next characters",
                         x_title="next character", y_title="probability", height=460)
        fig.data[0].name = top.columns[1]
        fig.add_bar(x=top["next"].tolist(), y=top.iloc[:, 2].tolist(), name=top.columns[2])
        fig.update_layout(barmode="group", legend={"x": 1, "xanchor": "right", "y": 1, "yanchor": "top",  # over the
                                                   "bgcolor": "rgba(255,255,255,0.8)"})  # least likely: short bars
        left, right = st.columns([3, 2])
        left.plotly_chart(fig, key="bigram_next")
        right.dataframe(top.style.format({c: fmt.pct for c in top.columns[1:]}), hide_index=True,
                        height=35 * (TOP_NEXT + 1) + 3)
        diff = float((df.iloc[:, 1] - df.iloc[:, 2]).abs().max())
        last_a, last_b = visible(ctx_a[-1]), visible(ctx_b[-1])
        if ctx_a[-1] == ctx_b[-1]:
            st.success(f"Identical: both contexts end in '{last_a}', so both read row '{last_a}' of the table "
                       f"(max |difference| = {diff:.2g}). Everything before the last character is ignored.",
                       icon=":material/check_circle:")
        else:
            st.info(f"Different: the contexts end in '{last_a}' and '{last_b}', two different rows of the table "
                    f"(max |difference| = {diff:.3f}). Make them end in the same character and the predictions "
                    "match exactly, however different the rest.", icon=":material/info:")
