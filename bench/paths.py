"""Does each fast path still pay? `python -m bench.paths` times every fast path of the GPT against
the plain path it replaces, interleaved (A B A B), and prints medians and bests:

* training with dropout on the CPU: one attention layer's forward + backward at the lecture config
  (B=16, T=256, 6 heads of 64, bf16 inputs as under autocast), core.model.dropout.attention (the default
  kernel there) against F.scaled_dot_product_attention with dropout_p (core.model.gpt.sdpa);
* sampling: tokens/s of core.model.sampling.generate (500 new tokens from a one-token context, batch 1,
  the "shift" window by default, as bench/leg.py) with the KV-cache decoder against no cache (a full forward
  over the window at every step), and the decoder in bf16 (packed for oneDNN) against fp32.

The model weights are random (speed does not depend on them); the vocabulary is 88 characters.
On a machine other jobs share, `--clock cpu` times the process's CPU time instead of the wall
clock (with --threads 1, the work done, without the waits for a core)."""
from __future__ import annotations

import argparse
import platform
import subprocess
import time
from functools import partial
from statistics import median

import torch

from core.config import ModelConfig
from core.model.dropout import attention as dropout_attention
from core.model.gpt import sdpa
from core.model.models import build_model
from core.model.sampling import generate

CONFIGS = {"small": {"block_size": 64, "n_layer": 4, "n_head": 4, "n_embd": 128},
           "lecture": {"block_size": 256, "n_layer": 6, "n_head": 6, "n_embd": 384}}
VOCAB = 88


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        return next(line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Model name"))
    except (OSError, StopIteration, subprocess.SubprocessError):
        return platform.processor() or "unknown CPU"


def attention_layer_ms(kernel, p: float = 0.2, clock=time.perf_counter) -> float:
    """One forward + backward of a lecture-config attention layer, in ms."""
    B, nh, T, hs = 16, 6, 256, 64
    q, k, v = (torch.randn(B, nh, T, hs, dtype=torch.bfloat16, requires_grad=True) for _ in range(3))
    t = clock()
    kernel(q, k, v, p).float().sum().backward()
    return (clock() - t) * 1e3


def sampling_tokens_per_s(model, n: int, clock=time.perf_counter, **kw) -> float:
    t = clock()
    generate(model, torch.zeros(1, 1, dtype=torch.long), n, generator=torch.Generator().manual_seed(0), **kw)
    return n / (clock() - t)


def interleaved(legs: dict, rounds: int) -> dict:
    """{name: fn() -> figure}: each fn once per round, in turn; {name: (median, all figures)}."""
    out = {name: [] for name in legs}
    for _ in range(rounds):
        for name, fn in legs.items():
            out[name].append(fn())
    return {name: (median(v), v) for name, v in out.items()}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.paths", description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--tokens", type=int, default=500)
    p.add_argument("--configs", default="small,lecture")
    p.add_argument("--no-attention", action="store_true", help="skip the dropout attention legs")
    p.add_argument("--window", default="shift", choices=["shift", "slide"], help="sampling window past the block")
    p.add_argument("--clock", choices=["wall", "cpu"], default="wall", help="wall clock or the process's CPU time")
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    clock = time.perf_counter if a.clock == "wall" else time.process_time
    print(f"{cpu_model()}, {a.threads} torch threads, torch {torch.__version__}, {a.rounds} rounds, {a.clock} clock")
    if not a.no_attention:
        res = interleaved({
            "core.model.dropout.attention": lambda: attention_layer_ms(
                lambda q, k, v, p: dropout_attention(q, k, v, p, True), clock=clock),
            "SDPA with dropout_p": lambda: attention_layer_ms(
                lambda q, k, v, p: sdpa(q, k, v, causal=True, dropout_p=p), clock=clock),
        }, a.rounds)
        print("\nlecture-config attention layer with dropout 0.2, forward + backward (ms; lower is better)")
        for name, (med, v) in res.items():
            print(f"  {name:28} median {med:8.1f}  best {min(v):8.1f}")
        fast, plain = res["core.model.dropout.attention"][0], res["SDPA with dropout_p"][0]
        print(f"  -> the fast path is {plain / fast:.2f}x the plain one")
    for name in a.configs.split(","):
        torch.manual_seed(0)
        model = build_model(ModelConfig("gpt", VOCAB, **CONFIGS[name])).eval()
        run = partial(sampling_tokens_per_s, model, a.tokens, clock, window=a.window)
        legs = {"KV cache, float32": partial(run, dtype="float32"),
                "KV cache, bfloat16 (packed)": partial(run, dtype="bfloat16"),
                "no cache": partial(run, use_cache=False)}
        res = interleaved(legs, a.rounds)
        print(f"\nsampling, {name} config, {a.tokens} tokens, {a.window} window (tokens/s; higher is better)")
        for leg, (med, v) in res.items():
            print(f"  {leg:28} median {med:8.0f}  best {max(v):8.0f}")
        best_cache = max(res["KV cache, float32"][0], res["KV cache, bfloat16 (packed)"][0])
        print(f"  -> the KV cache is {best_cache / res['no cache'][0]:.2f}x no cache; bf16 is "
              f"{res['KV cache, bfloat16 (packed)'][0] / res['KV cache, float32'][0]:.2f}x fp32")


if __name__ == "__main__":
    main()
