"""AppTest: the Batches page draws the lecture's (x, y) batches and unpacks one row into its examples."""
from __future__ import annotations

import re

import pytest
import torch
from apptest_helpers import open_page

from core.batching import get_batch
from core.corpus import DEFAULT_SPEAKERS
from core.dataset import prepare


@pytest.fixture(autouse=True)
def _checkpoints(monkeypatch, tmp_path):
    monkeypatch.setenv("PODIUM_CHECKPOINTS", str(tmp_path))


@pytest.fixture(scope="module")
def data():
    return prepare(list(DEFAULT_SPEAKERS))


def grids(at) -> dict[str, list[list]]:
    """The four grids, in page order: x and y as characters, then x and y as ids."""
    frames = [d.value for d in at.dataframe]
    assert len(frames) == 4
    return dict(zip(["x_chars", "y_chars", "x_ids", "y_ids"], [f.values.tolist() for f in frames], strict=True))


def pairs(at) -> list[str]:
    return at.code[0].value.splitlines()


def test_default_is_the_lectures_batch(data):
    at = open_page("batches")
    assert not at.error
    g = grids(at)
    x, y = get_batch(data.speakers[0].train, 8, 4, generator=torch.Generator().manual_seed(1337))
    assert g["x_ids"] == x.tolist() and g["y_ids"] == y.tolist()
    assert g["x_chars"][0][0] in {data.tokenizer.decode([x[0, 0]]), "␣", "↵"}
    lines = pairs(at)
    assert len(lines) == 8
    row = x[0].tolist()
    first = re.fullmatch(r"when input is \[(\d+)\] \((.+)\) the target is (\d+) \((.+)\)", lines[0])
    assert first and int(first[1]) == row[0] and int(first[3]) == y[0, 0]
    assert lines[-1].startswith(f"when input is {row} (")


def test_block_size_sets_width_and_pairs():
    at = open_page("batches")
    at.slider(key="batches_block_size").set_value(12).run()
    assert not at.exception
    g = grids(at)
    assert all(len(r) == 12 for grid in g.values() for r in grid) and len(g["x_ids"]) == 4
    assert len(pairs(at)) == 12
    assert all(a[1:] == b[:-1] for a, b in zip(g["x_ids"], g["y_ids"], strict=True))  # y is x shifted by one
    at.slider(key="batches_batch_size").set_value(7).run()
    assert len(grids(at)["x_ids"]) == 7


def test_seed_and_new_batch_change_the_batch():
    at = open_page("batches")
    first = grids(at)["x_ids"]
    at.number_input(key="batches_seed").set_value(7).run()
    second = grids(at)["x_ids"]
    assert second != first
    at.button(key="batches_new").click().run()
    assert at.number_input(key="batches_seed").value == 8
    assert grids(at)["x_ids"] != second
    at.number_input(key="batches_seed").set_value(1337).run()
    assert grids(at)["x_ids"] == first                      # same seed, same batch


def test_row_split_and_speaker(data):
    at = open_page("batches")
    at.number_input(key="batches_row").set_value(3).run()
    x3 = grids(at)["x_ids"][3]
    assert pairs(at)[-1].startswith(f"when input is {x3} (")
    at.slider(key="batches_batch_size").set_value(2).run()    # the row follows the smaller batch
    assert not at.exception and at.number_input(key="batches_row").value == 1
    at.radio(key="batches_split").set_value("val").run()
    assert [m.value for m in at.metric if m.label == "val tokens"] == [f"{len(data.speakers[0].val):,}"]
    at.selectbox(key="batches_speaker").set_value(DEFAULT_SPEAKERS[2]).run()
    assert [m.value for m in at.metric if m.label == "val tokens"] == [f"{len(data.speakers[2].val):,}"]
    at.slider(key="batches_block_size").set_value(256).run()
    assert not at.exception and len(pairs(at)) == 256
