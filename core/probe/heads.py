"""What each attention head does, and what it is worth.

Detectors, as TransformerLens's head detector defines them: a pattern is a (T, T) 0/1 matrix of the
keys a head "should" attend to from each query, and a head's score is the share of its attention
that lands on the pattern. One difference, on purpose: only the queries where the pattern has a
target are counted (TransformerLens divides by every query), so a head that does exactly the
pattern scores 1.0 even where some queries have no target (the first position has no previous
character; the first half of a repeated sequence has no earlier copy).

  previous_token   key i-1                                          real text (the val split)
  duplicate_token  earlier keys holding the same character          random characters repeated twice
  induction        the key right after an earlier copy of the query (Olsson et al. 2022)
  last_space       the last space before the query (start of the current word)    real text
  last_newline     the last newline before the query                              real text
  sentence_start   the last '.', '!', '?' or newline before the query             real text

Ablation: a head is knocked out by replacing its output (its slice of the concatenated head outputs
that enter the attention's output projection) with its mean over the val text at that position
(mean ablation, the default) or with zeros. It is done by a forward pre-hook on `block.attn.proj`
of a private copy of the model: the caller's model (perhaps shared by every session of the app)
is never touched. A head's worth = the val loss with it ablated minus the val loss, in nats."""
from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field

import torch
from torch.nn import functional as F

from core.errors import UserError
from core.text.tokenizer import CharTokenizer

REAL_PATTERNS = ("previous_token", "self", "two_back", "three_back", "last_space", "last_newline", "sentence_start",
                 "vowels", "capitals", "punctuation")
SYNTHETIC_PATTERNS = ("duplicate_token", "induction")
PATTERNS = ("previous_token", "duplicate_token", "induction", "self", "two_back", "three_back", "last_space",
            "last_newline", "sentence_start", "vowels", "capitals", "punctuation")
LABELS = {"previous_token": "previous char", "duplicate_token": "duplicate char", "induction": "induction",
          "self": "current char", "two_back": "2 chars back", "three_back": "3 chars back",
          "last_space": "word start", "last_newline": "last newline", "sentence_start": "sentence start",
          "vowels": "vowels", "capitals": "capitals", "punctuation": "punctuation"}
CLASSES = {"vowels": "aeiouAEIOU", "capitals": "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "punctuation": ".,;:!?-'\"()"}
ABLATIONS = ("mean", "zero")
SENTENCE_ENDS = ".!?\n"
CLEAR = 0.3  # a head "is" a pattern's head when that score reaches this (the induction threshold)
PAGE_CHARS = 10_000  # the Inside-the-heads page ablates over the first PAGE_CHARS characters of each val text
HeadRef = tuple[int, int]  # (layer, head), both from 0


# ---------------------------------------------------------------- detection patterns (T, T) per sequence

def previous_token_pattern(T: int) -> torch.Tensor:
    """[i, i-1] = 1: each position attends to the one before (row 0 has no target)."""
    return torch.diag(torch.ones(T - 1), -1) if T > 1 else torch.zeros(1, 1)


def duplicate_token_pattern(ids: torch.Tensor) -> torch.Tensor:
    """[i, j] = 1 for j < i with ids[j] == ids[i]: earlier copies of the query's character."""
    eq = (ids[:, None] == ids[None, :]).float()                     # (T, T)
    return torch.tril(eq, diagonal=-1)


def induction_pattern(ids: torch.Tensor) -> torch.Tensor:
    """[i, j] = 1 when ids[j - 1] == ids[i] for j - 1 < i: the character that followed an earlier
    copy of the query (what an induction head copies: ...A B ... A -> B). Key j <= i, causal."""
    T = ids.numel()
    dup = duplicate_token_pattern(ids)                              # [i, j-1]
    out = torch.zeros(T, T)
    out[:, 1:] = dup[:, :-1]                                        # shift the key one to the right
    return out


def last_of_pattern(ids: torch.Tensor, target_ids: Iterable[int]) -> torch.Tensor:
    """[i, j] = 1 for the last j < i whose character is one of target_ids."""
    T = ids.numel()
    hit = torch.isin(ids, torch.as_tensor(list(target_ids), dtype=ids.dtype))
    out = torch.zeros(T, T)
    last = -1
    for i in range(T):
        if last >= 0:
            out[i, last] = 1.0
        if hit[i]:
            last = i
    return out


def offset_pattern(T: int, back: int) -> torch.Tensor:
    """[i, i - back] = 1: each position attends to the one `back` characters before (0: itself)."""
    return torch.diag(torch.ones(T - back), -back) if back < T else torch.zeros(T, T)


def class_pattern(ids: torch.Tensor, target_ids: Iterable[int]) -> torch.Tensor:
    """[i, j] = 1 for every j <= i whose character is in the class: the query's whole past of it."""
    hit = torch.isin(ids, torch.as_tensor(list(target_ids), dtype=ids.dtype)).float()
    return torch.tril(hit[None, :].expand(ids.numel(), -1))


def pattern_matrices(ids: torch.Tensor, tokenizer: CharTokenizer, names: Sequence[str]) -> torch.Tensor:
    """(len(names), T, T) the detection patterns of one sequence of ids."""
    def ids_of(chars):
        return [tokenizer.stoi[c] for c in chars if c in tokenizer.stoi]
    make: dict[str, Callable[[], torch.Tensor]] = {
        "self": lambda: offset_pattern(ids.numel(), 0),
        "two_back": lambda: offset_pattern(ids.numel(), 2),
        "three_back": lambda: offset_pattern(ids.numel(), 3),
        **{name: (lambda chars=chars: class_pattern(ids, ids_of(chars))) for name, chars in CLASSES.items()},
        "previous_token": lambda: previous_token_pattern(ids.numel()),
        "duplicate_token": lambda: duplicate_token_pattern(ids),
        "induction": lambda: induction_pattern(ids),
        "last_space": lambda: last_of_pattern(ids, ids_of(" ")),
        "last_newline": lambda: last_of_pattern(ids, ids_of("\n")),
        "sentence_start": lambda: last_of_pattern(ids, ids_of(SENTENCE_ENDS)),
    }
    return torch.stack([make[n]() for n in names])


def pattern_score(weights: torch.Tensor, pattern: torch.Tensor) -> torch.Tensor:
    """The share of attention on the pattern, over the queries that have a target.
    weights (..., T, T) rows summing to 1; pattern (T, T) or broadcastable. Returns (...) in [0, 1]
    (0 when no query has a target)."""
    on = (weights * pattern).sum(-1)                                # (..., T) mass on the pattern per query
    has = (pattern.sum(-1) > 0).to(weights.dtype).expand_as(on)     # (..., T)
    n = has.sum(-1)
    return torch.where(n > 0, (on * has).sum(-1) / n.clamp_min(1), torch.zeros_like(n))


# ---------------------------------------------------------------- inputs

def text_windows(tokenizer: CharTokenizer, text: str, block_size: int, n: int) -> torch.Tensor:
    """(<= n, T) consecutive windows of block_size characters of text, evenly spread over it."""
    ids = tokenizer.encode_tensor(text)
    T = block_size
    total = len(ids) // T
    if total == 0:
        raise UserError(f"need at least {T} characters of text to score the heads, got {len(ids)}")
    picks = torch.linspace(0, total - 1, min(n, total)).round().long().unique()
    return ids[:total * T].view(total, T)[picks]


def repeated_random(tokenizer: CharTokenizer, block_size: int, n: int, seed: int = 0) -> torch.Tensor:
    """(n, 2 * (block_size // 2)) sequences of random lower-case letters, each repeated twice
    (Olsson et al.'s test for induction; letters keep the input in the text's distribution)."""
    alphabet = [tokenizer.stoi[c] for c in "abcdefghijklmnopqrstuvwxyz" if c in tokenizer.stoi]
    if len(alphabet) < 2:
        alphabet = list(range(tokenizer.vocab_size))
    half = max(1, block_size // 2)
    g = torch.Generator().manual_seed(seed)
    pick = torch.randint(len(alphabet), (n, half), generator=g)
    first = torch.as_tensor(alphabet)[pick]
    return torch.cat([first, first], dim=1)


# ---------------------------------------------------------------- scoring every head

@dataclass(frozen=True)
class HeadScore:
    layer: int                    # from 0
    head: int                     # from 0
    scores: dict[str, float]      # pattern -> share of attention on it, in [0, 1]
    worth: float | None = None    # val loss increase (nats/char) when the head is ablated
    ablation: str | None = None   # "mean" or "zero"
    relative: dict[str, float] = field(default_factory=dict)  # pattern -> (share - uniform's) / (1 - uniform's)
    spread: float | None = None   # how many keys the head averages, in effect: exp(entropy of its weights)
    attends: list = field(default_factory=list)  # [char, share of its attention, lift over a uniform head]

    @property
    def best(self) -> tuple[str, float]:
        """The strongest pattern and its score: relative to what a head attending uniformly to the past
        would score on it (a class of characters gets much of any head's attention), when known."""
        scores = self.relative or self.scores
        name = max(scores, key=scores.__getitem__)
        return name, scores[name]

    @property
    def label(self) -> str:
        """The strongest pattern when it is clear (score >= CLEAR); else what the head does instead:
        spread over ~N characters, leaning to the character it prefers most (its lift)."""
        name, score = self.best
        if score >= CLEAR:
            return LABELS[name]
        if self.spread is None:  # scored without its weights' spread (an older probes.json): say what is known
            return f"no clear pattern (closest: {LABELS[name]}, {score:.0%})"
        lean = next((f", leans to {c!r}" for c, share, lift in self.attends if lift >= LEAN and share >= 0.05), "")
        return f"broad: ~{self.spread:.0f} chars{lean}"

    def to_dict(self) -> dict:
        return {**asdict(self), "best": self.best[0], "best_score": self.best[1], "label": self.label}


LEAN = 1.5  # a head "leans to" a character it gives 1.5x the attention a uniform head would


def _weights(model, idx: torch.Tensor) -> torch.Tensor:
    """(B, L, H, T, T) attention weights through GPT.inspect, in fp32 on the CPU (the model is left
    in the mode it was in: the trainer calls this between steps)."""
    was_training = model.training
    model.eval()
    try:
        return model.inspect(idx.to(next(model.parameters()).device)).weights.float().cpu()
    finally:
        model.train(was_training)


@torch.no_grad()
def detect(model, tokenizer: CharTokenizer, text: str, n_windows: int = 32, n_random: int = 16,
           seed: int = 0, patterns: Sequence[str] = PATTERNS, relative: bool = False) -> torch.Tensor:
    """(L, H, len(patterns)) every head's score on each pattern: the real-text patterns on windows of
    text, the synthetic ones on random letters repeated twice. relative: each score against a head
    that attends uniformly to the past, (s - u) / (1 - u): 0 is no preference, 1 all on the pattern."""
    return _detect(model, tokenizer, text, n_windows, n_random, seed, patterns)[1 if relative else 0]


def _detect(model, tokenizer, text, n_windows, n_random, seed, patterns):
    """(raw, relative) scores (L, H, P), and (spread (L, H), attends [layer][head] -> leanings) from
    the real-text windows."""
    T = model.config.block_size
    L, H = model.config.n_layer, model.config.n_head
    raw, rel = torch.zeros(L, H, len(patterns)), torch.zeros(L, H, len(patterns))
    spread, attends = torch.zeros(L, H), [[[] for _ in range(H)] for _ in range(L)]
    groups = [([p for p in patterns if p in REAL_PATTERNS], lambda: text_windows(tokenizer, text, T, n_windows)),
              ([p for p in patterns if p in SYNTHETIC_PATTERNS], lambda: repeated_random(tokenizer, T, n_random, seed))]
    for names, make in groups:
        if not names:
            continue
        idx = make()                                                       # (B, T)
        w = _weights(model, idx)                                           # (B, L, H, T, T)
        t = w.shape[-1]
        uniform = torch.tril(torch.ones(t, t)) / torch.arange(1, t + 1)[:, None]  # a head with no preference
        pats = torch.stack([pattern_matrices(seq, tokenizer, names) for seq in idx])  # (B, P, T, T)
        for k, name in enumerate(names):
            s = pattern_score(w, pats[:, None, None, k]).mean(0)           # (L, H)
            u = pattern_score(uniform, pats[:, k]).mean()                  # ()
            raw[..., patterns.index(name)] = s
            rel[..., patterns.index(name)] = (s - u) / (1 - u).clamp_min(1e-6) if u < 1 else torch.zeros_like(s)
        if names and names[0] in REAL_PATTERNS:
            q = slice(t // 4, t)  # queries with some past: the first few see almost nothing
            a = w[..., q, :]                                               # (B, L, H, Tq, T)
            spread = torch.exp(-(a * a.clamp_min(1e-12).log()).sum(-1)).mean((0, 3))   # (L, H) effective keys
            onehot = F.one_hot(idx, tokenizer.vocab_size).float()          # (B, T, V)
            share = torch.einsum("blhqk,bkv->lhv", a, onehot) / (a.shape[0] * a.shape[3])
            base = torch.einsum("qk,bkv->v", uniform[q], onehot) / (a.shape[0] * a.shape[3])
            lift = share / base.clamp_min(1e-9)
            for i in range(L):
                for j in range(H):
                    top = torch.argsort(share[i, j] * (base > 0.005), descending=True)[:5].tolist()
                    attends[i][j] = [[tokenizer.chars[c], round(float(share[i, j, c]), 4),
                                      round(float(lift[i, j, c]), 2)]
                                     for c in sorted(top, key=lambda c, i=i, j=j: -float(lift[i, j, c]))]
    return raw, rel, spread, attends


def label_score(best_score: float) -> float | None:
    """The score shown beside a head's label: its pattern's, when the label names one (score >= CLEAR);
    None for a head labelled by its spread, which follows no pattern."""
    return best_score if best_score >= CLEAR else None


def head_labels(model, tokenizer: CharTokenizer, text: str, **kw) -> list[list[tuple[str, float | None]]]:
    """[layer][head] -> (what the head does, as HeadScore.label says it; its pattern's score, or None)."""
    rows = score_heads(model, tokenizer, text, ablation=False, **kw)
    out: dict[int, list] = {}
    for r in rows:
        out.setdefault(r.layer, []).append((r.label, label_score(r.best[1])))
    return [out[i] for i in sorted(out)]


# ---------------------------------------------------------------- ablation

def _proj(block) -> torch.nn.Module:
    """The attention's output projection: its input is the heads' outputs side by side (B, T, C)."""
    return block.attn.proj


def _check_heads(model, heads: Iterable[HeadRef]) -> list[HeadRef]:
    L, H = model.config.n_layer, model.config.n_head
    out = []
    for layer, head in heads:
        if not (0 <= layer < L and 0 <= head < H):
            raise UserError(f"no head ({layer + 1}, {head + 1}): this model has {L} layers of {H} heads")
        out.append((int(layer), int(head)))
    return out


@torch.no_grad()
def head_means(model, windows: torch.Tensor, batch_size: int = 64) -> torch.Tensor:
    """(L, T, C) the mean over windows of what enters each layer's output projection, per position:
    every head's mean output (head h owns channels h * head_size .. (h + 1) * head_size)."""
    L, C = model.config.n_layer, model.config.n_embd
    T = windows.shape[1]
    sums = torch.zeros(L, T, C)
    handles = []

    def keep(layer):
        def hook(_module, args):
            sums[layer] += args[0].detach().float().sum(0).cpu()
        return hook

    for i, block in enumerate(model.blocks):
        handles.append(_proj(block).register_forward_pre_hook(keep(i)))
    try:
        model.eval()
        for b in range(0, len(windows), batch_size):
            model(windows[b:b + batch_size])
    finally:
        for h in handles:
            h.remove()
    return sums / len(windows)


class _Knockout:
    """Forward pre-hooks on a model's output projections that overwrite chosen heads' outputs.
    `heads` may be changed between forward passes (the model is a private copy)."""

    def __init__(self, model, means: torch.Tensor | None, mode: str):
        if mode not in ABLATIONS:
            raise UserError(f"ablation must be one of {ABLATIONS}, got {mode!r}")
        if mode == "mean" and means is None:
            raise ValueError("mean ablation needs the heads' means (head_means)")
        self.heads: list[HeadRef] = []
        self.hs = model.config.head_size
        self.means, self.mode = means, mode
        for i, block in enumerate(model.blocks):
            _proj(block).register_forward_pre_hook(self._hook(i))

    def _hook(self, layer):
        def hook(_module, args):
            chosen = [h for (lyr, h) in self.heads if lyr == layer]
            if not chosen:
                return None
            y = args[0].clone()                                            # (B, T, C)
            T = y.shape[1]
            for h in chosen:
                sl = slice(h * self.hs, (h + 1) * self.hs)
                y[..., sl] = 0.0 if self.mode == "zero" else self.means[layer, :T, sl].to(y)
            return (y, *args[1:])
        return hook


def ablated(model, heads: Iterable[HeadRef], means: torch.Tensor | None = None, mode: str = "mean"):
    """A copy of model with the given heads knocked out (the original is untouched). means from
    head_means (needed for mean ablation)."""
    heads = _check_heads(model, heads)
    twin = copy.deepcopy(model).eval()
    _Knockout(twin, means, mode).heads = heads
    return twin


@torch.no_grad()
def _windows_loss(model, windows: torch.Tensor, batch_size: int = 64) -> float:
    """Mean next-character loss (nats) over windows (B, T + 1): predict [:, 1:] from [:, :-1]."""
    total, n = 0.0, 0
    for b in range(0, len(windows), batch_size):
        w = windows[b:b + batch_size]
        logits, _ = model(w[:, :-1])
        total += F.cross_entropy(logits.float().flatten(0, 1), w[:, 1:].flatten(), reduction="sum").item()
        n += w[:, 1:].numel()
    return total / n


def val_windows(tokenizer: CharTokenizer, text: str, block_size: int, max_chars: int | None = None) -> torch.Tensor:
    """(N, block_size + 1) consecutive windows of the text (inputs and their next characters),
    each character predicted once; at most max_chars characters are used, from the start."""
    if max_chars is not None and (isinstance(max_chars, bool) or max_chars < 1):
        raise UserError(f"max_chars must be 1 or more (None: the whole text), got {max_chars!r}")
    ids = tokenizer.encode_tensor(text if max_chars is None else text[:max_chars])
    T = block_size
    n = (len(ids) - 1) // T
    if n == 0:
        raise UserError(f"need at least {T + 1} characters to score a context of {T}, got {len(ids)}")
    x = ids[:n * T].view(n, T)
    last = ids[T:n * T + 1:T].view(n, 1)                                   # the character after each window
    return torch.cat([x, last], dim=1)


@dataclass
class Ablation:
    base: float                                   # val loss, nothing ablated
    loss: float                                   # val loss with the heads ablated
    heads: list[HeadRef] = field(default_factory=list)
    mode: str = "mean"

    @property
    def delta(self) -> float:
        return self.loss - self.base


@torch.no_grad()
def ablate_loss(model, tokenizer: CharTokenizer, text: str, heads: Iterable[HeadRef], mode: str = "mean",
                means: torch.Tensor | None = None, max_chars: int | None = None) -> Ablation:
    """The loss on text (e.g. a speaker's val split) with and without the heads knocked out.
    means: the heads' mean outputs (default: over this text)."""
    heads = _check_heads(model, heads)
    win = val_windows(tokenizer, text, model.config.block_size, max_chars)
    if mode == "mean" and means is None:
        means = head_means(model, win[:, :-1])
    base = _windows_loss(model, win)
    loss = _windows_loss(ablated(model, heads, means, mode), win) if heads else base
    return Ablation(base, loss, heads, mode)


def run_blocks(model, x: torch.Tensor, start: int = 0) -> torch.Tensor:
    """Logits (B, T, V) from the residual stream x entering block `start`: the rest of GPT.forward
    (the blocks from `start`, the final LayerNorm, the head). With start=0 and x = the embeddings,
    equal to model(idx) (tests/unit/test_heads.py holds it to that)."""
    for block in model.blocks[start:]:
        x = block(x)
    return model.head(x)


def _loss(logits: torch.Tensor, targets: torch.Tensor) -> float:
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten(), reduction="sum").item()


class _EachHead:
    """A forward pre-hook on one layer's output projection for a batch stacked H times (H * B, ...):
    copy h has head h's output replaced (by its mean over the text, or zeros), so one forward pass
    ablates every head of the layer, each in its own copy."""

    def __init__(self, block, n_head: int, head_size: int, means: torch.Tensor | None):
        self.n_head, self.hs, self.means = n_head, head_size, means
        self.handle = _proj(block).register_forward_pre_hook(self.hook)

    def hook(self, _module, args):
        y = args[0]                                                        # (H * B, T, C)
        H, T, C = self.n_head, y.shape[1], y.shape[2]
        y = y.view(H, -1, T, C).clone()                                    # (H, B, T, C)
        for h in range(H):
            sl = slice(h * self.hs, (h + 1) * self.hs)
            y[h, :, :, sl] = 0.0 if self.means is None else self.means[:T, sl].to(y)
        return (y.view(-1, T, C), *args[1:])

    def remove(self) -> None:
        self.handle.remove()


@torch.no_grad()
def head_worth(model, tokenizer: CharTokenizer, text: str, mode: str = "mean", max_chars: int | None = None,
               batch_size: int = 64) -> tuple[float, torch.Tensor]:
    """(the val loss, (L, H) the loss increase when each head alone is ablated), in nats/char.
    Each ablation re-runs only the blocks from the head's layer on (the residual stream entering it
    is the same as without ablation), and every head of a layer is ablated in one batched pass: the
    batch stacked n_head times, copy h without head h (the same numbers as one head at a time:
    tests/unit/test_heads.py)."""
    if mode not in ABLATIONS:
        raise UserError(f"ablation must be one of {ABLATIONS}, got {mode!r}")
    win = val_windows(tokenizer, text, model.config.block_size, max_chars)
    means = head_means(model, win[:, :-1], batch_size) if mode == "mean" else None
    twin = copy.deepcopy(model).eval()  # hooks on a private copy: the app's model is shared by its sessions
    L, H = model.config.n_layer, model.config.n_head
    base, losses = 0.0, torch.zeros(L, H, dtype=torch.float64)
    for b in range(0, len(win), batch_size):
        x, y = win[b:b + batch_size, :-1], win[b:b + batch_size, 1:]
        streams = []                                                       # the residual entering each block
        h = twin._embed(x)
        for block in twin.blocks:
            streams.append(h)
            h = block(h)
        base += _loss(twin.head(h), y)
        for i in range(L):
            each = _EachHead(twin.blocks[i], H, model.config.head_size, None if means is None else means[i])
            try:
                logits = run_blocks(twin, streams[i].repeat(H, 1, 1), i)   # (H * B, T, V)
            finally:
                each.remove()
            nll = F.cross_entropy(logits.flatten(0, 1), y.repeat(H, 1).flatten(), reduction="none")
            losses[i] += nll.view(H, -1).double().sum(1)
    n = win[:, 1:].numel()
    return base / n, (losses / n - base / n).float()


def score_heads(model, tokenizer: CharTokenizer, val_text: str, mode: str = "mean", ablation: bool = True,
                max_chars: int | None = None, **detect_kw) -> list[HeadScore]:
    """Every head: its pattern scores (raw and relative), how widely it spreads, the characters it
    leans to, and (with ablation) its worth in nats over val_text."""
    kw = {"n_windows": 32, "n_random": 16, "seed": 0, **detect_kw}
    raw, rel, spread, attends = _detect(model, tokenizer, val_text, kw["n_windows"], kw["n_random"], kw["seed"],
                                        PATTERNS)
    worth = head_worth(model, tokenizer, val_text, mode, max_chars)[1] if ablation else None
    return [HeadScore(i, j, {p: round(float(raw[i, j, k]), 4) for k, p in enumerate(PATTERNS)},
                      None if worth is None else round(float(worth[i, j]), 5), mode if ablation else None,
                      {p: round(float(rel[i, j, k]), 4) for k, p in enumerate(PATTERNS)},
                      round(float(spread[i, j]), 2), attends[i][j])
            for i in range(raw.shape[0]) for j in range(raw.shape[1])]


def parse_heads(spec: str) -> list[HeadRef]:
    """'1.3,2.1' (layer.head, counted from 1) -> [(0, 2), (1, 0)]."""
    out = []
    for part in filter(None, (p.strip() for p in spec.split(","))):
        try:
            layer, head = (int(x) for x in part.replace(":", ".").split("."))
        except ValueError:
            raise UserError(f"cannot read head {part!r}: write layer.head counted from 1, e.g. 1.3") from None
        if layer < 1 or head < 1:
            raise UserError(f"head {part!r}: layers and heads are counted from 1")
        out.append((layer - 1, head - 1))
    return out
