"""Plotly figure builders shared by the pages, and the colours they share: one colour per speaker,
declared once (speaker_color). Arrays arrive from core already computed."""
from __future__ import annotations

import zlib

import numpy as np
import plotly.colors as pc
import plotly.graph_objects as go

MASK_GREY = "#d9d9d9"   # masked (future) cells: neutral grey, not a value
DIVERGING = "RdBu_r"
SEQUENTIAL = "Viridis"
REF_GREY = "#7f7f7f"    # reference lines: uniform guess, count bigram, chance
# One colour per speaker on every page. The three default speakers have their own; any other speaker
# gets one of PALETTE (none of theirs, nor grey) picked from its name, so it keeps it across pages,
# sessions and servers. PALETTE also colours what is not a speaker (methods, runs of many speakers).
SPEAKER_COLORS = {"Barack Obama": "#1f77b4", "Donald J. Trump": "#d62728", "Joseph R. Biden Jr.": "#2ca02c"}
PALETTE = ("#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2", "#bcbd22", "#393b79", "#637939")


def speaker_color(name: str) -> str:
    """The speaker's colour, the same on every chart of every page."""
    return SPEAKER_COLORS.get(name) or PALETTE[zlib.crc32(name.encode("utf-8")) % len(PALETTE)]


def shade(color: str, k: int) -> str:
    """The k-th variant of a colour, for a speaker's second, third, ... line on one chart (k = 0: the
    colour itself; then darker, lighter, darker still, ...)."""
    if k == 0:
        return color
    r, g, b = pc.hex_to_rgb(color)
    f = 0.35 * ((k + 1) // 2) / (1 + 0.35 * ((k + 1) // 2))  # 0.26, 0.41, ...
    target = 0 if k % 2 else 255
    return "#{:02x}{:02x}{:02x}".format(*(round(v + f * (target - v)) for v in (r, g, b)))


# A chart's title just above its plot, the top margin growing to fit it (two lines with <br> too): a
# fixed margin either wasted room or let the title run into what stood above the plot.
TITLE_ABOVE = {"font": {"size": 14}, "automargin": True, "yref": "paper", "y": 1, "yanchor": "bottom",
               "pad": {"b": 8}}


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
    # Keys along the bottom: along the top, their tick labels and axis title were drawn over the title. No
    # nticks: plotly labels as many categories as fit the axis (a fixed 32 on 128 channels overlapped), and
    # automargin keeps every label inside the figure.
    axis = {"type": "category", "showgrid": False, "tickfont": {"size": 9}, "automargin": True}
    layout = {"title": TITLE_ABOVE | {"text": title}, "plot_bgcolor": MASK_GREY,
              "height": height or min(560, 200 + 10 * n), "margin": {"l": 10, "r": 10, "t": 10, "b": 10},
              "xaxis": {**axis, "title": {"text": x_title}, "tickangle": -90},
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
