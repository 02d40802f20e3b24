"""Inside the heads: what each attention head does (pattern detectors), what it is worth (ablation),
what each layer predicts (the logit lens), and the character embeddings' map."""
import streamlit as st

from core.lessons.compare import excerpt
from core.limits import MAX_PASSAGE_CHARS, MAX_PROBE_CHARS
from core.probe.heads import ABLATIONS
from core.runs import catalog
from ui import journey, state
from ui.heads import sections

journey.header(__file__)
st.markdown(
    "The Attention page shows every head's weights; this page says what each head **does** (which "
    "pattern its attention follows), what it is **worth** (how much worse the model predicts without it), "
    "what each **layer** would predict if the model stopped there, and how the model lays out its "
    "**characters**.")

chosen = state.chosen_speakers()
options = state.model_choices("gpt")  # the first chosen speaker's model (core.runs.catalog) first
if not options:
    st.info("No trained GPT yet: train one on the Train page or with "
            "`python -m core train --speaker \"Barack Obama\" --preset tiny`, then come back.")
    st.stop()
run = options[st.selectbox("Model", list(options), key="heads_model")]
st.caption(f"Showing **{catalog.describe(run)}**")

with state.friendly_errors():
    loaded = state.load_run(run)
    L, H = loaded.config.n_layer, loaded.config.n_head
    heads = [(i, j) for i in range(L) for j in range(H)]

    st.header("What each head does")
    with_worth = st.toggle("Also measure what each head is worth (ablates every head over the val text)",
                           key="heads_worth")
    sections.heads_table(run, with_worth)

    st.header("Knock heads out")
    c1, c2 = st.columns([3, 1])
    clearest = max(sections.cached.scores(run), key=lambda r: r["best_score"])
    knocked = c1.multiselect("Heads to ablate", heads, default=[(clearest["layer"], clearest["head"])],
                             format_func=lambda h: sections.head_name(*h), key="heads_knocked")
    mode = c2.radio("Ablation", ABLATIONS, key="heads_mode", help="mean: the head's output becomes its average "
                    "over the text (the default in the field); zero: its output becomes 0")
    by_speaker = {k: v for k, v in catalog.speaker_models(state.runs("gpt"), chosen,
                                                          catalog.default_role(state.runs("gpt"), chosen)).items()
                  if v is not None}
    if run.name not in {r.name for r in by_speaker.values()}:
        by_speaker[run.speakers[0] if run.speakers[0] not in by_speaker else run.name] = run
    _, own_val = state.speaker(run.speakers[0], run.clean).split()
    passage = st.text_area("A passage for 'who said it?'", excerpt(own_val, 300), key=f"heads_passage_{run.name}",
                           height=90, max_chars=MAX_PASSAGE_CHARS,
                           help=f"Default: from {run.speakers[0]}'s val text; up to {MAX_PASSAGE_CHARS:,} characters")
    unknown = loaded.tokenizer.unknown(passage)
    if unknown:
        st.error("These characters are not in the model's vocabulary: " + ", ".join(map(repr, unknown)))
        passage = ""
    sections.ablation(run, knocked, mode, chosen, passage, by_speaker)

    st.header("The logit lens: what each layer predicts")
    probe = st.text_input("Probe text", own_val[own_val.find(" ") + 1:][:loaded.config.block_size],
                          key=f"heads_probe_{run.name}", max_chars=MAX_PROBE_CHARS)
    if loaded.tokenizer.unknown(probe) or not probe:
        st.error("Type a probe text made of characters in the model's vocabulary.")
    else:
        sections.logit_lens(run, loaded, probe)

    st.header("Character embeddings")
    speaker_models = [run] + [r for r in by_speaker.values() if r.name != run.name]
    sections.embedding_maps(speaker_models, loaded)
