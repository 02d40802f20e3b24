"""Batches: shapes, y is x shifted by one at the same offsets of the source, seeded determinism,
too-short data, and the lecture's "when input is ... the target is ..." pairs."""
from __future__ import annotations

import pytest
import torch
from helpers import OBAMA, speaker_data

from core.text.batching import Pair, context_target_pairs, get_batch


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_shapes_and_dtype():
    data = speaker_data(OBAMA).train
    x, y = get_batch(data, block_size=8, batch_size=4, generator=gen(0))
    assert x.shape == y.shape == (4, 8)
    assert x.dtype == y.dtype == torch.long and x.device.type == "cpu"


def test_y_is_x_shifted_by_one_at_the_same_offsets_of_the_source():
    data = speaker_data(OBAMA).train
    T, B = 16, 6
    x, y = get_batch(data, T, B, generator=gen(1))
    windows = data.unfold(0, T + 1, 1)                         # (N - T, T + 1): every window of the text
    for b in range(B):
        hits = ((windows[:, :-1] == x[b]).all(1) & (windows[:, 1:] == y[b]).all(1)).nonzero().flatten()
        assert len(hits) >= 1, f"row {b} is not a window of the source with its next characters"
        o = int(hits[0])
        assert torch.equal(x[b], data[o:o + T]) and torch.equal(y[b], data[o + 1:o + T + 1])
    assert torch.equal(x[:, 1:], y[:, :-1])


def test_offsets_are_recoverable_on_a_counting_sequence():
    data = torch.arange(1000)
    x, y = get_batch(data, 10, 32, generator=gen(2))
    starts = x[:, :1]
    assert torch.equal(x, starts + torch.arange(10)) and torch.equal(y, starts + 1 + torch.arange(10))


def test_every_window_including_the_last_can_be_drawn():
    T = 5
    data = torch.arange(T + 3)  # windows start at 0, 1 or 2
    g = gen(3)
    starts = set()
    for _ in range(50):
        x, y = get_batch(data, T, 4, generator=g)
        starts.update(x[:, 0].tolist())
        assert int(y.max()) <= T + 2
    assert starts == {0, 1, 2}


def test_same_seed_same_batch_different_seed_different_batch():
    data = speaker_data(OBAMA).train
    a = get_batch(data, 16, 8, generator=gen(42))
    b = get_batch(data, 16, 8, generator=gen(42))
    c = get_batch(data, 16, 8, generator=gen(43))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0])
    g = gen(42)  # one generator: successive batches differ
    assert not torch.equal(get_batch(data, 16, 8, generator=g)[0], get_batch(data, 16, 8, generator=g)[0])


def test_too_short_data_raises_value_error():
    with pytest.raises(ValueError, match="at least 9"):
        get_batch(torch.arange(8), block_size=8, batch_size=2)
    with pytest.raises(ValueError):
        get_batch(torch.arange(3), block_size=8, batch_size=2)
    x, y = get_batch(torch.arange(9), block_size=8, batch_size=2)  # exactly one window
    assert x.tolist() == [list(range(8))] * 2 and y.tolist() == [list(range(1, 9))] * 2
    with pytest.raises(ValueError, match="1-D"):
        get_batch(torch.arange(40).view(4, 10), block_size=4, batch_size=2)


def test_context_target_pairs_print_like_the_lecture():
    x = [18, 47, 56, 57, 58, 1, 15, 47]
    y = [47, 56, 57, 58, 1, 15, 47, 58]
    pairs = context_target_pairs(torch.tensor(x), torch.tensor(y))
    assert str(pairs[0]) == "when input is [18] the target is 47"
    assert str(pairs[1]) == "when input is [18, 47] the target is 56"
    assert str(pairs[-1]) == "when input is [18, 47, 56, 57, 58, 1, 15, 47] the target is 58"


def test_pairs_follow_the_block_size_and_decode():
    data = speaker_data(OBAMA)
    for T in (1, 8, 16):
        x, y = get_batch(data.train, T, 2, generator=gen(T))
        pairs = context_target_pairs(x[0], y[0], data.tokenizer.decode)
        assert len(pairs) == T and all(isinstance(p, Pair) for p in pairs)
        for t, p in enumerate(pairs):
            assert p.context == x[0, :t + 1].tolist() and p.target == int(y[0, t])
            assert p.context_text == data.tokenizer.decode(x[0, :t + 1])
            assert p.target_text == data.tokenizer.decode([y[0, t]])
        # the target of each pair is the last character of the next pair's context
        assert all(pairs[t].target == pairs[t + 1].context[-1] for t in range(T - 1))
