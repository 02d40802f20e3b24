"""Probes of saved weights, computed once: what the pages and the CLI read off a run's best weights
(every head's scores and worth, an ablation, each layer's loss, the loss on a speaker's val text, a
sample) is stored in the run's folder (probes.json) under the weights file's SHA-256, and read back
instead of computed again, by a fresh server as by the next command. The shipped runs ship theirs,
so their pages open from it. Another file (a retrained run) is another digest: computed afresh.

Also here: the head detectors on each checkpoint of a run, by step (score_checkpoints)."""
from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import torch

from core.errors import UserError
from core.model.sampling import SPEAK_SAMPLE, sample_text
from core.model.scoring import sequence_loss
from core.probe import heads, lens
from core.probe.heads import HeadScore, score_heads
from core.runs.checkpoints import LoadedModel, build_from, read_checkpoint
from core.runs.record import BEST, META, write_json
from core.text.corpus import load_speaker

PROBES = "probes.json"
T = TypeVar("T")


def _read(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def remember(loaded: LoadedModel, what: str, compute: Callable[[], T]) -> T:
    """compute()'s value for these weights: read from the run folder's probes.json when it holds one
    for this `what` and this weights file (its digest), else computed and stored. Only a run's best
    weights (model.pt) are remembered; latest.pt changes at every evaluation. The value must be
    plain JSON (numbers, text, lists, dicts): what comes back is what was stored. A folder that
    cannot be written (read-only, full) leaves the value computed, not stored."""
    path = Path(loaded.path)
    store = path.parent / PROBES
    if path.name != BEST or not (path.parent / META).exists():
        return compute()
    data = _read(store)
    mine = data.get(BEST) if isinstance(data.get(BEST), dict) else {}
    if mine.get("digest") == loaded.digest and what in mine.get("entries", {}):
        return mine["entries"][what]
    value = compute()
    entries = {**(mine.get("entries", {}) if mine.get("digest") == loaded.digest else {}), what: value}
    with contextlib.suppress(OSError):  # a cache: a folder that cannot be written only costs the recomputation
        write_json(store, {**data, BEST: {"digest": loaded.digest, "entries": entries}})
    return json.loads(json.dumps(value))  # as it will read back next time


def remembered(loaded: LoadedModel) -> list[str]:
    """What is stored for these weights (the names given to remember)."""
    mine = _read(Path(loaded.path).parent / PROBES).get(BEST)
    return sorted(mine["entries"]) if isinstance(mine, dict) and mine.get("digest") == loaded.digest else []


def text_key(text: str) -> str:
    """A text's part of a probe's name: its digest, so an edited text is probed afresh."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def head_scores(loaded: LoadedModel, text: str) -> list[dict]:
    """Every head's pattern scores on a text (a speaker's val split), as HeadScore.to_dict() rows."""
    return remember(loaded, f"heads.scores.v2:{text_key(text)}", lambda: [
        r.to_dict() for r in score_heads(loaded.model, loaded.tokenizer, text, ablation=False)])


def head_worth(loaded: LoadedModel, text: str, mode: str = "mean", max_chars: int | None = None) -> dict:
    """{"base": val loss, "worth": [layer][head] loss increase in nats when that head alone is ablated}."""
    def compute() -> dict:
        base, worth = heads.head_worth(loaded.model, loaded.tokenizer, text, mode, max_chars)
        return {"base": base, "worth": worth.tolist()}
    return remember(loaded, f"heads.worth:{text_key(text)}:{mode}:{max_chars or 'all'}", compute)


def layer_losses(loaded: LoadedModel, text: str, max_chars: int | None = None) -> list[float]:
    """Each layer's logit-lens loss on a text (core.probe.lens.layer_losses)."""
    return remember(loaded, f"lens.layer_losses:{text_key(text)}:{max_chars or 'all'}",
                    lambda: lens.layer_losses(loaded.model, loaded.tokenizer, text, max_chars))


def val_loss(loaded: LoadedModel, text: str) -> float:
    """The model's loss on a whole text (a speaker's val split) in consecutive windows
    (core.model.scoring.sequence_loss): the Compare matrix's cells, a base's zero-shot loss."""
    return remember(loaded, f"val_loss:{text_key(text)}",
                    lambda: sequence_loss(loaded.model, loaded.tokenizer.encode_tensor(text)))


def ablation(loaded: LoadedModel, text: str, chosen: list[tuple[int, int]], mode: str = "mean",
             max_chars: int | None = heads.PAGE_CHARS) -> dict:
    """The loss on a text with and without the chosen heads: {"base", "loss", "delta"}."""
    chosen = sorted((int(a), int(b)) for a, b in chosen)

    def compute() -> dict:
        a = heads.ablate_loss(loaded.model, loaded.tokenizer, text, chosen, mode, max_chars=max_chars)
        return {"base": a.base, "loss": a.loss, "delta": a.delta}
    return remember(loaded, f"heads.ablation:{text_key(text)}:{chosen}:{mode}:{max_chars or 'all'}", compute)


def head_means(loaded: LoadedModel, text: str, chosen: list[tuple[int, int]],
               max_chars: int | None = heads.PAGE_CHARS) -> torch.Tensor:
    """(L, T, C) the chosen heads' mean outputs over a text's windows, per position (heads.head_means;
    the other heads' channels 0: mean ablation reads only the chosen ones), what a head's mean
    ablation puts in its place. Stored as the chosen heads' slices, to 6 significant digits."""
    chosen = sorted((int(a), int(b)) for a, b in chosen)
    cfg = loaded.config
    hs = cfg.head_size

    def compute() -> dict:
        windows = heads.val_windows(loaded.tokenizer, text, cfg.block_size, max_chars)
        means = heads.head_means(loaded.model, windows[:, :-1])
        return {f"{a},{b}": [[float(f"{v:.6g}") for v in row] for row in means[a, :, b * hs:(b + 1) * hs].tolist()]
                for a, b in chosen}
    stored = remember(loaded, f"heads.means:{text_key(text)}:{chosen}:{max_chars or 'all'}", compute)
    out = torch.zeros(cfg.n_layer, cfg.block_size, cfg.n_embd)
    for key, rows in stored.items():
        a, b = map(int, key.split(","))
        out[a, :, b * hs:(b + 1) * hs] = torch.tensor(rows)
    return out


def sample(loaded: LoadedModel, prompt: str, n: int, seed: int, temperature: float) -> str:
    """n characters after prompt, drawn with this seed and temperature (no top-k)."""
    return remember(loaded, f"sample:{prompt!r}:{n}:{seed}:{temperature}",
                    lambda: sample_text(loaded.model, loaded.tokenizer, prompt, n, temperature, None, seed))


def warm(loaded: LoadedModel, own: str, texts: dict[str, str]) -> list[str]:
    """Compute what the pages read off a run, so that they open from probes.json: on its own
    speaker's val text (own) every head's scores and worth, each layer's loss, the clearest head's
    means; on each of `texts` (the speakers' val texts) the loss (Compare's cells, a base's zero-shot
    loss) and the clearest head ablated; the Speak page's sample. Returns what is stored."""
    for text in texts.values():
        val_loss(loaded, text)
    if loaded.config.model_type == "gpt":
        scores = head_scores(loaded, own)
        head_worth(loaded, own)
        layer_losses(loaded, own)
        clearest = max(scores, key=lambda r: r["best_score"])
        for text in texts.values():
            ablation(loaded, text, [(clearest["layer"], clearest["head"])])
        head_means(loaded, own, [(clearest["layer"], clearest["head"])])  # the page's who-said-it, ablated
        sample(loaded, *SPEAK_SAMPLE)
    return remembered(loaded)


@dataclass(frozen=True)
class CheckpointScores:
    path: str
    step: int | None                  # the training step the weights are from
    scores: list[HeadScore]


def score_checkpoints(paths: Iterable, val_text: str | None = None, **kw) -> list[CheckpointScores]:
    """The head detectors (core.probe.heads) on each saved checkpoint of a run (model.pt = best,
    latest.pt, or any other .pt), sorted by step: when do the previous-character and induction heads
    appear? val_text: the text for the real-text patterns (default: the run's first speaker's val
    split). No ablation unless asked (ablation=True)."""
    kw.setdefault("ablation", False)
    out = []
    for path in paths:
        ckpt = read_checkpoint(path)
        if ckpt.model_config.model_type != "gpt":
            raise UserError(f"{path}: a {ckpt.model_config.model_type} model has no attention heads")
        step = ckpt.state.get("step", ckpt.record.best_step)
        text = val_text
        if text is None:
            text = load_speaker(ckpt.record.speakers[0], ckpt.record.clean).split()[1]
        out.append(CheckpointScores(str(path), None if step is None else int(step),
                                    score_heads(build_from(ckpt), ckpt.tokenizer, text, **kw)))
    return sorted(out, key=lambda c: (c.step is None, c.step or 0))
