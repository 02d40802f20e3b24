"""The Train page's loss chart: per run, raw train loss (faint), smoothed (bold) and val (points and
line), with grey reference lines (uniform guess, count bigram). Built as one dict: plotly's
update_* calls are slow."""
from __future__ import annotations

import plotly.graph_objects as go

from core.runs.metrics import Curves

COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2")
REF_GREY = "#7f7f7f"


def loss_figure(series: list[tuple[str, Curves]], refs: list[tuple[str, float]], smoothing: float,
                x_max: int) -> go.Figure:
    data = []
    for i, (name, c) in enumerate(series):
        color = COLORS[i % len(COLORS)]
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
