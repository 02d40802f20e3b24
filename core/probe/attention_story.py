"""What the Attention page's two story sections compute, as plain numpy arrays with labels:
* token + position: the two embedding tables and what enters the first block,
  x = tok_emb(idx) + pos_emb(arange(T)), with the crop past block_size (no position row there);
* the story of one character: one position's query, the keys it meets, its row of affinities and
  weights, and the weighted sum of values that comes out, with each earlier character's share."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from core.errors import UserError
from core.model.gpt import GPT
from core.probe.attention_view import char_label, context_window
from core.text.tokenizer import CharTokenizer


@dataclass(frozen=True)
class EmbeddingView:
    labels: list[str]         # one per position, "c (i)"
    requested: int            # T asked for
    cropped: int              # characters dropped from the front because T > block_size
    block_size: int
    vocab_size: int
    n_embd: int
    tok: np.ndarray           # (T, C) tok_emb(idx): one row of the token table per character
    pos: np.ndarray           # (T, C) pos_emb(arange(T)): rows 0..T-1 of the position table
    x: np.ndarray             # (T, C) their sum, what the first block reads

    @property
    def T(self) -> int:
        return len(self.labels)


@torch.no_grad()
def embedding_view(model: GPT, tokenizer: CharTokenizer, text: str, T: int) -> EmbeddingView:
    cfg = model.config
    window, dropped = context_window(text, T, cfg.block_size)
    ids = tokenizer.encode_tensor(window).to(next(model.parameters()).device)       # (T,)
    tok = model.token_embedding_table(ids).float()                                  # (T, C)
    pos = model.position_embedding_table(torch.arange(len(ids), device=ids.device)).float()  # (T, C)
    return EmbeddingView([char_label(c, dropped + j) for j, c in enumerate(window)], T, dropped,
                         cfg.block_size, cfg.vocab_size, cfg.n_embd,
                         tok.cpu().numpy(), pos.cpu().numpy(), (tok + pos).cpu().numpy())


@dataclass(frozen=True)
class OneCharacter:
    labels: list[str]         # the context's positions, "c (i)"
    position: int             # the chosen position (0-based within the context)
    layer: int
    head: int
    causal: bool
    query: np.ndarray         # (hs,) what this character looks for
    keys: np.ndarray          # (T, hs) what every character offers
    values: np.ndarray        # (T, hs) what every character gives
    affinities: np.ndarray    # (T,) q . k_j / sqrt(hs); -inf where the mask hides the future
    weights: np.ndarray       # (T,) softmax of the affinities: the share of each character, sums to 1
    out: np.ndarray           # (hs,) sum_j weights[j] * values[j]
    contributions: np.ndarray  # (T, hs) weights[j] * values[j]: the rows add up to out
    grid: np.ndarray          # (T, T) the head's weights for every position (row = query)

    def attended(self) -> list[int]:
        """The positions this character can see (those with a finite affinity)."""
        return [j for j in range(len(self.labels)) if np.isfinite(self.affinities[j])]


@torch.no_grad()
def one_character(model: GPT, tokenizer: CharTokenizer, text: str, T: int, position: int,
                  layer: int = 0, head: int = 0, causal: bool = True) -> OneCharacter:
    """position: 0-based within the context the model sees (after any crop); -1 is the last."""
    cfg = model.config
    if not 0 <= layer < cfg.n_layer:
        raise UserError(f"layer must be between 1 and {cfg.n_layer}, got {layer + 1}")
    if not 0 <= head < cfg.n_head:
        raise UserError(f"head must be between 1 and {cfg.n_head}, got {head + 1}")
    window, dropped = context_window(text, T, cfg.block_size)
    n = len(window)
    position = position + n if position < 0 else position
    if not 0 <= position < n:
        raise UserError(f"the position must be between 1 and {n}, got {position + 1}")
    ids = tokenizer.encode_tensor(window).unsqueeze(0).to(next(model.parameters()).device)
    ins = model.inspect(ids, causal=causal)

    def arr(t):
        return t[0, layer, head].float().cpu().numpy()
    q, k, v = arr(ins.q), arr(ins.k), arr(ins.v)                                       # (T, hs) each
    grid = arr(ins.weights)                                                            # (T, T)
    weights = grid[position]                                                           # (T,)
    return OneCharacter([char_label(c, dropped + j) for j, c in enumerate(window)], position, layer, head, causal,
                        q[position], k, v, arr(ins.masked)[position], weights, weights @ v, weights[:, None] * v,
                        grid)
