"""Helpers for AppTest page tests: open a page of the real app, read plotly figures back."""
from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import streamlit.logger
from streamlit.testing.v1 import AppTest

streamlit.logger.set_log_level("error")  # silence "missing ScriptRunContext"
APP = str(Path(__file__).resolve().parent.parent / "app.py")


def open_page(page: str, timeout: float = 60, query: dict | None = None) -> AppTest:
    """Run app.py, switch to app_pages/<page>.py and run it inside app.py's frame; fails on any
    exception. query: the URL's query parameters (what a reload keeps)."""
    at = AppTest.from_file(APP, default_timeout=timeout)
    at.query_params.update(query or {})
    at.run()
    at.switch_page(f"app_pages/{page}.py")
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert len(at.sidebar.children) > 0, f"{page} ran without app.py's frame (empty sidebar)"
    return at


def figures(at: AppTest) -> list[dict]:
    """Every plotly figure on the page, as a dict (the figure JSON)."""
    out = []
    for el in at.get("plotly_chart"):
        out.append(json.loads(el.proto.spec))
    return out


def decode(value) -> np.ndarray:
    """A plotly data field: a plain list, or plotly>=6's {"dtype", "bdata", "shape"} encoding."""
    if isinstance(value, dict) and "bdata" in value:
        arr = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        shape = value.get("shape")
        if shape:
            arr = arr.reshape([int(s) for s in str(shape).split(",")])
        return arr
    return np.asarray(value, dtype=float)


def heatmaps(at: AppTest) -> list[tuple[str, np.ndarray]]:
    """(trace name, or else figure title; z) for every heatmap trace on the page."""
    out = []
    for fig in figures(at):
        title = (fig.get("layout", {}).get("title") or {}).get("text", "")
        for trace in fig.get("data", []):
            if trace.get("type") == "heatmap":
                out.append((trace.get("name") or title, decode(trace["z"])))
    return out


def page_text(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption] + [i.value for i in at.info]
    parts += [s.value for s in at.success] + [w.value for w in at.warning] + [e.value for e in at.error]
    parts += [str(m.value) for m in at.metric] + [c.value for c in at.code]
    return "\n".join(str(p) for p in parts)
