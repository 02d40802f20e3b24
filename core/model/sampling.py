"""Sampling: temperature, top-k and an explicit torch.Generator; a KV cache for GPT; a streaming
iterator that yields one character at a time with the distribution it was drawn from.

The model sees at most block_size tokens. What happens when the text outgrows that is the window:
* "slide" (the lecture's, and the default): the context is always the last block_size tokens.
  Every position changes at every step, so past block_size each new token re-runs a whole block
  (measured: 300 characters from the shipped tiny GPT in ~0.85 s on one CPU thread).
* "shift" (the faster option): when the context is full, its older half is dropped at once; the model
  sees between block_size // 2 + 1 and block_size tokens, and the KV cache is rebuilt once every
  block_size // 2 tokens instead of at every one (measured: ~10x faster past the block; see
  docs/benchmarks.md). Cached and uncached sampling see the same windows either way.
With the cache, a core.model.decoder.Decoder runs the model (bf16 weights for a big one: `dtype`)."""
from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch.nn import functional as F

from core.config import TrainConfig
from core.errors import UserError
from core.model.decoder import Decoder, KVCache
from core.model.gpt import GPT
from core.text.tokenizer import CharTokenizer


def check_sampling(temperature: float, top_k: int | None, vocab_size: int) -> None:
    if not temperature > 0:
        raise UserError(f"temperature must be above 0 (try 0.8 or 1.0), got {temperature}")
    if not math.isfinite(temperature):  # an infinite temperature draws uniform noise, whatever the model
        raise UserError(f"temperature must be a finite number (try 0.8 or 1.0), got {temperature}")
    if top_k is not None and not 1 <= top_k <= vocab_size:
        raise UserError(f"top-k must be between 1 and the vocabulary size {vocab_size}, got {top_k}")


def check_seed(seed: int) -> int:
    """A sampling seed lies in the range declared for a training seed (TrainConfig.seed)."""
    meta = TrainConfig.__dataclass_fields__["seed"].metadata
    if isinstance(seed, bool) or not isinstance(seed, int) or not meta["lo"] <= seed <= meta["hi"]:
        raise UserError(f"seed must be a whole number between {meta['lo']:,} and {meta['hi']:,}, got {seed!r}")
    return seed


def next_token_probs(logits: torch.Tensor, temperature: float = 1.0, top_k: int | None = None) -> torch.Tensor:
    """(B, V) last-position logits -> (B, V) probabilities after temperature and top-k."""
    logits = logits.float() if temperature == 1.0 else logits.float() / temperature
    if top_k is not None and top_k < logits.size(-1):
        kth = torch.topk(logits, top_k, dim=-1).values[:, [-1]]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    return F.softmax(logits, dim=-1)


SPEAK_SAMPLE = ("My fellow Americans, ", 240, 1337, 0.8)  # the Speak page's sample: prompt, characters, seed,
# temperature (its defaults, which the shipped runs' probes.json holds: core.runs.probed.warm)
WINDOWS = ("slide", "shift")
DEFAULT_WINDOW = "slide"  # the lecture's


class _Context:
    """Feeds a growing sequence to the model through its window (see the module's docstring),
    reusing cached keys and values until the window moves."""

    def __init__(self, model, use_cache: bool, window: str = DEFAULT_WINDOW, dtype: str = "auto"):
        if window not in WINDOWS:
            raise UserError(f"window must be one of {WINDOWS}, got {window!r}")
        self.model = model
        self.block_size = model.config.block_size
        self.step = 1 if window == "slide" else max(1, self.block_size // 2)
        self.decoder = Decoder(model, dtype) if use_cache and isinstance(model, GPT) else None
        self.start: int | None = None  # where the window begins in the sequence
        self.cache = KVCache()

    def last_logits(self, idx: torch.Tensor) -> torch.Tensor:
        n = idx.size(1)
        if self.start is None:  # a prompt longer than the block: its last block_size tokens
            self.start = max(0, n - self.block_size)
        while n - self.start > self.block_size:
            self.start += self.step
            self.cache = KVCache()
        if self.decoder is None:
            return self.model(idx[:, self.start:])[0][:, -1, :]
        return self.decoder(idx[:, self.start + self.cache.length:], self.cache)


def _draw(probs: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """One token per row; drawn where the generator lives, so a seed means the same on any device."""
    if generator is not None:
        probs = probs.to(generator.device)
    return torch.multinomial(probs, 1, generator=generator)


@torch.no_grad()
def generate(model, idx: torch.Tensor, max_new_tokens: int, temperature: float = 1.0,
             top_k: int | None = None, generator: torch.Generator | None = None,
             use_cache: bool = True, window: str = DEFAULT_WINDOW, dtype: str = "auto") -> torch.Tensor:
    """idx (B, T) -> (B, T + max_new_tokens), drawing each token from the model."""
    check_sampling(temperature, top_k, model.config.vocab_size)
    was_training = model.training
    model.eval()
    ctx = _Context(model, use_cache, window, dtype)
    for _ in range(max_new_tokens):
        probs = next_token_probs(ctx.last_logits(idx), temperature, top_k)           # (B, V)
        nxt = _draw(probs, generator)                                                 # (B, 1)
        idx = torch.cat((idx, nxt.to(idx.device)), dim=1)
    model.train(was_training)
    return idx


@dataclass(frozen=True)
class StreamStep:
    index: int            # position in the generated text (0 = first new character)
    char: str
    token: int
    probs: torch.Tensor   # (V,) the distribution this character was drawn from


def prompt_ids(tokenizer: CharTokenizer, prompt: str) -> list[int]:
    """The prompt as ids; an empty prompt starts from id 0 (a newline), as the lecture does."""
    return tokenizer.encode(prompt) if prompt else [0]


@torch.no_grad()
def stream(model, tokenizer: CharTokenizer, prompt: str, max_new_tokens: int,
           temperature: float = 1.0, top_k: int | None = None,
           generator: torch.Generator | None = None, use_cache: bool = True,
           window: str = DEFAULT_WINDOW, dtype: str = "auto") -> Iterator[StreamStep]:
    """Yield the continuation of prompt one character at a time, with its distribution."""
    check_sampling(temperature, top_k, tokenizer.vocab_size)
    device = next(model.parameters()).device
    idx = torch.tensor([prompt_ids(tokenizer, prompt)], dtype=torch.long, device=device)
    model.eval()
    ctx = _Context(model, use_cache, window, dtype)
    for i in range(max_new_tokens):
        probs = next_token_probs(ctx.last_logits(idx), temperature, top_k)
        nxt = _draw(probs, generator)
        idx = torch.cat((idx, nxt.to(device)), dim=1)
        token = int(nxt)
        yield StreamStep(i, tokenizer.chars[token], token, probs[0].cpu())


def sample_text(model, tokenizer: CharTokenizer, prompt: str, max_new_tokens: int,
                temperature: float = 1.0, top_k: int | None = None, seed: int | None = None,
                use_cache: bool = True, window: str = DEFAULT_WINDOW, dtype: str = "auto") -> str:
    """The prompt's continuation as text (without the prompt), reproducible from seed."""
    g = torch.Generator().manual_seed(check_seed(seed)) if seed is not None else None
    return "".join(s.char for s in stream(model, tokenizer, prompt, max_new_tokens,
                                          temperature, top_k, g, use_cache, window, dtype))
