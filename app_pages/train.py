"""Step 7: train a bigram or a GPT in the background (one model per speaker, or one on all of them;
from scratch or from a base model's weights), and watch it learn: loss curves against the uniform
and count-bigram baselines, progress and ETA, what it writes at each evaluation, and the attention
heads forming in the newest checkpoint. Runs are processes with their own folder, so they outlive
page switches, reloads and server restarts."""
from __future__ import annotations

import streamlit as st

from ui import journey, state, watch
from ui.train import attention as train_attention
from ui.train import form as train_form
from ui.train import live as train_live

journey.header(__file__)
st.markdown(
    "Press **Start** and a training process begins in the background: it keeps going if you switch page, "
    "reload, or restart the app. **One model per speaker** trains a separate model on each speaker alone, "
    "so their curves can be laid over each other. At the start the model guesses every character equally: "
    "its loss is **ln V**. A count-based **bigram** (how often each character follows another) is the "
    "first bar to beat; only a model that uses context gets below it. A model can also start from another "
    "model's weights (**fine-tuning**): pretraining learns the language, fine-tuning learns the speaker.")

train_form.render()

records = state.scan_runs().records
if watch.WATCHED not in st.session_state:  # a new session: a reload re-attaches to the runs in its URL
    st.session_state[watch.WATCHED] = watch.first_watched(records)
active_at_render = frozenset(r.name for r in records if r.active)


@st.fragment(run_every=train_live.POLL if active_at_render else None)
def live() -> None:
    """This session's runs' progress, redrawn every POLL while they train."""
    train_live.progress_rows(active_at_render)


@st.fragment(run_every=train_live.CHART_POLL if active_at_render else None)
def curves_and_attention() -> None:
    """The loss chart and the newest checkpoint's attention, redrawn every CHART_POLL while runs train
    (a chart's redraw costs a browser far more than a progress bar's)."""
    now, _ = train_live.current(active_at_render)
    st.subheader("Loss curves")
    if not now:
        st.info("No runs yet: choose what to train above and press **Start**.")
        return
    chosen = train_live.loss_chart(now)
    st.subheader("Attention while it trains")
    with state.friendly_errors():
        train_attention.render(now, chosen)


@st.fragment(run_every=train_live.CHART_POLL if active_at_render else None)
def history_and_run() -> None:
    """The run history and the selected run's panel (its status, and what it wrote at each evaluation),
    redrawn every CHART_POLL while runs train: the samples improve in front of the learner."""
    now, _ = train_live.current(active_at_render)
    if now:
        st.subheader("Run history")
        train_live.history(now)
        train_live.run_panel(now)


live()
curves_and_attention()
history_and_run()
