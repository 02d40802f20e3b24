"""The Attention page's explorer as one browser component (st.components.v2, no iframe, offline):
the context-length slider, the layer and head choice, the stage tiles, the layer x head grid, the
next-character guesses and the shapes, all drawn on canvases by ui/attention/widget.js.

In the decoder view one forward pass over the first characters of the text serves every T up to
block_size (causality: the first T characters' attention is the top-left T x T block), so moving
the slider there never goes to the server. The encoder view and T past block_size (cropping)
change every number: the browser asks the server for that T (one forward pass) and draws it when
it arrives. The data travels as one binary blob: a JSON header, then float32 arrays."""
from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import streamlit as st

from core.probe.attention_view import AttentionView, attention_view
from ui import charts

KEY = "attention_explorer"     # the component's widget key
T_KEY = "attention_T"          # the T the server last computed for (survives reruns; tests set it)
BROWSER_FLOATS = 2_000_000     # at most ~8 MB of float32 for the browser's own range of T
_JS = (Path(__file__).with_suffix(".js")).read_text(encoding="utf-8")
_CSS = """
.pa-root { position: relative; font-family: "Source Sans Pro", sans-serif; font-size: 14px; color: inherit; }
.pa-controls { display: flex; gap: 1.2rem; align-items: center; flex-wrap: wrap; margin-bottom: 0.4rem; }
.pa-controls label { display: flex; gap: 0.4rem; align-items: center; }
.pa-controls label.pa-slider { display: flex; flex-direction: column; align-items: stretch; flex: 1 1 420px;
                              gap: 0.2rem; }
.pa-slider input { width: 100%; accent-color: #ff4b4b; }
.pa-slider .pa-ends { display: flex; justify-content: space-between; font-size: 12px; opacity: 0.7; }
.pa-tval { font-weight: 600; }
.pa-note { font-size: 13px; opacity: 0.85; min-height: 1.3em; margin: 0.2rem 0; }
.pa-warn { background: rgba(255, 193, 7, 0.18); border-radius: 0.5rem; padding: 0.5rem 0.75rem; margin: 0.3rem 0; }
.pa-tiles { display: grid; grid-template-columns: repeat(2, minmax(0, max-content)); gap: 0.6rem 1.4rem; }
.pa-tile-title { font-size: 13px; font-weight: 600; margin-bottom: 0.15rem; }
.pa-busy canvas { opacity: 0.45; transition: opacity 0.1s; }
.pa-h { font-size: 1.35rem; font-weight: 600; margin: 1.2rem 0 0.4rem; }
.pa-tip { position: absolute; pointer-events: none; background: rgba(30, 30, 30, 0.92); color: #fff;
          padding: 4px 7px; border-radius: 4px; font-size: 12px; white-space: nowrap; display: none; z-index: 5; }
.pa-root table { border-collapse: collapse; margin-top: 0.3rem; }
.pa-root td, .pa-root th { border: 1px solid rgba(128, 128, 128, 0.35); padding: 3px 9px; text-align: left; }
.pa-root code { font-size: 13px; }
.pa-root canvas { display: block; }
"""
_HTML = '<div class="pa-root"></div>'
_component = st.components.v2.component("podium.attention_explorer", html=_HTML, css=_CSS, js=_JS,
                                        isolate_styles=False)


def pack(header: dict, arrays: dict[str, np.ndarray]) -> bytes:
    """One blob: uint32 header length, the JSON header (with each array's offset and shape),
    padding to 4 bytes, then the arrays as little-endian float32 (NaN where -inf or masked)."""
    blobs, index, offset = [], {}, 0
    for name, a in arrays.items():
        a = np.ascontiguousarray(np.where(np.isfinite(a), a, np.nan), dtype="<f4")
        index[name] = [offset, list(a.shape)]
        blobs.append(a.tobytes())
        offset += a.size
    head = json.dumps({**header, "arrays": index}, separators=(",", ":")).encode()
    head += b" " * (-(4 + len(head)) % 4)
    return struct.pack("<I", len(head)) + head + b"".join(blobs)


def unpack(blob: bytes) -> tuple[dict, dict[str, np.ndarray]]:
    """The inverse of pack (what the browser reads), for tests."""
    (n,) = struct.unpack_from("<I", blob)
    header = json.loads(blob[4:4 + n])
    data = np.frombuffer(blob, dtype="<f4", offset=4 + n)
    arrays = {k: data[o:o + int(np.prod(s))].reshape(s) for k, (o, s) in header["arrays"].items()}
    return header, arrays


def browser_chars(L: int, H: int, hs: int, n: int) -> int:
    """How many characters of the text the browser gets in one pass, within BROWSER_FLOATS."""
    while n > 1 and L * H * (2 * n * n + n * hs) > BROWSER_FLOATS:
        n -= 1
    return n


def _view_part(view: AttentionView, prefix: str) -> tuple[dict, dict[str, np.ndarray]]:
    meta = {"T": view.T, "requested": view.requested, "cropped": view.cropped, "labels": view.labels,
            "guesses": [[[c, round(p, 4)] for c, p in g] for g in (view.guesses or [view.next_chars])],
            "causal": view.causal}
    arrays = {f"{prefix}scores": view.scores, f"{prefix}weights": view.weights,
              f"{prefix}out": view.out}
    return meta, arrays


def payload(*, local: AttentionView | None, exact: AttentionView | None, limit: int, T: int,
            vocab_size: int, causal: bool, head_labels: list | None = None) -> bytes:
    """What the browser draws from: `local` (a decoder view of the text's first characters, every
    smaller T cut from it in the browser) and/or `exact` (the server's view for one T)."""
    any_view = local or exact
    L, H = any_view.weights.shape[:2]
    header = {"limit": limit, "T": T, "causal": causal, "L": int(L), "H": int(H), "hs": any_view.head_size,
              "C": any_view.n_embd, "block_size": any_view.block_size, "scale": any_view.scale,
              "vocab": vocab_size, "grey": charts.MASK_GREY,
              "scales": {"diverging": charts.stops(charts.DIVERGING), "sequential": charts.stops(charts.SEQUENTIAL)},
              "head_labels": [[[str(name), None if score is None else round(float(score), 2)] for name, score in layer]
                              for layer in head_labels] if head_labels else None}
    arrays: dict[str, np.ndarray] = {}
    for name, view in (("local", local), ("exact", exact)):
        if view is not None:
            header[name], part = _view_part(view, f"{name}.")
            arrays.update(part)
    return pack(header, arrays)


def _take_T() -> None:
    """The browser asked for a T it cannot draw itself: remember it for the server's pass."""
    value = st.session_state.get(KEY) or {}
    if value.get("T") is not None:
        st.session_state[T_KEY] = int(value["T"])


def explorer(blob: bytes, T: int) -> None:
    """Mount the explorer (in the calling fragment, so a trip to the server reruns only it)."""
    _component(key=KEY, data=blob, default={"T": T}, on_T_change=_take_T, height="content")


def show(loaded, text: str, causal: bool, head_labels: list | None = None) -> None:
    """The explorer for a loaded model and a text: one pass for the browser's range of T (decoder
    view), plus the server's pass for the T it asked for when that T is outside the range."""
    cfg = loaded.config
    limit = min(len(text), 2 * cfg.block_size)
    T = max(1, min(int(st.session_state.get(T_KEY, min(32, cfg.block_size))), limit))
    n = browser_chars(cfg.n_layer, cfg.n_head, cfg.head_size, min(len(text), cfg.block_size))
    local = attention_view(loaded.model, loaded.tokenizer, text, n, True) if causal else None
    exact = None if causal and n >= T else attention_view(loaded.model, loaded.tokenizer, text, T, causal)
    where = (f"up to T = {n} in your browser, cut from one forward pass over the first {n} characters: causality "
             f"makes the attention of the first T characters the top-left T x T block of it (adding text never "
             f"changes what earlier characters attended to). Past that" if causal else
             "on the server, one forward pass per T: without the mask every character sees the whole context, so "
             "a new character changes every row. Likewise")
    st.caption(f"Drag the slider: the maps follow {where}, T past block_size = {cfg.block_size} crops the "
               "context and is computed on the server. Click a tile of the layer x head grid to show its stages.")
    explorer(payload(local=local, exact=exact, limit=limit, T=T, vocab_size=loaded.tokenizer.vocab_size,
                     causal=causal, head_labels=head_labels), T)
