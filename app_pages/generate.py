"""Generate: each speaker's GPT continues the same prompt with the same seed, side by side, one
character at a time; and, for any position, the distribution each character was drawn from."""
import html
import time

import streamlit as st

from core.lessons.attribution import who_said_each
from core.lessons.compare import check_settings, side_by_side
from core.limits import MAX_NEW_CHARS, MAX_PROMPT_CHARS
from core.runs import catalog
from core.text.tokenizer import visible
from ui import charts, fmt, journey, speak, state
from ui.generate import remembered
from ui.generate import who_said as who_said_view

RESULT = "generate_result"     # the last generation: survives reruns and page switches (not a widget key)
REQUEST = "generate_request"   # set by the Generate button's callback, consumed by the script
MAX_COLUMNS = 4
CONTEXT_SHOWN = 60             # characters of context shown before the inspected position
DRAWN, OTHER = "#d62728", "#1f77b4"


def request_generation() -> None:
    st.session_state[REQUEST] = True


def text_html(prompt: str, text: str) -> str:
    """The prompt (grey) and its continuation, HTML-escaped, blanks kept."""
    return ('<div style="white-space:pre-wrap;overflow-wrap:anywhere;font-family:ui-monospace,monospace;'
            'font-size:0.9rem;line-height:1.45;border:1px solid #ddd;border-radius:6px;padding:0.6rem;min-height:4rem">'
            f'<span style="color:#888">{html.escape(prompt)}</span>{html.escape(text)}</div>')


journey.header(__file__)
st.markdown(
    "The lecture's last step: feed a context, take the distribution over the next character, draw one, "
    "append it, repeat. Here every speaker's model continues the **same prompt** with the **same seed** "
    "(the same random numbers), so the differences come from what each model learned. "
    "**Temperature** divides the logits before the softmax (below 1 sharpens, above 1 flattens); "
    "**top-k** keeps only the k most likely characters.")

speakers = state.chosen_speakers()
if len(speakers) > MAX_COLUMNS:
    st.caption(f"{len(speakers)} speakers are chosen in the sidebar: the first {MAX_COLUMNS} are shown.")
    speakers = speakers[:MAX_COLUMNS]
gpt_runs = speak.choose_models(speakers, key="generate_kind")  # core.runs.catalog's, as on Compare
bigram_runs = {s: r for s, r in catalog.speaker_models(state.runs("bigram"), speakers, model_type="bigram").items()
               if r}

c1, c2, c3, c4 = st.columns([4, 2, 2, 2])
prompt = c1.text_input("Prompt", value="My fellow Americans, ", key="generate_prompt", max_chars=MAX_PROMPT_CHARS,
                       help="Empty: start from a newline (id 0), as the lecture does")
length = c2.number_input("New characters", 1, MAX_NEW_CHARS, 300, step=50, key="generate_length",
                         help="Past block_size characters each model reads only the last block_size of them, "
                              "as the lecture's generate() crops at every character")
temperature = c3.number_input("Temperature", min_value=0.0, max_value=5.0, value=1.0, step=0.1,
                              key="generate_temperature", help="Must be above 0; 1 = the model's own distribution")
top_k = c4.number_input("Top-k (0 = off)", min_value=0, value=0, step=1, key="generate_top_k",
                        help="Keep the k most likely next characters; at most the vocabulary size")
c5, c6, c7, c8 = st.columns([2, 2, 3, 2], vertical_alignment="bottom")
seed = c5.number_input("Seed", min_value=0, max_value=2**31 - 1, value=1337, step=1, key="generate_seed")
bigram_label = None
if c6.toggle("Add a bigram column", key="generate_bigram",
             help="The same prompt and seed through a speaker's bigram: what no context looks like"):
    if bigram_runs:
        bigram_speaker = c7.selectbox("Bigram of", list(bigram_runs), key="generate_bigram_speaker")
        bigram_label = f"bigram · {bigram_speaker}"
    else:
        c7.caption("No finished bigram trained on one of these speakers yet: train one on the Bigram page.")
c8.button("Generate", type="primary", key="generate_go", on_click=request_generation, icon=":material/play_arrow:",
          width="stretch")
shift = st.toggle("Faster window past block_size (shift)", key="generate_shift",
                  help="Off: the lecture's window, the last block_size characters re-run at every new one. "
                       "On: when the context is full its older half is dropped at once, so the cache is rebuilt "
                       "only every block_size / 2 characters")
if shift:
    st.caption("**shift**: the same text as the lecture's window up to block_size characters; after that each "
               "model conditions on between block_size / 2 + 1 and block_size characters instead of exactly "
               "block_size, so the text goes another way from there. About 5x faster past the block.")

notices = st.container()  # always there, so the columns below keep their place when a notice comes or goes
if not prompt:
    notices.caption("Empty prompt: every model starts from a newline (id 0), as the lecture does.")

columns = {s: gpt_runs[s] for s in speakers}          # label -> run (None: no model for that speaker)
if bigram_label:
    columns[bigram_label] = bigram_runs[bigram_speaker]
runs_key = tuple((label, r.name if r else None) for label, r in columns.items())
settings = {"prompt": prompt, "length": int(length), "temperature": float(temperature),
            "top_k": int(top_k) or None, "seed": int(seed), "window": "shift" if shift else "slide"}

if not any(columns.values()):
    st.info("No trained GPT for these speakers yet. Train one per speaker on the Train page, or with "
            "`python -m core train --speaker \"Barack Obama\" --preset tiny` (a few minutes on CPU).",
            icon=":material/info:")
    st.stop()

result = st.session_state.get(RESULT)
requested = bool(st.session_state.pop(REQUEST, False))
generate = requested or result is None or result["runs"] != runs_key
if result is not None and not generate and result["settings"] != settings:
    notices.caption("The settings changed: press **Generate** to write with them. Shown: the last generation.")

with state.friendly_errors():
    loaded = {label: state.load_run(r) for label, r in columns.items() if r}
    check_settings([m.tokenizer for m in loaded.values()], settings["prompt"], settings["length"],
                   settings["temperature"], settings["top_k"])
    stream = None
    known = remembered.key(columns, settings) if generate else None  # a file stat per column: only when writing
    if known and not requested and (seen := remembered.generations().get(known)) is not None:
        result, generate = seen, False  # this server wrote it before: the same text, at once
        st.session_state[RESULT] = result
    if generate:
        stream = side_by_side({label: (m.model, m.tokenizer) for label, m in loaded.items()},
                              settings["prompt"], settings["length"], settings["temperature"],
                              settings["top_k"], settings["seed"], window=settings["window"])
        result = None

    grid = st.columns(len(columns))
    holders, below = {}, {}
    for col, (label, run) in zip(grid, columns.items()):
        with col:
            st.subheader(label, divider="gray")
            if run is None:
                st.info(f"No finished GPT trained on {label} alone yet. Train one on the Train page or with "
                        f"`python -m core train --speaker \"{label}\" --preset tiny`.", icon=":material/info:")
                continue
            st.caption(f"run **{catalog.describe(run)}** · block {run.model.block_size}")
            holders[label] = st.empty()
            below[label] = st.empty()  # its length and who said it; while the text streams, "writing"

    shown = result["settings"]["prompt"] if result else settings["prompt"]
    if stream is not None:
        for b in below.values():  # not the last generation's scores under the new text
            b.caption("Writing…")
        texts = {label: "" for label in loaded}
        steps = {label: [] for label in loaded}
        last = 0.0
        for s in stream:
            texts[s.label] += s.char
            steps[s.label].append((s.prob, s.top))
            now = time.perf_counter()
            if now - last > 0.04:  # redraw at most 25 times a second
                for label, h in holders.items():
                    h.html(text_html(shown, texts[label]))
                last = now
        result = {"settings": settings, "runs": runs_key, "texts": texts, "steps": steps}
        st.session_state[RESULT] = result
    for label, h in holders.items():
        text = result["texts"].get(label, "")
        h.html(text_html(shown, text))
    scorers = {label: loaded[label] for label in speakers if label in loaded}  # the speakers' GPTs, not a bigram
    if len(scorers) > 1 and "verdicts" not in result:  # once per generation, kept with it
        with st.spinner("Every speaker's model scores each text..."):
            result["verdicts"], result["notes"] = who_said_each({k: m.model for k, m in scorers.items()},
                                                                {k: m.tokenizer for k, m in scorers.items()},
                                                                result["texts"])
    if stream is not None:
        remembered.generations().put(known, result)
    for label, b in below.items():
        with b.container():
            st.caption(f"{fmt.count(len(result['texts'].get(label, '')))} characters generated")
            if len(scorers) > 1:
                who_said_view.render(result["verdicts"].get(label), result["notes"].get(label), label,
                                     key=f"generate_who_{label}")
    who_said_view.explain(len(scorers))

    st.subheader("Inside one step")
    st.markdown("Each character was drawn from a distribution over the whole vocabulary (after temperature "
                "and top-k). Pick a model and a position to see the most likely next characters there.")
    done = [label for label in holders if result["texts"].get(label)]
    i1, i2 = st.columns([1, 3])
    which = i1.selectbox("Model", done, key="generate_inspect")
    text = result["texts"][which]
    n = len(text)
    pos = 0
    if n > 1:  # the key holds the length: a new generation starts the slider afresh
        pos = i2.slider("Position in the generated text", 1, n, 1, key=f"generate_position_{which}_{n}",
                        help="1 = the first generated character") - 1
    prob, top = result["steps"][which][pos]
    context = result["settings"]["prompt"] + text[:pos]
    st.html('<div style="font-family:ui-monospace,monospace;font-size:0.9rem">'
            f'…{html.escape(visible(context[-CONTEXT_SHOWN:]))}'
            '<span style="outline:2px solid #d62728;background:#fde0dd">'
            f'{html.escape(visible(text[pos]))}</span></div>')
    shown_top = top if any(c == text[pos] for c, _ in top) else [*top, (text[pos], prob)]
    fig = charts.bar([visible(c) for c, _ in shown_top], [p for _, p in shown_top],
                     f"{which}: the {len(top)} most likely characters at position {pos + 1} "
                     f"(drawn: {visible(text[pos])!r}, p = {fmt.pct(prob)})",
                     x_title="next character", y_title="probability", height=320,
                     color=[DRAWN if c == text[pos] else OTHER for c, _ in shown_top])
    fig.update_xaxes(type="category")
    fig.update_yaxes(tickformat=".0%")  # percentages, as the title and the who-said tables write them
    st.plotly_chart(fig, key="generate_probs")
    st.caption("Red: the character that was drawn"
               + (" (not among the most likely: sampling picked an unlikely one, shown last)"
                  if len(shown_top) > len(top) else "") + ". ␣ is a space, ↵ a newline.")
