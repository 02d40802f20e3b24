"""The Compare page's "who said it, measured": accuracy of attributing passages of each length to
their speaker, for each set of speaker models and the character n-gram baseline, with chance."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.lessons.attribution import COMBINED, standing
from ui import fmt, speak
from ui.charts import PALETTE, REF_GREY

# The baselines in greys and dots (the weak 3-gram lightest), each GPT set in a colour of its own, and
# a set combined with Kneser-Ney dashed in its set's colour.
BASELINE_STYLE = {"3-gram": ("#bdbdbd", "dot"), "n-gram": ("#bdbdbd", "dot"), "Kneser-Ney 7": ("#525252", "dot"),
                  "word 1-2-gram NB": ("#969696", "dashdot")}


def _style(method: str, sets: list[str]) -> tuple[str, str]:
    if method in BASELINE_STYLE:
        return BASELINE_STYLE[method]
    base = method.removesuffix(COMBINED)
    color = PALETTE[sets.index(base) % len(PALETTE)] if base in sets else PALETTE[-1]
    return color, "dash" if method.endswith(COMBINED) else "solid"


def figure(curve: dict) -> go.Figure:
    x = curve["lengths"]
    sets = [m for m in curve["accuracy"] if m not in BASELINE_STYLE and not m.endswith(COMBINED)]
    data = []
    for method, acc in curve["accuracy"].items():
        color, dash = _style(method, sets)
        data.append({"type": "scatter", "mode": "lines+markers", "x": x, "y": [100 * a for a in acc], "name": method,
                     "line": {"color": color, "width": 2, "dash": dash},
                     "hovertemplate": f"{method}<br>%{{x}} characters<br>%{{y:.1f}}% right<extra></extra>"})
    data.append({"type": "scatter", "mode": "lines", "x": [x[0], x[-1]], "y": [100 * curve["chance"]] * 2,
                 "name": f"chance ({100 * curve['chance']:.0f}%)", "line": {"color": REF_GREY, "dash": "dash"}})
    layout = {"height": 420, "margin": {"l": 10, "r": 10, "t": 40, "b": 10},
              "title": {"text": "Who said it: share of passages attributed to the right speaker", "font": {"size": 14}},
              "xaxis": {"title": {"text": "passage length (characters)"}, "type": "log", "tickvals": x},
              "yaxis": {"title": {"text": "accuracy (%)"}, "range": [0, 101]},
              "legend": {"orientation": "h", "y": -0.25, "yanchor": "top"}}
    return go.Figure({"data": data, "layout": layout})


def render(speakers: list[str]) -> None:
    st.subheader("Who said it, measured")
    st.markdown(
        "Cut many passages from each speaker's **validation text** (no model trained on it), give each to "
        "every speaker's model, and guess the speaker whose model is least surprised. The longer the passage, "
        "the surer the guess. Beside the GPTs, the same passages go to the standard methods of authorship "
        "attribution, each fitted on the same training text: a Kneser-Ney character model of order 7, word "
        "1-2-gram Naive Bayes, and the weakest, a smoothed character 3-gram; each GPT set with its nats "
        "added to Kneser-Ney's, a combination of the two; and every GPT set together, their nats added.")
    if len(speakers) < 2:
        st.info("Choose at least two speakers in the sidebar.")
        return
    curve = speak.shipped_curve(speakers)
    source = "measured when the shipped models were made (`make checkpoints`, `make base`)"
    if curve is None:
        key = speak.curve_key(speakers)
        if not key:
            st.info("Measuring needs one finished GPT per speaker (from scratch or fine-tuned): train them first.")
            return
        if not st.toggle("Measure now (about a minute on a CPU)", key="compare_measure"):
            return
        curve = speak.measured_curve(key, tuple(speakers), 30)
        source = "measured just now on these models"
    st.plotly_chart(figure(curve), key="compare_attribution")
    verdict = standing(curve)
    if verdict:
        st.markdown(f"**Who wins where.** {verdict}")
    else:
        st.caption("These figures have no standard methods beside them: measure again (`make checkpoints`).")
    rows = [{"length": n, "passages": curve["passages"][i],
             **{m: fmt.pct(acc[i]) for m, acc in curve["accuracy"].items()}}
            for i, n in enumerate(curve["lengths"])]
    st.dataframe(pd.DataFrame(rows), hide_index=True)
    models = "; ".join(f"{kind}: {', '.join(names.values())}" for kind, names in curve["models"].items())
    st.caption(f"Passages cut at random from each speaker's val text, the same ones for every method; {source}. "
               f"Models: {models}.")
