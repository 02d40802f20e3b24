"""bench.profile: every op of a real training step lands in a category, and the shares add up."""
from __future__ import annotations

from helpers import one_thread  # noqa: F401 (autouse)

from bench.profile import category, profile_config


def test_ops_are_sorted_into_what_they_are():
    assert category("aten::mm") == category("aten::addmm") == category("aten::bmm") == "matmul"
    assert category("aten::_softmax") == "softmax"
    assert category("aten::native_layer_norm_backward") == "layernorm"
    assert category("aten::random_") == category("aten::ge") == "dropout"
    assert category("aten::_fused_adamw_") == "optimizer"
    assert category("aten::copy_") == "casts and copies"
    assert category("aten::some_new_op") == "other"


def test_a_profiled_step_accounts_for_its_time():
    r = profile_config("small", steps=1, dropout=0.2, dtype="float32")
    shares = {k: v["share"] for k, v in r["categories"].items()}
    assert abs(sum(shares.values()) - 1) < 0.01
    assert max(shares, key=shares.get) == "matmul" and shares["dropout"] > 0 and shares["optimizer"] > 0
    assert r["step_ms"] > 0 and r["top_ops"][0]["calls"] >= 1
