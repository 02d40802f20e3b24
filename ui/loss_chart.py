"""The Train page's loss chart: per run, raw train loss (faint), smoothed (bold) and val (points and
line), in its speaker's colour, with grey reference lines (uniform guess, count bigram). Built as one
dict: plotly's update_* calls are slow."""
from __future__ import annotations

import plotly.graph_objects as go

from core.runs.metrics import Curves
from ui.charts import PALETTE, REF_GREY, shade, speaker_color


def run_colors(speakers: list[list[str]]) -> list[str]:
    """A colour per run from the speakers it trained on: a one-speaker run takes its speaker's colour
    (ui.charts.speaker_color), a speaker's second run on the chart a shade of it; a run on many
    speakers the next colour of the palette."""
    out, seen, many = [], {}, 0
    for group in speakers:
        if len(group) == 1:
            k = seen[group[0]] = seen.get(group[0], -1) + 1
            out.append(shade(speaker_color(group[0]), k))
        else:
            out.append(PALETTE[many % len(PALETTE)])
            many += 1
    return out


def loss_figure(series: list[tuple[str, Curves, str]], refs: list[tuple[str, float]], smoothing: float,
                x_max: int) -> go.Figure:
    """series: (label, curves, colour) per run."""
    data = []
    for name, c, color in series:
        data += [
            {"type": "scatter", "mode": "lines", "x": c.train_step, "y": c.train_loss, "name": f"{name} · train (raw)",
             "legendgroup": name, "line": {"color": color, "width": 1}, "opacity": 0.25, "showlegend": False,
             "hovertemplate": f"{name}<br>step %{{x}}<br>train (raw) %{{y:.4f}}<extra></extra>"},
            {"type": "scatter", "mode": "lines", "x": c.train_step, "y": c.smoothed(smoothing),
             "name": f"{name} · train", "legendgroup": name, "line": {"color": color, "width": 2.5},
             "hovertemplate": f"{name}<br>step %{{x}}<br>train (smoothed) %{{y:.4f}}<extra></extra>"},
            {"type": "scatter", "mode": "lines+markers", "x": c.val_step, "y": c.val_loss, "name": f"{name} · val",
             "legendgroup": name, "line": {"color": color, "width": 1.5, "dash": "dash"},
             "marker": {"size": 7, "symbol": "diamond"},
             "hovertemplate": f"{name}<br>step %{{x}}<br>val %{{y:.4f}}<extra></extra>"},
        ]
    for j, (label, value) in enumerate(refs):
        data.append({"type": "scatter", "mode": "lines", "x": [0, x_max], "y": [value, value], "name": label,
                     "line": {"color": REF_GREY, "width": 1, "dash": "dot" if j % 2 else "dashdot"},
                     "hovertemplate": f"{label}<extra></extra>"})
    layout = {"height": 460, "margin": {"l": 10, "r": 10, "t": 40, "b": 10}, "uirevision": "train-loss",
              "title": {"text": "Loss (nats per character): train faint raw / bold smoothed, val dashed",
                        "font": {"size": 14}},
              "xaxis": {"title": {"text": "step"}, "rangemode": "tozero"},
              "yaxis": {"title": {"text": "cross-entropy loss"}},
              "legend": {"orientation": "h", "y": -0.18}, "hovermode": "closest"}
    return go.Figure({"data": data, "layout": layout})
