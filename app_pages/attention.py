"""Attention: every stage of a trained GPT's self-attention on real text, head by head, with the
context-length slider, the causal mask and the encoder/decoder switch."""
import streamlit as st

from core.limits import MAX_PROBE_CHARS
from core.runs import catalog
from ui import fmt, journey, probes, state
from ui.attention import widget as attention_widget
from ui.attention.story import one_character_story, token_and_position

UNTRAINED = "untrained (random weights)"


@st.fragment
def explore(loaded, text: str, causal: bool, labels: list | None) -> None:
    """Everything that depends on T, the layer and the head: one component that draws in the
    browser. A trip to the server (encoder view, T past block_size) reruns only this fragment."""
    with state.friendly_errors():
        attention_widget.show(loaded, text, causal, labels)


journey.header(__file__)
st.markdown(
    "Each character emits a **query** (what am I looking for?) and a **key** (what do I contain?). "
    "Their dot products are the affinities; scaled by 1/sqrt(head_size), masked so no character sees "
    "the future, and normalised with a softmax, they become the weights with which each position "
    "averages the others' **values**.")

chosen = state.chosen_speakers()
options = state.model_choices("gpt")  # the first chosen speaker's model (core.runs.catalog) first
runs = list(options.values())
c1, c2 = st.columns([3, 2])
choice = c1.selectbox("Model", [*options, UNTRAINED], key="attention_model",
                      help="A trained speaker's GPT, or the same architecture with random weights")
mode = c2.segmented_control("Mask", ["decoder (causal)", "encoder (no mask)"], default="decoder (causal)",
                            key="attention_mode", help="The encoder view removes the mask on the same trained head")
causal = mode != "encoder (no mask)"
if not runs:
    st.info("No trained GPT yet, so only the untrained model is offered. Train one with "
            "`python -m core train --speaker \"Barack Obama\" --preset tiny`.")

with state.friendly_errors():
    run = options.get(choice)
    loaded = state.load_run(run) if run else state.untrained("".join(state.data().tokenizer.chars))
    st.caption(f"Showing **{catalog.describe(run)}**" if run else "Showing a GPT of the tiny preset with random "
               "weights: what attention looks like before any training")
    cfg = loaded.config
    speaker_name = (loaded.record.speakers or chosen)[0]
    _, val_text = state.speaker(speaker_name, loaded.record.clean).split()
    excerpt = val_text[val_text.find(" ") + 1:][:400]  # from the first whole word
    text = st.text_area("Input text", value=excerpt, key=f"attention_text_{choice}", height=100,
                        max_chars=MAX_PROBE_CHARS,
                        help=f"Default: the start of {speaker_name}'s validation text, "
                             "which the model never trained on")
    unknown = loaded.tokenizer.unknown(text)
    if unknown:
        st.error("These characters are not in the model's vocabulary: "
                 + ", ".join(f"{c!r}" for c in unknown) + ". Remove them to continue.")
        st.stop()
    if not text:
        st.warning("The text is empty: type or paste some text to see attention.")
        st.stop()

    m1, m2, m3, m4 = st.columns(4)  # what does not depend on T stays out of the fragment
    m1.metric("block_size", cfg.block_size)
    m2.metric("head_size", cfg.head_size)
    m3.metric("scale 1/sqrt(head_size)", f"{cfg.head_size ** -0.5:.4f}")
    m4.metric("parameters", fmt.count(loaded.model.num_params()))
    labels = probes.head_labels(run) if run is not None else None  # each head's strongest pattern (cached)
    explore(loaded, text, causal, labels)  # the slider reruns only this fragment: no sidebar, no reload
    if labels:
        st.caption("Each tile of the layer x head grid is labelled with what the head does: its strongest pattern "
                   "and score (the share of its attention that lands there), or, when it follows none, how broadly "
                   "it spreads and what it leans to: see *Inside the heads*.")
    token_and_position(loaded, text)
    one_character_story(loaded, text, causal)


