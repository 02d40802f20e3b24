"""The lecture's ladder: the GPT built up one piece at a time (the lecture's second hour), each rung
trained the same way and read by its validation loss.

Rung 1 is the bigram (core.model.bigram's V x V table, the lecture's first model); rungs 2-8 are the
one GPT class (core.model.gpt) with ModelConfig's switches (attn_proj, ffwd, residual, layer_norm),
n_head, n_layer and dropout set per rung. Every rung trains through the one start path
(core.runs.start: RunRequest -> create -> execute, or a background process of `python -m core ladder`),
as a run named SPEAKER-ladder-N-NAME, so its record, weights and metrics are a run like any other."""
from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass
from pathlib import Path

from core.config import ConfigError, ModelConfig, preset
from core.errors import TrainingDiverged
from core.runs import record as rec
from core.runs import start as runs

# The lecture's own settings for the GPT rungs 2-7 (its gpt.py before "scaling up": batch 32 of 8
# characters, 32 channels, 4 heads of 8, 3 blocks, AdamW at a constant 1e-3 for 5,000 steps, no
# dropout, no gradient clipping, AdamW's default weight decay, PyTorch's default initial weights), so
# that the shape a learner sees is the lecture's. The initial weights matter at this size: with
# nanoGPT's N(0, 0.02) the feed-forward rung ended worse than multi-head (Obama: 2.38 -> 2.58, in fp32
# and bf16 alike); with PyTorch's defaults, as in the lecture, it helps (2.22 -> 2.11). A rung takes
# 20-30 s on one idle core. (The faster budget shipped before, a context of 32 at 1e-2 for 1,500
# steps, made the feed-forward rung worse than multi-head for every speaker and let the deep stack
# without residuals collapse: it did not earn its place.)
SMALL = {"n_embd": 32, "block_size": 8, "batch_size": 32, "max_iters": 5000, "learning_rate": 1e-3,
         "min_lr": 1e-3, "warmup_iters": 0, "weight_decay": 0.01, "grad_clip": 0.0, "eval_interval": 500,
         "eval_iters": 200, "dropout": 0.0, "init": "torch"}
BIGRAM_ITERS = 3000     # the bigram preset's: seconds on a CPU
BARE = {"attn_proj": False, "ffwd": False, "residual": False, "layer_norm": False}
DEEP = 3                # blocks in the stacked rungs (the lecture stacks 3)


@dataclass(frozen=True)
class Rung:
    number: int
    name: str                       # a slug: the run's name ends with it
    title: str
    buys: str                       # what the lecture says the piece is for
    model: str                      # "bigram" or "gpt"
    preset: str                     # the preset the overrides apply to
    overrides: tuple[tuple[str, object], ...]
    diff: str                       # the lines it adds to the rung before, as a unified diff
    gpu: bool = False               # needs a GPU to finish in minutes
    lecture: float | None = None    # the lecture's val loss on tiny Shakespeare (LECTURE_SOURCES)

    def settings(self) -> dict:
        return dict(self.overrides)

    def describe(self) -> str:
        """The rung's settings in a line: what its loss was trained with."""
        s = self.settings()
        if self.model == "bigram":
            p = preset(self.preset, 2)[1]
            return f"a V x V table; batch {p.batch_size}, lr {p.learning_rate:g}, {self.max_iters:,} steps"
        cfg, train = preset(self.preset, 2, **s)
        return (f"context {cfg.block_size}, {cfg.n_embd} wide, {cfg.n_head} head{'s' * (cfg.n_head > 1)}, "
                f"{cfg.n_layer} block{'s' * (cfg.n_layer > 1)}, batch {train.batch_size}, lr {train.learning_rate:g}, "
                f"{train.max_iters:,} steps" + (f", dropout {cfg.dropout:g}" if cfg.dropout else ""))

    @property
    def max_iters(self) -> int:
        """The rung's own budget (its preset's when it names none)."""
        return int(self.settings().get("max_iters") or preset(self.preset, 2)[1].max_iters)

    def config(self, vocab_size: int) -> ModelConfig:
        model_cfg, _ = preset(self.preset, vocab_size, **self.settings())
        return model_cfg


def _gpt(**kw) -> tuple[tuple[str, object], ...]:
    return tuple(sorted({**SMALL, "n_layer": 1, "n_head": 1, **BARE, **kw}.items()))


RUNGS: tuple[Rung, ...] = (
    Rung(1, "bigram", "Bigram", "each character predicts the next from a V x V table: no context at all",
         "bigram", "bigram", (("max_iters", BIGRAM_ITERS),), '''\
+class BigramLanguageModel(nn.Module):
+    def __init__(self, vocab_size):
+        self.token_embedding_table = nn.Embedding(vocab_size, vocab_size)
+    def forward(self, idx, targets=None):
+        logits = self.token_embedding_table(idx)          # (B, T, V)''', lecture=2.5),
    Rung(2, "one-head", "Embeddings + one self-attention head",
         "tokens look back at earlier tokens (communication), weighted by what they are and where",
         "gpt", "tiny", _gpt(), '''\
-        self.token_embedding_table = nn.Embedding(vocab_size, vocab_size)
+        self.token_embedding_table = nn.Embedding(vocab_size, n_embd)
+        self.position_embedding_table = nn.Embedding(block_size, n_embd)
+        self.sa_head = Head(n_embd)                       # one head, head_size = n_embd
+        self.lm_head = nn.Linear(n_embd, vocab_size)
     def forward(self, idx, targets=None):
-        logits = self.token_embedding_table(idx)
+        x = self.token_embedding_table(idx) + self.position_embedding_table(torch.arange(T))
+        x = self.sa_head(x)                               # softmax(q k^T / sqrt(hs), causal) v
+        logits = self.lm_head(x)''', lecture=2.5),
    Rung(3, "multi-head", "Multi-head attention",
         "4 heads of head_size / 4 attend in parallel, each to its own pattern; a projection mixes them",
         "gpt", "tiny", _gpt(n_head=4, attn_proj=True), '''\
-        self.sa_head = Head(n_embd)
+        self.sa_heads = MultiHeadAttention(4, n_embd // 4)  # 4 heads of head_size / 4
+class MultiHeadAttention(nn.Module):
+    def forward(self, x):
+        out = torch.cat([h(x) for h in self.heads], dim=-1)
+        return self.proj(out)                             # the output projection''', lecture=2.28),
    Rung(4, "ffwd", "+ Feed-forward",
         "each position thinks about what it gathered (computation after communication)",
         "gpt", "tiny", _gpt(n_head=4, attn_proj=True, ffwd=True), '''\
+        self.ffwd = FeedForward(n_embd)
+        x = self.sa_heads(x)
+        x = self.ffwd(x)                                  # Linear(C, 4C), ReLU, Linear(4C, C)''',
         lecture=2.24),
    Rung(5, "deep", f"{DEEP} blocks, no residuals",
         "stacking blocks deepens the model, but without residual paths the gradients struggle",
         "gpt", "tiny", _gpt(n_head=4, attn_proj=True, ffwd=True, n_layer=DEEP), f'''\
+class Block(nn.Module):
+    def forward(self, x):
+        x = self.sa(x)
+        x = self.ffwd(x)
+        return x
+        self.blocks = nn.Sequential(*[Block(n_embd, n_head=4) for _ in range({DEEP})])
-        x = self.sa_heads(x)
-        x = self.ffwd(x)
+        x = self.blocks(x)'''),
    Rung(6, "residual", "+ Residual connections",
         "a gradient highway from the loss to every block: deep stacks optimise again",
         "gpt", "tiny", _gpt(n_head=4, attn_proj=True, ffwd=True, n_layer=DEEP, residual=True), '''\
-        x = self.sa(x)
-        x = self.ffwd(x)
+        x = x + self.sa(x)                                # fork off, compute, add back
+        x = x + self.ffwd(x)''', lecture=2.08),
    Rung(7, "layernorm", "+ LayerNorm",
         "each position's features normalised before attention and feed-forward, and before the head",
         "gpt", "tiny", _gpt(n_head=4, attn_proj=True, ffwd=True, n_layer=DEEP, residual=True, layer_norm=True),
         '''\
-        x = x + self.sa(x)
-        x = x + self.ffwd(x)
+        x = x + self.sa(self.ln1(x))                      # pre-norm
+        x = x + self.ffwd(self.ln2(x))
+        self.ln_f = nn.LayerNorm(n_embd)                  # the final one, before lm_head''', lecture=2.06),
    Rung(8, "scaled", "+ Dropout, scaled up",
         "6 blocks of 6 heads, 384 wide, 256 characters of context, dropout 0.2: the lecture's GPT",
         "gpt", "lecture", (), '''\
+        self.dropout = nn.Dropout(dropout)                # on attention weights, projections, ffwd
-batch_size, block_size, n_embd, n_head, n_layer = 32, 8, 32, 4, 3
+batch_size, block_size, n_embd, n_head, n_layer = 64, 256, 384, 6, 6
+dropout, learning_rate = 0.2, 3e-4''', gpu=True, lecture=1.48),
)
BY_NUMBER = {r.number: r for r in RUNGS}

# Where the lecture's figures come from (val loss on tiny Shakespeare, character level). NGV is
# github.com/karpathy/ng-video-lecture, the lecture's code, whose commit messages record the loss the
# video reached at each step; the video is "Let's build GPT: from scratch, in code, spelled out."
LECTURE_SOURCES = {
    1: "the video, chapter 'training the bigram model' (bigram.py, ~2.5); no commit records it",
    2: "NGV commit 10024b1, 'add a single self-attention head, reach 2.5 val loss' (the video shows ~2.4)",
    3: "NGV commit a6e0bee, 'multi-headed attention, down to 2.28 now'",
    4: "NGV commit 97dd3f9, 'add a computation block, down to 2.24'",
    6: "the video, chapter 'residual connections' (~2.08); NGV commit 5c3a2d2 records no figure",
    7: "NGV commit 0016836, 'and add layernorms, down to 2.06'",
    8: "the video, chapter 'scaling up the model!' (1.48 on an A100, ~15 min); the nanoGPT README's same "
       "config (6 x 6 heads x 384, block 256) reports 1.4697",
}


def parse_rungs(text: str) -> list[int]:
    """'1-7', '2,4,6', '8' -> rung numbers; a clear message for anything else ('1-', '-3', '1-2-3')."""
    out: list[int] = []
    for part in str(text).replace(" ", "").split(","):
        bounds = part.split("-")
        if len(bounds) > 2 or not all(b.isdigit() for b in bounds):
            raise ConfigError(f"rungs must look like 1-7 or 2,4,6, got {text!r}")
        a, b = int(bounds[0]), int(bounds[-1])
        if not (1 <= a <= b <= len(RUNGS)):
            raise ConfigError(f"rungs are numbered 1 to {len(RUNGS)}, got {part!r}")
        out += [n for n in range(a, b + 1) if n not in out]
    return out


def run_name(speaker: str, rung: Rung, max_iters: int | None = None) -> str:
    """SPEAKER-ladder-N-NAME at the rung's own budget; another budget is a run of its own,
    SPEAKER-ladder-N-NAME-STEPS-steps, so that asking for it never touches the rung trained before."""
    name = rec.slug(f"{speaker}-ladder-{rung.number}-{rung.name}")
    return name if max_iters in (None, rung.max_iters) else f"{name}-{max_iters}-steps"


def request(speaker: str, rung: Rung, max_iters: int | None = None, device: str | None = None) -> runs.RunRequest:
    kw = rung.settings()
    if max_iters is not None:
        kw["max_iters"] = max_iters
    if device and device != "auto":
        kw["device"] = device
    return runs.RunRequest.make([speaker], rung.model, rung.preset, role="rung", **kw)


@dataclass
class Result:
    rung: int
    name: str
    speaker: str
    run: str
    status: str               # finished / running / ... / "missing" (not trained)
    params: int | None
    val_loss: float | None    # the whole val split (a finished run), else the best estimate
    seconds: float | None
    step: int = 0
    max_iters: int = 0
    note: str = ""            # what train_rung did with a run it found: kept, resumed

    def to_dict(self) -> dict:
        return {"rung": self.rung, "name": self.name, "speaker": self.speaker, "run": self.run,
                "status": self.status, "params": self.params, "val_loss": self.val_loss,
                "seconds": self.seconds, "step": self.step, "max_iters": self.max_iters, "note": self.note}


def _seconds(record: rec.RunRecord) -> float | None:
    last = record.history[-1] if record.history else None
    return round(float(last["elapsed"]), 1) if last and "elapsed" in last else None


def _result(speaker: str, rung: Rung, name: str, root: Path) -> Result:
    run_dir = Path(root) / name
    if not (run_dir / rec.META).exists():
        return Result(rung.number, rung.name, speaker, name, "missing", None, None, None)
    try:
        r = rec.status(run_dir)
    except rec.RecordError as e:
        return Result(rung.number, rung.name, speaker, name, f"unreadable: {e}", None, None, None)
    loss = r.val_loss_full.get(speaker) if r.val_loss_full else None
    if loss is None and math.isfinite(rec.best_loss(r)):
        loss = r.best_val_loss
    return Result(rung.number, rung.name, speaker, name, r.status, r.n_params, loss, _seconds(r), r.step,
                  r.max_iters)


def result(speaker: str, rung: Rung, root: Path, max_iters: int | None = None) -> Result:
    """The rung at the given budget; without one, at its own budget, else the newest other budget
    trained (so a learner who asked for 300 steps sees those)."""
    own = _result(speaker, rung, run_name(speaker, rung, max_iters), root)
    if max_iters is not None or own.status != "missing":
        return own
    stem = run_name(speaker, rung) + "-"
    others = sorted((p for p in Path(root).glob(f"{stem}*-steps") if (p / rec.META).exists()),
                    key=lambda p: (p / rec.META).stat().st_mtime, reverse=True)
    return _result(speaker, rung, others[0].name, root) if others else own


def results(speakers, root: Path, rungs=None) -> list[Result]:
    numbers = rungs or [r.number for r in RUNGS]
    return [result(s, BY_NUMBER[n], root) for s in speakers for n in numbers]


def train_rung(speaker: str, rung: Rung, root: Path, *, max_iters: int | None = None, device: str | None = None,
               replace: bool = False, data_dir: Path | None = None) -> Result:
    """Train one rung in this process through the start path. Nothing trained before is lost:
    a rung done at this budget (finished, or diverged: a result too) is kept; one stopped or
    interrupted is resumed; another budget is a run of its own (run_name); a folder that cannot be
    read is reported and left as it is. Only replace=True (a request that names the rungs:
    --replace) trains a finished rung again in its place."""
    root = Path(root)
    name = run_name(speaker, rung, max_iters)
    old = _result(speaker, rung, name, root)
    if old.status.startswith("unreadable"):
        return old
    if old.status in rec.ACTIVE:
        raise ConfigError(f"{name} is already training")
    diverged = old.status == "failed" and old.step > 0  # a queued run whose process died never started
    if old.status != "missing" and replace:
        runs.delete(root / name)  # the request names the rung (--replace)
    elif old.status == "finished" or diverged:
        old.note = "kept: trained before (--replace trains it again)"
        return old
    t0 = time.perf_counter()
    lock = None
    if old.status == "missing" or replace:
        lock = runs.create(request(speaker, rung, max_iters, device), root, name=name, data_dir=data_dir).lock
    with contextlib.suppress(TrainingDiverged):  # a result, not a crash: deep stacks without residuals
        runs.execute(root / name, data_dir=data_dir, samples=False, lock=lock)
    out = _result(speaker, rung, name, root)
    out.seconds = round(time.perf_counter() - t0, 1)
    out.note = "" if old.status == "missing" or replace else f"resumed from step {old.step:,}"
    return out


def plan_chain(speakers, root: Path, rungs: str = "1-7", max_iters: int | None = None
               ) -> list[tuple[runs.RunRequest | None, str]]:
    """What `start` would train, as core.runs.start.start_chain's entries: each rung not trained yet
    (a request), each stopped or interrupted one (None: resumed); finished and diverged rungs are
    kept, unreadable folders left alone, and a rung training now is refused."""
    root = Path(root)
    entries = []
    for s in speakers:
        for n in parse_rungs(rungs):
            rung = BY_NUMBER[n]
            name = run_name(s, rung, max_iters)
            old = _result(s, rung, name, root)
            if old.status in rec.ACTIVE:
                raise ConfigError(f"already training: {name}")
            if old.status == "missing":
                entries.append((request(s, rung, max_iters), name))
            elif old.status in ("stopped", "interrupted"):
                entries.append((None, name))  # finished, failed and unreadable runs are left as they are
    return entries


def start(speakers, root: Path, rungs: str = "1-7", max_iters: int | None = None) -> list[rec.RunRecord]:
    """Train the rungs for the speakers in the background through the one start path: one process
    (core.runs.start.start_chain) trains them one after another at the lowest priority, so the pages
    stay live; each rung is a run of its own, queued until its turn. Returns their records."""
    speakers = list(dict.fromkeys(speakers))
    if not speakers:
        raise ConfigError("choose at least one speaker")
    numbers = parse_rungs(rungs)
    for s in speakers:  # refuse now what would fail later: an unknown speaker
        runs.plan(request(s, BY_NUMBER[numbers[0]], max_iters), root)
    entries = plan_chain(speakers, root, rungs, max_iters)
    if not entries:
        raise ConfigError(f"rungs {rungs} are trained already for {', '.join(speakers)}: nothing to train "
                          "(core ladder --replace trains them again)")
    return runs.start_chain(entries, root)


def speakers_on_disk(root: Path) -> dict[str, bool]:
    """Every speaker with a rung in the folder -> whether one of its rungs is training now."""
    out: dict[str, bool] = {}
    for r in rec.list_runs(root):
        if len(r.speakers) == 1 and any(r.name == run_name(r.speakers[0], g) for g in RUNGS):
            out[r.speakers[0]] = out.get(r.speakers[0], False) or r.active
    return out


# Why a piece may not pay here, said beside its measured change whenever it did not help (issue 23:
# every piece either helps or the page says, with the number, why not).
WHY_NOT = {
    2: "one head of 32 channels mixes the last 8 characters into a single average; in the lecture too, one "
       "head stayed near the bigram (~2.5)",
    3: "four heads of 8 channels each see less than one head of 32; they pay when the text rewards attending to "
       "several things at once",
    4: "the feed-forward adds weights that must first learn what to compute from what the heads gathered; the "
       "lecture's gained only 0.04",
    5: "without residual connections, the gradient must pass through every block on its way back; a deeper stack "
       "optimises worse, which is the lecture's reason for the next two rungs",
    6: "residual paths pay back what depth cost; with only 3 blocks there is little to pay back",
    7: "LayerNorm matters more the deeper the network; at 3 blocks of 32 channels the lecture gained only 0.02",
    8: "the lecture's GPT needs a GPU budget (5,000 steps of 64 x 256): on a CPU budget it is undertrained",
}
SAME = 0.01  # a change within +/- this many nats is reported as no change


def reading(rung: int, gain: float) -> str:
    """One honest line on what a rung's piece bought: its measured change in val loss against the rung
    before, the lecture's beside it, and, when it did not help, why not."""
    before = BY_NUMBER.get(rung - 1)
    lec = (BY_NUMBER[rung].lecture - before.lecture
           if before and before.lecture is not None and BY_NUMBER[rung].lecture is not None else None)
    said = f" (the lecture: {lec:+.2f})" if lec is not None else ""
    if gain < -SAME:
        return f"helped: {gain:+.3f} nats{said}"
    verdict = "no change" if gain <= SAME else "hurt"
    return f"{verdict}: {gain:+.3f} nats{said}. Why: {WHY_NOT[rung]}."


def gains(rows: list[Result]) -> dict[int, float | None]:
    """Each rung's val loss minus the rung before's (negative: the piece helped), for one speaker."""
    by = {r.rung: r.val_loss for r in rows}
    return {n: (by[n] - by[n - 1] if by.get(n) is not None and by.get(n - 1) is not None else None)
            for n in sorted(by)}
