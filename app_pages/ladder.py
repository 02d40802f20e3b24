"""The lecture's second hour: the GPT built up one piece at a time (core.lessons.ladder), each rung's code,
size and validation loss per speaker, and a button that trains the rungs in the background."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from core.lessons import ladder
from core.runs import record as rec
from ui import fmt, journey, state
from ui.ladder import view

journey.header(__file__)
st.markdown(
    "The lecture goes from one attention head to the full GPT one piece at a time, reading the validation "
    "loss after each. Every rung here is the same GPT class with pieces switched on (`ModelConfig`'s "
    "`attn_proj`, `ffwd`, `residual`, `layer_norm`, and more heads and blocks), trained the lecture's own "
    f"way: {ladder.BY_NUMBER[3].describe()} (one head in rung 2, {ladder.DEEP} blocks from rung 5), AdamW at a "
    "constant rate, PyTorch's default initial weights, no dropout. Rung 1 is the bigram table. Each rung's "
    "settings and real steps are in the table below.")

root = state.runs_root()
on_disk = ladder.speakers_on_disk(root)
started = st.session_state.get("ladder_started", [])
# the sidebar's speakers, and any whose rungs train now or were started here (a fourth speaker shows up)
speakers = list(dict.fromkeys([*state.chosen_speakers(), *started, *(s for s, live in on_disk.items() if live)]))
results = ladder.results(speakers, root)
others = [s for s in on_disk if s not in speakers]
with state.friendly_errors():
    base = {s: view.baselines(s, state.cleaning()) for s in speakers}
    st.plotly_chart(view.chart(results, speakers, base), key="ladder_chart")
st.caption("Diamonds: the lecture's own figures on tiny Shakespeare, a different text (its vocabulary is 65 "
           "characters; these speeches need ~88), so compare the shape, not the level. Sources: "
           + "; ".join(f"rung {n}: {src}" for n, src in ladder.LECTURE_SOURCES.items()) + ".")

st.subheader("The ladder")
if others:
    st.caption(f"Rungs are also trained for {', '.join(others)}: choose them in the sidebar to see them here.")
rows = view.table(results, speakers)
st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", placeholder=fmt.MISSING,
             column_config={**{s: st.column_config.NumberColumn(format="%.3f") for s in speakers},
                            "params": st.column_config.NumberColumn(format="%,d"),
                            "trained with": st.column_config.TextColumn(width="large"),
                            "lecture": st.column_config.NumberColumn("lecture (Shakespeare)", format="%.2f")})
for rung in ladder.RUNGS:
    mine = [r for r in results if r.rung == rung.number]
    label = f"{rung.number}. {rung.title}" + (" (needs a GPU)" if rung.gpu else "")
    with st.expander(label, expanded=False):
        st.markdown(f"*{rung.buys}.*")
        st.code(rung.diff, language="diff")
        cfg = rung.config(88)
        st.caption(f"{fmt.count(cfg.n_params())} parameters with a vocabulary of 88 · "
                   + " · ".join(f"{r.speaker}: {view.status_line(r)}" for r in mine))

st.subheader("What each piece bought (change in val loss from the rung before)")
cols = st.columns(max(1, len(speakers)))
for col, s in zip(cols, speakers):
    col.markdown(f"**{s}**")
    col.markdown("\n".join(f"- {line}" for line in view.gain_text(results, s)) or "no rungs trained yet")

st.subheader("Train the rungs")
names = state.speaker_names()
c1, c2, c3 = st.columns([5, 2, 3], vertical_alignment="bottom")  # the button's label whole at 1400 px
who = c1.multiselect("Speakers", names, default=[n for n in speakers if n in names][:1], key="ladder_speakers")
upto = c2.selectbox("Rungs", ["1-7", "1-8", "8"], key="ladder_rungs",
                    help="Rung 8 is the lecture's GPT (10.8M parameters): it needs a GPU to finish in minutes")
if c3.button("Train in the background", key="ladder_train", type="primary", icon=":material/play_arrow:",
             width="stretch"):
    with state.friendly_errors():
        queued = ladder.start(who, root, upto)
        st.session_state["ladder_started"] = list(dict.fromkeys([*started, *who]))
        st.session_state["ladder_msg"] = (f"Training {len(queued)} rung(s) for {', '.join(who)} in the background, "
                                          "one after another: each shows up here as it finishes (rungs trained "
                                          "before are kept).")
        st.rerun()  # draw the page again with the new speakers in it
if "8" in upto:
    st.caption("Rung 8 needs a GPU: on a CPU it will take hours, and it still runs if you ask.")
if "ladder_msg" in st.session_state:
    st.success(st.session_state["ladder_msg"])


def training(rows) -> bool:
    return any(r.status in rec.ACTIVE for r in rows)


finished = {r.run for r in results if r.status == "finished"}
busy = training(results)


@st.fragment(run_every="3s" if busy else None)
def progress() -> None:
    """The rungs training now (queued ones wait their turn); when one finishes, the page redraws."""
    now = ladder.results(speakers, root)
    for r in now:
        if r.status in rec.ACTIVE:
            st.progress(min(1.0, r.step / max(1, r.max_iters)), text=f"{r.run}: step {r.step:,} / {r.max_iters:,}"
                        + (" (queued)" if r.status == "queued" else ""))
    if busy and (not training(now) or {r.run for r in now if r.status == "finished"} != finished):
        st.rerun()


progress()
