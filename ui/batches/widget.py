"""The Batches page's block-size slider in the browser (st.components.v2, no iframe): the server
draws the batch for every T = 1..256 at once (get_batch with the page's seed, B x (T + 1) ids per T:
~265 kB at B = 4) and the slider redraws the grids, the count of examples and the row's pairs
without a round trip. The batch size, speaker, split, seed and row stay server widgets."""
from __future__ import annotations

import base64
from pathlib import Path

import numpy as np
import streamlit as st
import torch

from core.text.batching import get_batch
from core.text.tokenizer import visible

T_MAX = 256
DEFAULT_T = 8                 # the lecture's block_size
SIDE_BY_SIDE_MAX_T = 16       # x and y grids side by side up to this block size, stacked above it
_CSS = """
.bw-root { font-family: "Source Sans Pro", sans-serif; font-size: 14px; }
.bw-slider { display: flex; flex-direction: column; gap: 0.2rem; }
.bw-slider input { width: 100%; accent-color: #ff4b4b; }
.bw-ends { display: flex; justify-content: space-between; font-size: 12px; opacity: 0.7; }
.bw-h { font-size: 2rem; font-weight: 600; margin: 1rem 0 0.4rem; }
.bw-cap { font-size: 14px; opacity: 0.75; margin: 0.3rem 0; }
.bw-tabs { display: flex; gap: 1rem; border-bottom: 1px solid rgba(128,128,128,0.3); margin: 0.5rem 0; }
.bw-tab { background: none; border: none; padding: 0.4rem 0; cursor: pointer; font-size: 14px; color: inherit; }
.bw-on { border-bottom: 2px solid #ff4b4b; color: #ff4b4b; }
.bw-side { display: grid; grid-template-columns: 1fr 1fr; gap: 1rem; } .bw-stack > div { margin-bottom: 0.8rem; }
.bw-label { font-weight: 600; margin: 0.3rem 0; }
.bw-scroll { overflow: auto; max-height: 600px; }
.bw-grid { border-collapse: collapse; font-size: 13px; }
.bw-grid td, .bw-grid th { border: 1px solid rgba(128,128,128,0.25); padding: 2px 6px; text-align: center; }
.bw-grid th { font-weight: 400; opacity: 0.7; }
.bw-hl td { background: rgba(255, 193, 7, 0.25); }
.bw-pairs { font-size: 13px; background: rgba(128,128,128,0.08); padding: 0.8rem; border-radius: 0.5rem;
            white-space: pre; overflow: auto; } .bw-tall { max-height: 420px; }
.bw-metric-label { font-size: 14px; } .bw-metric { font-size: 2.25rem; }
"""
_component = st.components.v2.component("podium.batches_T", html='<div class="bw-root"></div>', css=_CSS,
                                        js=Path(__file__).with_suffix(".js").read_text(encoding="utf-8"),
                                        isolate_styles=False)


def windows(data: torch.Tensor, batch_size: int, seed: int, t_max: int) -> np.ndarray:
    """get_batch's windows for T = 1..t_max, each (B, T + 1) ids: x is [:, :-1], y is [:, 1:]."""
    out = []
    for T in range(1, t_max + 1):
        x, y = get_batch(data, T, batch_size, generator=torch.Generator().manual_seed(seed))
        out.append(torch.cat([x, y[:, -1:]], 1).flatten())
    return torch.cat(out).numpy().astype("<u2")


def t_max(data: torch.Tensor) -> int:
    return min(T_MAX, len(data) - 1)


def _b64(a: np.ndarray) -> str:
    return base64.b64encode(a.tobytes()).decode()


def slider(T_top: int, label: str = "Block size T (context length)") -> None:
    _component(key="batches_T", data={"kind": "slider", "label": label, "T_max": T_top, "T": min(DEFAULT_T, T_top)})


def count(batch_size: int, T_top: int) -> None:
    """The "Examples (B x T)" figure, which follows T."""
    _component(key="batches_count", data={"kind": "count", "B": batch_size, "T_max": T_top, "T": DEFAULT_T})


def grids(w: np.ndarray, batch_size: int, row: int, chars: list[str], T_top: int, caption: str) -> None:
    _component(key="batches_grids", data={
        "kind": "grids", "B": batch_size, "row": row, "T_max": T_top, "T": DEFAULT_T, "windows": _b64(w),
        "visible": [visible(c) for c in chars], "side_by_side_max": SIDE_BY_SIDE_MAX_T, "caption": caption})


def pairs(w: np.ndarray, batch_size: int, row: int, chars: list[str], T_top: int) -> None:
    """The row's T (context, target) examples; only that row's windows travel."""
    per_T, start = [], 0
    for T in range(1, T_top + 1):
        per_T.append(w[start + row * (T + 1):start + (row + 1) * (T + 1)])
        start += batch_size * (T + 1)
    _component(key="batches_pairs", data={"kind": "pairs", "B": 1, "pick": 0, "row": row, "T_max": T_top,
                                          "T": DEFAULT_T, "windows": _b64(np.concatenate(per_T)), "raw": chars})
