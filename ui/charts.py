"""Plotly figure builders shared by the pages. Arrays arrive from core already computed."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

MASK_GREY = "#d9d9d9"   # masked (future) cells: neutral grey, not a value
DIVERGING = "RdBu_r"
SEQUENTIAL = "Viridis"


def _finite(z) -> np.ndarray:
    z = np.asarray(z, dtype=np.float32)
    return np.where(np.isfinite(z), z, np.nan)


def heatmap(z, x_labels, y_labels, title: str = "", *, zmin=None, zmax=None, zmid=None, colorscale=SEQUENTIAL,
            colorbar_title: str = "", x_title: str = "key (attended to)", y_title: str = "query (attending)",
            height: int | None = None, text_fmt: str | None = None, hover_name: str = "value") -> go.Figure:
    """A labelled heatmap (labels must be unique: use "c (i)"); NaN and -inf cells are drawn
    neutral grey (masked, not zero). Built as one dict: plotly's update_* calls cost ~20 ms each."""
    n = max(len(x_labels), len(y_labels))
    qname, kname = y_title.split(" ")[0], x_title.split(" ")[0]
    trace = {"type": "heatmap", "z": _finite(z), "x": list(x_labels), "y": list(y_labels),
             "zmin": zmin, "zmax": zmax, "zmid": zmid, "colorscale": colorscale, "hoverongaps": False,
             "hovertemplate": f"{qname} %{{y}}<br>{kname} %{{x}}<br>{hover_name} %{{z:.4f}}<extra></extra>",
             "colorbar": {"title": {"text": colorbar_title}, "thickness": 12},
             "xgap": 1 if n <= 40 else 0, "ygap": 1 if n <= 40 else 0}
    if text_fmt and n <= 12:
        trace["texttemplate"] = text_fmt
    axis = {"type": "category", "showgrid": False, "nticks": 32, "tickfont": {"size": 9}}
    layout = {"title": {"text": title, "font": {"size": 14}}, "plot_bgcolor": MASK_GREY,
              "height": height or min(560, 200 + 10 * n), "margin": {"l": 10, "r": 10, "t": 90, "b": 10},
              "xaxis": {**axis, "title": {"text": x_title}, "tickangle": -90, "side": "top"},
              "yaxis": {**axis, "title": {"text": y_title}, "autorange": "reversed"}}
    return go.Figure({"data": [{k: v for k, v in trace.items() if v is not None}], "layout": layout})


def matrix_grid(maps: np.ndarray, titles: list[str], rows: int, cols: int, *, zmin=0.0, zmax=1.0,
                colorscale=SEQUENTIAL, labels=None, height_per_row: int = 170) -> go.Figure:
    """A grid of small heatmaps (e.g. every layer x head); maps is (rows * cols, T, T). Axes are
    laid out by hand: make_subplots costs ~300 ms for a 4 x 4 grid, this ~5 ms."""
    gap_x, gap_y = 0.02, 0.25 / max(1, rows) if rows > 1 else 0.0
    w, h = (1 - gap_x * (cols - 1)) / cols, (1 - gap_y * (rows - 1)) / rows
    labels = list(labels) if labels is not None else None
    data, annotations = [], []
    layout = {"height": height_per_row * rows + 40, "plot_bgcolor": MASK_GREY,
              "margin": {"l": 10, "r": 10, "t": 40, "b": 10}}
    for i, m in enumerate(maps):
        r, c = divmod(i, cols)
        n = "" if i == 0 else str(i + 1)
        data.append({"type": "heatmap", "z": _finite(m), "x": labels, "y": labels, "xaxis": f"x{n}", "yaxis": f"y{n}",
                     "zmin": zmin, "zmax": zmax, "colorscale": colorscale, "showscale": i == 0, "hoverongaps": False,
                     "hovertemplate": f"{titles[i]}<br>query %{{y}}<br>key %{{x}}<br>weight %{{z:.3f}}<extra></extra>",
                     "colorbar": {"thickness": 10, "len": 0.5, "y": 0.75}})
        x0, y1 = c * (w + gap_x), 1 - r * (h + gap_y)
        layout[f"xaxis{n}"] = {"domain": [max(0.0, x0), min(1.0, x0 + w)], "anchor": f"y{n}", "type": "category",
                               "showticklabels": False, "showgrid": False}
        layout[f"yaxis{n}"] = {"domain": [max(0.0, y1 - h), min(1.0, y1)], "anchor": f"x{n}", "type": "category",
                               "showticklabels": False, "showgrid": False, "autorange": "reversed"}
        annotations.append({"text": titles[i], "x": x0 + w / 2, "y": min(1.0, y1), "xref": "paper", "yref": "paper",
                            "showarrow": False, "yanchor": "bottom", "font": {"size": 11}})
    layout["annotations"] = annotations
    return go.Figure({"data": data, "layout": layout})


def bar(x, y, title: str = "", x_title: str = "", y_title: str = "", height: int = 300, color=None,
        orientation: str = "v") -> go.Figure:
    fig = go.Figure(go.Bar(x=list(x), y=list(y), marker_color=color, orientation=orientation))
    fig.update_layout(title=title, xaxis_title=x_title, yaxis_title=y_title, height=height,
                      margin={"l": 10, "r": 10, "t": 40, "b": 10})
    return fig
