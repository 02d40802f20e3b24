"""What the Attention page shows: every stage of every head of a GPT on a piece of text, as
plain numpy arrays with labels, including what happens when the context is longer than
block_size (only the last block_size characters fit; there is no position embedding past it)."""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import torch

from core.errors import UserError
from core.model.gpt import GPT
from core.text.tokenizer import CharTokenizer

_SHOW = {" ": "␣", "\n": "↵", "\t": "⇥"}


def char_label(c: str, i: int) -> str:
    """Characters repeat, so labels carry their position: 'e (3)'; blanks are made visible."""
    return f"{_SHOW.get(c, c)} ({i})"


@dataclass(frozen=True)
class AttentionView:
    text: str               # what the model saw (after any crop)
    labels: list[str]       # one per position, "c (i)"
    requested: int          # T the learner asked for
    cropped: int            # characters dropped from the front because T > block_size
    block_size: int
    causal: bool
    head_size: int
    scale: float            # 1 / sqrt(head_size)
    scores: np.ndarray      # (L, H, T, T) q @ k^T
    scaled: np.ndarray
    masked: np.ndarray      # -inf where the mask hides the future
    weights: np.ndarray     # softmax rows, in [0, 1], summing to 1
    out: np.ndarray         # (L, H, T, head_size) weights @ v
    n_embd: int
    next_chars: list[tuple[str, float]]  # the model's top guesses for what follows
    guesses: list[list[tuple[str, float]]] = field(default_factory=list)  # top guesses after each position

    @property
    def T(self) -> int:
        return len(self.labels)

    def prefix(self, T: int) -> AttentionView:
        """The view of the first T characters, cut from this one without running the model again.
        Exact in the decoder view when nothing was cropped: causality means position i never saw
        anything after i, so the attention of text[:T] is the top-left T x T block of this one's
        (adding text never changes what earlier characters attended to)."""
        if not self.causal or self.cropped:
            raise ValueError("only an uncropped decoder view holds the views of its prefixes")
        if not 1 <= T <= self.T:
            raise ValueError(f"T = {T} is outside 1..{self.T}")
        sq = (slice(None), slice(None), slice(0, T), slice(0, T))
        return replace(self, text=self.text[:T], labels=self.labels[:T], requested=T,
                       scores=self.scores[sq], scaled=self.scaled[sq], masked=self.masked[sq],
                       weights=self.weights[sq], out=self.out[:, :, :T],
                       next_chars=self.guesses[T - 1] if self.guesses else [], guesses=self.guesses[:T])

    def shapes(self) -> list[tuple[str, str]]:
        T, C, hs, H = self.T, self.n_embd, self.head_size, self.weights.shape[1]
        return [("x = token emb + position emb", f"(B, T, C) = (1, {T}, {C})"),
                ("q, k, v = x @ W (one head)", f"(B, T, head_size) = (1, {T}, {hs})"),
                ("q @ k^T, scaled, masked, softmax", f"(B, T, T) = (1, {T}, {T})"),
                ("softmax @ v (one head)", f"(B, T, head_size) = (1, {T}, {hs})"),
                ("concat of heads -> proj", f"(B, T, C) = (1, {T}, {H * hs})"),
                ("logits", f"(B, T, vocab) = (1, {T}, ?)")]


def context_window(text: str, T: int, block_size: int) -> tuple[str, int]:
    """The first T characters of text, cropped to the last block_size of them (as sampling does)."""
    if T < 1:
        raise UserError("the context length T must be at least 1")
    if not text:
        raise UserError("the text is empty: type or paste some text")
    if len(text) < T:
        raise UserError(f"the text has {len(text)} characters, fewer than T = {T}: "
                         f"lower T or give a longer text")
    window = text[:T]
    dropped = max(0, T - block_size)
    return window[dropped:], dropped


@torch.no_grad()
def attention_view(model: GPT, tokenizer: CharTokenizer, text: str, T: int, causal: bool = True,
                   top: int = 5) -> AttentionView:
    """Run the first T characters of text through model.inspect (cropping to block_size)."""
    window, dropped = context_window(text, T, model.config.block_size)
    ids = tokenizer.encode_tensor(window).unsqueeze(0).to(next(model.parameters()).device)
    ins = model.inspect(ids, causal=causal)

    def arr(t):
        return t[0].float().cpu().numpy()
    probs = torch.softmax(ins.logits[0].float(), -1)                              # (T, vocab)
    p, i = probs.topk(min(top, probs.size(-1)), dim=-1)                             # (T, top)
    guesses = [[(tokenizer.chars[int(k)], float(v)) for v, k in zip(pr, ir)] for pr, ir in zip(p, i)]
    return AttentionView(
        text=window, labels=[char_label(c, dropped + j) for j, c in enumerate(window)], requested=T,
        cropped=dropped, block_size=model.config.block_size, causal=causal,
        head_size=model.config.head_size, scale=model.config.head_size ** -0.5,
        scores=arr(ins.scores), scaled=arr(ins.scaled), masked=arr(ins.masked), weights=arr(ins.weights),
        out=arr(ins.out), n_embd=model.config.n_embd,
        next_chars=guesses[-1], guesses=guesses)
