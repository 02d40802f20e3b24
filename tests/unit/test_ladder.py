"""The lecture's ladder (core.lessons.ladder): each rung's switches build the right modules (parameter
counts by formula), the KV cache and the inspect path work without residuals or LayerNorm, a saved
rung loads as itself, the CLI prints one line per rung, and on a small text the pieces the lecture
adds win where it says they should (heads over the bigram; residuals and LayerNorm over a bare
deep stack)."""
from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from core.config import ModelConfig, TrainConfig, preset
from core.lessons import ladder
from core.lessons.ngram import count_bigram_loss
from core.model.decoder import Decoder, KVCache
from core.model.gpt import GPT
from core.runs import checkpoints as ck
from core.runs import start as runs
from core.text.dataset import prepare

V = 50
ROOT = Path(__file__).resolve().parents[2]


def by_formula(rung: ladder.Rung) -> int:
    """The lecture's modules counted by hand: embeddings, per block qkv (no bias), the projection,
    the 4x MLP, two LayerNorms; the final LayerNorm and the head."""
    s = rung.settings()
    if rung.model == "bigram":
        return V * V
    cfg = rung.config(V)
    C, T, L = cfg.n_embd, cfg.block_size, cfg.n_layer
    block = 3 * C * C
    block += (C * C + C) if s.get("attn_proj", True) else 0
    block += (C * 4 * C + 4 * C + 4 * C * C + C) if s.get("ffwd", True) else 0
    block += 2 * 2 * C if s.get("layer_norm", True) else 0
    return V * C + T * C + L * block + (2 * C if s.get("layer_norm", True) else 0) + C * V + V


@pytest.mark.parametrize("rung", ladder.RUNGS[1:], ids=lambda r: r.name)
def test_each_rung_builds_its_modules(rung):
    cfg = rung.config(V)
    model = GPT(cfg)
    assert model.num_params() == by_formula(rung) == cfg.n_params()
    block = model.blocks[0]
    s = rung.settings()
    assert isinstance(block.attn.proj, nn.Linear) == s.get("attn_proj", True)
    assert (block.ffwd is not None) == s.get("ffwd", True)
    assert block.residual == s.get("residual", True)
    for norm in (block.ln1, block.ln2, model.ln_f):
        assert isinstance(norm, nn.LayerNorm) == s.get("layer_norm", True)


def test_the_rungs_add_one_piece_each():
    g = {r.number: r.config(V) for r in ladder.RUNGS[1:]}
    assert (g[2].n_head, g[2].n_layer, g[2].attn_proj) == (1, 1, False)
    assert (g[3].n_head, g[3].head_size * 4, g[3].attn_proj) == (4, g[3].n_embd, True)
    assert not g[3].ffwd and g[4].ffwd
    assert g[5].n_layer > 1 and not g[5].residual and g[6].residual and not g[6].layer_norm and g[7].layer_norm
    assert g[8] == ladder.RUNGS[7].config(V) and g[8].dropout > 0 and g[8].n_embd == 384
    assert ladder.RUNGS[0].config(V).model_type == "bigram"
    assert all(r.diff.strip() for r in ladder.RUNGS) and ladder.RUNGS[-1].gpu


def test_a_config_saved_before_the_switches_is_the_full_gpt():
    old = {"model_type": "gpt", "vocab_size": 88, "block_size": 64, "n_layer": 4, "n_head": 4, "n_embd": 128,
           "dropout": 0.0}
    cfg = ModelConfig.from_dict(old)
    assert cfg.residual and cfg.layer_norm and cfg.ffwd and cfg.attn_proj
    assert cfg.n_params() == GPT(cfg).num_params() == 822616  # the shipped barack-obama-gpt-tiny's meta.json


@pytest.mark.parametrize("number", [2, 3, 5])
def test_kv_cache_and_inspect_without_residuals_or_layernorm(number):
    torch.manual_seed(0)
    cfg = ladder.BY_NUMBER[number].config(V)
    model = GPT(cfg).eval()
    idx = torch.randint(0, V, (2, cfg.block_size))  # the rungs' context: the lecture's 8
    with torch.no_grad():
        full, _ = model(idx)
    decode, cache = Decoder(model, "float32"), KVCache()
    steps = torch.stack([decode(idx[:, t:t + 1], cache) for t in range(idx.size(1))], dim=1)
    torch.testing.assert_close(steps, full, rtol=1e-4, atol=1e-5)
    seen = model.inspect(idx)
    T = cfg.block_size
    assert seen.weights.shape == (2, cfg.n_layer, cfg.n_head, T, T)
    torch.testing.assert_close(seen.logits, full, rtol=1e-4, atol=1e-5)
    assert torch.allclose(seen.weights.sum(-1), torch.ones(()))
    assert (seen.weights.triu(1) == 0).all()


def test_parse_rungs():
    assert ladder.parse_rungs("1-7") == list(range(1, 8))
    assert ladder.parse_rungs("2,4, 6") == [2, 4, 6]
    for bad in ("0-3", "9", "a", "5-2"):
        with pytest.raises(ladder.ConfigError):
            ladder.parse_rungs(bad)


def _write_speaker(data: Path, name: str, words: list[str], n: int = 6000) -> None:
    rng = random.Random(0)
    data.mkdir(parents=True, exist_ok=True)
    (data / f"{name}.txt").write_text(" ".join(rng.choice(words) for _ in range(n)), encoding="utf-8")


def test_a_saved_rung_loads_as_itself(tmp_path):
    data = tmp_path / "data"
    _write_speaker(data, "Pairs", ["xay", "zaw"])
    r = ladder.train_rung("Pairs", ladder.BY_NUMBER[5], tmp_path / "runs", max_iters=3, data_dir=data)
    assert r.status == "finished" and r.params == r.params and r.val_loss is not None
    loaded = ck.load_model(r.run, root=tmp_path / "runs")
    cfg = loaded.model.config
    assert (cfg.residual, cfg.layer_norm, cfg.ffwd, cfg.n_layer) == (False, False, True, ladder.DEEP)
    assert loaded.model.num_params() == r.params == loaded.record.n_params
    assert ladder.result("Pairs", ladder.BY_NUMBER[4], tmp_path / "runs").status == "missing"


def test_cli_prints_one_line_per_rung_and_refuses_bad_rungs(tmp_path):
    data = tmp_path / "data"
    _write_speaker(data, "Pairs", ["xay", "zaw"], 2000)
    cmd = [sys.executable, "-m", "core", "ladder", "--speaker", "Pairs", "--out", str(tmp_path / "runs"),
           "--data-dir", str(data)]
    out = subprocess.run([*cmd, "--rungs", "1-2", "--max-iters", "2", "--json"], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert [(r["rung"], r["name"]) for r in rows] == [(1, "bigram"), (2, "one-head")]
    assert all(r["params"] > 0 and r["val_loss"] > 0 and r["seconds"] >= 0 for r in rows)
    bad = subprocess.run([*cmd, "--rungs", "0-9"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "error:" in bad.stderr and "Traceback" not in bad.stderr


def _train_rung(d, rung: ladder.Rung, seed: int, iters: int) -> float:
    """The rung's model (its switches) on a toy text, trained the way that converges with room to
    spare in fp32 and bf16 alike (measured on Zen 4, 5 seeds each: the lecture's context of 8 and a
    learning rate of 3e-3; the rungs' own 32 characters of context at 1e-2 left 2 of 5 seeds at the
    bigram's floor in either dtype, which is how the test failed on an Intel AMX machine)."""
    model_cfg, _ = preset(rung.preset, d.tokenizer.vocab_size, **{**rung.settings(), "block_size": 8})
    cfg = TrainConfig(batch_size=32, max_iters=iters, learning_rate=3e-3, min_lr=3e-4, warmup_iters=20,
                      eval_interval=iters, eval_iters=20, seed=seed, device="cpu")  # dtype auto: $PODIUM_DTYPE
    return runs.train(d, model_cfg, cfg).best_val_loss


def test_heads_beat_the_bigram_where_the_past_decides(tmp_path):
    """Words "xay" and "zaw": after "a" comes "y" or "w", decided by the letter two back. The
    bigram cannot see it (the count-based bigram's loss on the val text, ~2 ln 2 / 4 = 0.35 nats a
    character, is its floor); several heads can (ln 2 / 4 = 0.17 is the floor: one head reads the
    current letter, another the one two back). Three seeds, the median judged (measured: 0.194 to
    0.198 over 5 seeds in fp32 and in bf16, against 0.347)."""
    data = tmp_path / "data"
    _write_speaker(data, "Pairs", ["xay", "zaw"], 8000)
    d = prepare(["Pairs"], data_dir=data)
    bigram = count_bigram_loss(d.train, d.val, d.tokenizer.vocab_size)
    heads = sorted(_train_rung(d, ladder.BY_NUMBER[3], seed, 1000) for seed in (1, 2, 3))
    assert bigram > 0.33
    assert heads[1] < bigram - 0.08, (bigram, heads)


def test_residuals_and_layernorm_make_the_deep_stack_trainable(tmp_path):
    """Three blocks without residuals or LayerNorm (rung 5) train badly in 300 steps; the same stack
    with both (rung 7) gets near the floor. With the rungs' own initial weights (PyTorch's defaults,
    as the lecture's) the bare stack no longer collapses, it only lags: measured over 3 seeds, rung 5
    0.68 to 1.10 in bf16 and 0.74 to 1.13 in fp32, rung 7 0.38 to 0.39 in both; the median is judged."""
    data = tmp_path / "data"
    _write_speaker(data, "Pairs", ["xay", "zaw", "qbq", "mom"], 8000)
    d = prepare(["Pairs"], data_dir=data)
    bare, full = ([_train_rung(d, ladder.BY_NUMBER[n], seed, 300) for seed in (1, 2, 3)] for n in (5, 7))
    bare, full = sorted(bare)[1], sorted(full)[1]
    assert full < 0.5 and full < bare - 0.2, (bare, full)


def test_the_ladder_keeps_every_run_it_finds(tmp_path):
    """Issue 20, 3: a finished rung is kept (the same budget again trains nothing), another budget
    trains a run of its own beside it, only --replace (a request that names the rungs) trains it
    again in place, and a folder whose meta.json does not parse is reported and left whole."""
    data, root = tmp_path / "data", tmp_path / "runs"
    _write_speaker(data, "Pairs", ["xay", "zaw"], 2000)
    rung = ladder.BY_NUMBER[1]
    first = ladder.train_rung("Pairs", rung, root, max_iters=5, data_dir=data)
    assert first.status == "finished" and first.run.endswith("-5-steps") and first.note == ""
    weights = root / first.run / "model.pt"
    stamp = weights.stat().st_mtime_ns
    again = ladder.train_rung("Pairs", rung, root, max_iters=5, data_dir=data)
    assert again.run == first.run and again.note.startswith("kept") and weights.stat().st_mtime_ns == stamp
    other = ladder.train_rung("Pairs", rung, root, max_iters=7, data_dir=data)
    assert other.run != first.run and other.step == 7 and weights.stat().st_mtime_ns == stamp
    assert ladder.result("Pairs", rung, root, max_iters=5).step == 5
    replaced = ladder.train_rung("Pairs", rung, root, max_iters=5, replace=True, data_dir=data)
    assert replaced.status == "finished" and weights.stat().st_mtime_ns != stamp
    broken = root / ladder.run_name("Pairs", rung, 9)
    broken.mkdir()
    (broken / "meta.json").write_text("{not json", encoding="utf-8")
    (broken / "model.pt").write_bytes(b"weights someone cares about")
    seen = ladder.train_rung("Pairs", rung, root, max_iters=9, data_dir=data)
    assert seen.status.startswith("unreadable") and (broken / "model.pt").read_bytes() == b"weights someone cares about"
    cmd = [sys.executable, "-m", "core", "ladder", "--speaker", "Pairs", "--out", str(root), "--data-dir", str(data),
           "--rungs", "1", "--max-iters"]
    out = subprocess.run([*cmd, "9"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "left as they are, unreadable" in out.stderr and "Traceback" not in out.stderr
    assert (broken / "meta.json").read_text(encoding="utf-8") == "{not json"
    out = subprocess.run([*cmd, "5"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "kept" in out.stdout, out.stdout + out.stderr


def test_parse_rungs_refuses_half_ranges():
    for bad in ("1-", "-3", "1-2-3", "1,,2", ""):
        with pytest.raises(ladder.ConfigError, match="look like"):
            ladder.parse_rungs(bad)


def test_the_ladder_trains_in_the_background_through_the_one_start_path(tmp_path, monkeypatch):
    """ladder.start queues every rung as a run of its own, locked from the start and handed to one
    process that trains them one after another (it counts as one trainer); what was trained before
    is kept, and a second start while they train is refused."""
    from helpers import wait_until

    from core.runs import record as rec

    data, root = tmp_path / "data", tmp_path / "runs"
    _write_speaker(data, "Pairs", ["xay", "zaw"], 2000)
    monkeypatch.setenv("PODIUM_DATA", str(data))
    kept = ladder.train_rung("Pairs", ladder.BY_NUMBER[1], root, max_iters=20, data_dir=data)
    queued = ladder.start(["Pairs"], root, "1-3", max_iters=20)
    assert [r.name for r in queued] == [ladder.run_name("Pairs", ladder.BY_NUMBER[n], 20) for n in (2, 3)]
    assert all(r.active and rec.trainer_alive(r.path) for r in queued)  # locked from the moment they exist
    assert len({r.pid for r in queued}) == 1  # one process for the chain
    with pytest.raises(ladder.ConfigError, match="already training"):
        ladder.start(["Pairs"], root, "2", max_iters=20)
    assert wait_until(lambda: all(rec.status(r.path).status == "finished" for r in queued), timeout=120), \
        [rec.status(r.path) for r in queued]
    assert ladder.result("Pairs", ladder.BY_NUMBER[1], root, 20).run == kept.run
    assert rec.RunRecord.load(queued[0].path).role == "rung"
    with pytest.raises(ladder.ConfigError, match="trained already"):
        ladder.start(["Pairs"], root, "1-3", max_iters=20)
