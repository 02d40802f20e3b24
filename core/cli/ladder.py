"""`python -m core ladder`: the lecture's ladder (core.lessons.ladder), each rung trained through the one
start path and printed as one line: rung, name, params, val_loss, seconds.
core.cli.main.build_parser registers it with add_parsers(sub, common)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from core.errors import UserError
from core.lessons import ladder
from core.text.corpus import DEFAULT_SPEAKERS


def cmd_ladder(args) -> None:
    if args.max_iters is not None and args.max_iters < 1:
        raise UserError(f"--max-iters must be at least 1, got {args.max_iters}")
    numbers = ladder.parse_rungs(args.rungs)
    speakers = list(dict.fromkeys(args.speaker or DEFAULT_SPEAKERS))
    root = Path(args.out)
    unreadable = []
    for speaker in speakers:
        for n in numbers:
            rung = ladder.BY_NUMBER[n]
            if rung.gpu and args.device in ("auto", "cpu") and not args.json:
                print(f"rung {n} ({rung.title}) needs a GPU to finish in minutes; training it anyway",
                      file=sys.stderr)
            r = ladder.train_rung(speaker, rung, root, max_iters=args.max_iters, device=args.device,
                                  replace=args.replace, data_dir=Path(args.data_dir))
            row = {"speaker": speaker, "rung": r.rung, "name": r.name, "params": r.params,
                   "val_loss": r.val_loss, "seconds": r.seconds, "run": r.run, "status": r.status,
                   "steps": r.step, "note": r.note}
            if r.status.startswith("unreadable"):
                unreadable.append(r.run)
            if args.json:
                print(json.dumps(row, ensure_ascii=False), flush=True)
            else:
                loss = "-" if r.val_loss is None else f"{r.val_loss:.4f}"
                secs = "-" if r.seconds is None else f"{r.seconds:.1f}"
                print(f"{speaker:24} {r.rung}  {r.name:11} {r.params or 0:>10,}  val {loss}  {secs:>7} s  "
                      f"{r.status}" + (f"  ({r.note})" if r.note else ""), flush=True)
    if unreadable:
        raise UserError(f"left as they are, unreadable: {', '.join(unreadable)} (see their lines above); move "
                        "them away or repair their meta.json, then run the ladder again")


def add_parsers(sub, common) -> None:
    p = sub.add_parser("ladder", parents=[common],
                       help="the lecture's ladder: train the GPT piece by piece, one val loss per rung")
    p.add_argument("--speaker", action="append",
                   help="a speaker (repeat for several; default: the three default speakers)")
    p.add_argument("--rungs", default="1-7", help="which rungs: 1-7 (default), 2,4,6 or 8 (the scaled GPT; "
                   "needs a GPU)")
    p.add_argument("--max-iters", type=int, help="steps per rung (default: each rung's own budget); another budget "
                   "trains runs of their own (SPEAKER-ladder-N-NAME-STEPS-steps) beside the rungs trained before")
    p.add_argument("--replace", action="store_true", help="train the named rungs again in place, deleting the "
                   "finished runs at this budget (without it a finished rung is kept)")
    p.set_defaults(func=cmd_ladder)
