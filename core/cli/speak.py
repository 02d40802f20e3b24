"""`python -m core whosaid` and `python -m core attribution`: who said a passage, and how often the
speaker models get it right by passage length (core.lessons.attribution)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from core.config import ConfigError
from core.errors import UserError
from core.lessons.attribution import LENGTHS, MAX_PASSAGES, accuracy_curve, check_curve, who_said
from core.limits import MAX_JSONL_LINES, MAX_PASSAGE_CHARS, check_length
from core.runs import catalog
from core.runs import checkpoints as ck
from core.runs import record as rec
from core.text.corpus import DEFAULT_SPEAKERS, SpeakerError, load_speaker, read_user_text


def _load_set(names: dict[str, str], root: Path):
    loaded = {s: ck.load_model(n, root=root) for s, n in names.items()}
    toks = {ld.tokenizer for ld in loaded.values()}
    if len(toks) != 1:
        raise ConfigError("these speaker models do not share one vocabulary: " + ", ".join(names.values()))
    return {s: ld.model for s, ld in loaded.items()}, toks.pop()


def _sets(args) -> dict:
    """kind ("fine-tuned", "from scratch") -> ({speaker: run name}, (models, tokenizer)): the speaker
    models core.runs.catalog names, one set per role that covers every speaker."""
    root = Path(args.out)
    speakers = args.speaker or list(DEFAULT_SPEAKERS)
    found = {kind: {s: r.name for s, r in models.items()}
             for kind, models in catalog.labelled_sets(rec.list_runs(root), speakers).items()}
    if args.kind:
        found = {k: v for k, v in found.items() if k == args.kind or k.startswith(args.kind + " ")}
    if not found:
        raise ConfigError(f"no set of finished GPT runs, one per speaker, for {', '.join(speakers)}"
                          + (f" ({args.kind})" if args.kind else "") + ": train them first")
    return {k: (names, _load_set(names, root)) for k, names in found.items()}


def read_passage(source: str) -> str:
    """A passage from a file or standard input (-), decoded as the Speeches page decodes an upload
    (UTF-8 with or without a byte-order mark, UTF-16/32 with one); refused past MAX_PASSAGE_CHARS
    before anything is scored."""
    name = "standard input" if source == "-" else source
    try:
        if source == "-":
            raw = sys.stdin.buffer.read(4 * MAX_PASSAGE_CHARS + 5)  # 4 bytes a character at most, and a BOM
        else:
            with open(source, "rb") as f:
                raw = f.read(4 * MAX_PASSAGE_CHARS + 5)
    except OSError as e:
        raise UserError(f"cannot read {name}: {e.strerror or e}") from None
    if len(raw) > 4 * MAX_PASSAGE_CHARS + 4:
        raise UserError(f"{name} is longer than a passage can be ({MAX_PASSAGE_CHARS:,} characters): "
                        "attribute a part of it")
    try:
        text = read_user_text(raw, name)
    except SpeakerError as e:
        raise UserError(str(e).replace("the text is empty", "it is empty: there is nothing to attribute")) from None
    return check_length(text, MAX_PASSAGE_CHARS, name)


def _jsonl_lines(source: str):
    """(line number, passage text or the reason the line is unusable) for each non-blank line of a
    JSON-lines file or standard input: one {"text": ...} object a line."""
    try:
        stream = sys.stdin.buffer if source == "-" else open(source, "rb")  # noqa: SIM115 (closed below)
    except OSError as e:
        raise UserError(f"cannot read {source}: {e.strerror or e}") from None
    try:
        for n, raw in enumerate(stream, 1):
            if n > MAX_JSONL_LINES:
                raise UserError(f"more than {MAX_JSONL_LINES:,} lines: split the file")
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw.decode("utf-8-sig"))
            except (UnicodeDecodeError, json.JSONDecodeError) as e:
                yield n, UserError(f"not a JSON object in UTF-8 ({e})")
                continue
            text = obj.get("text") if isinstance(obj, dict) else None
            yield n, text if isinstance(text, str) else UserError('a line must be an object with "text": a string')
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()


def cmd_whosaid(args) -> None:
    if (args.text is None) == (args.jsonl is None):
        raise UserError("give one of --text FILE (one passage) or --jsonl FILE (one passage a line)")
    text = read_passage(args.text) if args.text is not None else None
    sets = _sets(args)
    kind = "fine-tuned" if "fine-tuned" in sets else next(iter(sets))
    names, (models, tok) = sets[kind]
    if text is None:  # --jsonl: one verdict a line, in; a line that cannot be scored says why, the rest go on
        bad = 0
        for n, item in _jsonl_lines(args.jsonl):
            try:
                if isinstance(item, UserError):
                    raise item
                out = {"line": n, **who_said(models, tok, item, args.context).to_dict(), "kind": kind}
            except UserError as e:
                bad += 1
                out = {"line": n, "error": str(e)}
            print(json.dumps(out, ensure_ascii=False), flush=True)
        if bad:
            raise UserError(f"{bad} line(s) could not be attributed (see their \"error\")")
        return
    v = who_said(models, tok, text, args.context)
    out = {**v.to_dict(), "models": names, "kind": kind}
    if args.json:
        print(json.dumps(out, ensure_ascii=False))
    else:
        print(f"{v.guess} ({v.probabilities[v.guess]:.1%}), by the {kind} models over {v.chars} characters")
        for s in sorted(v.mean_loss, key=v.mean_loss.get):
            print(f"  {s:28} {v.mean_loss[s]:.4f} nats/char  p = {v.probabilities[s]:.3f}")


def cmd_attribution(args) -> None:
    check_curve(args.lengths, args.passages)
    sets = _sets(args)
    speakers = list(next(iter(sets.values()))[0])
    clean = True
    split = {s: load_speaker(s, clean, Path(args.data_dir)).split() for s in speakers}
    curve = accuracy_curve({k: v[1] for k, v in sets.items()}, {s: split[s][1] for s in speakers},
                           {s: split[s][0] for s in speakers}, args.lengths, args.passages, args.seed, args.context)
    out = {"speakers": speakers, "models": {k: v[0] for k, v in sets.items()}, "context": args.context,
           **curve.to_dict()}
    if args.json:
        print(json.dumps(out, ensure_ascii=False))
        return
    methods = list(curve.methods)
    print(f"{'length':>7} {'passages':>8} " + " ".join(f"{m:>13}" for m in methods) + f"  (chance {curve.chance:.0%})")
    for i, n in enumerate(curve.lengths):
        print(f"{n:>7} {curve.counts[i]:>8} " + " ".join(f"{curve.methods[m][i]:>13.1%}" for m in methods))


def add_parsers(sub, common) -> None:
    w = sub.add_parser("whosaid", parents=[common], help="which speaker's model finds a passage least surprising")
    a = sub.add_parser("attribution", parents=[common], help="who-said-it accuracy by passage length")
    for p in (w, a):
        p.add_argument("--speaker", action="append", help="a candidate speaker (repeat; default: the three defaults)")
        p.add_argument("--kind", choices=list(catalog.KINDS.values()), help="which speaker models (default: all)")
        p.add_argument("--context", choices=["slide", "reset"], default="slide",
                       help="each character's context: up to block_size characters before it (slide), or from "
                            "the start of its block (reset)")
    w.add_argument("--text", help="a UTF-8 text file with the passage (- for standard input), up to "
                   f"{MAX_PASSAGE_CHARS:,} characters")
    w.add_argument("--jsonl", help='many passages: a file (- for standard input) of one {"text": ...} object a '
                   f"line, up to {MAX_JSONL_LINES:,} lines; prints one verdict a line")
    w.set_defaults(func=cmd_whosaid)
    a.add_argument("--lengths", type=int, nargs="+", default=list(LENGTHS),
                   help=f"passage lengths in characters (2 to {MAX_PASSAGE_CHARS:,})")
    a.add_argument("--passages", type=int, default=30, help=f"passages per speaker and length (1 to {MAX_PASSAGES:,})")
    a.add_argument("--seed", type=int, default=0)
    a.set_defaults(func=cmd_attribution)
