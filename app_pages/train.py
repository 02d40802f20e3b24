"""Step 7: train a bigram or a GPT in the background (one model per speaker, or one on all of them),
and watch it learn: loss curves against the uniform and count-bigram baselines, progress and ETA,
and the attention heads forming in the newest checkpoint. Runs are processes with their own folder,
so they outlive page switches, reloads and server restarts."""
from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core import checkpoints as ck
from core import runs
from core.attention_view import attention_view
from core.config import PRESETS, preset
from core.device import describe, pick_device
from core.evaluate import count_bigram_loss
from core.metrics import Curves, curves, format_duration, progress, uniform_loss
from ui import charts, state

WATCHED = "train_watched"        # run names on the chart (not a widget key: survives page switches)
WATCH_PARAM = "watch"            # the same names in the URL: survives a reload
POLL = "2s"                      # how often a page with runs training redraws their progress
CHART_POLL = "4s"                # ... and their loss curves and attention
SELECTED = "train_selected_run"  # the run the history panel acts on (idem)
ATT_RUN = "train_attention_run"  # the run whose attention is shown, once the learner picks one (idem)
START_MSG = "train_start_messages"
RUN_MSG = "train_run_messages"   # (level, text, time) of Stop / Resume, shown for a little while
PER_SPEAKER, TOGETHER = "one model per speaker", "one model on all selected together"
COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2")
REF_GREY = "#7f7f7f"
# (field, label, minimum, maximum, step, models it applies to, help)
FIELDS = (
    ("n_layer", "layers (n_layer)", 1, 48, 1, ("gpt",), "transformer blocks"),
    ("n_head", "heads (n_head)", 1, 64, 1, ("gpt",), "attention heads per block; must divide n_embd"),
    ("n_embd", "width (n_embd)", 1, 4096, 16, ("gpt",), "channels C; each head gets n_embd / n_head"),
    ("block_size", "context (block_size)", 1, 8192, 8, ("gpt", "bigram"), "the most characters seen at once"),
    ("batch_size", "batch size", 1, 4096, 8, ("gpt", "bigram"), "sequences per step"),
    ("learning_rate", "learning rate", 0.0, 10.0, 1e-4, ("gpt", "bigram"), "peak, after warmup; cosine decay"),
    ("max_iters", "iterations (max_iters)", 0, 1_000_000, 100, ("gpt", "bigram"), "optimizer steps"),
    ("dropout", "dropout", 0.0, 0.99, 0.05, ("gpt",), "regularisation; 0 for small models"),
    ("eval_interval", "eval interval (steps)", 1, 100_000, 50, ("gpt", "bigram"),
     "steps between val-loss estimates and checkpoints"),
)


def preset_value(preset_name: str, name: str):
    p = PRESETS[preset_name]
    return getattr(p.model, name) if hasattr(p.model, name) else getattr(p.train, name)


def field_key(name: str, model: str, preset_name: str) -> str:
    """Custom fields are keyed by preset, so choosing another preset pre-fills them afresh."""
    return f"train_{name}_{model}_{preset_name}"


def requests_from_form() -> list[runs.RunRequest]:
    """The run requests the form describes (read from session_state, so a Start callback sees the
    values the learner just typed). Overrides are only the fields that differ from the preset."""
    ss = st.session_state
    speakers = list(ss.get("train_speakers") or [])
    model = ss.get("train_model") or "gpt"
    preset_name = ss.get(f"train_preset_{model}") or ("bigram" if model == "bigram" else "tiny")
    overrides = {}
    if ss.get("train_custom"):
        for name, *_, models, _help in FIELDS:
            key = field_key(name, model, preset_name)
            if model in models and key in ss and ss[key] != preset_value(preset_name, name):
                overrides[name] = ss[key]
    groups = [[s] for s in speakers] if ss.get("train_grouping", PER_SPEAKER) == PER_SPEAKER else [speakers]
    return [runs.RunRequest.make(g, model, preset_name, state.cleaning(), **overrides) for g in groups]


def start_runs() -> None:
    """Start callback: validate every request first (nothing starts if one is wrong), then start each;
    a request that is already training is not started twice."""
    root, msgs = state.runs_root(), []
    st.session_state[START_MSG] = msgs
    try:
        requests = requests_from_form()
        if not requests or not requests[0].speakers:
            raise ValueError("choose at least one speaker to train on")
        for r in requests:
            runs.validate(r)
        active = {s.key: s.name for s in runs.list_runs(root) if s.active}
        new = [r for r in requests if r.key() not in active]
        if len(active) + len(new) > runs.MAX_CONCURRENT:
            raise ValueError(f"{len(new)} new run(s) + {len(active)} already training is more than "
                             f"{runs.MAX_CONCURRENT} at once: choose fewer speakers or stop a run")
    except state.USER_ERRORS as e:
        msgs.append(("error", f"Nothing was started: {e}"))
        return
    names = []
    for r in requests:
        try:
            s = runs.start(r, root, name=f"{r.default_name()}-custom" if r.overrides else None)
        except state.USER_ERRORS as e:
            msgs.append(("error", f"{', '.join(r.speakers)}: {e}"))
            continue
        names.append(s.name)
        if not s.started_now:  # already training (here, or pressed at the same moment in another tab)
            msgs.append(("info", f"**{s.name}** is already training these settings: it was not started twice."))
        else:
            msgs.append(("success", f"Started **{s.name}** ({', '.join(r.speakers)}) in the background."))
    if names:
        watch(names)
        st.session_state["train_chart_runs"] = names
        st.session_state[SELECTED] = names[0]
        for key in ("train_selected", ATT_RUN):
            st.session_state.pop(key, None)


def watch(names: list[str]) -> None:
    """This session follows these runs; the URL keeps them (?watch=...), so a reload re-attaches
    while another tab or visitor, without them in its URL, sees only its own."""
    st.session_state[WATCHED] = list(names)
    st.query_params[WATCH_PARAM] = ",".join(names)


def say(level: str, text: str) -> None:
    st.session_state[RUN_MSG] = [(level, text, time.time())]


def stop_run(name: str) -> None:
    s = runs.stop(state.runs_root() / name)
    if s.active:
        say("info", f"Stopping **{name}**: it finishes its step, saves latest.pt and marks itself stopped.")
    else:
        say("warning", f"**{name}** is not training ({s.status}).")


def resume_run(name: str, until_key: str) -> None:
    run_dir = state.runs_root() / name
    until = st.session_state.get(until_key)
    try:
        before = runs.status(run_dir)
        s = runs.resume(run_dir, max_iters=until if until and until != before.max_iters else None)
    except state.USER_ERRORS as e:
        say("error", f"Could not resume **{name}**: {e}")
        return
    say("success", f"Resumed **{name}** from its latest checkpoint (step {s.step:,}).")
    watched = st.session_state.get(WATCHED) or []
    if name not in watched:
        watch([name, *watched])
        st.session_state.pop("train_chart_runs", None)


def show(messages) -> None:
    for level, text, *_ in messages:
        getattr(st, level)(text)


def trainer_threads() -> int:
    """The trainer is a fresh process: torch's default intra-op threads there (the app keeps 1)."""
    return int(os.environ.get("OMP_NUM_THREADS") or os.cpu_count() or 1)


@st.cache_data(show_spinner=False, max_entries=32)
def bigram_reference(speakers: tuple[str, ...], clean: bool) -> float:
    """Val loss of the count-based bigram on these speakers: what a trained bigram should reach."""
    td = state.training_data(speakers, clean)
    return count_bigram_loss(td.train, td.val, td.tokenizer.vocab_size)


@st.cache_resource(show_spinner=False, max_entries=4)
def checkpoint_model(path: str, mtime: float) -> ck.LoadedModel:
    """A run's newest weights, cached until the file changes (the trainer replaces it atomically)."""
    p = Path(path)
    return ck.load_model(p.parent, which="latest" if p.name == ck.LATEST else "best", device="cpu")


@st.cache_resource(show_spinner=False, max_entries=16)
def probe_attention(path: str, mtime: float, text: str):
    """The probe text's attention under one checkpoint file: computed again only when the trainer
    replaces the file (a page polling a run does not redo it every time)."""
    loaded = checkpoint_model(path, mtime)
    return attention_view(loaded.model, loaded.tokenizer, text, min(len(text), loaded.config.block_size))


def newest_weights(run_dir: Path) -> Path | None:
    for name in (ck.LATEST, ck.BEST):
        if (run_dir / name).exists():
            return run_dir / name
    return None


def updated(s: runs.RunStatus) -> str:
    files = [p for p in (s.path / ck.META, s.path / runs.LAUNCH) if p.exists()]
    return datetime.fromtimestamp(max(p.stat().st_mtime for p in files)).strftime("%Y-%m-%d %H:%M:%S") if files else ""


def short(name: str) -> str:
    return name.split()[-1] if name.split()[-1] not in ("Jr.", "Sr.") else name.split()[-2]


def loss_figure(series: list[tuple[str, Curves]], refs: list[tuple[str, float]], smoothing: float,
                x_max: int) -> go.Figure:
    """One chart: per run, raw train loss (faint), smoothed (bold) and val (points and line);
    grey reference lines. Built as one dict (plotly's update_* calls are slow)."""
    data = []
    for i, (name, c) in enumerate(series):
        color = COLORS[i % len(COLORS)]
        data += [
            {"type": "scatter", "mode": "lines", "x": c.train_step, "y": c.train_loss, "name": f"{name} · train (raw)",
             "legendgroup": name, "line": {"color": color, "width": 1}, "opacity": 0.25, "showlegend": False,
             "hovertemplate": f"{name}<br>step %{{x}}<br>train (raw) %{{y:.4f}}<extra></extra>"},
            {"type": "scatter", "mode": "lines", "x": c.train_step, "y": c.smoothed(smoothing),
             "name": f"{name} · train", "legendgroup": name, "line": {"color": color, "width": 2.5},
             "hovertemplate": f"{name}<br>step %{{x}}<br>train (smoothed) %{{y:.4f}}<extra></extra>"},
            {"type": "scatter", "mode": "lines+markers", "x": c.val_step, "y": c.val_loss, "name": f"{name} · val",
             "legendgroup": name, "line": {"color": color, "width": 1.5, "dash": "dash"},
             "marker": {"size": 7, "symbol": "diamond"},
             "hovertemplate": f"{name}<br>step %{{x}}<br>val %{{y:.4f}}<extra></extra>"},
        ]
    for j, (label, value) in enumerate(refs):
        data.append({"type": "scatter", "mode": "lines", "x": [0, x_max], "y": [value, value], "name": label,
                     "line": {"color": REF_GREY, "width": 1, "dash": "dot" if j % 2 else "dashdot"},
                     "hovertemplate": f"{label}<extra></extra>"})
    layout = {"height": 460, "margin": {"l": 10, "r": 10, "t": 40, "b": 10}, "uirevision": "train-loss",
              "title": {"text": "Loss (nats per character): train faint raw / bold smoothed, val dashed",
                        "font": {"size": 14}},
              "xaxis": {"title": {"text": "step"}, "rangemode": "tozero"},
              "yaxis": {"title": {"text": "cross-entropy loss"}},
              "legend": {"orientation": "h", "y": -0.18}, "hovermode": "closest"}
    return go.Figure({"data": data, "layout": layout})


st.title("7. Train a GPT, and watch it learn")
st.markdown(
    "Press **Start** and a training process begins in the background: it keeps going if you switch page, "
    "reload, or restart the app. **One model per speaker** trains a separate model on each speaker alone, "
    "so their curves can be laid over each other. At the start the model guesses every character equally: "
    "its loss is **ln V**. A count-based **bigram** (how often each character follows another) is the "
    "first bar to beat; only a model that uses context gets below it.")

# --- what to train ------------------------------------------------------------------------------
names = state.speaker_names()
c1, c2 = st.columns([3, 2])
c1.multiselect("Speakers to train on", names, default=[s for s in state.chosen_speakers() if s in names],
               key="train_speakers", help="Default: the speakers chosen in the sidebar", persist_state="session")
c2.radio("How", [PER_SPEAKER, TOGETHER], key="train_grouping", persist_state="session",
         help="One run per speaker (to compare them), or one model on all their text together")
c1, c2, c3 = st.columns([2, 2, 3])
model = c1.segmented_control("Model", ["gpt", "bigram"], default="gpt", key="train_model", persist_state="session",
                             format_func=lambda m: {"gpt": "GPT", "bigram": "bigram"}[m]) or "gpt"
preset_names = [n for n, p in PRESETS.items() if p.model.model_type == model]
preset_name = c2.selectbox("Preset", preset_names, key=f"train_preset_{model}",
                           index=preset_names.index("tiny") if "tiny" in preset_names else 0, persist_state="session")
c3.caption(PRESETS[preset_name].description)
custom = st.toggle("Custom hyperparameters (pre-filled from the preset)", key="train_custom", persist_state="session")
if custom:
    cols = st.columns(5)
    shown = [f for f in FIELDS if model in f[5]]
    for i, (name, label, lo, hi, step, _models, help_) in enumerate(shown):
        value = preset_value(preset_name, name)
        cols[i % 5].number_input(label, lo, hi, value, step, key=field_key(name, model, preset_name), help=help_,
                                 format="%g" if isinstance(value, float) else None, persist_state="session")

info = describe(pick_device("auto"))
where = (f"Runs on **{info.name}**" + (f" · {trainer_threads()} threads in the training process (the app keeps 1)"
                                       if info.device == "cpu" else "") + f" · {info.dtype}")
st.caption(where)

problem = True  # until the settings are known to make a model: Start stays disabled
with state.friendly_errors():
    requests = requests_from_form()
    if not requests or not requests[0].speakers:
        st.warning("Choose at least one speaker to train on.")
    else:
        vocab = state.training_data((requests[0].speakers[0],), state.cleaning()).tokenizer.vocab_size
        model_cfg, train_cfg = preset(preset_name, vocab, **dict(requests[0].overrides))
        problem = False
        tokens = train_cfg.batch_size * model_cfg.block_size
        st.caption(f"{len(requests)} run(s) · {model_cfg.n_params():,} parameters each · {train_cfg.max_iters:,} steps "
                   f"of {train_cfg.batch_size} x {model_cfg.block_size} = {tokens:,} characters · "
                   f"val estimate every {train_cfg.eval_interval:,} steps")
        if preset_name == "lecture" and info.device == "cpu":
            st.warning("The lecture preset (~10.8M parameters, block 256) is meant for a GPU: on this CPU it takes "
                       "hours. Try `tiny`, or make it smaller with custom hyperparameters.")
st.button("Start", type="primary", icon=":material/play_arrow:", key="train_start", on_click=start_runs,
          disabled=problem, help="Start a background run per request (validated first)")
show(st.session_state.get(START_MSG, []))

# --- the runs, live -------------------------------------------------------------------------------
root = state.runs_root()
statuses = runs.list_runs(root)
if WATCHED not in st.session_state:  # a new session: a reload re-attaches to the runs in its URL
    on_disk = {s.name for s in statuses}
    from_url = [n for n in st.query_params.get(WATCH_PARAM, "").split(",") if n in on_disk]
    st.session_state[WATCHED] = from_url or [s.name for s in statuses if not s.active][:1]
active_at_render = frozenset(s.name for s in statuses if s.active)


def run_metrics() -> Callable[[str], list[dict]]:
    """metrics(name): a run's progress events, read from disk at most once per script run."""
    events: dict[str, list[dict]] = {}

    def metrics(name: str) -> list[dict]:
        if name not in events:
            events[name] = ck.read_metrics(root / name)
        return events[name]
    return metrics


def current() -> tuple[list[runs.RunStatus], list[runs.RunStatus]]:
    """The runs on disk and the active ones; a run that started or ended redraws the whole page
    (and the page polls only while something trains)."""
    statuses = runs.list_runs(root)
    active = [s for s in statuses if s.active]
    if frozenset(s.name for s in active) != active_at_render:
        st.rerun(scope="app")
    return statuses, active


@st.fragment(run_every=POLL if active_at_render else None)
def live() -> None:
    """This session's runs' progress, redrawn every POLL while they train. (The history and the
    run panel at the bottom redraw when a run starts or ends.)"""
    statuses, active = current()
    metrics = run_metrics()

    watched = st.session_state.get(WATCHED) or []
    mine = [s for s in active if s.name in watched]
    others = [s for s in active if s.name not in watched]
    if mine:
        st.subheader("Training now")
    for s in mine:
        p = progress(metrics(s.name), s.max_iters, s.step)
        a, b = st.columns([6, 1], vertical_alignment="bottom")
        if not p.step:
            text = (f"**{s.name}** · starting: loading the speeches and building the model" if s.status == "queued"
                    else f"**{s.name}** · step 0 / {p.max_iters:,} · estimating the loss at initialisation")
        else:
            text = (f"**{s.name}** · step {p.step:,} / {p.max_iters:,} · "
                    f"{p.tokens_per_s or 0:,.0f} tokens/s · ETA {format_duration(p.eta_s)}")
        a.progress(p.fraction, text=text)
        b.button("Stop", key=f"train_stop_{s.name}", on_click=stop_run, args=(s.name,), icon=":material/stop:")
    if others:  # started elsewhere (another tab, another visitor, the CLI): shown only when asked for
        with st.expander(f"{len(others)} other run(s) training on this server"):
            for s in others:
                a, b = st.columns([6, 1], vertical_alignment="center")
                a.caption(f"**{s.name}** · {', '.join(s.speakers)} · step {s.step:,} / {s.max_iters:,}")
                b.button("Watch", key=f"train_watch_{s.name}", on_click=watch, args=([*watched, s.name],))


@st.fragment(run_every=CHART_POLL if active_at_render else None)
def curves_and_attention() -> None:
    """The loss chart and the attention of the newest checkpoint, redrawn every CHART_POLL while
    runs train (a chart's redraw costs a browser far more than a progress bar's)."""
    statuses, _ = current()
    by_name = {s.name: s for s in statuses}
    metrics = run_metrics()
    st.subheader("Loss curves")
    if not statuses:
        st.info("No runs yet: choose what to train above and press **Start**.")
        return
    if "train_chart_runs" not in st.session_state:
        st.session_state["train_chart_runs"] = [n for n in st.session_state[WATCHED] if n in by_name]
    else:
        st.session_state["train_chart_runs"] = [n for n in st.session_state["train_chart_runs"] if n in by_name]
    a, b = st.columns([4, 1])
    chosen = a.multiselect("Runs on the chart", list(by_name), key="train_chart_runs",
                           on_change=lambda: st.session_state.update({WATCHED: st.session_state.train_chart_runs}))
    smoothing = b.slider("Smoothing", 0.0, 0.99, 0.8, 0.01, key="train_smoothing",
                         help="Debiased exponential moving average of the train loss, as in TensorBoard",
                         persist_state="session")
    series, refs, x_max = [], [], 1
    for name in chosen:
        series.append((name, curves(metrics(name))))
        x_max = max([x_max, *series[-1][1].train_step, *series[-1][1].val_step])  # the axis grows as it trains
    vocab_sizes = sorted({(by_name[n].meta.get("model") or {}).get("vocab_size") for n in chosen} - {None})
    refs += [(f"ln V = ln {v} = {uniform_loss(v):.3f} (uniform guess)", uniform_loss(v)) for v in vocab_sizes]
    for group, clean in dict.fromkeys((tuple(by_name[n].speakers), by_name[n].meta.get("clean", True))
                                      for n in chosen if by_name[n].speakers):
        try:
            loss = bigram_reference(group, clean)
        except state.USER_ERRORS:
            continue  # a speaker that is no longer available: no reference line
        refs.append((f"count bigram · {' + '.join(short(n) for n in group)} = {loss:.3f}", loss))
    st.plotly_chart(loss_figure(series, refs, smoothing, x_max), key="train_loss_chart")

    # attention of the newest checkpoint
    st.subheader("Attention while it trains")
    gpt_runs = [s.name for s in statuses if s.model_type == "gpt" and newest_weights(s.path)]
    if not gpt_runs:
        st.caption("Start a GPT run: its attention heads appear here, from its newest checkpoint.")
    else:
        with state.friendly_errors():
            attention_panel(gpt_runs, by_name, chosen)


def history(statuses: list[runs.RunStatus]) -> None:
    by_name = {s.name: s for s in statuses}
    metrics = run_metrics()
    st.subheader("Run history")
    rows = []
    for s in statuses:
        step, tps = s.step, s.tokens_per_s
        if s.active:
            p = progress(metrics(s.name), s.max_iters, s.step)
            step, tps = p.step, p.tokens_per_s
        rows.append({"name": s.name, "speakers": ", ".join(s.speakers), "model": s.model_type, "status": s.status,
                     "step": step, "best val loss": s.best_val_loss, "tokens/s": tps,
                     "updated": updated(s)})
    st.dataframe(pd.DataFrame(rows), hide_index=True, key="train_history", width="stretch",
                 column_config={"name": st.column_config.TextColumn(width="medium"),
                                "speakers": st.column_config.TextColumn(width="medium"),
                                "best val loss": st.column_config.NumberColumn(format="%.4f"),
                                "tokens/s": st.column_config.NumberColumn(format="%.0f")})
    run_panel(by_name, metrics)


def attention_panel(gpt_runs: list[str], by_name: dict, chosen: list[str]) -> None:
    picked = st.session_state.get(ATT_RUN)
    st.session_state["train_att_run"] = picked if picked in gpt_runs else next(
        (n for n in chosen if n in gpt_runs), gpt_runs[0])  # follows the chart until the learner picks one
    if not any(n in gpt_runs for n in chosen):
        st.caption("No GPT among the runs on the chart (a bigram has no attention): showing another GPT run.")
    a, b, c = st.columns([3, 1, 1])
    name = a.selectbox("Run", gpt_runs, key="train_att_run",
                       on_change=lambda: st.session_state.update({ATT_RUN: st.session_state.train_att_run}))
    cfg = by_name[name].meta.get("model") or {}
    layer = b.selectbox("Layer", range(cfg.get("n_layer", 1)), format_func=lambda i: f"layer {i + 1}",
                        key=f"train_att_layer_{name}")
    head = c.selectbox("Head", range(cfg.get("n_head", 1)), format_func=lambda i: f"head {i + 1}",
                       key=f"train_att_head_{name}")
    path = newest_weights(root / name)
    loaded = checkpoint_model(str(path), path.stat().st_mtime)
    speaker_name = (loaded.meta.get("speakers") or state.chosen_speakers())[0]
    _, val_text = state.speaker(speaker_name, loaded.meta.get("clean", True)).split()
    excerpt = val_text[val_text.find(" ") + 1:][:loaded.config.block_size]
    text = st.text_input("Probe text", value=excerpt, key=f"train_probe_{name}",
                         help=f"Default: {speaker_name}'s validation text, which the model never trains on")
    unknown = loaded.tokenizer.unknown(text)
    if unknown:
        st.error("These characters are not in the model's vocabulary: " + ", ".join(f"{ch!r}" for ch in unknown))
        return
    if not text:
        st.warning("The probe text is empty: type a few words to see attention.")
        return
    view = probe_attention(str(path), path.stat().st_mtime, text)
    step = loaded.meta.get("step", 0)
    a, b = st.columns([3, 2])
    a.plotly_chart(charts.heatmap(view.weights[layer, head], view.labels, view.labels, zmin=0.0, zmax=1.0,
                                  colorbar_title="weight", hover_name="weight", height=480),
                   key="train_attention")
    b.markdown(f"**Softmax weights, layer {layer + 1}, head {head + 1}**, from **{path.name}** of **{name}**, "
               f"saved at step **{step:,}**: it refreshes each time the trainer "
               "saves (every eval interval). Row *i* is how character *i* spreads its attention over itself and the "
               "characters before it (the future is masked: weight 0). At step 0 the rows are nearly uniform; as the "
               "model learns, heads start to pick out particular characters: the previous one, the start of the "
               "word, a space.")
    b.caption(f"Probe: {len(view.labels)} characters (block_size {view.block_size}). "
              "Next-character guesses: " + ", ".join(f"{ch!r} {pr:.2f}" for ch, pr in view.next_chars))


def run_panel(by_name: dict, metrics) -> None:
    if st.session_state.get(SELECTED) not in by_name:
        st.session_state[SELECTED] = next((n for n in st.session_state.get(WATCHED, []) if n in by_name),
                                          next(iter(by_name)))
    if st.session_state.get("train_selected") not in by_name:
        st.session_state["train_selected"] = st.session_state[SELECTED]
    name = st.selectbox("Selected run", list(by_name), key="train_selected",
                        on_change=lambda: st.session_state.update({SELECTED: st.session_state.train_selected}))
    s = by_name[name]
    p = progress(metrics(name), s.max_iters, s.step)
    best = f" · best val loss {s.best_val_loss:.4f}" if s.best_val_loss is not None else ""
    st.markdown(f"Status: **{s.status}** at step {p.step:,} of {s.max_iters:,}{best}"
                + (f" · {s.message}" if s.message and s.status in ("failed", "interrupted") else ""))
    a, b, c, d = st.columns([1, 1, 2, 2], vertical_alignment="bottom")
    a.button("Stop", key="train_stop", on_click=stop_run, args=(name,), disabled=not s.active,
             icon=":material/stop:")
    resumable = not s.active and (s.path / ck.LATEST).exists()
    until = max(s.max_iters, p.step + 1) if p.step < s.max_iters else p.step + max(1, s.max_iters)
    until_key = f"train_until_{name}_{p.step}"  # a fresh default whenever the run moves on
    c.number_input("Resume until step", min_value=p.step + 1, value=until, step=100, key=until_key,
                   disabled=not resumable, help="Resume continues from latest.pt; give more steps to go further")
    b.button("Resume", key="train_resume", on_click=resume_run, args=(name, until_key), disabled=not resumable,
             icon=":material/play_arrow:")
    events = metrics(name)
    d.download_button("Download metrics (CSV)", lambda: pd.DataFrame(ck.read_metrics(s.path)).to_csv(index=False),
                      f"{name}-metrics.csv", "text/csv", key="train_download", on_click="ignore", disabled=not events,
                      icon=":material/download:")
    recent = [m for m in st.session_state.get(RUN_MSG, []) if time.time() - m[2] < 20]
    show(recent)


live()
curves_and_attention()
if statuses:
    history(statuses)
