"""Step 3 of the lecture: batches. Random B x T windows of a speaker's encoded text, their targets shifted by
one, and the T examples packed in one row."""
from __future__ import annotations

import pandas as pd
import streamlit as st
import torch

from core.batching import Pair, context_target_pairs, get_batch
from core.tokenizer import visible
from ui import state

LECTURE_SEED = 1337
HIGHLIGHT = "background-color: rgba(255, 193, 7, 0.25)"
SIDE_BY_SIDE_MAX_T = 16     # x and y grids side by side up to this block size, stacked above it


def new_batch() -> None:
    st.session_state["batches_seed"] = (st.session_state.get("batches_seed", LECTURE_SEED) + 1) % 2**31


def grid(rows: list[list[int]], chars: bool, decode) -> pd.DataFrame:
    cells = [[visible(decode([i])) for i in r] if chars else r for r in rows]
    return pd.DataFrame(cells, index=[f"row {b}" for b in range(len(rows))],
                        columns=[str(t) for t in range(len(rows[0]))])


def highlight(series: pd.Series, row: int) -> list[str]:
    return [HIGHLIGHT if series.name == f"row {row}" else ""] * len(series)


def pair_line(p: Pair) -> str:
    return f"when input is {p.context} ({p.context_text!r}) the target is {p.target} ({p.target_text!r})"


st.title("3. Batches")
st.markdown(
    "Training never feeds the whole text at once. `get_batch` cuts **B** random windows of **T = block_size** "
    "characters out of the encoded text (the inputs `x`), and the same windows shifted one character to the "
    "right (the targets `y`). Each row packs **T** examples: from the first character predict the second, from "
    "the first two predict the third, ... up to a full block of context. The B rows are independent, processed "
    "in parallel. The lecture uses `block_size = 8`, `batch_size = 4` and `torch.manual_seed(1337)`.")

td = state.data_or_stop()
tok = td.tokenizer
names = td.names

if st.session_state.get("batches_speaker") not in names:
    st.session_state.pop("batches_speaker", None)
st.session_state.setdefault("batches_seed", LECTURE_SEED)

c1, c2, c3, c4 = st.columns([3, 3, 3, 2], gap="medium")
with c1:
    block_size = st.slider("Block size T (context length)", 1, 256, 8, key="batches_block_size")
    batch_size = st.slider("Batch size B", 1, 32, 4, key="batches_batch_size")
with c2:
    name = st.selectbox("Speaker", names, key="batches_speaker")
    split = st.radio("Split", ["train", "val"], horizontal=True, key="batches_split",
                     help="The first 90% of the speaker's text, or the last 10%")
with c3:
    seed = st.number_input("Seed", min_value=0, max_value=2**31 - 1, step=1, key="batches_seed",
                           help="The same seed draws the same batch; the lecture uses 1337")
    st.button("New batch", key="batches_new", on_click=new_batch, icon=":material/casino:",
              help="Draw another batch (adds 1 to the seed)")
sd = next(s for s in td.speakers if s.speaker.name == name)
data = sd.train if split == "train" else sd.val
with c4:
    st.metric(f"{split} tokens", f"{len(data):,}")
    st.metric("Examples (B × T)", f"{block_size * batch_size:,}",
              help="Every position of every row is one (context, target) example")

batch = None
with state.friendly_errors():
    batch = get_batch(data, block_size, batch_size, generator=torch.Generator().manual_seed(int(seed)))
if batch is None:
    st.stop()
x, y = batch[0].tolist(), batch[1].tolist()

st.header(f"x and y: {batch_size} × {block_size}")
st.caption("`x, y = get_batch(data, block_size, batch_size, generator=torch.Generator().manual_seed(seed))`. "
           "Each row of y is its row of x moved one step along the text; the row unpacked below is highlighted.")
grids_box = st.container()      # filled once the row to highlight is known

st.header("The examples in one row")
st.session_state["batches_row"] = min(st.session_state.get("batches_row", 0), batch_size - 1)
row = st.number_input("Row", min_value=0, max_value=batch_size - 1, step=1, key="batches_row", width=220,
                      help="Which row of the batch to unpack")
if block_size <= 32:
    st.caption(f"x[{row}] = {x[row]}  \ny[{row}] = {y[row]}")
with grids_box:
    for tab, chars in zip(st.tabs(["characters", "ids"]), [True, False], strict=True):
        with tab:
            panes = st.columns(2) if block_size <= SIDE_BY_SIDE_MAX_T else [st.container(), st.container()]
            for pane, label, rows in zip(panes, ["x (inputs)", "y (targets)"], [x, y], strict=True):
                with pane:
                    st.markdown(f"**{label}**")
                    st.dataframe(grid(rows, chars, tok.decode).style.apply(highlight, row=row, axis=1),
                                 height=min(600, 38 + 35 * batch_size))

pairs = context_target_pairs(x[row], y[row], tok.decode)
st.code("\n".join(pair_line(p) for p in pairs), language=None, height="content" if block_size <= 16 else 420)
st.caption(f"{len(pairs)} examples from one row of {block_size} characters: the model learns to predict with "
           "any context from 1 to block_size characters, which is what lets it start generating from a single one.")
