"""Two sections of the Attention page, each its own fragment with its own controls:
* token + position: the two embedding tables and what the first block reads, for the probe text;
* the story of one character: one position's query and keys, its row of affinities and weights,
  and the weighted sum of values that comes out (a slider picks the position; clicking a heatmap row
  does not: plotly heatmaps send no selection to Streamlit). Numbers from core.probe.attention_story."""
from __future__ import annotations

import numpy as np
import streamlit as st

from core.probe.attention_story import embedding_view, one_character
from ui import charts, state

EMBED_CODE = """tok_emb = self.token_embedding_table(idx)                              # (B, T, C)
pos_emb = self.position_embedding_table(torch.arange(T, device=device))  # (T, C)
x = tok_emb + pos_emb                                                  # (B, T, C): broadcast over B"""
STORY_CODE = """q = query(x); k = key(x)                       # (B, T, hs) each
wei = q @ k.transpose(-2, -1) * hs ** -0.5     # (B, T, T) affinities
wei = wei.masked_fill(tril[:T, :T] == 0, float('-inf'))
wei = F.softmax(wei, dim=-1)                   # w[-1] = [0.01, 0.55, 0.16, 0.28]
out = wei @ value(x)                           # (B, T, hs): row t = sum_j w[t, j] v_j"""
GRID = "attention_story_grid"
POSITION = "attention_story_position"


def _default_T(text: str, block_size: int) -> int:
    return max(1, min(len(text), block_size, 16))


@st.fragment
def token_and_position(loaded, text: str) -> None:
    with state.friendly_errors():
        _token_and_position(loaded, text)


def _token_and_position(loaded, text: str) -> None:
    cfg = loaded.config
    st.header("Token + position")
    st.markdown(
        f"What the first block reads is a sum of two lookups. The **token table** (`nn.Embedding(V, C)`, "
        f"{cfg.vocab_size} x {cfg.n_embd}) gives each character a row of C = {cfg.n_embd} numbers, wherever it "
        f"stands; the **position table** (`nn.Embedding(block_size, C)`, {cfg.block_size} x {cfg.n_embd}) gives "
        "each position one, whatever stands there. Their sum tells the attention heads both what and where.")
    limit = min(len(text), 2 * cfg.block_size)
    T = st.slider("Characters of the input text (T)", 1, max(2, limit), min(_default_T(text, cfg.block_size), limit),
                  key="attention_embed_T", help=f"Past block_size = {cfg.block_size} there is no position row")
    view = embedding_view(loaded.model, loaded.tokenizer, text, T)
    if view.cropped:
        st.warning(f"T = {T} is more than block_size = {view.block_size}: `pos_emb(arange({T}))` would ask for row "
                   f"{view.block_size} of a table with rows 0..{view.block_size - 1} only. As above, the context is "
                   f"cropped to its last {view.block_size} characters (the first {view.cropped} are dropped), so "
                   "the same character gets the position row of where it stands in the crop.")
    channels = [str(i) for i in range(view.n_embd)]
    zmax = float(max(np.abs(view.x).max(), np.abs(view.tok).max(), np.abs(view.pos).max()))
    cols = st.columns(3)
    parts = [("tok_emb(x)", view.tok, "token table rows"), (f"pos_emb(arange({view.T}))", view.pos,
             "position table rows"), ("x = tok_emb + pos_emb", view.x, "what block 1 reads")]
    for col, (name, z, what) in zip(cols, parts):
        fig = charts.heatmap(z, channels, view.labels, f"{name}: ({view.T}, {view.n_embd})<br>{what}",
                             colorscale=charts.DIVERGING, zmid=0.0, zmin=-zmax, zmax=zmax, x_title="channel c",
                             y_title="position (character)", height=min(700, 180 + 16 * view.T), hover_name=name)
        fig.update_traces(name=name)
        col.plotly_chart(fig, key=f"attention_embed_{name.split('(')[0].split(' ')[0]}")
    st.caption("Two equal characters (try a repeated letter) have the same row on the left and different rows "
               "on the right: the position row is what tells them apart.")
    with st.expander("The lecture's code"):
        st.code(EMBED_CODE, language="python")


@st.fragment
def one_character_story(loaded, text: str, causal: bool) -> None:
    with state.friendly_errors():
        _one_character_story(loaded, text, causal)


def _one_character_story(loaded, text: str, causal: bool) -> None:
    cfg = loaded.config
    st.header("The story of one character")
    st.markdown(
        "Follow one position through one head. Its **query** meets every visible character's **key**: one "
        "affinity each. The softmax turns that row into shares that sum to 1, and what comes out is the "
        "**weighted sum of the values**: each earlier character contributes its value times its share. Pick the "
        "position with the slider: its row is outlined on the weights map.")
    c1, c2, c3 = st.columns([2, 1, 1])
    limit = min(len(text), cfg.block_size)
    T = c1.slider("Characters (T)", 1, max(2, limit), min(_default_T(text, cfg.block_size), limit),
                  key="attention_story_T")
    layer = c2.selectbox("Layer", range(cfg.n_layer), format_func=lambda i: f"layer {i + 1}",
                         key="attention_story_layer")
    head = c3.selectbox("Head", range(cfg.n_head), format_func=lambda i: f"head {i + 1}", key="attention_story_head")
    if st.session_state.get(POSITION, 0) > T:
        st.session_state[POSITION] = T
    pos = min(st.slider("Position (1 = first character)", 1, max(2, T), T, key=POSITION), T) - 1
    s = one_character(loaded.model, loaded.tokenizer, text, T, pos, layer, head, causal)
    seen = s.attended()
    names = [s.labels[j] for j in seen]
    w = [float(s.weights[j]) for j in seen]
    st.markdown(f"**{s.labels[pos]}** attends to {len(seen)} character{'s' if len(seen) > 1 else ''}: "
                f"`w[{pos}] = [{', '.join(f'{v:.2f}' for v in w)}]`")

    left, right = st.columns(2)
    grid = charts.heatmap(s.grid, s.labels, s.labels, f"weights, layer {layer + 1} head {head + 1}: row = query",
                          zmin=0.0, zmax=1.0, colorbar_title="weight", height=min(520, 200 + 14 * T))
    grid.add_shape(type="rect", xref="paper", x0=0, x1=1, yref="y", y0=pos - 0.5, y1=pos + 0.5,
                   line={"color": "#d62728", "width": 2})
    left.plotly_chart(grid, key=GRID)
    fig = charts.bar(names, w, f"{s.labels[pos]}'s affinities after the softmax: its share of each value",
                     x_title="key (character attended to)", y_title="weight", height=300,
                     color=["#d62728" if j == pos else "#1f77b4" for j in seen])
    fig.update_traces(text=[f"{v:.2f}" for v in w], textposition="outside", cliponaxis=False)
    fig.update_xaxes(type="category")
    fig.update_yaxes(range=[0, 1.1])
    right.plotly_chart(fig, key="attention_story_weights")
    raw = [float(s.affinities[j]) for j in seen]
    right.caption("Before the softmax (q · k / sqrt(head_size)): "
                  + ", ".join(f"{n.split(' (')[0]} {v:+.2f}" for n, v in zip(names, raw)))

    hs = [f"channel {i}" for i in range(len(s.query))]
    vecs = [("query of " + s.labels[pos], s.query)] + [(f"key {s.labels[j]}", s.keys[j]) for j in seen]
    a, b = st.columns(2)
    a.plotly_chart(charts.heatmap(np.stack([v for _, v in vecs]), hs, [n for n, _ in vecs],
                                  "its query and the keys it meets", colorscale=charts.DIVERGING, zmid=0.0,
                                  x_title="channel", y_title="vector", height=min(520, 200 + 14 * len(vecs))),
                   key="attention_story_qk")
    out_rows = [(f"{w_j:.2f} x v {n}", s.contributions[j]) for j, n, w_j in zip(seen, names, w)]
    out_rows.append((f"out = sum (position {pos + 1})", s.out))
    b.plotly_chart(charts.heatmap(np.stack([v for _, v in out_rows]), hs, [n for n, _ in out_rows],
                                  "the weighted sum of values: each share, and what comes out",
                                  colorscale=charts.DIVERGING, zmid=0.0, x_title="channel", y_title="term",
                                  height=min(520, 200 + 14 * len(out_rows))), key="attention_story_out")
    st.caption(f"The rows on the right add up to the last one: out = sum over j of w[{pos}, j] x v_j "
               f"(max |difference| {float(np.abs(s.contributions.sum(0) - s.out).max()):.1e}).")
    with st.expander("The lecture's code"):
        st.code(STORY_CODE, language="python")

