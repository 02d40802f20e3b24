"""Step 3 of the lecture: batches. Random B x T windows of a speaker's encoded text, their targets shifted by
one, and the T examples packed in one row."""
from __future__ import annotations

import streamlit as st

from core.errors import UserError
from ui import fmt, journey, state
from ui.batches import widget as batches_widget

LECTURE_SEED = 1337


def new_batch() -> None:
    st.session_state["batches_seed"] = (st.session_state.get("batches_seed", LECTURE_SEED) + 1) % 2**31


journey.header(__file__)
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
    slider_box = st.container()  # the block-size slider, in the browser, once the text's length is known
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
    st.metric(f"{split} tokens", fmt.count(len(data)))
    count_box = st.container()

w = None
with state.friendly_errors():
    top = batches_widget.t_max(data)
    if top < 1:
        raise UserError(f"the {split} text has {len(data)} token(s): a batch needs at least 2")
    w = batches_widget.windows(data, batch_size, int(seed), top)  # every T's batch at once
if w is None:
    st.stop()
with slider_box:
    batches_widget.slider(top)  # moves the grids, the count and the pairs below without a server trip
with count_box:
    batches_widget.count(batch_size, top)
chars = [tok.decode([i]) for i in range(tok.vocab_size)]

grids_box = st.container()      # filled once the row to highlight is known

st.header("The examples in one row")
st.session_state["batches_row"] = min(st.session_state.get("batches_row", 0), batch_size - 1)
row = st.number_input("Row", min_value=0, max_value=batch_size - 1, step=1, key="batches_row", width=220,
                      help="Which row of the batch to unpack")
with grids_box:
    batches_widget.grids(w, batch_size, int(row), chars, top, caption=(
        "<code>x, y = get_batch(data, block_size, batch_size, generator=torch.Generator().manual_seed(seed))</code>."
        " Each row of y is its row of x moved one step along the text; the row unpacked below is highlighted."))
batches_widget.pairs(w, batch_size, int(row), chars, top)
