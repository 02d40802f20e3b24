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


def panels(specs: list[dict], cols: int, *, row_height: int = 330, gap_x: float = 0.1, gap_y: float = 90,
           labels_shown: bool = True, title: str = "") -> go.Figure:
    """Several heatmaps in ONE figure, axes laid out by hand. A browser redraws one chart with
    many traces far faster than many charts (measured: 21 maps as 21 charts ~2 s, as one ~0.5 s),
    and make_subplots alone costs ~300 ms in Python.

    Each spec: z, x, y (unique labels), name (its title), and optionally zmin, zmax, zmid,
    colorscale, colorbar (title), hover ("query %{y}..." template), span (columns it covers)."""
    cells, r, c = [], 0, 0
    for spec in specs:  # place panels row by row; a panel may span several columns
        span = min(cols, spec.get("span", 1))
        if c + span > cols:
            r, c = r + 1, 0
        cells.append((r, c, span))
        c += span
    rows = r + 1
    height = row_height * rows + 40
    gy = gap_y / height
    w = (1 - gap_x * (cols - 1)) / cols
    h = (1 - gy * (rows - 1)) / rows
    data, annotations = [], []
    layout = {"height": height, "plot_bgcolor": MASK_GREY, "margin": {"l": 10, "r": 10, "t": 60, "b": 10},
              "title": {"text": title, "font": {"size": 14}} if title else None, "hoverlabel": {"namelength": -1}}
    for i, (spec, (r, c, span)) in enumerate(zip(specs, cells)):
        n = "" if i == 0 else str(i + 1)
        x0, y1 = c * (w + gap_x), 1 - r * (h + gy)
        x1 = x0 + span * w + (span - 1) * gap_x
        x0, x1, y0, y1 = max(0.0, x0), min(1.0, x1), max(0.0, y1 - h), min(1.0, y1)
        trace = {"type": "heatmap", "z": _finite(spec["z"]), "x": list(spec["x"]), "y": list(spec["y"]),
                 "name": spec["name"], "xaxis": f"x{n}", "yaxis": f"y{n}", "hoverongaps": False,
                 "colorscale": spec.get("colorscale", SEQUENTIAL), "showscale": spec.get("colorbar") is not None,
                 "hovertemplate": spec.get("hover", "query %{y}<br>key %{x}<br>value %{z:.4f}") + "<extra></extra>",
                 "colorbar": {"title": {"text": spec.get("colorbar") or ""}, "thickness": 10, "x": x1 + 0.005,
                              "xanchor": "left", "y": (y0 + y1) / 2, "len": (y1 - y0), "yanchor": "middle"}}
        trace.update({k: spec[k] for k in ("zmin", "zmax", "zmid") if spec.get(k) is not None})
        data.append(trace)
        axis = {"type": "category", "showgrid": False, "showticklabels": labels_shown, "tickfont": {"size": 8},
                "nticks": 24}
        layout[f"xaxis{n}"] = {**axis, "domain": [x0, x1], "anchor": f"y{n}", "tickangle": -90}
        layout[f"yaxis{n}"] = {**axis, "domain": [y0, y1], "anchor": f"x{n}", "autorange": "reversed"}
        annotations.append({"text": spec["name"], "x": (x0 + x1) / 2, "y": y1, "xref": "paper", "yref": "paper",
                            "showarrow": False, "yanchor": "bottom", "yshift": 4, "font": {"size": 12}})
    layout["annotations"] = annotations
    return go.Figure({"data": data, "layout": {k: v for k, v in layout.items() if v is not None}})


def matrix_grid(maps: np.ndarray, titles: list[str], cols: int, *, labels, zmin=0.0, zmax=1.0,
                colorscale=SEQUENTIAL, row_height: int = 190) -> go.Figure:
    """A grid of small heatmaps (e.g. every layer x head) in one figure; maps is (n, T, T)."""
    specs = [{"z": m, "x": labels, "y": labels, "name": t, "zmin": zmin, "zmax": zmax, "colorscale": colorscale,
              "colorbar": "weight" if i == 0 else None,
              "hover": f"{t}<br>query %{{y}}<br>key %{{x}}<br>weight %{{z:.3f}}"}
             for i, (m, t) in enumerate(zip(maps, titles))]
    fig = panels(specs, cols, row_height=row_height, gap_x=0.03, gap_y=30, labels_shown=False)
    fig.data[0].colorbar.update(x=1.01, y=0.5, len=0.9)
    return fig


def bar(x, y, title: str = "", x_title: str = "", y_title: str = "", height: int = 300, color=None,
        orientation: str = "v") -> go.Figure:
    fig = go.Figure(go.Bar(x=list(x), y=list(y), marker_color=color, orientation=orientation))
    fig.update_layout(title=title, xaxis_title=x_title, yaxis_title=y_title, height=height,
                      margin={"l": 10, "r": 10, "t": 40, "b": 10})
    return fig
