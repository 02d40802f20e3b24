"""The Train page's live half: progress of this session's runs (Stop each, or Stop all that were
started together), the loss chart, the run history, and the panel of one run (stop, resume, what
the model wrote at each evaluation). Everything is read from the runs' records on disk."""
from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.lessons.ngram import count_bigram_loss
from core.runs import record as rec
from core.runs import start as runs
from core.runs.metrics import curves, format_duration, progress, uniform_loss
from ui import fmt, state
from ui.loss_chart import loss_figure, run_colors
from ui.watch import GROUP, SELECTED, WATCHED, watch

POLL = "2s"           # how often a page with runs training redraws their progress
CHART_POLL = "4s"     # ... and their loss curves
RUN_MSG = "train_run_messages"  # (level, text, time) of Stop / Resume, shown for a little while


def say(level: str, text: str) -> None:
    st.session_state[RUN_MSG] = [(level, text, time.time())]


def stop_run(name: str) -> None:
    s = runs.stop(state.runs_root() / name)
    if s.active:
        say("info", f"Stopping **{name}**: it finishes its step, saves latest.pt and marks itself stopped.")
    else:
        say("warning", f"**{name}** is not training ({s.status}).")


def stop_group(group: str) -> None:
    stopped = runs.stop_group(state.runs_root(), group)
    say("info", f"Stopping {len(stopped)} run(s) started together: {', '.join(r.name for r in stopped)}.")


def resume_run(name: str, until_key: str) -> None:
    run_dir = state.runs_root() / name
    until = st.session_state.get(until_key)
    try:
        before = rec.status(run_dir)
        s = runs.resume(run_dir, max_iters=until if until and until != before.max_iters else None)
    except state.USER_ERRORS as e:
        say("error", f"Could not resume **{name}**: {e}")
        return
    how = "latest.pt" if (run_dir / rec.LATEST).exists() else "its best weights, with a fresh optimizer"
    say("success", f"Resumed **{name}** from {how} (step {s.step:,}).")
    watched = st.session_state.get(WATCHED) or []
    if name not in watched:
        watch([name, *watched])
        st.session_state.pop("train_chart_runs", None)


def metrics_reader(root: Path) -> Callable[[str], list[dict]]:
    """metrics(name): a run's progress events, read from disk at most once per script run."""
    events: dict[str, list[dict]] = {}

    def metrics(name: str) -> list[dict]:
        if name not in events:
            try:
                events[name] = rec.read_metrics(root / name)
            except rec.RecordError:
                events[name] = []
        return events[name]
    return metrics


def current(active_at_render: frozenset) -> tuple[list[rec.RunRecord], list[rec.RunRecord]]:
    """The runs on disk and the active ones; a run that started or ended redraws the whole page."""
    records = state.scan_runs().records
    active = [r for r in records if r.active]
    if frozenset(r.name for r in active) != active_at_render:
        st.rerun(scope="app")
    return records, active


def progress_rows(active_at_render: frozenset) -> None:
    """This session's runs' progress, with Stop per run and for the group."""
    records, active = current(active_at_render)
    metrics = metrics_reader(state.runs_root())
    watched = st.session_state.get(WATCHED) or []
    mine = [r for r in active if r.name in watched]
    others = [r for r in active if r.name not in watched]
    if mine:
        a, b = st.columns([6, 1], vertical_alignment="bottom")
        a.subheader("Training now")
        group = st.session_state.get(GROUP)
        if group and sum(r.group == group for r in mine) > 1:
            b.button("Stop all", key="train_stop_group", on_click=stop_group, args=(group,), icon=":material/stop:",
                     help="Stop every run started together with this Start")
    for r in mine:
        p = progress(metrics(r.name), r.max_iters, r.step)
        a, b = st.columns([6, 1], vertical_alignment="bottom")
        if not p.step:
            text = (f"**{r.name}** · starting: loading the speeches and building the model" if r.status == "queued"
                    else f"**{r.name}** · step 0 / {p.max_iters:,} · estimating the loss at initialisation")
        else:
            text = (f"**{r.name}** · step {p.step:,} / {p.max_iters:,} · "
                    f"{p.tokens_per_s or 0:,.0f} tokens/s · ETA {format_duration(p.eta_s)}")
        a.progress(p.fraction, text=text)
        b.button("Stop", key=f"train_stop_{r.name}", on_click=stop_run, args=(r.name,), icon=":material/stop:")
    if others:  # started elsewhere (another tab, another visitor, the CLI): shown only when asked for
        with st.expander(f"{len(others)} other run(s) training on this server"):
            for r in others:
                a, b = st.columns([6, 1], vertical_alignment="center")
                a.caption(f"**{r.name}** · {', '.join(r.speakers)} · step {r.step:,} / {r.max_iters:,}")
                b.button("Watch", key=f"train_watch_{r.name}", on_click=watch, args=([*watched, r.name],))


@st.cache_data(show_spinner=False, max_entries=32)
def bigram_reference(speakers: tuple[str, ...], clean: bool) -> float:
    """Val loss of the count-based bigram on these speakers: what a trained bigram should reach."""
    td = state.training_data(speakers, clean)
    return count_bigram_loss(td.train, td.val, td.tokenizer.vocab_size)


def loss_chart(records: list[rec.RunRecord]) -> list[str]:
    """The loss chart of the chosen runs; returns their names. Scratch and fine-tuned runs of a
    speaker overlay; a fine-tuned run's legend names its base."""
    by_name = {r.name: r for r in records}
    metrics = metrics_reader(state.runs_root())
    if "train_chart_runs" not in st.session_state:
        st.session_state["train_chart_runs"] = [n for n in st.session_state.get(WATCHED, []) if n in by_name]
    else:
        st.session_state["train_chart_runs"] = [n for n in st.session_state["train_chart_runs"] if n in by_name]
    a, b = st.columns([4, 1])
    chosen = a.multiselect("Runs on the chart", list(by_name), key="train_chart_runs",
                           on_change=lambda: st.session_state.update({WATCHED: st.session_state.train_chart_runs}))
    smoothing = b.slider("Smoothing", 0.0, 0.99, 0.8, 0.01, key="train_smoothing", persist_state="session",
                         help="Debiased exponential moving average of the train loss, as in TensorBoard")
    series, x_max = [], 1
    colors = run_colors([by_name[name].speakers for name in chosen])  # each run in its speaker's colour
    for name, color in zip(chosen, colors):
        label = name + (f" (from {by_name[name].init_from})" if by_name[name].init_from else "")
        series.append((label, curves(metrics(name)), color))
        x_max = max([x_max, *series[-1][1].train_step, *series[-1][1].val_step])  # the axis grows as it trains
    vocab_sizes = sorted({by_name[n].model.vocab_size for n in chosen})
    refs = [(f"ln V = ln {v} = {uniform_loss(v):.3f} (uniform guess)", uniform_loss(v)) for v in vocab_sizes]
    for group, clean in dict.fromkeys((tuple(by_name[n].speakers), by_name[n].clean) for n in chosen):
        try:
            loss = bigram_reference(group, clean)
        except state.USER_ERRORS:
            continue  # a speaker that is no longer available: no reference line
        refs.append((f"count bigram · {' + '.join(fmt.surname(n) for n in group)} = {loss:.3f}", loss))
    st.plotly_chart(loss_figure(series, refs, smoothing, x_max), key="train_loss_chart")
    return chosen


def history(records: list[rec.RunRecord]) -> None:
    metrics = metrics_reader(state.runs_root())
    rows = []
    for r in records:
        step, tps = r.step, r.tokens_per_s
        if r.active:
            p = progress(metrics(r.name), r.max_iters, r.step)
            step, tps = p.step, p.tokens_per_s
        rows.append({"name": r.name, "speakers": ", ".join(r.speakers), "model": r.model_type,
                     "from": r.init_from or "scratch", "status": r.status, "step": step,
                     "best val loss": r.best_val_loss, "tokens/s": tps, "updated": r.updated[:19].replace("T", " ")})
    for u in state.scan_runs().unreadable:
        rows.append({"name": u.name, "status": "unreadable", "speakers": u.reason})
    st.dataframe(pd.DataFrame(rows), hide_index=True, key="train_history", width="stretch", placeholder=fmt.MISSING,
                 column_config={"name": st.column_config.TextColumn(width="medium"),
                                "speakers": st.column_config.TextColumn(width="medium"),
                                "step": st.column_config.NumberColumn(format=fmt.COUNT),
                                "best val loss": st.column_config.NumberColumn(format="%.4f"),
                                "tokens/s": st.column_config.NumberColumn(format=fmt.COUNT)})


def run_panel(records: list[rec.RunRecord]) -> None:
    by_name = {r.name: r for r in records}
    if st.session_state.get(SELECTED) not in by_name:
        st.session_state[SELECTED] = next((n for n in st.session_state.get(WATCHED, []) if n in by_name),
                                          next(iter(by_name)))
    if st.session_state.get("train_selected") not in by_name:
        st.session_state["train_selected"] = st.session_state[SELECTED]
    name = st.selectbox("Selected run", list(by_name), key="train_selected",
                        on_change=lambda: st.session_state.update({SELECTED: st.session_state.train_selected}))
    r = by_name[name]
    events = metrics_reader(state.runs_root())(name)
    p = progress(events, r.max_iters, r.step)
    best = f" · best val loss {r.best_val_loss:.4f}" if r.best_val_loss is not None else ""
    base = f" · fine-tuned from **{r.init_from}**" if r.init_from else ""
    st.markdown(f"Status: **{r.status}** at step {p.step:,} of {r.max_iters:,}{best}{base}"
                + (f" · {r.message}" if r.message and r.status in ("failed", "interrupted") else ""))
    a, b, c, d = st.columns([1, 1, 2, 2], vertical_alignment="bottom")
    a.button("Stop", key="train_stop", on_click=stop_run, args=(name,), disabled=not r.active, icon=":material/stop:")
    can_resume = not r.active and runs.resumable(r.path)
    until = max(r.max_iters, p.step + 1) if p.step < r.max_iters else p.step + max(1, r.max_iters)
    until_key = f"train_until_{name}_{p.step}"  # a fresh default whenever the run moves on
    c.number_input("Resume until step", min_value=p.step + 1, value=until, step=100, key=until_key,
                   disabled=not can_resume, help="Resume continues from latest.pt (or from the best weights with a "
                                                 "fresh optimizer); give more steps to go further")
    b.button("Resume", key="train_resume", on_click=resume_run, args=(name, until_key), disabled=not can_resume,
             icon=":material/play_arrow:")
    d.download_button("Download metrics (CSV)", lambda: pd.DataFrame(events).to_csv(index=False),
                      f"{name}-metrics.csv", "text/csv", key="train_download", on_click="ignore", disabled=not events,
                      icon=":material/download:")
    for level, text, when in st.session_state.get(RUN_MSG, []):
        if time.time() - when < 20:
            getattr(st, level)(text)
    samples(r)
    head_patterns(r)


def samples(r: rec.RunRecord) -> None:
    """What the model wrote at each evaluation, from the same prompt and seed: watch it learn."""
    if not r.samples:
        return
    st.markdown("**What it wrote as it learned** (the same prompt and seed at every evaluation)")
    steps = [s["step"] for s in r.samples]
    at = steps[-1] if len(steps) == 1 else st.select_slider("At step", steps, value=steps[-1],
                                                            key=f"train_sample_step_{r.name}")
    text = next(s["text"] for s in r.samples if s["step"] == at)
    st.code(text, language=None, wrap_lines=True)


def head_patterns(r: rec.RunRecord) -> None:
    """The strongest head on each pattern at each evaluation: when the heads form."""
    if len(r.heads) < 2:
        return
    from core.probe.heads import LABELS

    steps = [h["step"] for h in r.heads]
    patterns = r.heads[-1].get("patterns", [])
    data = []
    for k, p in enumerate(patterns):
        best = [max(head[k] for layer in h["scores"] for head in layer) for h in r.heads]
        data.append({"type": "scatter", "mode": "lines+markers", "x": steps, "y": best, "name": LABELS.get(p, p),
                     "hovertemplate": f"{LABELS.get(p, p)}<br>step %{{x}}<br>best head %{{y:.2f}}<extra></extra>"})
    layout = {"height": 320, "margin": {"l": 10, "r": 10, "t": 40, "b": 10},
              "title": {"text": "The strongest head on each pattern, at each evaluation", "font": {"size": 14}},
              "xaxis": {"title": {"text": "step"}}, "yaxis": {"title": {"text": "score (share of attention)"},
                                                              "range": [0, 1]}}
    st.plotly_chart(go.Figure({"data": data, "layout": layout}), key=f"train_heads_{r.name}")
    st.caption("Each score is the share of a head's attention that lands where the pattern says (core.probe.heads): 1 "
               "means the head does exactly that. An induction head (0.3 or more) looks back to what followed the "
               "previous copy of the current character; see *Inside the heads* for every head.")
