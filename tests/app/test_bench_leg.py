"""The benchmark's Podium leg (bench/leg.py) runs as `python -m bench` runs it: a few steps on a
speaker's text, one JSON line with the reference's fields, and a loss that went down. (The speed
figures themselves are the benchmark's, never asserted here.)"""
from __future__ import annotations

import json
import math
import subprocess
import sys

from helpers import OBAMA, ROOT

from core.text.corpus import load_speaker


def test_the_podium_leg_trains_samples_and_prints_the_reference_fields(tmp_path):
    text = tmp_path / "speaker.txt"
    text.write_text(load_speaker(OBAMA).text[:200_000], encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "bench.leg", "--text", str(text), "--iters", "20", "--warmup-iters",
                           "2", "--eval-iters", "2", "--gen-tokens", "20", "--n-layer", "1", "--n-embd", "32",
                           "--n-head", "2", "--block-size", "16", "--threads", "1"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    for key in ("train_tokens_per_s", "train_ms_per_iter", "train_loss", "val_loss", "generate_tokens_per_s",
                "generate_tokens_per_s_slide", "params", "flops_per_token", "dtype"):
        assert key in out, key
    assert out["train_tokens_per_s"] > 0 and out["generate_tokens_per_s"] > 0
    assert out["val_loss"] < out["uniform_loss"] and math.isfinite(out["train_loss"])
