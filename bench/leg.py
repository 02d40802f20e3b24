"""One Podium leg of a benchmark: train with Podium's trainer and sample with its sampler, on the
same text, config, seed, thread count and number of steps as the reference, and print one JSON
object with the reference's fields (see ../shared/bench/reference.py).

    python -m bench.leg --text FILE --batch-size 32 --block-size 64 --n-embd 128 --n-head 4 \\
        --n-layer 4 --iters 200

Like the reference: a character vocabulary from the text alone, the first 90% to train, AdamW at
a constant learning rate (betas 0.9, 0.999; weight decay 0.01; no clipping), warm-up steps left
out of the timing, then train and val loss over --eval-iters batches each, then --gen-tokens
tokens generated from a one-token context."""
from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from pathlib import Path

import torch

from core import settings
from core.config import ModelConfig, TrainConfig
from core.device import pick_device, resolve_dtype
from core.model.sampling import generate
from core.runs.start import train
from core.text.dataset import prepare
from core.train.loop import StepEvent


def flops_per_token(cfg: ModelConfig, n_params: int) -> float:
    """Training FLOPs per token, forward and backward (the PaLM / nanoGPT estimate)."""
    return 6 * n_params + 12 * cfg.n_layer * cfg.n_embd * cfg.block_size


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.leg", description=__doc__.splitlines()[0])
    p.add_argument("--text", required=True)
    settings.add_flags(p, ["batch_size", "block_size", "n_embd", "n_head", "n_layer", "dropout", "eval_iters", "seed",
                           "learning_rate", "dtype", "compile"],
                       defaults={"batch_size": 32, "block_size": 64, "n_embd": 128, "n_head": 4, "n_layer": 4,
                                 "dropout": 0.0, "eval_iters": 50, "seed": 1337, "learning_rate": 1e-3,
                                 "dtype": "auto", "compile": False})
    for flag, default in (("--iters", 200), ("--warmup-iters", 5), ("--gen-tokens", 200), ("--threads", 0)):
        p.add_argument(flag, type=int, default=default)
    p.add_argument("--device", default="cpu")
    p.add_argument("--window", default="shift", choices=["shift", "slide"], help="sampling window past the block")
    return p.parse_args(argv)


def main(argv=None) -> None:
    a = parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    with tempfile.TemporaryDirectory() as tmp:  # the text as a speaker of its own: vocabulary and split
        Path(tmp, "bench.txt").write_text(Path(a.text).read_text(encoding="utf-8"), encoding="utf-8")
        data = prepare(["bench"], clean=False, vocab_speakers=(), data_dir=Path(tmp))
    model_cfg = ModelConfig("gpt", data.tokenizer.vocab_size, a.block_size, a.n_layer, a.n_head, a.n_embd, a.dropout)
    steps = a.warmup_iters + a.iters
    cfg = TrainConfig(batch_size=a.batch_size, max_iters=steps, learning_rate=a.learning_rate, min_lr=a.learning_rate,
                      warmup_iters=0,
                      weight_decay=0.01, beta2=0.999, grad_clip=0.0, eval_interval=steps, eval_iters=a.eval_iters,
                      log_interval=max(1, a.warmup_iters), seed=a.seed, device=a.device, dtype=a.dtype,
                      compile=a.compile)
    events: list[StepEvent] = []
    with tempfile.TemporaryDirectory() as runs_dir:  # the one start path, as every run (its files are dropped)
        result = train(data, model_cfg, cfg, Path(runs_dir) / "bench",
                       callbacks=[lambda e: isinstance(e, StepEvent) and events.append(e)])
    timed = [e for e in events if e.step > a.warmup_iters]  # windows of log_interval steps, evals excluded
    step_tokens = a.batch_size * a.block_size
    train_s = sum(step_tokens * (e.step - p.step) / e.tokens_per_s for p, e in zip(events, events[1:])
                  if e in timed)
    device = pick_device(a.device)
    model = result.model.eval()
    out = {"impl": "podium", "params": model.num_params(), "vocab_size": data.tokenizer.vocab_size,
           "iters": a.iters, "train_tokens_per_s": a.iters * step_tokens / train_s,
           "train_ms_per_iter": 1000 * train_s / a.iters, "train_loss": result.train_loss,
           "val_loss": result.val_loss, "uniform_loss": math.log(data.tokenizer.vocab_size),
           "torch_threads": torch.get_num_threads(), "device": str(device),
           "dtype": str(resolve_dtype(device, a.dtype)).removeprefix("torch."),
           "flops_per_token": flops_per_token(model_cfg, model.num_params())}
    ctx = torch.zeros((1, 1), dtype=torch.long, device=device)
    g = torch.Generator().manual_seed(a.seed)
    for window in ("shift", "slide"):
        t0 = time.perf_counter()
        generate(model, ctx, a.gen_tokens, generator=g, window=window)
        out["generate_tokens_per_s" + ("" if window == "shift" else "_slide")] = a.gen_tokens / (
            time.perf_counter() - t0)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
