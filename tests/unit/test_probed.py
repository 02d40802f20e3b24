"""core.runs.probed: what the pages read off a run's best weights is computed once and stored beside
them (probes.json) under the weights' digest; other weights, or latest.pt, are computed afresh; the
shipped runs carry theirs, current."""
from __future__ import annotations

import json

from helpers import ROOT, copy_shipped

from core.runs import checkpoints as ck
from core.runs import probed
from core.runs import record as rec


def test_a_probe_is_computed_once_per_weights_file(tmp_path):
    root = copy_shipped(tmp_path, ("barack-obama-gpt-tiny",))
    (root / "barack-obama-gpt-tiny" / probed.PROBES).unlink()
    loaded = ck.load_model("barack-obama-gpt-tiny", root=root)
    calls = []

    def compute():
        calls.append(1)
        return {"x": [1.5, 2]}
    assert probed.remember(loaded, "thing", compute) == {"x": [1.5, 2]}
    again = ck.load_model("barack-obama-gpt-tiny", root=root)  # a fresh server, the next command
    assert probed.remember(again, "thing", compute) == {"x": [1.5, 2]} and len(calls) == 1
    assert probed.remembered(again) == ["thing"]
    stored = json.loads((root / "barack-obama-gpt-tiny" / probed.PROBES).read_text())
    assert stored[rec.BEST]["digest"] == ck.file_digest(root / "barack-obama-gpt-tiny" / rec.BEST)

    other = ck.load_model("barack-obama-gpt-tiny", root=root)
    other.__dict__["digest"] = "0" * 64  # other weights (a retrained run): computed afresh, the old entries dropped
    assert probed.remember(other, "thing", compute) == {"x": [1.5, 2]} and len(calls) == 2
    assert probed.remembered(other) == ["thing"] and probed.remembered(again) == []


def test_latest_and_unwritable_folders_compute_without_storing(tmp_path, monkeypatch):
    root = copy_shipped(tmp_path, ("barack-obama-gpt-tiny",))
    run = root / "barack-obama-gpt-tiny"
    (run / probed.PROBES).unlink()
    (run / rec.LATEST).write_bytes((run / rec.BEST).read_bytes())
    latest = ck.load_model(run, which="latest")
    assert probed.remember(latest, "thing", lambda: 3) == 3 and not (run / probed.PROBES).exists()
    def refuse(*_):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(probed, "write_json", refuse)  # a read-only or full disk
    assert probed.remember(ck.load_model(run), "thing", lambda: 4) == 4  # a cache: nothing lost but the time
    assert not (run / probed.PROBES).exists()


def test_the_shipped_runs_carry_current_probes():
    """make probes stored them; a shipped model.pt that changed would need them again."""
    for run in rec.list_runs(ROOT / "checkpoints"):
        if run.role == "rung" or run.status != "finished":  # a run training here now ships nothing yet
            continue
        stored = json.loads((run.path / probed.PROBES).read_text())[rec.BEST]
        assert stored["digest"] == ck.weights_digest(run.path / rec.BEST, run), run.name
        assert len(stored["entries"]) >= 4, run.name


def test_a_heads_means_are_stored_and_knock_it_out_as_computed_ones_do(tmp_path):
    """The oracle: the stored means (the chosen head's channels, 6 significant digits) ablate the head
    as the means computed over the same windows do; the other channels are never read."""
    import torch

    from core.probe import heads
    from core.text.corpus import load_speaker
    root = copy_shipped(tmp_path, ("barack-obama-gpt-tiny",))
    (root / "barack-obama-gpt-tiny" / probed.PROBES).unlink()
    loaded = ck.load_model("barack-obama-gpt-tiny", root=root)
    _, text = load_speaker("Barack Obama").split()
    chosen = [(1, 2)]
    stored = probed.head_means(loaded, text, chosen, max_chars=3000)
    fresh = ck.load_model("barack-obama-gpt-tiny", root=root)  # the next server: read back
    assert any(k.startswith("heads.means:") for k in probed.remembered(fresh))
    windows = heads.val_windows(loaded.tokenizer, text, loaded.config.block_size, 3000)
    computed = heads.head_means(loaded.model, windows[:, :-1])
    hs = loaded.config.head_size
    torch.testing.assert_close(stored[1, :, 2 * hs:3 * hs], computed[1, :, 2 * hs:3 * hs], rtol=1e-5, atol=1e-6)
    assert stored.abs().sum() == stored[1, :, 2 * hs:3 * hs].abs().sum() > 0
    idx = windows[:4, :-1]
    with torch.no_grad():
        a = heads.ablated(loaded.model, chosen, stored)(idx)[0]
        b = heads.ablated(loaded.model, chosen, computed)(idx)[0]
        plain = loaded.model(idx)[0]
    torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)
    assert not torch.allclose(a, plain, atol=1e-3)  # the head was knocked out
