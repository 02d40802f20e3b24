"""`python -m core ...`: speakers, train, sample, eval and runs over the same functions the app
uses. Errors print one clear line and exit with status 2; --json prints machine-readable output."""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path

import torch

from core import settings
from core.cli import heads as cli_heads
from core.cli import ladder as cli_ladder
from core.cli import speak as cli_speak
from core.config import PRESETS, ConfigError
from core.device import describe, pick_device, resolve_dtype
from core.errors import UserError
from core.limits import MAX_NEW_CHARS, MAX_PROMPT_CHARS, check_count, check_length
from core.model.sampling import WINDOWS, sample_text
from core.runs import checkpoints as ck
from core.runs import record as rec
from core.runs import start as runs
from core.runs.evaluate import evaluate_run
from core.text.corpus import DEFAULT_SPEAKERS, data_root, list_speakers, load_speaker, renamed_files
from core.text.tokenizer import unescape
from core.train import distributed
from core.train.loop import EndEvent, EvalEvent, StepEvent


def _out(args, obj, text: str) -> None:
    print(json.dumps(obj, ensure_ascii=False) if args.json else text, flush=True)


def cmd_speakers(args) -> None:
    names = list_speakers(Path(args.data_dir))
    for note in renamed_files(Path(args.data_dir)):  # a data/ file named like a president: never a replacement
        print(f"note: {note}", file=sys.stderr)
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
        if isinstance(e, EvalEvent) and e.kind == "eval":
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


BACKGROUND_NICE = 19


def lower_priority() -> None:
    """Yield the CPU to everything else (the app's pages first): the lowest priority, nice 19, which
    still gives runs that train side by side an even share. (Linux's SCHED_IDLE, tried before, gave a
    group of three on two cores 100/69/66% of the steps: its tiny scheduling weight hides the
    imbalance from the load balancer, so one run kept a core to itself; nice 19: 100/97/97%.)"""
    os.nice(BACKGROUND_NICE - os.nice(0))


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
    ctx = distributed.context()
    main_process = ctx.is_main  # under torchrun only rank 0 speaks
    stop = runs.StopFlag(None)
    for sig in (signal.SIGTERM, signal.SIGINT):  # stop cleanly: finish the step, save latest.pt
        signal.signal(sig, lambda *_: stop.set())
    root = Path(args.out)
    quiet = args.json or not main_process
    overrides = settings.overrides_from(args)
    held: dict = {}
    if args.run or args.resume:  # runs that exist: queued by the app (one, or a chain), or one to continue
        given = [settings.BY_NAME[k].flag for k in overrides if k != "max_iters"]
        given += ["--speaker"] * bool(args.speaker) + ["--init-from"] * bool(args.init_from)
        if given:
            raise ConfigError(f"{' '.join(given)} cannot change a run that exists (only --max-iters can): "
                              "start a new run instead")
        names = args.run or [args.resume]
        if len(names) > 1:  # a chain (the ladder's rungs): one after another; a run that fails is its result
            failed = []
            for name in names:
                try:
                    _train_one(args, rec.resolve_run(name, root), stop, quiet, main_process, None)
                except UserError as e:
                    failed.append(name)
                    print(f"error: {name}: {e}", file=sys.stderr, flush=True)
                if stop.is_set():
                    break
            if failed:
                raise UserError(f"{len(failed)} of {len(names)} runs did not finish: {', '.join(failed)}")
            return
        run_dir = rec.resolve_run(names[0], root)
    else:
        speakers = args.speaker or ["Barack Obama"]
        if args.init_from and not args.preset and args.model == "gpt":
            args.preset = "finetune"
        if args.device != "auto":
            overrides["device"] = args.device
        if getattr(args, "pretrain", False):
            request = runs.RunRequest.pretrain(args.exclude or DEFAULT_SPEAKERS, args.model, args.preset,
                                               not args.no_clean, **overrides)
        else:
            request = runs.RunRequest.make(speakers, args.model, args.preset, not args.no_clean, args.init_from,
                                           unknown=args.unknown, **overrides)
        device = distributed.device_for(ctx, pick_device(args.device))

        def create() -> str:
            record = runs.create(request, root, args.name, data_dir=Path(args.data_dir))
            held["lock"] = record.lock  # held until this process trains it
            if not args.name and record.name != request.default_name() and not quiet:
                print(f"{request.default_name()} exists: this run is named {record.name}", file=sys.stderr)
            return record.name
        run_dir = root / distributed.from_main(create, ctx, device)
    _train_one(args, run_dir, stop, quiet, main_process, held.get("lock"))


def _train_one(args, run_dir: Path, stop, quiet: bool, main_process: bool, lock) -> None:
    ctx = distributed.context()
    record = rec.RunRecord.load(run_dir)
    if not quiet:
        info = describe(pick_device(record.train.device), resolve_dtype(pick_device(record.train.device),
                                                                         record.train.dtype))
        world = ctx.world_size
        print(f"training {record.name}: {record.model.n_params():,} parameters on {info.name} "
              + (f"x {world} processes (global batch {world * record.train.batch_size}) " if world > 1 else "")
              + f"({info.threads} threads, {info.dtype}), vocab {record.model.vocab_size}", file=sys.stderr)
    bar = ProgressBar(args.max_iters or record.max_iters, record.step)
    result = runs.execute(run_dir, callbacks=[] if quiet else [bar], stop=stop, max_iters=args.max_iters,
                          device=None if args.device == "auto" else args.device, data_dir=Path(args.data_dir),
                          on_start=None if quiet else (lambda said: print(said, file=sys.stderr)),
                          lock=lock)
    if not main_process:
        return
    summary = {"run": run_dir.name, "path": str(run_dir), "status": result.status,
               "step": result.step, "best_val_loss": result.best_val_loss, "best_step": result.best_step,
               "train_loss": result.train_loss, "val_loss": result.val_loss,
               "tokens_per_s": result.tokens_per_s, "elapsed_s": round(result.elapsed, 2)}
    best = f"{result.best_val_loss:.4f}" if result.best_val_loss is not None else "none"
    _out(args, summary,
         f"{summary['run']}: {result.status} at step {result.step}; best val {best} "
         f"(step {result.best_step}); {result.tokens_per_s or 0:,.0f} tok/s; {result.elapsed:.1f}s\n"
         f"saved in {run_dir}")


def cmd_sample(args) -> None:
    loaded = ck.load_model(args.checkpoint, which=args.which, device=pick_device(args.device),
                           root=Path(args.out))
    prompt = check_length(unescape(args.prompt) if args.escapes else args.prompt, MAX_PROMPT_CHARS, "--prompt")
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
    found = rec.scan(Path(args.out))
    rows = [r.summary() for r in found.records]
    bad = [{"run": u.name, "status": u.status, "message": u.reason} for u in found.unreadable]
    lines = [f"{r['run']:40} {r['status']:11} {r['model']:6} step {r['step']:>6} "
             f"best val {r['best_val_loss'] if r['best_val_loss'] is not None else float('nan'):.4f}"
             + (f"  (from {r['init_from']})" if r["init_from"] else "") for r in rows]
    lines += [f"{u['run']:40} unreadable: {u['message']}" for u in bad]
    _out(args, {"runs": rows + bad}, "\n".join(lines) or "no runs yet")


def cmd_compact(args) -> None:
    run_dir = rec.resolve_run(args.checkpoint, Path(args.out))
    status = rec.status(run_dir)
    if status.status != "finished":
        raise UserError(f"{run_dir.name} is {status.status}: only a finished run's weights are compacted")
    before = (run_dir / rec.BEST).stat().st_size
    after = ck.compact(run_dir)
    _out(args, {"run": run_dir.name, "bytes_before": before, "bytes_after": after},
         f"{run_dir.name}: model.pt {before / 1e6:.1f} MB -> {after / 1e6:.1f} MB (bf16); latest.pt dropped")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m core", description="Podium's engine from the command line.")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print machine-readable JSON")
    common.add_argument("--out", default=str(rec.default_root()),
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
    t.add_argument("--name", help="run name (default: from speakers, model and preset; the next free one)")
    t.add_argument("--resume", metavar="RUN", help="continue this run from its latest checkpoint (or its best "
                   "weights with a fresh optimizer, when it kept no latest.pt)")
    t.add_argument("--init-from", metavar="RUN", help="start from this run's weights and vocabulary (fine-tuning)")
    t.add_argument("--unknown", choices=["refuse", "drop", "space"], default="refuse",
                   help="with --init-from: characters of the speaker's text outside the base's vocabulary are "
                        "refused (default, with their list), dropped, or replaced by a space")
    t.add_argument("--run", metavar="RUN", action="append", help=argparse.SUPPRESS)  # queued by the app: one, or a
    # chain trained one after another (core.runs.start.start_chain)
    t.add_argument("--no-clean", action="store_true", help="keep [Applause]-style stage notes")
    settings.add_flags(t)
    t.set_defaults(func=cmd_train)
    pt = sub.add_parser("pretrain", parents=[common], help="pretrain a base GPT on every address except some speakers'")
    pt.add_argument("--exclude", action="append", metavar="SPEAKER",
                    help="a speaker whose addresses stay out of the base (repeat; default: the three defaults), "
                         "so that their val text, and their train text, is new to it")
    pt.add_argument("--model", choices=["gpt"], default="gpt")
    pt.add_argument("--preset", choices=sorted(n for n, x in PRESETS.items() if x.model.model_type == "gpt"))
    pt.add_argument("--name", help="run name (default: sotu-base-gpt-PRESET; the next free one)")
    pt.add_argument("--no-clean", action="store_true", help="keep [Applause]-style stage notes")
    settings.add_flags(pt)
    pt.set_defaults(func=cmd_train, pretrain=True, speaker=None, resume=None, run=None, init_from=None)
    for parser in (t, pt):
        parser.add_argument("--background", action="store_true",
                            help="train at the lowest CPU priority (nice 19), beside other runs at the same: "
                                 "how the app starts its runs, so its pages stay live")

    sa = sub.add_parser("sample", parents=[common], help="generate text from a run")
    sa.add_argument("--checkpoint", required=True, help="run name, run folder or .pt file")
    sa.add_argument("--which", choices=["best", "latest"], default="best")
    sa.add_argument("--prompt", default="", help=f"the text to continue (up to {MAX_PROMPT_CHARS:,} characters)")
    sa.add_argument("--escapes", action="store_true", help=r"interpret \n etc. in --prompt")
    sa.add_argument("--max-new-tokens", type=int, default=500, help=f"characters to write (0 to {MAX_NEW_CHARS:,})")
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
    c = sub.add_parser("compact", parents=[common], help="store a finished run's best weights in bf16 (half the "
                       "size, how a big base ships) and drop its optimizer state")
    c.add_argument("--checkpoint", required=True, help="run name or folder")
    c.set_defaults(func=cmd_compact)
    cli_heads.add_parsers(sub, common)
    cli_speak.add_parsers(sub, common)
    cli_ladder.add_parsers(sub, common)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if getattr(args, "max_new_tokens", None) is not None:
            check_count(args.max_new_tokens, 0, MAX_NEW_CHARS, "--max-new-tokens")
        args.func(args)
    except UserError as e:
        if distributed.context().is_main:
            print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except torch.cuda.OutOfMemoryError as e:
        print(f"error: out of GPU memory ({e}); try a smaller --batch-size or --block-size", file=sys.stderr)
        return 2
    return 0
