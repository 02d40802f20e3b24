"""Two sections of the Bigram page from the makemore lessons before the lecture:
* one-hot times a matrix is a lookup (and backpropagation updates only the rows looked up);
* counting does not scale with context (the table of order n, its size and sparsity, its val loss
  against the GPT's). The numbers come from core.lessons.lookup and core.lessons.ngram."""
from __future__ import annotations

import math
from dataclasses import asdict

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.config import preset
from core.lessons.lookup import lookup_gradient, onehot_lookup
from core.lessons.ngram import MAX_ORDER, gpt_params, human_bytes, order_report, table_bytes, table_cells, table_rows
from core.runs import catalog
from core.text.tokenizer import visible
from ui import charts, fmt, state

ONEHOT_CODE = """xenc = F.one_hot(xs, num_classes=V).float()  # (N, V): a 1 at each character's id
logits = xenc @ W                             # (N, V) @ (V, V): row xs of W
emb = nn.Embedding(V, V)
emb.weight.data = W
torch.allclose(logits, emb(xs))               # True: the same rows, read directly"""
COUNT_CODE = """N = torch.zeros((V,) * (n + 1), dtype=torch.int32)  # V^n rows of V counts
for *ctx, nxt in windows(text, n + 1):
    N[(*ctx, nxt)] += 1
P = (N + alpha) / (N + alpha).sum(-1, keepdim=True)  # each row sums to 1"""
GRAD_BATCH = (4, 8)  # (batch_size, block_size) of the gradient demo: few enough characters to list


def _row_figure(rows: list[tuple[str, np.ndarray]], labels: list[str], title: str, colorscale, zmid=None):
    fig = charts.heatmap(np.stack([r for _, r in rows]), labels, [name for name, _ in rows], title,
                         colorscale=colorscale, zmid=zmid, x_title="column (next character)", y_title="row",
                         height=130 + 28 * len(rows), hover_name="value")
    fig.update_xaxes(tickangle=0, tickfont={"size": 8})  # as many characters as fit; hover names each column
    return fig


def onehot_lookup_section(loaded, sd, tok) -> None:
    st.header("One-hot times a matrix is a lookup")
    st.markdown(
        "In makemore the network's input is a **one-hot** vector: V wide, a 1 at the character's id and 0 "
        "elsewhere. Multiplying it with the V x V weights keeps exactly one row, the row of that character. "
        "`nn.Embedding` reads that row directly, without the multiply: the bigram's table *is* that matrix.")
    W = loaded.model.token_embedding_table.weight.detach()
    labels = [visible(c) for c in tok.chars]
    present = sorted(set(sd.train.tolist()))
    default = tok.chars.index("e") if "e" in tok.chars else present[0]
    c1, c2 = st.columns([1, 3], vertical_alignment="bottom")
    index = c1.selectbox("Character", present, index=present.index(default) if default in present else 0,
                         format_func=lambda i: f"{labels[i]!r} (id {i})", key="bigram_onehot_char")
    r = onehot_lookup(W, int(index))
    c2.markdown(f"one-hot(**{labels[index]!r}**) has its 1 at column {index}; "
                f"`torch.allclose(one_hot @ W, emb(x))` = **{r.allclose}** (max |difference| {r.max_abs_diff:.1e}).")
    left, right = st.columns([3, 2])
    with left:
        st.plotly_chart(_row_figure([("one-hot(x)", r.onehot.numpy())], labels, f"one-hot({labels[index]!r}): V = "
                                    f"{len(labels)} wide", "Greys"), key="bigram_onehot")
        st.plotly_chart(_row_figure([("one-hot(x) @ W", r.product.numpy()), ("nn.Embedding(x)", r.embedding.numpy()),
                                     ("next row of W", W[(index + 1) % len(labels)].float().numpy())],
                                    labels, "the row it selects: the multiply and the lookup agree",
                                    charts.DIVERGING, zmid=0.0), key="bigram_onehot_rows")
        st.caption("The third row, the next character's row of W, is there for contrast: a different row.")
    right.code(ONEHOT_CODE, language="python", wrap_lines=True)

    st.markdown("**Backpropagation only updates the rows that were looked up.** One batch of "
                f"{GRAD_BATCH[0]} x {GRAD_BATCH[1]} characters from the train split, its loss, one backward pass: "
                "the gradient of the table is non-zero only in the rows of characters in the batch.")
    seed = st.number_input("Batch seed", 0, 2**31 - 1, 0, key="bigram_grad_seed")
    g = lookup_gradient(W, sd.train, block_size=GRAD_BATCH[1], batch_size=GRAD_BATCH[0], seed=int(seed))
    norms = g.grad.norm(dim=1).numpy()
    a, b = st.columns([3, 2])
    fig = charts.bar(labels, norms, "|gradient| of each row of the table after one batch", x_title="row (character)",
                     y_title="L2 norm", height=300, color=["#d62728" if v > 0 else "#1f77b4" for v in norms])
    fig.update_xaxes(type="category", tickangle=0, tickfont={"size": 8})
    a.plotly_chart(fig, key="bigram_grad")
    b.code("\n".join(tok.decode(row.tolist()).replace("\n", "↵") for row in g.x), language=None)
    chars = ", ".join(repr(labels[i]) for i in g.rows_touched)
    msg = (f"{len(g.rows_touched)} of {len(labels)} rows have a non-zero gradient: {chars}. The batch holds "
           f"{len(g.rows_in_batch)} distinct characters, " + ("exactly these." if g.only_looked_up_rows else
                                                             "not the same set."))
    (st.success if g.only_looked_up_rows else st.warning)(msg)


@st.cache_data(show_spinner="Counting contexts...", max_entries=16)
def ngram_reports(speaker: str, clean: bool) -> list[dict]:
    sd = state.training_data((speaker,), clean).speakers[0]
    V = state.training_data((speaker,), clean).tokenizer.vocab_size
    return [asdict(order_report(sd.train, sd.val, n, V)) for n in range(1, MAX_ORDER + 1)]


def _speaker_gpt(speaker: str):
    run = catalog.speaker_model(state.runs("gpt"), speaker)  # from scratch: the speaker's text alone
    return state.load_run(run) if run else None


SCALES = ((1e18, "quintillion"), (1e15, "quadrillion"), (1e12, "trillion"), (1e9, "billion"))


def huge(n: float) -> str:
    """A count that can be astronomical (V^n): with separators up to a billion, then in words
    ("40.9 trillion"), which a learner reads at once where 4.09e+13 needs decoding."""
    for scale, word in SCALES:
        if n >= scale:
            return f"{n / scale:.3g} {word}"
    return fmt.count(n)


def counting_section(speaker: str, clean: bool, V: int) -> None:
    st.header("Counting does not scale with context")
    st.markdown(
        "The bigram counts what follows **one** character. Count what follows **n** characters and the table "
        "has a row for every possible context: **V^n rows of V counts**. Most of those rows never occur in "
        "any text, and the ones that do are seen too rarely to trust. A network shares what it learns across "
        "contexts instead: its size barely grows with the context. This is why the lecture moves from "
        "counting to a network.")
    gpt = _speaker_gpt(speaker)
    cfg = gpt.config if gpt is not None else preset("tiny", V)[0]
    n = st.slider("Context n (characters the counts condition on)", 1, MAX_ORDER, 3, key="bigram_ngram_n")
    m = st.columns(4)
    m[0].metric("Rows: V^n", huge(table_rows(V, n)))
    m[1].metric("Counts: V^(n+1)", huge(table_cells(V, n)))
    m[2].metric("Memory (int32 counts)", human_bytes(table_bytes(V, n)))
    m[3].metric(f"GPT parameters at block_size = {n}", f"{gpt_params(cfg, n):,}",
                help=f"The {'speaker' if gpt is not None else 'tiny preset'}'s GPT ({cfg.n_layer} layers, "
                     f"{cfg.n_embd} wide) with a context of n: only the position table grows, by n_embd per position")
    rows = ngram_reports(speaker, clean)
    gpt_loss = None
    if gpt is not None:
        gpt_loss = gpt.record.val_loss_full.get(speaker, gpt.record.best_val_loss)
    df = pd.DataFrame([{"n": r["n"], "rows (V^n)": huge(r["rows"]), "memory": human_bytes(r["table_bytes"]),
                        "GPT params": fmt.count(gpt_params(cfg, r["n"])),
                        "contexts seen in train": fmt.count(r["rows_seen"]),
                        "rows never seen": fmt.pct(r["unseen_rows"]),
                        "val contexts never seen in train": fmt.pct(r["val_unseen"]),
                        "count model val loss": fmt.number(r["val_loss"])} for r in rows])
    st.dataframe(df, hide_index=True, width="stretch")
    color = charts.speaker_color(speaker)  # the count model and the GPT both the speaker's: its colour
    fig = go.Figure(go.Scatter(x=[r["n"] for r in rows], y=[r["val_loss"] for r in rows], mode="lines+markers",
                               name="count model (add-0.1 smoothed)", line={"color": color}))
    fig.add_hline(y=math.log(V), line_dash="dot", line_color="grey", annotation_text="uniform: ln V")
    if gpt_loss is not None:
        fig.add_hline(y=gpt_loss, line_dash="dash", line_color=charts.shade(color, 1),
                      annotation_text=f"{gpt.record.name}: {gpt_loss:.3f} (block {cfg.block_size})")
    fig.update_layout(title=f"val loss on {speaker}'s val text, by context length", xaxis_title="context n",
                      yaxis_title="nats/char", height=340, margin={"l": 10, "r": 10, "t": 40, "b": 10})
    left, right = st.columns([3, 2])
    left.plotly_chart(fig, key="bigram_ngram_loss")
    right.code(COUNT_CODE, language="python", wrap_lines=True)
    best = min(rows, key=lambda r: r["val_loss"])
    later = rows[min(best["n"] + 1, MAX_ORDER - 1)]
    note = (f"The GPT reads {cfg.block_size} characters and reaches **{gpt_loss:.3f}** with "
            f"{gpt_params(cfg):,} parameters." if gpt_loss is not None else
            f"No GPT has been trained on {speaker} alone yet: train one on the Train page to see its loss here.")
    st.markdown(
        f"More context helps while the counts are dense: **{rows[0]['val_loss']:.3f}** for n = 1, "
        f"**{rows[1]['val_loss']:.3f}** for n = 2, **{rows[2]['val_loss']:.3f}** for n = 3 (the best count model "
        f"is n = {best['n']}). Then the table empties: at n = {later['n']}, "
        f"{fmt.pct(later['val_unseen'])} of the val text's contexts never occurred in training, and "
        f"the loss climbs again. {note}")
