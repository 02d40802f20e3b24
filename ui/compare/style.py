"""The Compare page's "Style you can read" section: each chosen speaker's most distinctive words
(weighted log-odds with an informative Dirichlet prior, core.lessons.style) and plain style figures side by
side. Computed once per speaker set and cached; the background counts once per server."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from core.lessons import style
from ui import charts, fmt, state

K_KEY = "compare_style_k"
OPEN_KEY = "compare_style_open"
COLUMNS = 3   # speakers per row of charts


@st.cache_data(show_spinner="Finding the words that set each speaker apart...", max_entries=16)
def report(speakers: tuple[str, ...], k: int) -> style.StyleReport:
    # the background: every address's word counts, counted once per process (ui.serve starts it at launch)
    return style.style_report(list(speakers), k=k, background=style.sotu_background())


def words_figure(name: str, top: tuple[style.Distinctive, ...]):
    fig = charts.bar([d.z for d in top], [d.word for d in top], name, x_title="z (standard errors)",
                     height=120 + 24 * len(top), color=charts.speaker_color(name), orientation="h")
    fig.update_traces(text=[f"{d.count}×" for d in top], textposition="inside", insidetextanchor="end",
                      customdata=[[d.count, d.per_1000, d.rest_per_1000, d.delta] for d in top],
                      hovertemplate="<b>%{y}</b>: z %{x:.1f}, log-odds ratio %{customdata[3]:.2f}<br>"
                                    "said %{customdata[0]} times: %{customdata[1]:.2f} per 1,000 words "
                                    "(the others %{customdata[2]:.2f})<extra></extra>")
    fig.update_yaxes(autorange="reversed")
    return fig


def word_columns() -> dict:
    return {"z": st.column_config.NumberColumn(format="%.1f", help="log-odds ratio / its standard error"),
            "said": st.column_config.NumberColumn(format=fmt.COUNT, help="times this speaker said it"),
            "per 1k": st.column_config.NumberColumn(format="%.2f", help="per 1,000 of this speaker's words"),
            "others": st.column_config.NumberColumn(format="%.2f", help="per 1,000 of the others' words")}


def words_table(top: tuple[style.Distinctive, ...]) -> pd.DataFrame:
    return pd.DataFrame([{"word": d.word, "z": d.z, "said": d.count, "per 1k": d.per_1000,
                          "others": d.rest_per_1000} for d in top])


def figures_table(figures: tuple[style.StyleFigures, ...]) -> pd.DataFrame:
    rows = {"words": ("words", "{:,}"), "sentences": ("sentences", "{:,}"),
            "words_per_sentence": ("words per sentence (mean)", "{:.1f}"),
            "median_words_per_sentence": ("words per sentence (median)", "{:.0f}"),
            "i_per_1000": ('"I", "me", "my" per 1,000 words', "{:.1f}"),
            "we_per_1000": ('"we", "us", "our" per 1,000 words', "{:.1f}"),
            "questions_per_1000": ("questions per 1,000 words", "{:.2f}"),
            "mean_word_length": ("letters per word (mean)", "{:.2f}")}
    table = {f.speaker: [spec.format(getattr(f, field)) for field, (_, spec) in rows.items()] for f in figures}
    return pd.DataFrame(table, index=[label for label, _ in rows.values()])


def render(speakers: list[str]) -> None:
    """The whole section, for the sidebar's speakers (a user's mistake shows as a message). Closed at
    first: the page's lesson is the loss matrix below, which the first screen should carry; and
    computed only once opened (the expander reruns the page when it opens), so a closed section costs
    the page nothing."""
    section = st.expander("**Style you can read**: the words that set each speaker apart, and plain style "
                          "figures", expanded=False, icon=":material/format_quote:", key=OPEN_KEY, on_change="rerun")
    if not section.open:
        return
    with section, state.friendly_errors():
        k = st.slider("Words per speaker", 5, 25, 10, key=K_KEY)
        r = report(tuple(speakers), k)
        raw = "; ".join(f"{n}: " + ", ".join(f'"{w}"' for w, _ in r.raw_top[n][:4]) for n in r.speakers)
        st.markdown(
            "Count words and the same ones win for everybody (" + raw + "): they tell you the speech is "
            "English, not who gave it. Instead, each word's **log-odds ratio** compares how often this "
            "speaker uses it with how often the others do, and is divided by its standard error: the "
            "**z-score** is large only when the difference is large *and* the word is used often enough to "
            "be sure of it (above ~2 is unlikely by chance). A prior taken from every State of the Union "
            f"address since 1790 ({r.background_words:,} words) smooths words one side never says. This "
            "is the field's standard for the question, Monroe, Colaresi and Quinn (2008), "
            "*Fightin' Words*, with an informative Dirichlet prior.")
        for row in range(0, len(r.speakers), COLUMNS):
            cols = st.columns(COLUMNS)
            for col, name in zip(cols, r.speakers[row:row + COLUMNS]):
                with col:
                    st.plotly_chart(words_figure(name, r.distinctive[name]), key=f"style_words_{row}_{name}")
                    st.dataframe(words_table(r.distinctive[name]), hide_index=True, width="stretch",
                                 column_config=word_columns())
                    st.caption(f"Against {r.rest[name]}; prior worth {r.prior_mass[name]:,.0f} words "
                               f"({style.PRIOR_SHARE:.0%} of the smaller side).")
        st.markdown("**Plain style figures**, side by side (cleaned text)")
        st.dataframe(figures_table(r.figures), width="stretch")
        st.caption("A sentence ends at . ! or ? (not after an initial or a title like \"Mr.\") or at a line "
                   "break; a question is a sentence ending in \"?\". Words are runs of letters, apostrophes "
                   "inside (\"don't\" is one word).")
