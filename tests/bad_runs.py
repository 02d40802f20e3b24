"""Bad run folders, made from a real trained run the way a red-team made them: a meta.json with a
wrong type, a metrics log with lines that are not events, checkpoints whose stored config lies
(48 layers x 1024 wide in a tiny file, non-integer sizes), weights that are views of one stored
number, NaN weights. Shared by the bad-input catalogue and the hardening tests."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch

from core.config import ModelConfig
from core.model.models import build_model
from core.runs import record as rec

BIG = {"n_layer": 48, "n_embd": 1024, "n_head": 16}  # ~600M parameters claimed
JUNK_METRICS = ["[1,2]", "null", '"text"', "17", '{"kind": "step", "step": 5}', '{"kind": "step", "step": "abc", '
                '"train_loss": 1.0}', '{"kind": "eval", "step": 5, "train_loss": 1.0, "val_loss": "x"}',
                '{"kind": "step", "step": 6, "train_loss": 1.0, "lr": "fast"}', '{"kind": "surprise", "step": 1}',
                '{"kind": "step", "step": true, "train_loss": 1.0}', '{"kind": "eval", "step": 7, "train_lo']


def copy_run(src: Path, root: Path, name: str) -> Path:
    dst = Path(root) / name
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(rec.LATEST, rec.LOCK, "*.tmp"))
    return dst


def edit_meta(run_dir: Path, **changes) -> None:
    """meta.json with some fields replaced, written as raw JSON (no validation on the way out)."""
    meta = json.loads((run_dir / rec.META).read_text())
    for k, v in changes.items():
        if isinstance(v, dict) and isinstance(meta.get(k), dict):
            meta[k] = {**meta[k], **v}
        else:
            meta[k] = v
    (run_dir / rec.META).write_text(json.dumps(meta))


def edit_checkpoint(run_dir: Path, model: dict | None = None, weights=None, also_meta: bool = True) -> None:
    """model.pt with its stored config changed (model: fields to replace) and/or its weights
    replaced (weights(state_dict, stored_model_config) -> state_dict); meta.json follows unless told."""
    path = run_dir / rec.BEST
    payload = torch.load(path, weights_only=True)
    meta = json.loads(payload["meta"])
    if model:
        meta["model"] = {**meta["model"], **model}
    if weights is not None:
        payload["model"] = weights(payload["model"], meta["model"])
    payload["meta"] = json.dumps(meta)
    torch.save(payload, path)
    if model and also_meta:
        edit_meta(run_dir, model=model)


def expanded(state: dict, model_cfg: dict) -> dict:
    """Every tensor the config implies, each a view of one stored zero: shapes right, file tiny."""
    with torch.device("meta"):
        shapes = {k: v.shape for k, v in build_model(ModelConfig.from_dict(model_cfg)).state_dict().items()}
    one = torch.zeros(1)
    return {k: one.expand(s) for k, s in shapes.items()}


def with_nan(state: dict, model_cfg: dict) -> dict:
    state = dict(state)
    k = next(k for k, v in state.items() if v.is_floating_point())
    state[k] = state[k].clone()
    state[k].view(-1)[0] = float("nan")
    return state


def make_bad_runs(good: Path, root: Path) -> dict[str, Path]:
    """Every bad folder of the red-team's table under root, from the good run `good`."""
    out = {}

    def make(name, **meta):
        out[name] = copy_run(good, root, name)
        if meta:
            edit_meta(out[name], **meta)
        return out[name]

    make("meta-best-val-text", best_val_loss="0.5")
    make("meta-model-text", model="gpt")
    make("meta-speakers-text", speakers="Barack Obama")
    make("meta-status-unknown", status="exploded")
    make("meta-history-text", history=[{"step": "ten"}])
    (make("meta-not-json") / rec.META).write_text('{"name": "x", "model": ')
    (make("meta-a-list") / rec.META).write_text("[1, 2, 3]")
    with open(make("metrics-junk") / rec.METRICS, "a") as f:
        f.write("\n".join(JUNK_METRICS) + "\n")
    edit_checkpoint(make("ckpt-48-layers"), model=BIG)
    edit_checkpoint(make("ckpt-hollow-48-layers"), model=BIG, weights=expanded)
    edit_checkpoint(make("ckpt-block-8.5"), model={"block_size": 8.5}, also_meta=False)
    edit_checkpoint(make("ckpt-vocab-88.0"), model={"vocab_size": 88.0}, also_meta=False)
    edit_checkpoint(make("ckpt-n-embd-100000"), model={"n_embd": 100_000}, also_meta=False)
    edit_checkpoint(make("ckpt-nan"), weights=with_nan)
    (make("ckpt-truncated") / rec.BEST).write_bytes((good / rec.BEST).read_bytes()[:5000])
    return out
