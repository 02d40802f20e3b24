"""Plotly figure builders shared by the pages. Arrays arrive from core already computed."""
from __future__ import annotations

import numpy as np
import plotly.colors as pc
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


def bar(x, y, title: str = "", x_title: str = "", y_title: str = "", height: int = 300, color=None,
        orientation: str = "v") -> go.Figure:
    fig = go.Figure(go.Bar(x=list(x), y=list(y), marker_color=color, orientation=orientation))
    fig.update_layout(title=title, xaxis_title=x_title, yaxis_title=y_title, height=height,
                      margin={"l": 10, "r": 10, "t": 40, "b": 10})
    return fig


def stops(colorscale: str) -> list[list]:
    """A plotly colour scale as [[position, [r, g, b]], ...], for the browser's own drawing."""
    out = []
    for pos, colour in pc.get_colorscale(colorscale):
        rgb = pc.hex_to_rgb(colour) if colour.startswith("#") else pc.unlabel_rgb(colour)
        out.append([round(float(pos), 6), [int(round(v)) for v in rgb]])
    return out
