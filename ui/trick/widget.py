"""The Trick page's T slider in the browser (st.components.v2, no iframe): the server computes the
three versions for every T at once (T <= 16: a few kB), and the slider redraws the matrices that
depend on T without a round trip. C and the seed stay Streamlit widgets (they recompute all T)."""
from __future__ import annotations

import math
from pathlib import Path

import streamlit as st

from core.lessons.trick import three_versions
from ui import charts

T_MAX = 16
DEFAULT_T = 8        # the lecture's T
_CSS = """
.tw-root { font-family: "Source Sans Pro", sans-serif; font-size: 13px; }
.tw-slider { display: flex; flex-direction: column; gap: 0.2rem; }
.tw-slider input { width: 100%; accent-color: #ff4b4b; }
.tw-ends { display: flex; justify-content: space-between; font-size: 12px; opacity: 0.7; }
.tw-title { font-weight: 600; margin: 0.2rem 0; font-size: 12px; }
.tw-root canvas { display: block; }
.tw-badge { border-radius: 0.5rem; padding: 0.6rem 0.9rem; }
.tw-ok { background: rgba(33, 195, 84, 0.15); } .tw-bad { background: rgba(255, 43, 43, 0.15); }
"""
_component = st.components.v2.component("podium.trick_T", html='<div class="tw-root"></div>', css=_CSS,
                                        js=Path(__file__).with_suffix(".js").read_text(encoding="utf-8"),
                                        isolate_styles=False)


def _z(t) -> list[list[float | None]]:
    """A small matrix as rows of numbers, -inf as None (drawn grey)."""
    return [[v if math.isfinite(v) else None for v in row] for row in t.tolist()]


def _absmax(*ts) -> float:
    return max(abs(v) for t in ts for row in t.tolist() for v in row if math.isfinite(v)) or 1.0


def all_T(C: int, seed: int) -> list:
    """three_versions for T = 1..T_MAX: what the browser picks from."""
    return [three_versions(T, C, seed) for T in range(1, T_MAX + 1)]


def slider(T: int = DEFAULT_T, label: str = "T (tokens, time)") -> None:
    _component(key="trick_T", data={"kind": "slider", "label": label, "max": T_MAX, "T": T})


def matrix(versions: list, field: str, title: str, x_title: str, y_title: str, scale: str, key: str) -> None:
    """One matrix of the three versions, redrawn in the browser when the slider moves.
    scale: "x" (centred on 0 over x), "out" (centred on 0 over the three outputs), "unit" (0..1) or
    "mask" (-1..1, -inf grey)."""
    per_T = []
    for tv in versions:
        z = getattr(tv, field)
        if scale == "x":
            b = _absmax(tv.x)
            lo, hi = -b, b
        elif scale == "out":
            b = _absmax(tv.v1, tv.v2, tv.v3)
            lo, hi = -b, b
        else:
            lo, hi = (0.0, 1.0) if scale == "unit" else (-1.0, 1.0)
        per_T.append({"z": _z(z), "lo": lo, "hi": hi})
    stops = charts.stops(charts.SEQUENTIAL if scale == "unit" else charts.DIVERGING)
    _component(key=key, data={"kind": "matrix", "title": title, "x_title": x_title, "y_title": y_title,
                              "per_T": per_T, "stops": stops, "grey": charts.MASK_GREY, "T": DEFAULT_T})


def badge(versions: list) -> None:
    _component(key="trick_allclose", data={"kind": "badge", "T": DEFAULT_T, "stops": [],
                                           "per_T": [{"allclose": tv.allclose, "max_diff": tv.max_diff}
                                                     for tv in versions]})
