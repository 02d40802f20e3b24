"""Step 1 of the lecture: read the data. Each chosen speaker's speeches side by side, and the 90/10
train/val split drawn to scale."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.text.corpus import MAX_TEXT_MB, MIN_TEXT_CHARS, SpeakerError, add_user_text, renamed_files
from core.text.tokenizer import visible
from ui import fmt, journey, state
from ui.charts import shade, speaker_color

PER_ROW = 4             # speaker columns per row
EXCERPT_CHARS = 600
TOP_CHARS = 30          # characters in the frequency chart

journey.header(__file__)
st.markdown(
    "The lecture starts by **reading the data**: Karpathy downloads *tiny Shakespeare* (about 1.1 million "
    "characters), prints its length, looks at the first thousand characters and lists the characters that occur. "
    "Here the text is the **State of the Union addresses** of the speakers chosen in the sidebar. Everything the "
    "model will ever know comes from these characters; the last step here is the split: the first 90% of each "
    "speaker's text trains the model, the last 10% checks whether it generalises.")
if state.cleaning():
    st.caption("Stage notes such as [Applause] are dropped (toggle in the sidebar).")

UPLOAD, UPLOADED = "speeches_upload", "speeches_upload_result"


def add_uploaded_text() -> None:
    """The uploader's callback: keep the file as a speaker of its own and choose it (once)."""
    f = st.session_state.get(UPLOAD)
    if f is None:
        return
    try:
        name = add_user_text(f.getvalue(), f.name)
    except SpeakerError as e:
        st.session_state[UPLOADED] = ("error", str(e))
        return
    state.speaker_names.clear()
    st.session_state[state.SPEAKERS] = [*state.chosen_speakers(), name]
    st.session_state[UPLOADED] = ("success", f"Added **{name}**: it is now in the sidebar's speakers, and chosen.")


with st.expander("Add a speaker of your own: a UTF-8 .txt file", icon=":material/upload_file:",
                 expanded=UPLOADED in st.session_state):
    st.file_uploader("Text file (its name becomes the speaker's name)", type=["txt"], key=UPLOAD,
                     on_change=add_uploaded_text, max_upload_size=MAX_TEXT_MB,  # the one limit: core's
                     help=f"UTF-8 text (or UTF-16 with a byte-order mark), at least {MIN_TEXT_CHARS} characters; "
                          "kept in data/")
    if UPLOADED in st.session_state:
        kind, message = st.session_state[UPLOADED]
        (st.error if kind == "error" else st.success)(message)

for note in renamed_files():
    st.info(note, icon=":material/drive_file_rename_outline:")

speakers = []
with state.friendly_errors():
    speakers = [state.speaker(name, state.cleaning()) for name in state.chosen_speakers()]
if not speakers:
    st.stop()


def speaker_column(sp) -> None:
    stats = sp.stats()
    st.subheader(sp.name)
    if sp.years:
        years = ", ".join(str(y) for y in dict.fromkeys(sp.years))
        st.caption(f"{stats['speeches']} speech{'es' if stats['speeches'] != 1 else ''}: {years}")
    else:
        st.caption(f"from {sp.source}")
    with st.container(horizontal=True):
        st.metric("Characters", fmt.count(stats["characters"]), width="content")
        st.metric("Words", fmt.count(stats["words"]), width="content")
        st.metric("Vocabulary", fmt.count(stats["vocabulary"]), width="content",
                  help="Distinct characters in this speaker's text")

    st.markdown("**Most frequent words**")
    words = pd.DataFrame(sp.top_words(10), columns=["word", "count"])
    st.dataframe(words, hide_index=True, height=min(388, 38 + 35 * len(words)),
                 column_config={"count": st.column_config.NumberColumn(format=fmt.COUNT)})

    counts = sp.char_counts().most_common()
    total = stats["characters"]
    top = counts[:TOP_CHARS]
    fig = go.Figure(go.Bar(
        x=[visible(c) for c, _ in top], y=[100 * n / total for _, n in top],
        customdata=[n for _, n in top], marker_color=speaker_color(sp.name),
        hovertemplate="%{x}: %{customdata:,} times (%{y:.2f}%)<extra></extra>"))
    fig.update_xaxes(type="category", dtick=1, tickangle=0, tickfont={"family": "monospace", "size": 11})
    fig.update_layout(title={"text": f"The {len(top)} most frequent characters", "font": {"size": 14}},
                      yaxis_title="% of characters", height=280, margin={"l": 10, "r": 10, "t": 40, "b": 10})
    st.plotly_chart(fig, key=f"speeches_chars_{sp.name}")
    rare = counts[-5:][::-1] if len(counts) > TOP_CHARS else []
    if rare:
        st.caption(f"{len(counts) - TOP_CHARS} more characters are rarer; the rarest: "
                   + ", ".join(f"`{visible(c)}` ({n})" for c, n in rare))

    latest = sp.speeches[-1]
    label = f"the {latest.year} address" if latest.year else latest.title
    st.markdown(f"**The first {EXCERPT_CHARS} characters of {label}**")
    with st.container(height=220, border=True):
        st.text(latest.text[:EXCERPT_CHARS] + ("…" if len(latest.text) > EXCERPT_CHARS else ""))


for start in range(0, len(speakers), PER_ROW):
    row = speakers[start:start + PER_ROW]
    cols = st.columns(min(len(speakers), PER_ROW), gap="medium")
    for col, sp in zip(cols[:len(row)], row, strict=True):
        with col:
            speaker_column(sp)

st.header("The train/val split, to scale")
st.markdown(
    "`n = int(0.9 * len(data))`: the first 90% of each speaker's characters train the model, the last 10% are "
    "held out. Since the speeches are in date order, validation is the end of the **latest** speech: the model "
    "is checked on text written after everything it trained on.")
splits = [(sp.name, *map(len, sp.split())) for sp in speakers]
names = [name for name, _, _ in splits][::-1]      # first speaker on top
fig = go.Figure()
for i, part in enumerate(("train", "val")):  # each speaker's train in its colour, its val a lighter shade of it
    n = [s[1 + i] for s in splits][::-1]
    fig.add_trace(go.Bar(y=names, x=n, name=part, orientation="h",
                         marker_color=[shade(speaker_color(name), 4 * i) for name in names],
                         text=[f"{v:,} {part}" for v in n], textposition="inside" if part == "train" else "outside",
                         insidetextanchor="middle", cliponaxis=False,
                         hovertemplate="%{y}<br>%{x:,} characters " + part + "<extra></extra>"))
longest = max(train + val for _, train, val in splits)
fig.update_layout(barmode="stack", height=90 + 45 * len(splits), xaxis={"title": "characters",
                  "range": [0, 1.15 * longest]}, showlegend=False, margin={"l": 10, "r": 10, "t": 10, "b": 10},
                  uniformtext={"minsize": 10, "mode": "hide"})  # a label too long for its bar is hidden, not shrunk
st.plotly_chart(fig, key="speeches_split")
