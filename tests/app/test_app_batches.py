"""AppTest: the Batches page sends its browser the lecture's (x, y) batch for every block size at once
(the slider picks one there) and unpacks one row into its examples."""
from __future__ import annotations

import base64
import json

import numpy as np
import pytest
import torch
from apptest_helpers import open_page

from core.text.batching import get_batch
from core.text.corpus import DEFAULT_SPEAKERS
from core.text.dataset import prepare


@pytest.fixture(autouse=True)
def _checkpoints(monkeypatch, tmp_path):
    monkeypatch.setenv("PODIUM_CHECKPOINTS", str(tmp_path))


@pytest.fixture(scope="module")
def data():
    return prepare(list(DEFAULT_SPEAKERS))


def sent(at) -> dict[str, dict]:
    """What the page sends its browser components, by key name."""
    return {el.proto.id.rsplit("-", 1)[-1]: json.loads(el.proto.json) for el in at.get("bidi_component")}


def batch(at, T: int, part: str = "batches_grids") -> tuple[list[list[int]], list[list[int]]]:
    """x and y at block size T, as the browser cuts them from the windows it was sent."""
    d = sent(at)[part]
    w = np.frombuffer(base64.b64decode(d["windows"]), dtype="<u2")
    B = d["B"]
    start = B * ((T - 1) * T // 2 + (T - 1))
    rows = w[start:start + B * (T + 1)].reshape(B, T + 1)
    return rows[:, :-1].tolist(), rows[:, 1:].tolist()


def test_default_is_the_lectures_batch(data):
    at = open_page("batches")
    assert not at.error
    d = sent(at)
    assert d["batches_T"]["T"] == 8 and d["batches_T"]["T_max"] == 256
    for T in (1, 8, 37, 256):  # every block size, exactly as get_batch draws it with the page's seed
        x, y = get_batch(data.speakers[0].train, T, 4, generator=torch.Generator().manual_seed(1337))
        assert batch(at, T) == (x.tolist(), y.tolist())
    x, _ = batch(at, 8)
    assert d["batches_grids"]["visible"][x[0][0]] in {data.tokenizer.decode([x[0][0]]), "␣", "↵"}
    assert d["batches_count"]["B"] == 4


def test_block_size_sets_width_and_y_is_x_shifted():
    at = open_page("batches")
    for T in (1, 12, 256):
        x, y = batch(at, T)
        assert len(x) == 4 and all(len(r) == T for r in x + y)
        assert all(a[1:] == b[:-1] for a, b in zip(x, y, strict=True))  # y is x shifted by one
    at.slider(key="batches_batch_size").set_value(7).run()
    assert len(batch(at, 12)[0]) == 7


def test_seed_and_new_batch_change_the_batch():
    at = open_page("batches")
    first = batch(at, 8)[0]
    at.number_input(key="batches_seed").set_value(7).run()
    second = batch(at, 8)[0]
    assert second != first
    at.button(key="batches_new").click().run()
    assert at.number_input(key="batches_seed").value == 8
    assert batch(at, 8)[0] != second
    at.number_input(key="batches_seed").set_value(1337).run()
    assert batch(at, 8)[0] == first                      # same seed, same batch


def test_row_split_and_speaker(data):
    at = open_page("batches")
    at.number_input(key="batches_row").set_value(3).run()
    pairs = sent(at)["batches_pairs"]
    assert pairs["row"] == 3
    for T in (5, 100):  # the pairs' own windows are that row's
        assert batch(at, T, "batches_pairs")[0][0] == batch(at, T)[0][3]
    at.slider(key="batches_batch_size").set_value(2).run()    # the row follows the smaller batch
    assert not at.exception and at.number_input(key="batches_row").value == 1
    at.radio(key="batches_split").set_value("val").run()
    assert [m.value for m in at.metric if m.label == "val tokens"] == [f"{len(data.speakers[0].val):,}"]
    at.selectbox(key="batches_speaker").set_value(DEFAULT_SPEAKERS[2]).run()
    assert [m.value for m in at.metric if m.label == "val tokens"] == [f"{len(data.speakers[2].val):,}"]
    assert not at.exception and len(batch(at, 256)[0][0]) == 256
