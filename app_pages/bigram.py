"""Step 4 of the lecture: the bigram language model. A V x V table of next-character logits, trained in
seconds in the background, set beside the table you get by counting; one-hot times a matrix as a lookup,
why counting does not scale with context, its babble, and why it cannot use context."""
from __future__ import annotations

import streamlit as st

from core.config import preset
from core.runs import catalog
from core.runs import record as rec
from core.runs import start as run_manager
from ui import journey, state
from ui.bigram import counting as onehot_and_ngrams
from ui.bigram import sections as bigram_sections

RUN = "bigram_run"          # the run this session started (not a widget key: survives page switches)
DONE = "bigram_run_done"    # (level, message) once that run ended, shown once
SHOWN = "bigram_shown"      # the run this session trained last: the page shows it
POLL = "1s"


def base_name(speaker: str, clean: bool) -> str:
    """The run name the page uses for a speaker's bigram (stage notes kept: a separate run)."""
    return rec.slug(f"{speaker}-bigram" if clean else f"{speaker}-bigram-raw")


def free_name(base: str) -> str:
    return rec.free_name(state.runs_root(), base)


def speaker_runs(speaker: str, clean: bool) -> list[rec.RunRecord]:
    """This speaker's bigrams with this cleaning as core.runs.catalog ranks them (finished, never a
    ladder rung or a run stopped at step 0), the best first; the one this session just trained, first."""
    found = [r for r in catalog.candidates(state.runs("bigram"), speaker, "scratch", "bigram") if r.clean == clean]
    mine = st.session_state.get(SHOWN)
    return sorted(found, key=lambda r: r.name != mine)


def start_training(speaker: str, clean: bool) -> None:
    """Button callback: start the bigram as a background run (its own process; nothing trains here), for
    the steps in the number input as they are now."""
    st.session_state.pop(DONE, None)
    steps = int(st.session_state["bigram_steps"])
    request = run_manager.RunRequest.make([speaker], "bigram", "bigram", clean, max_iters=steps)
    try:
        s = run_manager.start(request, state.runs_root(), name=free_name(base_name(speaker, clean)))
    except state.USER_ERRORS as e:
        st.session_state[DONE] = ("error", f"Nothing was started: {e}")
        return
    st.session_state[RUN] = s.name


@st.fragment(run_every=POLL)
def training_progress(name: str) -> None:
    """Redrawn every POLL while the run trains; when it ends, the whole page reruns and loads it."""
    s = rec.status(state.runs_root() / name)
    if s.active:
        st.progress(min(1.0, s.step / max(1, s.max_iters)),
                    text=f"Training **{name}** in the background: step {s.step:,} / {s.max_iters:,}"
                         + (f" · train loss {s.train_loss:.3f}" if s.train_loss is not None else ""))
        return
    st.session_state.pop(RUN, None)
    if s.status == "finished":
        st.session_state[SHOWN] = name  # trained here, on purpose: this page shows it
        took = f" in {s.history[-1]['elapsed']:.1f} s" if s.history and s.history[-1].get("elapsed") else ""
        st.session_state[DONE] = ("success", f"Trained **{name}**{took} and saved it with the other runs.")
    else:
        st.session_state[DONE] = ("error", f"**{name}** {s.status}: {s.message or 'see its train.log'}")
    st.rerun(scope="app")


journey.header(__file__)
st.markdown(
    "The lecture's first language model is a lookup table. `nn.Embedding(V, V)` gives every character a row of "
    "**V logits for the character that comes next**; the softmax of that row is a probability distribution. "
    "Training nudges the rows until they match how often each pair of characters occurs, so the best it can do "
    "is what **counting pairs** gives directly. Train one on a speaker and compare.")

names = state.chosen_speakers()
if st.session_state.get("bigram_speaker") not in names:
    st.session_state.pop("bigram_speaker", None)
speaker = st.selectbox("Speaker", names, key="bigram_speaker",
                       help="Among the speakers chosen in the sidebar; the vocabulary is theirs plus the default three")
clean = state.cleaning()

td = None
with state.friendly_errors():
    td = state.training_data((speaker,), clean)
if td is None:
    st.stop()
tok, sd = td.tokenizer, td.speakers[0]
V = tok.vocab_size
labels = bigram_sections.char_labels(tok.chars)
base = base_name(speaker, clean)

runs = speaker_runs(speaker, clean)
steps = st.number_input("Training steps", min_value=100, max_value=20_000, step=500, key="bigram_steps",
                        value=preset("bigram", V)[1].max_iters,
                        help="AdamW steps on random batches of 64 x 8 characters; the preset's 3,000 take a few "
                             "seconds on a CPU")
training = st.session_state.get(RUN)
if training and not (state.runs_root() / training).is_dir():
    st.session_state.pop(RUN, None)  # its folder is gone (another checkpoints root, or deleted)
    training = None
if DONE in st.session_state:
    level, message = st.session_state.pop(DONE)
    (st.success if level == "success" else st.error)(message)
if training:
    training_progress(training)
elif not runs:
    st.info(f"No bigram has been trained on **{speaker}** yet. Click **Train the bigram**: "
            f"{steps:,} steps take a few seconds in the background, and the run is saved as `{free_name(base)}`.",
            icon=":material/info:")
    st.button("Train the bigram", key="bigram_train", type="primary", icon=":material/play_arrow:",
              on_click=start_training, args=(speaker, clean))
else:
    run = runs[0]
    left, right = st.columns([3, 1], vertical_alignment="center")
    older = f" ({len(runs) - 1} older bigram run{'s' if len(runs) > 2 else ''} for this speaker kept)" \
        if len(runs) > 1 else ""
    when = (run.created or "?")[:16].replace("T", " ")
    left.caption(f"Loaded run **{run.name}**, trained {when} UTC for {run.step:,} steps{older}.")
    right.button("Retrain", key="bigram_retrain", icon=":material/replay:", on_click=start_training,
                 args=(speaker, clean),
                 help=f"Train again for the steps above and save a new run, {free_name(base)}; {run.name} is kept")

loaded = None
if runs:
    with state.friendly_errors():
        loaded = state.load_run(runs[0])
    if loaded is not None and loaded.tokenizer != tok:
        st.warning(f"Run **{runs[0].name}** was trained with another vocabulary ({loaded.tokenizer.vocab_size} "
                   f"characters; {V} now), so it cannot be compared with these counts. Retrain it.",
                   icon=":material/warning:")
        loaded = None

with state.friendly_errors():
    bigram_sections.how_good(loaded, sd, V, speaker)
    bigram_sections.tables(loaded, sd, V, labels, speaker)
    if loaded is not None:
        onehot_and_ngrams.onehot_lookup_section(loaded, sd, tok)
    onehot_and_ngrams.counting_section(speaker, clean, V)
if loaded is None:
    st.stop()
bigram_sections.writes(loaded.model, tok)
bigram_sections.tokens_dont_talk(loaded.model, tok, labels)
