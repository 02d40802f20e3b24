"""Step 2 of the lecture: tokenize. The shared character vocabulary, encode and decode, what a character
outside the vocabulary does, and the codebook-size vs sequence-length trade-off."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.limits import MAX_PROBE_CHARS
from core.text.subword import CodebookRow, codebook_tradeoff
from core.text.tokenizer import CharTokenizer, UnknownCharError, parse_ids, visible
from ui import fmt, journey, state
from ui.charts import speaker_color

LECTURE_CODE = """chars = sorted(list(set(text)))
vocab_size = len(chars)
stoi = { ch:i for i,ch in enumerate(chars) }
itos = { i:ch for i,ch in enumerate(chars) }
encode = lambda s: [stoi[c] for c in s]  # string -> list of integers
decode = lambda l: ''.join([itos[i] for i in l])  # list of integers -> string"""
EXAMPLE = "hii there"


@st.cache_data(show_spinner="Training byte-pair encodings on the speeches (about 5 s)...", max_entries=16)
def tradeoff(names: tuple[str, ...], clean: bool) -> list[CodebookRow]:
    """Character vs BPE sequence lengths of each speaker's training split."""
    return codebook_tradeoff({n: state.speaker(n, clean).split()[0] for n in names})


def chip(c: str, i: int | None) -> str:
    """One character as a coloured chip with its id underneath; every character goes out as an HTML entity,
    so nothing typed can inject markup (or Markdown, or LaTeX)."""
    shown = "".join(f"&#{ord(ch)};" for ch in visible(c))
    if i is None:
        style, label = "background:#ffd6d6;border:2px solid #d62728", "?"
    else:
        style, label = f"background:hsl({(i * 137.508) % 360:.0f},70%,85%)", str(i)
    return (f'<span title="id {label}" style="display:inline-flex;flex-direction:column;align-items:center;'
            f'min-width:1.9em;margin:2px;padding:2px 5px;border-radius:6px;font-family:monospace;color:#111;{style}">'
            f'<span style="font-size:1.15em;white-space:pre">{shown}</span>'
            f'<span style="font-size:0.72em">{label}</span></span>')


def chips(text: str, tok: CharTokenizer) -> str:
    body = "".join(chip(c, tok.stoi.get(c)) for c in text)
    return f'<div style="line-height:1.2;margin-bottom:0.6rem">{body}</div>'


journey.header(__file__)
st.markdown(
    "A neural network reads numbers, not text. The lecture's tokenizer is the simplest there is: list every "
    "character that occurs, sort them, and give each its position as its **id**. *Encoding* maps characters to "
    "ids, *decoding* maps ids back. Podium builds one vocabulary over the chosen speakers plus the default three, "
    "so every model shares it and any model can read any speaker.")

td = state.data_or_stop()
tok = td.tokenizer

st.header("The vocabulary")
left, right = st.columns([1, 4], gap="large")
with left:
    st.metric("Vocabulary size", fmt.count(tok.vocab_size))
with right:
    st.caption("The lecture's code, which `core.text.tokenizer.CharTokenizer` follows:")
    st.code(LECTURE_CODE, language="python")
vocab = pd.DataFrame({"char": [visible(c) for c in tok.chars], "id": range(tok.vocab_size),
                      "unicode": [f"U+{ord(c):04X}" for c in tok.chars]})
for sd in td.speakers:
    counts = sd.speaker.char_counts()
    vocab[sd.speaker.name] = [counts.get(c, 0) for c in tok.chars]
st.dataframe(vocab, hide_index=True, height=390,
             column_config={sd.speaker.name: st.column_config.NumberColumn(format=fmt.COUNT) for sd in td.speakers})
st.caption("Counts per speaker over all their speeches; ␣ is a space and ↵ a newline. A count of 0 means the "
           "character comes from another speaker.")

st.header("Encode: text to ids")
text = st.text_area("Type any text", value="The state of our Union is strong.", key="tokens_text",
                    max_chars=MAX_PROBE_CHARS, height=80,
                    help="Try a character the speeches never use, like ☃ or é")
if not text:
    st.info("Type some text to see its ids.")
else:
    st.markdown(chips(text, tok), unsafe_allow_html=True)
    try:
        ids = tok.encode(text)
    except UnknownCharError as e:
        st.error(f"Cannot encode this text: {e}. The vocabulary has no id for "
                 f"{'it' if len(e.chars) == 1 else 'them'} (the red chips), because no chosen speech uses "
                 f"{'it' if len(e.chars) == 1 else 'them'}: a character-level model cannot read, let alone write, "
                 "a character it was never shown. Sub-word tokenizers like GPT-2's fall back to bytes for this.",
                 icon=":material/error:")
    else:
        st.caption(f"encode(text): {fmt.count(len(ids))} ids for {fmt.count(len(text))} characters")
        st.code(str(ids), language=None, wrap_lines=True)
        back = tok.decode(ids)
        st.caption("decode(encode(text)), identical to what you typed:" if back == text
                   else "decode(encode(text)) differs from the text:")
        st.code(back, language=None, wrap_lines=True)

st.header("Decode: ids to text")
typed = st.text_input("Type token ids, separated by commas or spaces", value=", ".join(map(str, tok.encode(EXAMPLE))),
                      key="tokens_ids", help=f"Whole numbers from 0 to {tok.vocab_size - 1}; the first value is "
                                             f"encode({EXAMPLE!r}), the lecture's example")
with state.friendly_errors():
    ids = parse_ids(typed)
    if not ids:
        st.info("Type some ids to decode.")
    else:
        out = tok.decode(ids)
        st.markdown(chips(out, tok), unsafe_allow_html=True)
        st.code(out, language=None, wrap_lines=True)

st.header("Codebook size vs sequence length")
st.markdown(
    "Karpathy notes the trade-off: a tiny codebook (characters) gives long sequences; a big one (sub-words, as "
    "in GPT-2's 50,257-token BPE) gives short ones. Here is the chosen speakers' training text as characters and "
    "as byte-pair encodings trained on it at several vocabulary sizes.")
rows = None
with state.friendly_errors():
    rows = tradeoff(tuple(state.chosen_speakers()), state.cleaning())
if rows:
    names = list(rows[0].tokens)
    table = pd.DataFrame([{"scheme": r.scheme, "vocabulary size": r.vocab_size,
                           "characters per token": round(r.chars_per_token, 2),
                           **{f"{n} (tokens)": r.tokens[n] for n in names}} for r in rows])
    st.dataframe(table, hide_index=True,
                 column_config={"vocabulary size": st.column_config.NumberColumn(format=fmt.COUNT),
                                "characters per token": st.column_config.NumberColumn(format="%.2f"),
                                **{f"{n} (tokens)": st.column_config.NumberColumn(format=fmt.COUNT) for n in names}})
    st.caption("The characters row counts the characters of the training text only, so it can be a little smaller "
               "than the shared vocabulary above.")
    fig = go.Figure()
    for n in names:
        fig.add_trace(go.Scatter(x=[r.vocab_size for r in rows], y=[r.tokens[n] for r in rows], name=n,
                                 mode="lines+markers", text=[r.scheme for r in rows], line={"color": speaker_color(n)},
                                 hovertemplate=n + "<br>%{text}, vocabulary %{x:,}: %{y:,} tokens<extra></extra>"))
    fig.update_xaxes(type="log", title="vocabulary size (codebook, log scale)",
                     tickvals=[r.vocab_size for r in rows], ticktext=[f"{r.vocab_size:,}" for r in rows])
    fig.update_layout(title={"text": "Sequence length vs vocabulary size", "font": {"size": 14}},
                      yaxis_title="sequence length (tokens)", yaxis_rangemode="tozero", height=380,
                      margin={"l": 10, "r": 10, "t": 40, "b": 10})
    st.plotly_chart(fig, key="tokens_tradeoff")
    first, last = rows[0], rows[-1]
    n = names[0]
    st.markdown(
        f"With **{first.vocab_size} characters**, {n}'s training text is **{first.tokens[n]:,}** tokens long; a BPE "
        f"of **{last.vocab_size:,}** sub-words cuts it to **{last.tokens[n]:,}** ({last.chars_per_token:.1f} "
        f"characters per token), so the same context window sees about {last.chars_per_token:.1f}× more text, paid "
        f"for with a {last.vocab_size / first.vocab_size:.0f}× bigger embedding table and output layer. The lecture "
        "keeps characters: simple, and small enough to train here.")
