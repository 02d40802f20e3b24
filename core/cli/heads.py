"""`python -m core heads` (every head's pattern scores and ablation cost) and `python -m core lens`
(what each layer predicts). Layers and heads are counted from 1, as the pages show them.
core.cli.main.build_parser registers them with add_parsers(sub, common)."""
from __future__ import annotations

import json
import time
from pathlib import Path

from core.errors import UserError
from core.limits import MAX_PROBE_CHARS, check_count, check_length
from core.probe import heads, lens
from core.runs import checkpoints as ck
from core.runs import probed
from core.runs import record as rec
from core.text.corpus import DEFAULT_SPEAKERS, load_speaker
from core.text.tokenizer import unescape


def _load(args):
    loaded = ck.load_model(args.checkpoint, which=args.which, root=Path(args.out))
    if loaded.config.model_type != "gpt":
        raise UserError(f"{args.checkpoint} is a {loaded.config.model_type} model: it has no attention heads")
    return loaded


def _val_text(args, loaded) -> tuple[str, str]:
    """(speaker, their val split): --speaker, else the run's first speaker, cleaned as it trained."""
    name = args.speaker or loaded.record.speakers[0]
    return name, load_speaker(name, loaded.record.clean, Path(args.data_dir)).split()[1]


def _rows(scores: list[heads.HeadScore]) -> list[dict]:
    out = []
    for s in scores:
        best, score = s.best
        out.append({"layer": s.layer + 1, "head": s.head + 1, "scores": s.scores, "best": best,
                    "best_score": score, "label": s.label, "worth_nats": s.worth, "ablation": s.ablation})
    return out


def cmd_heads(args) -> None:
    if args.max_chars is not None:
        check_count(args.max_chars, 1, None, "--max-chars")
    loaded = _load(args)
    speaker, val = _val_text(args, loaded)
    if args.all_checkpoints:
        run_dir = loaded.path.parent
        paths = [p for p in (run_dir / ck.BEST, run_dir / ck.LATEST) if p.exists()]
        for c in probed.score_checkpoints(paths, val, ablation=not args.no_ablation, mode=args.ablation,
                                         max_chars=args.max_chars):
            for row in _rows(c.scores):
                row.update(step=c.step, checkpoint=Path(c.path).name)
                print(json.dumps(row) if args.json else
                      f"step {c.step:>6} {row['checkpoint']:9} L{row['layer']}H{row['head']}  "
                      f"{row['best']:16} {row['best_score']:.2f}")
        return
    t0 = time.perf_counter()
    scores = probed.head_scores(loaded, val)  # computed once per weights file and text (probes.json)
    worth = None if args.no_ablation else probed.head_worth(loaded, val, args.ablation, args.max_chars)["worth"]
    rows = _rows([heads.HeadScore(r["layer"], r["head"], r["scores"], None if worth is None else
                                  worth[r["layer"]][r["head"]], None if worth is None else args.ablation)
                  for r in scores])
    elapsed = time.perf_counter() - t0
    if args.json:
        for row in rows:
            print(json.dumps(row, ensure_ascii=False))
        return
    names = list(heads.PATTERNS)
    print(f"{loaded.path.parent.name}: every head on {speaker}'s val text "
          f"({'no ablation' if args.no_ablation else args.ablation + ' ablation'}; {elapsed:.1f}s)")
    print(f"{'head':6} {'strongest':16} " + " ".join(f"{n[:10]:>10}" for n in names) + f" {'worth':>8}")
    for r in rows:
        worth = "" if r["worth_nats"] is None else f"{r['worth_nats']:+.4f}"
        print(f"L{r['layer']}H{r['head']:<3} {r['label']:16} "
              + " ".join(f"{r['scores'][n]:>10.3f}" for n in names) + f" {worth:>8}")


def cmd_lens(args) -> None:
    if args.max_chars is not None:
        check_count(args.max_chars, 1, None, "--max-chars")
    loaded = _load(args)
    text = check_length(unescape(args.text, "--text") if args.escapes else args.text, MAX_PROBE_CHARS, "--text")
    check_count(args.top, 1, loaded.tokenizer.vocab_size, "--top (next characters per layer)")
    view = lens.lens(loaded.model, loaded.tokenizer, text, args.position, k=args.top)
    speaker, val = _val_text(args, loaded)
    losses = probed.layer_losses(loaded, val, args.max_chars)
    layers = [{"layer": name, "top": top, "target_prob": None if view.target_prob is None else view.target_prob[i],
               "val_loss": losses[i]} for i, (name, top) in enumerate(zip(view.layers, view.top))]
    if args.json:
        print(json.dumps({"run": loaded.path.parent.name, "text": view.text, "position": view.position,
                          "after": view.text[:view.position + 1], "target": view.target, "speaker": speaker,
                          "layers": layers}, ensure_ascii=False))
        return
    print(f"after {view.text[:view.position + 1][-30:]!r}" + (f" (next: {view.target!r})" if view.target else ""))
    print(f"{'readout of':12} {'val loss':>8}  top next characters")
    for row in layers:
        tops = "  ".join(f"{c!r} {p:.2f}" for c, p in row["top"])
        print(f"{row['layer']:12} {row['val_loss']:>8.4f}  {tops}")


def cmd_probes(args) -> None:
    """What the pages read off each run, computed and stored beside it (core.runs.probed.warm)."""
    root = Path(args.out)
    names = args.run or [r.name for r in rec.list_runs(root) if r.status == "finished" and r.role != "rung"]
    speakers = args.speaker or list(DEFAULT_SPEAKERS)
    for name in names:
        t0 = time.perf_counter()
        loaded = ck.load_model(name, root=root)
        clean = loaded.record.clean
        texts = {s: load_speaker(s, clean, Path(args.data_dir)).split()[1] for s in speakers}
        own = texts.get(loaded.record.speakers[0]) or load_speaker(loaded.record.speakers[0], clean,
                                                                   Path(args.data_dir)).split()[1]
        stored = probed.warm(loaded, own, texts)
        line = {"run": name, "stored": len(stored), "seconds": round(time.perf_counter() - t0, 1)}
        print(json.dumps(line) if args.json else f"{name}: {len(stored)} probes stored ({line['seconds']} s)",
              flush=True)


def add_parsers(sub, common) -> None:
    h = sub.add_parser("heads", parents=[common], help="what each attention head does and is worth")
    h.add_argument("--checkpoint", required=True, help="run name, run folder or .pt file")
    h.add_argument("--which", choices=["best", "latest"], default="best")
    h.add_argument("--speaker", help="whose val text to score on (default: the run's first speaker)")
    h.add_argument("--ablation", choices=heads.ABLATIONS, default="mean",
                   help="replace a head's output by its mean over the val text (mean) or by zeros")
    h.add_argument("--no-ablation", action="store_true", help="pattern scores only (fast)")
    h.add_argument("--max-chars", type=int, help="score on the first N characters of the val text only")
    h.add_argument("--all-checkpoints", action="store_true",
                   help="the detectors on each saved checkpoint of the run (model.pt, latest.pt), by step")
    h.set_defaults(func=cmd_heads)

    w = sub.add_parser("probes", parents=[common],
                       help="compute what the pages read off runs and store it beside them (probes.json)")
    w.add_argument("--run", action="append", help="a run (repeat; default: every finished run but the ladder's)")
    w.add_argument("--speaker", action="append", help="whose val texts (repeat; default: the three defaults)")
    w.set_defaults(func=cmd_probes)

    c = sub.add_parser("lens", parents=[common], help="the logit lens: what each layer would predict")
    c.add_argument("--checkpoint", required=True, help="run name, run folder or .pt file")
    c.add_argument("--which", choices=["best", "latest"], default="best")
    c.add_argument("--text", required=True, help="the probe text (its last block_size characters are read; up to "
                   f"{MAX_PROBE_CHARS:,} characters)")
    c.add_argument("--escapes", action="store_true", help=r"interpret \n etc. in --text")
    c.add_argument("--position", type=int, help="the position to read, from 0 (default: the last)")
    c.add_argument("--top", type=int, default=5, help="how many next characters per layer")
    c.add_argument("--speaker", help="whose val text the per-layer loss is measured on (default: the run's)")
    c.add_argument("--max-chars", type=int, help="the per-layer loss on the first N characters of the val text")
    c.set_defaults(func=cmd_lens)
