"""What the "Build it up" page draws: the ladder's table (val loss per rung and speaker), the
baselines (uniform, count bigram) per speaker, and the one chart of val loss by rung."""
from __future__ import annotations

import math

import plotly.graph_objects as go
import streamlit as st

from core.lessons import ladder
from core.lessons.ngram import order_report, uniform_loss
from core.text.dataset import prepare
from ui.charts import REF_GREY, TITLE_ABOVE, speaker_color


@st.cache_data(show_spinner="Counting each speaker's bigrams...", max_entries=32)
def baselines(speaker: str, clean: bool = True) -> dict[str, float]:
    """The uniform guess (ln V) and the count bigram (add-alpha smoothed) on the speaker's val split."""
    data = prepare([speaker], clean=clean)
    V = data.tokenizer.vocab_size
    return {"uniform": uniform_loss(V), "count bigram": order_report(data.train, data.val, 1, V).val_loss}


def table(results: list[ladder.Result], speakers: list[str]) -> list[dict]:
    """One row per rung: its pieces, params, and each speaker's val loss (or its state)."""
    rows = []
    for rung in ladder.RUNGS:
        row = {"rung": rung.number, "piece": rung.title, "params": None, "lecture": rung.lecture}
        steps = set()
        for s in speakers:
            r = next((x for x in results if x.speaker == s and x.rung == rung.number), None)
            row["params"] = row["params"] or (r.params if r else None)
            row[s] = r.val_loss if r and r.status == "finished" else None
            if r and r.status == "finished":
                steps.add(r.step)
        # what the loss was trained with: the rung's settings, and the steps each run really took
        row["trained with"] = rung.describe()
        if steps and steps != {rung.max_iters}:
            row["trained with"] += f" (these runs: {' / '.join(f'{n:,}' for n in sorted(steps))} steps)"
        rows.append(row)
    return rows


def status_line(r: ladder.Result) -> str:
    if r.status == "finished":
        return f"{r.val_loss:.3f}" + (f" ({r.seconds:.0f} s)" if r.seconds else "")
    if r.status in ("running", "queued"):
        return f"training, step {r.step:,} / {r.max_iters:,}"
    return "not trained" if r.status == "missing" else r.status


def chart(results: list[ladder.Result], speakers: list[str], base: dict[str, dict[str, float]]) -> go.Figure:
    """Val loss by rung, one line per speaker in its colour; dotted in the same colour: its count bigram
    (named in the legend: the speakers' count bigrams lie within a few hundredths of each other, and
    labels on the lines were drawn over each other); grey: the uniform guess; diamonds: the lecture's
    figures on tiny Shakespeare. The legend stands at the right, clear of the axis titles."""
    fig = go.Figure()
    xs = [r.number for r in ladder.RUNGS]
    for s in speakers:
        color = speaker_color(s)
        by = {r.rung: r.val_loss for r in results if r.speaker == s and r.status == "finished"}
        fig.add_trace(go.Scatter(x=xs, y=[by.get(n) for n in xs], mode="lines+markers", name=s, legendgroup=s,
                                 line={"color": color}, connectgaps=False))
        if s in base:
            floor = base[s]["count bigram"]
            fig.add_trace(go.Scatter(x=[xs[0], xs[-1]], y=[floor, floor], mode="lines", legendgroup=s,
                                     name=f"count bigram, {s}: {floor:.3f}",
                                     line={"color": color, "dash": "dot", "width": 1},
                                     hovertemplate=f"count bigram, {s}: {floor:.3f}<extra></extra>"))
    if base:
        uniform = max(b["uniform"] for b in base.values())
        fig.add_hline(y=uniform, line={"color": REF_GREY, "dash": "dash", "width": 1},
                      annotation_text=f"uniform guess, ln V = {uniform:.2f}", annotation_position="bottom left")
    lec = [(r.number, r.lecture) for r in ladder.RUNGS if r.lecture is not None]
    fig.add_trace(go.Scatter(x=[n for n, _ in lec], y=[v for _, v in lec], mode="markers+lines",
                             name="the lecture (tiny Shakespeare)", marker={"symbol": "diamond", "size": 9},
                             line={"color": "black", "dash": "dash", "width": 1}))
    fig.update_layout(title=TITLE_ABOVE | {"text": "Validation loss by rung (nats per character, lower is better)"},
                      height=440, xaxis={"title": "rung", "tickmode": "array", "tickvals": xs,
                                         "ticktext": [f"{r.number}. {r.name}" for r in ladder.RUNGS]},
                      yaxis={"title": "val loss"}, margin={"t": 10, "b": 40})
    return fig


def gain_text(results: list[ladder.Result], speaker: str) -> list[str]:
    """'4. + Feed-forward: helped: -0.061 nats (the lecture: -0.04)' lines for one speaker, with the
    reason beside every piece that did not help (core.lessons.ladder.reading)."""
    rows = [r for r in results if r.speaker == speaker and r.status == "finished"]
    out = []
    for n, g in ladder.gains(rows).items():
        if g is not None and not math.isnan(g):
            out.append(f"**{n}. {ladder.BY_NUMBER[n].title}**: {ladder.reading(n, g)}")
    return out
