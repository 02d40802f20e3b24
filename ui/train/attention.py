"""The Train page's "attention while it trains": a probe text's attention under a run's newest
checkpoint, refreshed each time the trainer saves one."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from core.limits import MAX_PROBE_CHARS
from core.probe.attention_view import attention_view
from core.runs import checkpoints as ck
from core.runs import record as rec
from ui import charts, fmt, state
from ui.train.form import ATT_RUN


@st.cache_resource(show_spinner=False, max_entries=16)
def probe_attention(path: str, mtime: float, text: str):
    """The probe text's attention under one checkpoint file: computed again only when the trainer
    replaces the file (a page polling a run does not redo it every time)."""
    loaded = state.load_file(path, mtime)
    return attention_view(loaded.model, loaded.tokenizer, text, min(len(text), loaded.config.block_size))


def newest_weights(run_dir: Path) -> Path | None:
    for name in (rec.LATEST, rec.BEST):
        if (run_dir / name).exists():
            return run_dir / name
    return None


def render(records: list[rec.RunRecord], chosen: list[str]) -> None:
    gpt_runs = [r.name for r in records if r.model_type == "gpt" and newest_weights(r.path)]
    if not gpt_runs:
        st.caption("Start a GPT run: its attention heads appear here, from its newest checkpoint.")
        return
    by_name = {r.name: r for r in records}
    picked = st.session_state.get(ATT_RUN)
    st.session_state["train_att_run"] = picked if picked in gpt_runs else next(
        (n for n in chosen if n in gpt_runs), gpt_runs[0])  # follows the chart until the learner picks one
    if not any(n in gpt_runs for n in chosen):
        st.caption("No GPT among the runs on the chart (a bigram has no attention): showing another GPT run.")
    a, b, c = st.columns([3, 1, 1])
    name = a.selectbox("Run", gpt_runs, key="train_att_run",
                       on_change=lambda: st.session_state.update({ATT_RUN: st.session_state.train_att_run}))
    cfg = by_name[name].model
    layer = b.selectbox("Layer", range(cfg.n_layer), format_func=lambda i: f"layer {i + 1}",
                        key=f"train_att_layer_{name}")
    head = c.selectbox("Head", range(cfg.n_head), format_func=lambda i: f"head {i + 1}",
                       key=f"train_att_head_{name}")
    path = newest_weights(by_name[name].path)
    key = ck.weights_key(path.parent, "latest" if path.name == rec.LATEST else "best")
    loaded = state.load_file(*key)
    speaker_name = (loaded.record.speakers or state.chosen_speakers())[0]
    _, val_text = state.speaker(speaker_name, loaded.record.clean).split()
    excerpt = val_text[val_text.find(" ") + 1:][:loaded.config.block_size]
    text = st.text_input("Probe text", value=excerpt, key=f"train_probe_{name}", max_chars=MAX_PROBE_CHARS,
                         help=f"Default: {speaker_name}'s validation text, which the model never trains on")
    unknown = loaded.tokenizer.unknown(text)
    if unknown:
        st.error("These characters are not in the model's vocabulary: " + ", ".join(f"{ch!r}" for ch in unknown))
        return
    if not text:
        st.warning("The probe text is empty: type a few words to see attention.")
        return
    view = probe_attention(*key, text)
    a, b = st.columns([3, 2])
    a.plotly_chart(charts.heatmap(view.weights[layer, head], view.labels, view.labels, zmin=0.0, zmax=1.0,
                                  colorbar_title="weight", hover_name="weight", height=480),
                   key="train_attention")
    b.markdown(f"**Softmax weights, layer {layer + 1}, head {head + 1}**, from **{path.name}** of **{name}**, "
               f"saved at step **{loaded.record.step:,}**: it refreshes each time the trainer "
               "saves (every eval interval). Row *i* is how character *i* spreads its attention over itself and the "
               "characters before it (the future is masked: weight 0). At step 0 the rows are nearly uniform; as the "
               "model learns, heads start to pick out particular characters: the previous one, the start of the "
               "word, a space.")
    b.caption(f"Probe: {len(view.labels)} characters (block_size {view.block_size}). "
              "Next-character guesses: " + ", ".join(f"{ch!r} {fmt.pct(pr)}" for ch, pr in view.next_chars))
