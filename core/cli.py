"""`python -m core ...`: speakers, train, sample, eval and runs over the same functions the app
uses. Errors print one clear line and exit with status 2; --json prints machine-readable output."""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

import torch

from core import checkpoints as ck
from core import distributed
from core.config import PRESETS, ConfigError, preset
from core.corpus import SpeakerError, data_root, list_speakers, load_speaker
from core.dataset import prepare
from core.device import describe, pick_device, resolve_dtype
from core.evaluate import evaluate_run
from core.sampling import WINDOWS, sample_text
from core.tokenizer import UnknownCharError
from core.train import EndEvent, EvalEvent, SaveFailed, StepEvent, TrainingDiverged, resume, train

USER_ERRORS = (ConfigError, SpeakerError, ck.CheckpointError, UnknownCharError, TrainingDiverged, SaveFailed,
               ValueError)


def _out(args, obj, text: str) -> None:
    print(json.dumps(obj, ensure_ascii=False) if args.json else text, flush=True)


def cmd_speakers(args) -> None:
    names = list_speakers(Path(args.data_dir))
    if not args.stats:
        _out(args, {"speakers": names}, "\n".join(names))
        return
    rows = [load_speaker(n, not args.no_clean, Path(args.data_dir)).stats() for n in names]
    lines = [f"{'speaker':32} {'speeches':>8} {'years':>10} {'chars':>9} {'words':>8} {'vocab':>5}"]
    lines += [f"{r['speaker'][:32]:32} {r['speeches']:>8} {r['years']:>10} {r['characters']:>9} "
              f"{r['words']:>8} {r['vocabulary']:>5}" for r in rows]
    _out(args, {"speakers": rows}, "\n".join(lines))


class ProgressBar:
    """A one-line progress bar on stderr (one line per eval when stderr is not a terminal)."""

    def __init__(self, total: int, start: int = 0):
        self.total, self.start, self.t0 = total, start, time.perf_counter()
        self.tty = sys.stderr.isatty()
        self.val = self.train_loss = None

    def __call__(self, e) -> None:
        if isinstance(e, EvalEvent):
            self.val, self.train_loss = e.val_loss, e.train_loss
            if not self.tty:
                print(f"step {e.step:>6}/{self.total}  train {e.train_loss:.4f}  val {e.val_loss:.4f}"
                      f"{'  (best)' if e.best else ''}", file=sys.stderr, flush=True)
        elif isinstance(e, StepEvent):
            self.train_loss = e.train_loss
            if self.tty:
                frac = e.step / self.total
                done = max(1, e.step - self.start)
                eta = (time.perf_counter() - self.t0) / done * (self.total - e.step)
                bar = "#" * int(30 * frac) + "." * (30 - int(30 * frac))
                val = f" val {self.val:.3f}" if self.val is not None else ""
                print(f"\r[{bar}] {e.step}/{self.total} loss {e.train_loss:.3f}{val} "
                      f"{e.tokens_per_s:,.0f} tok/s ETA {eta:4.0f}s ", end="", file=sys.stderr, flush=True)
        elif isinstance(e, EndEvent) and self.tty:
            print(file=sys.stderr)


def lower_priority() -> None:
    """Run this process (and the threads it starts) only when the CPU is otherwise idle."""
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):  # not Linux
        os.nice(19)


def cmd_train(args) -> None:
    """Train (or resume) a run; under torchrun, this process's share of a data-parallel job."""
    try:
        _train(args)
        distributed.barrier()  # leave together: gloo aborts a process whose peer is already gone
    finally:
        distributed.teardown()


def _train(args) -> None:
    if args.background:
        lower_priority()
    main_process = distributed.context().is_main  # under torchrun only rank 0 speaks
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):  # stop cleanly: finish the step, save latest.pt
        signal.signal(sig, lambda *_: stop.set())
    root = Path(args.out)
    run_name = args.resume or args.name

    quiet = args.json or not main_process

    def stop_file(event) -> None:  # a stop asked for before this process could take signals
        if run_name and (root / run_name / ck.STOP).exists():
            stop.set()
    if args.resume:
        run_dir = ck.resolve_run(args.resume, root)
        meta = ck.read_json(run_dir / ck.META)
        total = args.max_iters or meta["train"]["max_iters"]
        bar = ProgressBar(total, meta.get("step", 0))
        result = resume(run_dir, max_iters=args.max_iters, callbacks=[stop_file] + ([] if quiet else [bar]),
                        stop=stop, device=args.device)
    else:
        speakers = args.speaker or ["Barack Obama"]
        preset_name = args.preset or ("bigram" if args.model == "bigram" else "tiny")
        if PRESETS[preset_name].model.model_type != args.model:
            raise ConfigError(f"preset {preset_name!r} is a {PRESETS[preset_name].model.model_type} "
                              f"preset; with --model {args.model} use "
                              f"{'--preset bigram' if args.model == 'bigram' else '--preset tiny or lecture'}")
        data = prepare(speakers, clean=not args.no_clean, data_dir=Path(args.data_dir))
        model_cfg, train_cfg = preset(
            preset_name, data.tokenizer.vocab_size, max_iters=args.max_iters, learning_rate=args.lr,
            batch_size=args.batch_size, block_size=args.block_size, n_layer=args.n_layer,
            n_head=args.n_head, n_embd=args.n_embd, dropout=args.dropout,
            eval_interval=args.eval_interval, eval_iters=args.eval_iters, seed=args.seed,
            device=args.device, dtype=args.dtype, compile=args.compile or None)
        name = ck.validate_run_name(args.name or ck.slug(f"{'-'.join(speakers)}-{args.model}-{preset_name}"))
        device = pick_device(train_cfg.device)
        info = describe(device, resolve_dtype(device, train_cfg.dtype))
        if not quiet:
            world = distributed.context().world_size
            print(f"training {name}: {model_cfg.n_params():,} parameters on {info.name} "
                  + (f"x {world} processes (global batch {world * train_cfg.batch_size}) " if world > 1 else "")
                  + f"({info.threads} threads, {info.dtype}), vocab {data.tokenizer.vocab_size}, "
                  f"{len(data.train):,} train / {len(data.val):,} val chars", file=sys.stderr)
        bar = ProgressBar(train_cfg.max_iters)
        result = train(data, model_cfg, train_cfg, root / name, callbacks=[stop_file] + ([] if quiet else [bar]),
                       stop=stop, name=name)
    if not main_process:
        return
    (result.run_dir / ck.STOP).unlink(missing_ok=True)  # the request, if any, has been served
    summary = {"run": result.run_dir.name, "path": str(result.run_dir), "status": result.status,
               "step": result.step, "best_val_loss": result.best_val_loss, "best_step": result.best_step,
               "train_loss": result.train_loss, "val_loss": result.val_loss,
               "tokens_per_s": result.tokens_per_s, "elapsed_s": round(result.elapsed, 2)}
    _out(args, summary,
         f"{summary['run']}: {result.status} at step {result.step}; best val {result.best_val_loss:.4f} "
         f"(step {result.best_step}); {result.tokens_per_s or 0:,.0f} tok/s; {result.elapsed:.1f}s\n"
         f"saved in {result.run_dir}")


def cmd_sample(args) -> None:
    loaded = ck.load_model(args.checkpoint, which=args.which, device=pick_device(args.device),
                           root=Path(args.out))
    prompt = args.prompt.encode("utf-8").decode("unicode_escape") if args.escapes else args.prompt
    text = sample_text(loaded.model, loaded.tokenizer, prompt, args.max_new_tokens, args.temperature,
                       args.top_k, args.seed, use_cache=not args.no_cache, window=args.window,
                       dtype=args.dtype)
    _out(args, {"run": loaded.path.parent.name, "prompt": prompt, "text": text, "seed": args.seed,
                "temperature": args.temperature, "top_k": args.top_k}, prompt + text)


def cmd_eval(args) -> None:
    res = evaluate_run(args.checkpoint, args.speaker, root=Path(args.out), data_dir=Path(args.data_dir),
                       device=str(pick_device(args.device)))
    _out(args, res, f"{res['run']} on {res['speaker']} val: {res['val_loss']:.4f} nats/char "
                    f"({res['bits_per_char']:.3f} bits/char, {res['val_chars']:,} chars)")


def cmd_runs(args) -> None:
    runs = ck.list_runs(Path(args.out))
    rows = [{"run": r.name, "status": r.status, "speakers": r.meta.get("speakers"),
             "model": r.meta.get("model", {}).get("model_type"), "step": r.meta.get("step"),
             "best_val_loss": r.meta.get("best_val_loss"), "updated": r.meta.get("updated")} for r in runs]
    _out(args, {"runs": rows}, "\n".join(
        f"{r['run']:40} {r['status']:9} {r['model']:6} step {r['step'] or 0:>6} "
        f"best val {r['best_val_loss'] if r['best_val_loss'] is not None else float('nan'):.4f}"
        for r in rows) or "no runs yet")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m core", description="Podium's engine from the command line.")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print machine-readable JSON")
    common.add_argument("--out", default=str(ck.default_root()),
                        help="folder of runs (default: checkpoints/, or $PODIUM_CHECKPOINTS)")
    common.add_argument("--data-dir", default=str(data_root()),
                        help="folder of .txt speakers (default: data/, or $PODIUM_DATA)")
    common.add_argument("--device", default="auto", help="auto (cuda, mps, cpu), cpu, cuda, mps")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("speakers", parents=[common], help="list the speakers")
    s.add_argument("--stats", action="store_true", help="speeches, years, characters, words, vocabulary")
    s.add_argument("--no-clean", action="store_true", help="keep [Applause]-style stage notes")
    s.set_defaults(func=cmd_speakers)

    t = sub.add_parser("train", parents=[common], help="train a bigram or GPT")
    t.add_argument("--speaker", action="append", help="speaker to train on (repeat for several)")
    t.add_argument("--model", choices=["bigram", "gpt"], default="gpt")
    t.add_argument("--preset", choices=sorted(PRESETS), help="default: bigram for --model bigram, else tiny")
    t.add_argument("--name", help="run name (default: from speakers, model and preset)")
    t.add_argument("--resume", metavar="RUN", help="continue this run from its latest checkpoint")
    t.add_argument("--no-clean", action="store_true", help="keep [Applause]-style stage notes")
    for flag, typ in (("--max-iters", int), ("--lr", float), ("--batch-size", int), ("--block-size", int),
                      ("--n-layer", int), ("--n-head", int), ("--n-embd", int), ("--dropout", float),
                      ("--eval-interval", int), ("--eval-iters", int), ("--seed", int)):
        t.add_argument(flag, type=typ)
    t.add_argument("--dtype", choices=["auto", "float32", "bfloat16"])
    t.add_argument("--compile", action="store_true", help="torch.compile the model")
    t.add_argument("--background", action="store_true",
                   help="train only on CPU time nothing else wants (Linux SCHED_IDLE; elsewhere nice 19): "
                        "how the app starts its runs, so its pages stay live")
    t.set_defaults(func=cmd_train)

    sa = sub.add_parser("sample", parents=[common], help="generate text from a run")
    sa.add_argument("--checkpoint", required=True, help="run name, run folder or .pt file")
    sa.add_argument("--which", choices=["best", "latest"], default="best")
    sa.add_argument("--prompt", default="")
    sa.add_argument("--escapes", action="store_true", help=r"interpret \n etc. in --prompt")
    sa.add_argument("--max-new-tokens", type=int, default=500)
    sa.add_argument("--temperature", type=float, default=1.0)
    sa.add_argument("--top-k", type=int)
    sa.add_argument("--seed", type=int, default=1337)
    sa.add_argument("--no-cache", action="store_true", help="re-run the context every step (slow)")
    sa.add_argument("--window", choices=WINDOWS, default="slide",
                    help="past block_size: drop the older half of the context at once (shift), or keep "
                         "exactly the last block_size characters at every step, as the lecture does (slide)")
    sa.add_argument("--dtype", choices=["auto", "float32", "bfloat16"], default="auto",
                    help="weights to sample with (auto: bf16 for big models where the device has it)")
    sa.set_defaults(func=cmd_sample)

    e = sub.add_parser("eval", parents=[common], help="a run's loss on a speaker's val split")
    e.add_argument("--checkpoint", required=True)
    e.add_argument("--speaker", required=True)
    e.set_defaults(func=cmd_eval)

    r = sub.add_parser("runs", parents=[common], help="list the saved runs")
    r.set_defaults(func=cmd_runs)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "max_new_tokens", 1) < 0:
        print("error: --max-new-tokens must be 0 or more", file=sys.stderr)
        return 2
    try:
        args.func(args)
    except USER_ERRORS as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except torch.cuda.OutOfMemoryError as e:
        print(f"error: out of GPU memory ({e}); try a smaller --batch-size or --block-size", file=sys.stderr)
        return 2
    return 0
