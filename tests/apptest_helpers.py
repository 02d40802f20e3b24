"""Helpers for AppTest page tests: open a page of the real app, read plotly figures back."""
from __future__ import annotations

import base64
import json
import re
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


def percent_bounds(shown: str) -> tuple[float, float]:
    """The range a percentage printed by ui.fmt.pct stands for: "62.5%" is 62.45..62.55, "< 0.1%"
    is 0..0.1; anything else (1e-29, 0.000000..., None) fails."""
    if shown.startswith("< ") or shown.startswith("> "):
        x = float(shown[2:-1])
        return (0.0, x) if shown[0] == "<" else (x, 100.0)
    assert re.fullmatch(r"\d{1,3}(\.\d)?%", shown), f"not a percentage as ui.fmt prints it: {shown!r}"
    x = float(shown[:-1])
    return (x, x) if shown in ("0%", "100%") else (x - 0.05, x + 0.05)


def assert_percentages_sum_to_100(shown: list[str]) -> None:
    """Percentages of one distribution, as printed: their ranges hold 100%."""
    lows, highs = zip(*(percent_bounds(p) for p in shown))
    assert sum(lows) <= 100.0 + 1e-9 and sum(highs) >= 100.0 - 1e-9, shown


def assert_no_raw_numbers(at: AppTest) -> None:
    """No dataframe on the page prints "None" or "nan" (a missing value is shown as ui.fmt.MISSING, the
    dataframe's placeholder), nor a number written out as text with an exponent or a long run of zeros.
    Number columns are printed by their column_config format, in the browser: not checked here."""
    for df in at.dataframe:
        frame = df.value
        cells = [v for col in frame.columns for v in frame[col].tolist()] + list(frame.columns)
        missing = [v for v in cells if v is None or (isinstance(v, float) and v != v)]
        assert not missing or df.proto.placeholder == "\u2014", \
            f"a table with missing values and no placeholder (shown as None): {list(frame.columns)}"
        text = [str(v) for v in cells if isinstance(v, str)] + [str(i) for i in frame.index if isinstance(i, str)]
        bad = [c for c in text if c.strip() in ("None", "nan", "NaN", "<NA>") or re.search(r"\de-\d|0{6}", c)]
        assert not bad, f"raw numbers in a table: {bad[:5]}"
