"""Where a training step's time goes: `python -m bench.profile` runs the real step (forward under
autocast, backward, gradient clipping, fused AdamW, as core.train.loop does) under torch.profiler
and sorts every op's self CPU time into what it is: matmuls, attention, softmax, LayerNorm, the
activation, dropout, the optimizer, the loss, and the rest. Prints a table per config and
writes JSON with --out.

Random weights and tokens (speed does not depend on them); the vocabulary is 88 characters."""
from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict

import torch
from torch.profiler import ProfilerActivity, profile

from bench.machine import cpu_kind
from bench.paths import CONFIGS, VOCAB, cpu_model
from core.config import ModelConfig, TrainConfig
from core.device import autocast, enable_fast_math, resolve_dtype
from core.model.models import build_model
from core.train.loop import make_optimizer

BATCH = {"small": 32, "lecture": 16}
# op name fragments -> category, first match wins (aten names as torch.profiler reports them)
CATEGORIES = [
    ("attention", ("scaled_dot_product", "_flash_attention", "attention")),
    ("matmul", ("addmm", "mm", "bmm", "matmul", "linear")),
    ("softmax", ("softmax",)),
    ("layernorm", ("layer_norm",)),
    ("activation", ("relu", "gelu", "threshold_backward", "clamp_min")),
    # core.model.dropout draws its keep mask as random integers compared with a threshold
    ("dropout", ("dropout", "bernoulli", "native_dropout", "random_", "randint", "ge")),
    ("loss", ("cross_entropy", "nll_loss", "log_softmax")),
    ("optimizer", ("adamw", "_fused_adam", "_foreach", "clip_grad", "norm", "zero_")),
    ("embedding", ("embedding",)),
    ("casts and copies", ("to", "copy_", "_to_copy", "clone", "contiguous")),
    ("elementwise", ("add", "mul", "div", "sub", "where", "masked_fill", "sum", "fill_")),
]


def category(name: str) -> str:
    op = name.removeprefix("aten::").lower()
    for cat, parts in CATEGORIES:
        if any(op == p or op.startswith(p + "_") or op.startswith("_" + p) or p in op.split("::")[-1].split("_")
               or (len(p) > 4 and p in op) for p in parts):
            return cat
    return "other"


def step_fn(name: str, dropout: float, dtype: str):
    cfg = ModelConfig(vocab_size=VOCAB, dropout=dropout, **CONFIGS[name])
    model = build_model(cfg).train()
    device = torch.device("cpu")
    train = TrainConfig(batch_size=BATCH[name], dtype=dtype)
    optimizer = make_optimizer(model, train, device)
    amp = resolve_dtype(device, dtype)
    g = torch.Generator().manual_seed(0)

    def step() -> None:
        x = torch.randint(0, VOCAB, (BATCH[name], cfg.block_size), generator=g)
        y = torch.randint(0, VOCAB, (BATCH[name], cfg.block_size), generator=g)
        with autocast(device, amp):
            _, loss = model(x, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return step, str(amp).removeprefix("torch.")


def profile_config(name: str, steps: int, dropout: float, dtype: str) -> dict:
    step, amp = step_fn(name, dropout, dtype)
    for _ in range(3):
        step()
    t = time.perf_counter()
    for _ in range(steps):
        step()
    wall = (time.perf_counter() - t) / steps * 1e3
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            step()
    ops, cats = [], defaultdict(float)
    for e in prof.key_averages():
        # ops called from inside other ops (addmm inside linear) have their own self time: summing
        # self times over all ops counts each microsecond once
        ms = e.self_cpu_time_total / 1e3 / steps
        if ms <= 0:
            continue
        cats[category(e.key)] += ms
        ops.append({"op": e.key, "ms": round(ms, 3), "calls": e.count // steps, "category": category(e.key)})
    total = sum(cats.values())
    ops.sort(key=lambda o: -o["ms"])
    return {"config": name, "batch": BATCH[name], "dropout": dropout, "dtype": amp, "step_ms": round(wall, 1),
            "profiled_ms": round(total, 1),
            "categories": {k: {"ms": round(v, 2), "share": round(v / total, 3)}
                           for k, v in sorted(cats.items(), key=lambda kv: -kv[1])},
            "top_ops": ops[:15]}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", nargs="+", default=["small", "lecture"], choices=list(CONFIGS))
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--dropout", type=float, default=0.2)
    ap.add_argument("--dtype", default="auto", help="auto (bf16 where the CPU multiplies it natively) or float32")
    ap.add_argument("--out", help="write the figures here as JSON")
    args = ap.parse_args(argv)
    enable_fast_math(torch.device("cpu"))
    report = {"cpu": cpu_model(), "cpu_kind": cpu_kind()[0], "threads": torch.get_num_threads(),
              "torch": torch.__version__,
              "configs": [profile_config(c, args.steps, args.dropout, args.dtype) for c in args.configs]}
    for r in report["configs"]:
        print(f"\n{r['config']} (batch {r['batch']}, dropout {r['dropout']}, {r['dtype']}): "
              f"{r['step_ms']} ms a step ({r['profiled_ms']} ms of op self time under the profiler)")
        for cat, v in r["categories"].items():
            print(f"  {cat:<18} {v['ms']:8.1f} ms  {v['share']:6.1%}")
        print("  top ops:")
        for o in r["top_ops"][:10]:
            print(f"    {o['op']:<40} {o['ms']:8.2f} ms  x{o['calls']:<4} {o['category']}")
    print(f"\n{report['cpu']} ({report['cpu_kind']}), {report['threads']} threads, torch {report['torch']}")
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
