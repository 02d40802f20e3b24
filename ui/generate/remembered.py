"""The generations this server has written, kept (a few dozen, newest last): the same weights, prompt,
settings and seed always write the same text, so a first visit with settings someone already used (the
page's defaults, most often) reads the text back at once instead of writing it again. The Generate
button always writes afresh, one character at a time."""
from __future__ import annotations

import copy
import threading
from collections import OrderedDict

import streamlit as st

from core.runs import checkpoints as ck


class Generations:
    """A bounded, lock-guarded store of finished generations; what goes in or comes out is a copy, so
    no two sessions ever share one."""

    def __init__(self, size: int = 32):
        self._items: OrderedDict[tuple, dict] = OrderedDict()
        self._lock = threading.Lock()
        self._size = size

    def get(self, key: tuple) -> dict | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
        return copy.deepcopy(found)

    def put(self, key: tuple, result: dict) -> None:
        kept = copy.deepcopy(result)
        with self._lock:
            self._items[key] = kept
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)


@st.cache_resource
def generations() -> Generations:
    """The server's one store (every session's)."""
    return Generations()


def key(columns: dict, settings: dict) -> tuple:
    """What decides a generation: each column's weights file as it is now (a retrained run is a new
    file), and the settings."""
    return (tuple((label, ck.weights_key(run.path) if run else None) for label, run in columns.items()),
            tuple(sorted(settings.items())))
