"""Step 5 of the lecture: the mathematical trick in self-attention. Averaging the past by a matrix multiply
with a lower-triangular matrix, and the same average written three ways."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from core.errors import UserError
from core.lessons.trick import EXAMPLE_B, tril_example
from ui import journey, state
from ui.trick import widget as trick_widget

MAX_B_ROWS = 12
ROW = [3.2, 2.1, 2.1, 1.6]   # each version's row: code and words | matrix | matrix | result
V1_CODE = """xbow = torch.zeros((T, C))
for t in range(T):
    xprev = x[:t+1]  # (t+1, C)
    xbow[t] = torch.mean(xprev, 0)"""
V2_CODE = """wei = torch.tril(torch.ones(T, T))
wei = wei / wei.sum(1, keepdim=True)
xbow2 = wei @ x  # (T, T) @ (T, C)"""
V3_CODE = """tril = torch.tril(torch.ones(T, T))
wei = torch.zeros((T, T))
wei = wei.masked_fill(tril == 0,
                float('-inf'))
wei = F.softmax(wei, dim=-1)
xbow3 = wei @ x"""


def frame(t, index_name: str = "row", col_prefix: str = "c") -> pd.DataFrame:
    """A small matrix as a table with 0-based row and column names."""
    rows = t.tolist()
    return pd.DataFrame(rows, index=pd.Index(range(len(rows)), name=index_name),
                        columns=[f"{col_prefix}{j}" for j in range(len(rows[0]))])


def printed(name: str, t) -> str:
    """A matrix as the lecture prints it: name=, then one bracketed row a line."""
    rows = ["[" + ", ".join(f"{v:g}" if float(v).is_integer() else f"{v:.4f}" for v in r) + "]" for r in t.tolist()]
    return f"{name}=\n[" + ",\n ".join(rows) + "]"


journey.header(__file__)
st.markdown(
    "Before attention, the lecture shows a trick. The simplest way for a token to hear from the tokens before it "
    "is to **average** them, and never the ones after it: the future is what we are predicting. Averages of the "
    "past can be computed in one matrix multiply, with a **lower-triangular** matrix.")

st.header("A lower-triangular matrix sums the past")
st.markdown(
    "Multiply `b` by `a = torch.tril(torch.ones(3, 3))`: row *t* of `a` has ones in columns 0..*t*, so row *t* of "
    "`a @ b` is the **sum** of rows 0..*t* of `b`. Edit `b` (add or delete rows too) and watch the running sums.")
b_default = pd.DataFrame(EXAMPLE_B, columns=["c0", "c1"])
left, right, text_col = st.columns([1, 2, 1], gap="medium")
with left:
    st.caption("**b** (editable)")
    b_table = st.data_editor(b_default, key="trick_b", num_rows="dynamic",
                             column_config={c: st.column_config.NumberColumn(c, format="%g") for c in b_default})
ex = None
with state.friendly_errors():
    if len(b_table) == 0:
        raise UserError("b is empty: add at least one row")
    if len(b_table) > MAX_B_ROWS:
        raise UserError(f"b has {len(b_table)} rows: keep it to {MAX_B_ROWS} or fewer, so a stays readable")
    if b_table.isna().to_numpy().any():
        raise UserError("b has empty cells: type a number in every cell of b")
    ex = tril_example(b_table.to_numpy(dtype=float).tolist())
if ex is None:
    st.stop()
with right:
    c1, c2 = st.columns(2)
    c1.caption("**a** = tril(ones)")
    c1.dataframe(frame(ex.a), key="trick_a")
    c2.caption("**a @ b**: running sums")
    c2.dataframe(frame(ex.ab), key="trick_ab")
with text_col:
    st.caption("As the lecture prints them")
    st.code(printed("a", ex.a) + "\n--\n" + printed("b", ex.b) + "\n--\n" + printed("c", ex.ab), language=None)

st.markdown(
    "Now divide each row of `a` by its sum, so its weights add up to 1. The same multiply gives the running "
    "**average** of the rows of `b`: row *t* is the mean of rows 0..*t*.")
c1, c2 = st.columns(2)
c1.caption("**a / a.sum(1, keepdim=True)**: rows sum to 1")
c1.dataframe(frame(ex.a_norm).style.format("{:.4f}"), key="trick_a_norm")
c2.caption("**a_norm @ b**: running averages")
c2.dataframe(frame(ex.avg).style.format("{:.4f}"), key="trick_avg")

st.header("Three ways to average the past")
st.markdown(
    "Now a sequence of **T** tokens with **C** channels each (random numbers, `x = torch.randn(T, C)`). Every "
    "token should get the average of itself and the tokens before it: the lecture's `xbow`, a bag of words. "
    "Three versions compute it; they agree to the last few decimal places.")
c1, c2, c3 = st.columns(3)
with c1:
    trick_widget.slider()  # in the browser: the matrices below follow it without a trip to the server
C = c2.slider("C (channels)", 1, 8, 2, key="trick_C")
seed = c3.number_input("Seed", min_value=0, max_value=2**31 - 1, value=1337, step=1, key="trick_seed")
versions = None
with state.friendly_errors():
    versions = trick_widget.all_T(int(C), int(seed))  # every T at once (16 tiny matrices each)
if versions is None:
    st.stop()
words, m1, m2, out = st.columns(ROW, gap="small")
with words:
    st.subheader("Version 1: a loop")
    st.code(V1_CODE, language="python", wrap_lines=True)  # a narrow column: never clipped
    st.markdown(
        "The plain definition: for each position *t*, take the mean of `x[0..t]`. Correct, and slow: a Python "
        "loop over time, one small average at a time. It is the reference the other two must match.")
with m1:
    trick_widget.matrix(versions, "x", "x: the input all three average", "channel", "time (token)", "x", "trick_x")
m2.caption("No weight matrix here: the loop reads `x[:t+1]` and averages it, row by row.")
with out:
    trick_widget.matrix(versions, "v1", "v1: xbow", "channel", "time (token)", "out", "trick_v1")

st.divider()
words, m1, m2, out = st.columns(ROW, gap="small")
with words:
    st.subheader("Version 2: matrix multiply")
    st.code(V2_CODE, language="python", wrap_lines=True)
    st.markdown(
        "The loop becomes one matrix multiply: row *t* of `wei` holds the weight each past token gets. On a "
        "batch `(B, T, C)`, `wei @ x` broadcasts over B and runs in parallel on the hardware. Any weighting of "
        "the past fits here, not only equal weights.")
with m1:
    trick_widget.matrix(versions, "wei2", "v2 wei: tril / row sums", "key", "query", "unit", "trick_wei2")
m2.caption("`wei @ x`: each output row is a weighted sum of the rows of x, with the weights of that row of `wei`.")
with out:
    trick_widget.matrix(versions, "v2", "v2: xbow2 = wei @ x", "channel", "time (token)", "out", "trick_v2")

st.divider()
words, m1, m2, out = st.columns(ROW, gap="small")
with words:
    st.subheader("Version 3: softmax")
    st.code(V3_CODE, language="python", wrap_lines=True)
    st.markdown(
        "This is what self-attention does. Here the affinities are all 0, so the softmax spreads the weight "
        "evenly over the past; in attention they come from the data (query · key), so each token picks **how "
        "much** to listen to each earlier one. The `-inf` cells (grey) give the future exactly 0.")
with m1:
    trick_widget.matrix(versions, "masked", "v3 masked: -inf above diagonal", "key", "query", "mask", "trick_masked")
with m2:
    trick_widget.matrix(versions, "wei3", "v3 wei: softmax of each row", "key", "query", "unit", "trick_wei3")
with out:
    trick_widget.matrix(versions, "v3", "v3: xbow3 = wei @ x", "channel", "time (token)", "out", "trick_v3")

trick_widget.badge(versions)
st.caption("torch.allclose(xbow, xbow2) and torch.allclose(xbow, xbow3): the three differ only by floating-point "
           "rounding. Row 0 is x[0] itself, row 1 the mean of rows 0 and 1, and so on.")
