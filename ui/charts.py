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


_ZW_X, _ZW_Y = "\u200b", "\u2060"  # invisible: they keep each tile's labels distinct on shared axes


def tiles(specs: list[dict], cols: int, *, title: str = "", cell_px: float = 7.0, gap: int = 3,
          ticks: bool = True, height: int | None = None) -> go.Figure:
    """Several heatmaps tiled on ONE pair of category axes. A browser redraws this far faster than
    one subplot per map (measured: 16 maps 216 ms vs 294 ms; 21 maps as separate charts ~2 s), and
    it costs Python ~5 ms where make_subplots costs ~300 ms.

    Each spec: z (rows x columns), x and y (labels, unique within the map), name (its title), and
    optionally zmin, zmax, zmid, colorscale, colorbar (its title; None for no colorbar), hover.
    Tiles fill `cols` columns row by row; tiles in one column share x labels, in one row y labels."""
    grid = [specs[i:i + cols] for i in range(0, len(specs), cols)]
    col_x = [next(r[c]["x"] for r in grid if c < len(r)) for c in range(cols)]
    row_y = [row[0]["y"] for row in grid]
    xgap = max(gap, -(-sum(map(len, col_x)) // 10))  # ~a tenth of the width: room for a colorbar
    xcats, ycats, xstart, ystart = [], [], [], []
    for c, labels in enumerate(col_x):
        if c:
            xcats += [_ZW_X * c + " " * (g + 1) for g in range(xgap)]
        xstart.append(len(xcats))
        xcats += [lab + _ZW_X * c for lab in labels]
    for r, labels in enumerate(row_y):  # a band above every row of tiles holds their titles
        ycats += [_ZW_Y * r + " " * (g + 1) for g in range(gap)]
        ystart.append(len(ycats))
        ycats += [lab + _ZW_Y * r for lab in labels]
    nx, ny = len(xcats), len(ycats)
    data, notes, shapes = [], [], []
    for r, row in enumerate(grid):
        for c, spec in enumerate(row):
            x0, y0 = xstart[c], ystart[r]
            x1, y1 = x0 + len(col_x[c]) - 1, y0 + len(row_y[r]) - 1
            trace = {"type": "heatmap", "z": _finite(spec["z"]), "name": spec["name"], "hoverongaps": False,
                     "x": [lab + _ZW_X * c for lab in spec["x"]], "y": [lab + _ZW_Y * r for lab in spec["y"]],
                     "colorscale": spec.get("colorscale", SEQUENTIAL), "showscale": spec.get("colorbar") is not None,
                     "hovertemplate": spec.get("hover", "query %{y}<br>key %{x}<br>value %{z:.4f}")
                     + f"<extra>{spec['name'][:40]}</extra>",
                     "colorbar": {"title": {"text": spec.get("colorbar") or ""}, "thickness": 10,
                                  "x": (x1 + 1) / nx + 0.003, "xanchor": "left", "y": 1 - (y0 + y1 + 1) / 2 / ny,
                                  "len": (y1 - y0 + 1) / ny, "yanchor": "middle"}}
            trace.update({k: spec[k] for k in ("zmin", "zmax", "zmid") if spec.get(k) is not None})
            data.append(trace)
            notes.append({"text": spec["name"], "x": (x0 + x1) / 2, "y": y0 - 0.6, "xref": "x", "yref": "y",
                          "showarrow": False, "yanchor": "bottom", "font": {"size": 12}})
    for c in range(1, len(col_x)):  # white bands between the tiles (NaN cells stay grey)
        shapes.append({"type": "rect", "xref": "x", "yref": "paper", "x0": xstart[c] - xgap - 0.5,
                       "x1": xstart[c] - 0.5, "y0": 0, "y1": 1, "fillcolor": "white", "line": {"width": 0}})
    for r in range(len(row_y)):
        shapes.append({"type": "rect", "xref": "paper", "yref": "y", "y0": ystart[r] - gap - 0.5,
                       "y1": ystart[r] - 0.5, "x0": 0, "x1": 1, "fillcolor": "white", "line": {"width": 0}})
    last = len(grid[-1])
    if last < cols:  # an empty slot at the end of the last row: white, not grey
        shapes.append({"type": "rect", "xref": "x", "yref": "y", "x0": xstart[last] - 0.5, "x1": nx - 0.5,
                       "y0": ystart[-1] - 0.5, "y1": ny - 0.5, "fillcolor": "white", "line": {"width": 0}})
    axis = {"type": "category", "showgrid": False, "zeroline": False, "showticklabels": ticks, "ticks": "",
            "tickfont": {"size": 8}, "nticks": 24, "automargin": True}
    layout = {"height": height or int(120 + cell_px * ny + 30 * len(grid)), "plot_bgcolor": MASK_GREY,
              "margin": {"l": 60 if ticks else 10, "r": 70, "t": 90 if title else 30, "b": 10},
              "annotations": notes, "shapes": shapes, "font": {"family": "sans-serif"},
              "xaxis": {**axis, "categoryorder": "array", "categoryarray": xcats, "tickangle": -90, "side": "top"},
              "yaxis": {**axis, "categoryorder": "array", "categoryarray": ycats, "autorange": "reversed"}}
    if title:
        layout["title"] = {"text": title, "font": {"size": 14}}
    return go.Figure({"data": data, "layout": layout})


def mosaic(maps, row_names: list[str], col_names: list[str], labels: list[str], *, zmin=0.0, zmax=1.0,
           colorscale=SEQUENTIAL, value_name: str = "weight", name: str = "mosaic") -> go.Figure:
    """A rows x cols grid of small T x T maps (e.g. every layer x head), drawn as ONE heatmap with
    blank bands between the tiles: a browser paints it in one pass, several times faster than one
    trace per map, so it does not hold up the charts above it when a slider moves.
    maps is (rows, cols, T, T); hover names the row, the column, the query, the key and the value.
    The trace carries meta = {"rows", "cols", "T"} so tests can read the grid's shape."""
    maps = np.asarray(maps, dtype=np.float32)
    R, C, T = maps.shape[0], maps.shape[1], maps.shape[2]
    gap = max(1, T // 8)
    z = np.full((R * T + (R - 1) * gap, C * T + (C - 1) * gap), np.nan, dtype=np.float32)
    for r in range(R):
        for c in range(C):
            z[r * (T + gap):r * (T + gap) + T, c * (T + gap):c * (T + gap) + T] = maps[r, c]

    def axis_labels(names, role):
        out = []
        for i, name in enumerate(names):
            out += [f"{name} · {role} {lab}" for lab in labels]
            if i < len(names) - 1:
                out += [_ZW_X * (i + 1) + " " * (g + 1) for g in range(gap)]  # unique, never hovered
        return out

    trace = {"type": "heatmap", "name": name, "meta": {"rows": R, "cols": C, "T": T}, "z": _finite(z),
             "x": axis_labels(col_names, "key"), "y": axis_labels(row_names, "query"),
             "zmin": zmin, "zmax": zmax, "colorscale": colorscale, "hoverongaps": False,
             "hovertemplate": f"%{{y}}<br>%{{x}}<br>{value_name} %{{z:.3f}}<extra></extra>",
             "colorbar": {"title": {"text": value_name}, "thickness": 10, "len": 0.9}}
    notes = [{"text": name, "x": c * (T + gap) + (T - 1) / 2, "y": -0.6, "xref": "x", "yref": "y",
              "showarrow": False, "yanchor": "bottom", "font": {"size": 12}} for c, name in enumerate(col_names)]
    notes += [{"text": name, "x": -0.6, "y": r * (T + gap) + (T - 1) / 2, "xref": "x", "yref": "y",
               "showarrow": False, "xanchor": "right", "textangle": -90, "font": {"size": 12}}
              for r, name in enumerate(row_names)]
    axis = {"type": "category", "showgrid": False, "zeroline": False, "showticklabels": False, "ticks": ""}
    layout = {"height": int(80 + 170 * R), "plot_bgcolor": "white", "annotations": notes,
              "margin": {"l": 30, "r": 10, "t": 30, "b": 10}, "font": {"family": "sans-serif"},
              "xaxis": {**axis, "side": "top"}, "yaxis": {**axis, "autorange": "reversed"}}
    return go.Figure({"data": [trace], "layout": layout})


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
