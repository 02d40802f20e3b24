"""Attention: every stage of a trained GPT's self-attention on real text, head by head, with the
context-length slider, the causal mask and the encoder/decoder switch."""
import streamlit as st

from core.attention_view import attention_view
from ui import charts, state
from ui.attention_story import one_character_story, token_and_position

UNTRAINED = "untrained (random weights)"


@st.fragment
def explore(loaded, text: str, causal: bool) -> None:
    """Everything that depends on T, the layer and the head."""
    with state.friendly_errors():
        _explore(loaded, text, causal)


def _explore(loaded, text: str, causal: bool) -> None:
    cfg = loaded.config
    limit = min(len(text), 2 * cfg.block_size)
    T = st.slider("Context length T (characters fed to the model)", 1, max(2, limit),
                  min(32, cfg.block_size, limit), key="attention_T",
                  help=f"block_size = {cfg.block_size}: beyond it the context is cropped")
    c3, c4 = st.columns(2)
    layer = c3.selectbox("Layer", range(cfg.n_layer), format_func=lambda i: f"layer {i + 1}", key="attention_layer")
    head = c4.selectbox("Head", range(cfg.n_head), format_func=lambda i: f"head {i + 1}", key="attention_head")

    view = attention_view(loaded.model, loaded.tokenizer, text, T, causal)
    if view.cropped:
        st.warning(f"T = {T} is more than block_size = {view.block_size}: the position-embedding table has "
                   f"rows 0..{view.block_size - 1} only, so there is no embedding for position {view.block_size} "
                   f"or later. As the lecture's generate() does, the context is cropped to its last "
                   f"{view.block_size} characters (the first {view.cropped} are dropped).")
    labels = view.labels
    L, H = view.weights.shape[0], view.weights.shape[1]

    which = f"layer {layer + 1}, head {head + 1}"
    div = {"colorscale": charts.DIVERGING, "zmid": 0.0, "colorbar": "affinity"}
    stages = [
        {"z": view.scores[layer, head], "name": "1. q @ k^T", **div},
        {"z": view.scaled[layer, head], **div,
         "name": f"2. scaled: q @ k^T x {view.scale:.4f} = q @ k^T / sqrt({view.head_size})"},
        {"z": view.masked[layer, head], **div,
         "name": "3. masked: the future is -inf (grey)" if causal else "3. encoder: nothing is masked"},
        {"z": view.weights[layer, head], "name": "4. softmax: each row sums to 1", "zmin": 0.0, "zmax": 1.0,
         "colorbar": "weight [0, 1]", "hover": "query %{y}<br>key %{x}<br>weight %{z:.4f}"},
    ]
    for spec in stages:
        spec.update(x=labels, y=labels)
    stages.append({"z": view.out[layer, head].T, "x": labels, "y": [f"channel {i}" for i in range(view.head_size)],
                   "name": f"5. output = softmax @ v: ({view.head_size} channels x T)", **div,
                   "colorbar": "value", "hover": "position %{x}<br>%{y}<br>value %{z:.4f}"})
    st.plotly_chart(charts.tiles(stages, 2, cell_px=max(4.0, min(10.0, 360 / view.T)),
                                 title=f"Attention stages, {which}: query = row (attending), key = column"),
                    key="att_stages", theme=None)
    st.caption(f"Next-character guesses after ...{view.text[-20:]!r}: "
               + ", ".join(f"{c!r} {p:.2f}" for c, p in view.next_chars))

    st.subheader("Every layer and head")
    st.plotly_chart(charts.mosaic(view.weights, [f"layer {i + 1}" for i in range(L)],
                                  [f"head {j + 1}" for j in range(H)], labels, name="every layer x head"),
                    key="att_grid", theme=None)
    with st.expander("Shapes at each stage"):
        st.markdown("| stage | shape |\n|---|---|\n" + "\n".join(f"| {a} | `{b}` |" for a, b in view.shapes()))


st.title("6. Self-attention, head by head")
st.markdown(
    "Each character emits a **query** (what am I looking for?) and a **key** (what do I contain?). "
    "Their dot products are the affinities; scaled by 1/sqrt(head_size), masked so no character sees "
    "the future, and normalised with a softmax, they become the weights with which each position "
    "averages the others' **values**.")

chosen = state.chosen_speakers()
runs = sorted(state.runs("gpt"), key=lambda r: min((chosen.index(s) for s in r.meta.get("speakers", []) if s in chosen),
                                                  default=len(chosen)))  # the first chosen speaker's model first
options = {f"{r.name} · {', '.join(r.meta.get('speakers', []))}": r for r in runs}
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
    cfg = loaded.config
    speaker_name = (loaded.meta.get("speakers") or chosen)[0]
    _, val_text = state.speaker(speaker_name, loaded.meta.get("clean", True)).split()
    excerpt = val_text[val_text.find(" ") + 1:][:400]  # from the first whole word
    text = st.text_area("Input text", value=excerpt, key=f"attention_text_{choice}", height=100,
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
    m4.metric("parameters", f"{loaded.model.num_params():,}")
    explore(loaded, text, causal)  # the slider reruns only this fragment: no sidebar, no reload
    token_and_position(loaded, text)
    one_character_story(loaded, text, causal)


