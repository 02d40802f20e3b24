"""Counting does not scale with context: n-gram table sizes, the count model against a brute-force
oracle and the bigram counts, and on real text its val loss for n = 2 below n = 1."""
from __future__ import annotations

import collections
import math

import pytest
import torch
from helpers import OBAMA, one_thread, speaker_data, tiny_gpt  # noqa: F401 (autouse)

from core.lessons.ngram import (
    NGramCounts,
    count_bigram_loss,
    gpt_params,
    human_bytes,
    order_report,
    table_bytes,
    table_cells,
    table_rows,
)
from core.model.gpt import GPT


def test_table_sizes_grow_as_v_to_the_n():
    assert [table_rows(88, n) for n in (1, 2, 3)] == [88, 88 ** 2, 88 ** 3]
    assert table_cells(88, 1) == 88 * 88 and table_cells(65, 8) == 65 ** 9
    assert table_bytes(88, 3) == 4 * 88 ** 4 and table_bytes(88, 3, bytes_per_count=8) == 8 * 88 ** 4
    for bad in (0, 9):
        with pytest.raises(ValueError, match="between 1 and 8"):
            table_rows(88, bad)
    assert human_bytes(30_976) == "31.0 KB" and human_bytes(999) == "999 B"


@pytest.mark.parametrize("overrides", [{}, {"block_size": 3, "n_layer": 3, "n_embd": 48, "n_head": 4}])
def test_gpt_params_matches_the_model(overrides):
    cfg = tiny_gpt(88, **overrides)
    assert gpt_params(cfg) == GPT(cfg).num_params()
    assert gpt_params(cfg, 8) - gpt_params(cfg, 1) == 7 * cfg.n_embd  # only the position table grows


def brute_force_loss(train: list[int], val: list[int], n: int, V: int, alpha: float) -> float:
    pairs = collections.Counter((tuple(train[i - n:i]), train[i]) for i in range(n, len(train)))
    ctx = collections.Counter(tuple(train[i - n:i]) for i in range(n, len(train)))
    nll = [-math.log((pairs[(tuple(val[i - n:i]), val[i])] + alpha) / (ctx[tuple(val[i - n:i])] + alpha * V))
           for i in range(n, len(val))]
    return sum(nll) / len(nll)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_counts_and_loss_match_a_brute_force_oracle(n):
    d = speaker_data(OBAMA)
    V = d.tokenizer.vocab_size
    train, val = d.speakers[0].train[:3000], d.speakers[0].val[:800]
    counts = NGramCounts.fit(train, n, V)
    assert int(counts.counts.sum()) == len(train) - n == int(counts.totals.sum())
    assert counts.rows_seen == len({tuple(train[i - n:i].tolist()) for i in range(n, len(train))})
    expected = brute_force_loss(train.tolist(), val.tolist(), n, V, 0.1)
    assert counts.loss(val) == pytest.approx(expected, rel=1e-9)


def test_order_1_is_the_bigram_floor():
    d = speaker_data(OBAMA)
    sd, V = d.speakers[0], d.tokenizer.vocab_size
    assert NGramCounts.fit(sd.train, 1, V).loss(sd.val) == pytest.approx(count_bigram_loss(sd.train, sd.val, V))


def test_on_real_text_more_context_helps_then_sparsity_shows():
    d = speaker_data(OBAMA)
    sd, V = d.speakers[0], d.tokenizer.vocab_size
    r = {n: order_report(sd.train, sd.val, n, V) for n in (1, 2, 3, 6)}
    assert r[2].val_loss < r[1].val_loss                       # two characters of context beat one
    assert r[3].val_loss < r[2].val_loss
    assert r[1].unseen_rows < r[2].unseen_rows < r[3].unseen_rows < r[6].unseen_rows  # the table empties
    assert r[3].unseen_rows > 0.9 and r[6].rows_seen < len(sd.train)
    assert r[1].val_unseen <= r[3].val_unseen < r[6].val_unseen   # and val meets contexts train never had
    assert r[6].val_loss > r[3].val_loss                      # so counting longer contexts gets worse


def test_bad_input_is_a_clear_error():
    with pytest.raises(ValueError, match="at least 4"):
        NGramCounts.fit(torch.tensor([1, 2, 3]), 3, 10)
    counts = NGramCounts.fit(torch.tensor([1, 2, 3, 1, 2]), 1, 10)
    with pytest.raises(ValueError, match="alpha"):
        counts.loss(torch.tensor([1, 2]), alpha=0)
