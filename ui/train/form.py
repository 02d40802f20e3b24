"""The Train page's form: what to train (speakers, grouping, model, preset, where the weights
start, custom settings derived from their one declaration in core.config), and Start, which hands
the requests to the one start path (core.runs.start.start_group)."""
from __future__ import annotations

import streamlit as st

from core.config import PRESETS, preset
from core.device import describe, pick_device
from core.runs import start as runs
from core.settings import form_settings
from ui import state
from ui.watch import GROUP, SELECTED, watch

ATT_RUN = "train_attention_run"  # the run whose attention is shown, once the learner picks one
START_MSG = "train_start_messages"
PER_SPEAKER, TOGETHER = "one model per speaker", "one model on all selected together"
SCRATCH = "from scratch"


def preset_value(preset_name: str, name: str):
    p = PRESETS[preset_name]
    return getattr(p.model, name) if hasattr(p.model, name) else getattr(p.train, name)


def field_key(name: str, model: str, preset_name: str) -> str:
    """Custom fields are keyed by preset, so choosing another preset pre-fills them afresh."""
    return f"train_{name}_{model}_{preset_name}"


def bases() -> list[str]:
    """GPT runs that can start another run (their best weights exist)."""
    return [r.name for r in state.runs("gpt") if r.status in ("finished", "stopped", "interrupted")]


def requests_from_form() -> list[runs.RunRequest]:
    """The run requests the form describes (read from session_state, so a Start callback sees the
    values the learner just typed). Overrides are only the fields that differ from the preset."""
    ss = st.session_state
    speakers = list(ss.get("train_speakers") or [])
    model = ss.get("train_model") or "gpt"
    preset_name = ss.get(f"train_preset_{model}") or ("bigram" if model == "bigram" else "tiny")
    init = ss.get("train_init") if model == "gpt" else None
    init_from = init if init and init != SCRATCH else None
    overrides = {}
    if ss.get("train_custom"):
        for s in form_settings(model):
            key = field_key(s.name, model, preset_name)
            if key in ss and ss[key] != preset_value(preset_name, s.name):
                overrides[s.name] = ss[key]
    groups = [[s] for s in speakers] if ss.get("train_grouping", PER_SPEAKER) == PER_SPEAKER else [speakers]
    unknown = ss.get("train_unknown", "refuse") if init_from else "refuse"
    return [runs.RunRequest.make(g, model, preset_name, state.cleaning(), init_from, unknown=unknown, **overrides)
            for g in groups]


def start_runs() -> None:
    """Start callback: every request is checked first (nothing starts if one is wrong); the runs
    start as one group; a request already training is not started twice."""
    msgs: list = []
    st.session_state[START_MSG] = msgs
    try:
        started = runs.start_group(requests_from_form(), state.runs_root())
    except state.USER_ERRORS as e:
        msgs.append(("error", f"Nothing was started: {e}"))
        return
    names = [s.record.name for s in started]
    for s in started:
        r = s.record
        if not s.started_now:
            msgs.append(("info", f"**{r.name}** is already training these settings: it was not started twice."))
        else:
            base = f", from **{r.init_from}**" if r.init_from else ""
            msgs.append(("success", f"Started **{r.name}** ({', '.join(r.speakers)}{base}) in the background."))
    st.session_state[GROUP] = next((s.record.group for s in started if s.started_now), None)
    watch(names)
    st.session_state["train_chart_runs"] = names
    st.session_state[SELECTED] = names[0]
    for key in ("train_selected", ATT_RUN):
        st.session_state.pop(key, None)


def render() -> None:
    """The form and Start."""
    names = state.speaker_names()
    c1, c2 = st.columns([3, 2])
    c1.multiselect("Speakers to train on", names, default=[s for s in state.chosen_speakers() if s in names],
                   key="train_speakers", help="Default: the speakers chosen in the sidebar", persist_state="session")
    c2.radio("How", [PER_SPEAKER, TOGETHER], key="train_grouping", persist_state="session",
             help="One run per speaker (to compare them), or one model on all their text together")
    c1, c2, c3, c4 = st.columns([2, 2, 3, 3])
    model = c1.segmented_control("Model", ["gpt", "bigram"], default="gpt", key="train_model",
                                 persist_state="session",
                                 format_func=lambda m: {"gpt": "GPT", "bigram": "bigram"}[m]) or "gpt"
    preset_names = [n for n, p in PRESETS.items() if p.model.model_type == model]
    preset_name = c2.selectbox("Preset", preset_names, key=f"train_preset_{model}", persist_state="session",
                               index=preset_names.index("tiny") if "tiny" in preset_names else 0)
    c3.caption(PRESETS[preset_name].description)
    if model == "gpt":
        c4.selectbox("Weights start", [SCRATCH, *bases()], key="train_init", persist_state="session",
                     help="From scratch (random weights), or from a trained model's weights: fine-tuning, the "
                          "lecture's last chapter. A fine-tuned run keeps its base's architecture and vocabulary.")
    if model == "gpt" and st.session_state.get("train_init", SCRATCH) != SCRATCH:
        st.radio("Characters of the speaker's text that the base does not know", ["refuse", "drop", "space"],
                 key="train_unknown", horizontal=True, persist_state="session",
                 format_func={"refuse": "refuse (list them)", "drop": "drop them", "space": "replace with a space"}.get,
                 help="A fine-tuned run keeps its base's vocabulary; nothing is changed unless you choose to")
    if st.toggle("Custom hyperparameters (pre-filled from the preset)", key="train_custom", persist_state="session"):
        shown = form_settings(model)
        cols = st.columns(5)
        for i, s in enumerate(shown):
            value = preset_value(preset_name, s.name)
            cols[i % 5].number_input(s.label, s.lo, s.hi, value, s.step, key=field_key(s.name, model, preset_name),
                                     help=s.help, format="%g" if isinstance(value, float) else None,
                                     persist_state="session")
    info = describe(pick_device("auto"))
    st.caption(f"Runs on **{info.name}** · {info.dtype} · in processes of their own, at idle priority")
    problem = True  # until the settings are known to make a model: Start stays disabled
    with state.friendly_errors():
        requests = requests_from_form()
        if not requests or not requests[0].speakers:
            st.warning("Choose at least one speaker to train on.")
        else:
            model_cfg, train_cfg = validate_first(requests[0])
            problem = False
            tokens = train_cfg.batch_size * model_cfg.block_size
            base = f" · from **{requests[0].init_from}**" if requests[0].init_from else ""
            st.caption(f"{len(requests)} run(s) · {model_cfg.n_params():,} parameters each{base} · "
                       f"{train_cfg.max_iters:,} steps of {train_cfg.batch_size} x {model_cfg.block_size} = "
                       f"{tokens:,} characters · val estimate every {train_cfg.eval_interval:,} steps")
            if preset_name == "lecture" and info.device == "cpu":
                st.warning("The lecture preset (~10.8M parameters, block 256) is meant for a GPU: on this CPU it "
                           "takes hours. Try `tiny`, or make it smaller with custom hyperparameters.")
    st.button("Start", type="primary", icon=":material/play_arrow:", key="train_start", on_click=start_runs,
              disabled=problem, help="Start a background run per request (all checked first)")
    for level, text in st.session_state.get(START_MSG, []):
        getattr(st, level)(text)


def validate_first(request: runs.RunRequest):
    """The configs of the form's first request, checked as Start will check them (cheaply: the
    vocabulary of one speaker; Start checks every request in full)."""
    if request.init_from:
        return runs.validate(request, state.runs_root())
    vocab = state.training_data((request.speakers[0],), state.cleaning()).tokenizer.vocab_size
    return preset(request.preset, vocab, **dict(request.overrides))
