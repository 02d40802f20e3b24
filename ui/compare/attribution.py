"""The Compare page's "who said it, measured": accuracy of attributing passages of each length to
their speaker, for each set of speaker models and the character n-gram baseline, with chance."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from ui import speak
from ui.loss_chart import COLORS, REF_GREY


def figure(curve: dict) -> go.Figure:
    x = curve["lengths"]
    data = [{"type": "scatter", "mode": "lines+markers", "x": x, "y": [100 * a for a in acc], "name": method,
             "line": {"color": COLORS[i % len(COLORS)], "width": 2, "dash": "dot" if method == "n-gram" else "solid"},
             "hovertemplate": f"{method}<br>%{{x}} characters<br>%{{y:.1f}}% right<extra></extra>"}
            for i, (method, acc) in enumerate(curve["accuracy"].items())]
    data.append({"type": "scatter", "mode": "lines", "x": [x[0], x[-1]], "y": [100 * curve["chance"]] * 2,
                 "name": f"chance ({100 * curve['chance']:.0f}%)", "line": {"color": REF_GREY, "dash": "dash"}})
    layout = {"height": 380, "margin": {"l": 10, "r": 10, "t": 40, "b": 10},
              "title": {"text": "Who said it: share of passages attributed to the right speaker", "font": {"size": 14}},
              "xaxis": {"title": {"text": "passage length (characters)"}, "type": "log", "tickvals": x},
              "yaxis": {"title": {"text": "accuracy (%)"}, "range": [0, 101]}, "legend": {"orientation": "h"}}
    return go.Figure({"data": data, "layout": layout})


def render(speakers: list[str]) -> None:
    st.subheader("Who said it, measured")
    st.markdown(
        "Cut many passages from each speaker's **validation text** (no model trained on it), give each to "
        "every speaker's model, and guess the speaker whose model is least surprised. The longer the passage, "
        "the surer the guess. The baseline counts character 3-grams in each speaker's training text (smoothed); "
        "a model that uses more context should beat it.")
    if len(speakers) < 2:
        st.info("Choose at least two speakers in the sidebar.")
        return
    curve = speak.shipped_curve(speakers)
    source = "measured when the shipped models were made (`make checkpoints`)"
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
    rows = [{"length": n, "passages": curve["passages"][i],
             **{m: f"{100 * acc[i]:.0f}%" for m, acc in curve["accuracy"].items()}}
            for i, n in enumerate(curve["lengths"])]
    st.dataframe(pd.DataFrame(rows), hide_index=True)
    models = "; ".join(f"{kind}: {', '.join(names.values())}" for kind, names in curve["models"].items())
    st.caption(f"Passages cut at random from each speaker's val text, the same ones for every method; {source}. "
               f"Models: {models}.")
