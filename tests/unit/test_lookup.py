"""One-hot times a matrix is the embedding lookup, and the gradient of a lookup table touches
only the rows that were looked up (with a control: a batch of other characters touches others)."""
from __future__ import annotations

import pytest
import torch
from helpers import OBAMA, one_thread, speaker_data  # noqa: F401 (autouse)

from core.lessons.lookup import lookup_gradient, onehot_lookup


@pytest.fixture(scope="module")
def table():
    V = speaker_data(OBAMA).tokenizer.vocab_size
    return torch.randn(V, V, generator=torch.Generator().manual_seed(0))


def test_onehot_times_the_table_is_the_embedding_row(table):
    for i in (0, 5, table.size(0) - 1):
        r = onehot_lookup(table, i)
        assert r.onehot.sum() == 1 and r.onehot[i] == 1
        assert r.allclose and r.max_abs_diff < 1e-6
        assert torch.equal(r.embedding, table[i])
        assert not torch.allclose(r.product, table[(i + 1) % table.size(0)])
    with pytest.raises(ValueError, match="between 0 and"):
        onehot_lookup(table, table.size(0))


def test_the_gradient_touches_exactly_the_looked_up_rows(table):
    d = speaker_data(OBAMA)
    ids, V = d.speakers[0].train, d.tokenizer.vocab_size
    before = table.clone()
    g = lookup_gradient(table, ids, block_size=8, batch_size=4, seed=1)
    assert g.grad.shape == (V, V)
    assert g.only_looked_up_rows and 1 < len(g.rows_touched) < V
    assert (g.grad[[i for i in range(V) if i not in g.rows_in_batch]] == 0).all()
    # control: a text made of other characters moves other rows
    others = torch.tensor([i for i in range(V) if i not in g.rows_in_batch][:5] * 20)
    h = lookup_gradient(table, others, block_size=8, batch_size=4, seed=1)
    assert h.only_looked_up_rows and not set(h.rows_touched) & set(g.rows_touched)
    assert torch.equal(table, before) and table.grad is None  # the caller's table is untouched
