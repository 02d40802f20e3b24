"""Maps of a GPT's embeddings: the token embeddings in 2-D (PCA), aligned across models so that the
maps of different speakers can be compared, and the position embeddings' cosine similarities.

Alignment: each model's 2-D map is rotated (or reflected) onto a reference map by orthogonal
Procrustes over the characters both vocabularies hold; distances within a map are unchanged."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from core.text.tokenizer import CharTokenizer

CLASSES = ("vowel", "consonant", "capital", "digit", "punctuation", "space")


def char_class(c: str) -> str:
    """vowel / consonant (lower-case letters), capital, digit, punctuation, space (blanks)."""
    if c.isspace():
        return "space"
    if c.isdigit():
        return "digit"
    if c.isalpha():
        if c.isupper():
            return "capital"
        return "vowel" if c.lower() in "aeiouáéíóú" else "consonant"
    return "punctuation"


def pca_2d(x: torch.Tensor) -> tuple[torch.Tensor, list[float]]:
    """(N, 2) the rows of x (N, C) on their first two principal components, and the share of the
    variance each explains. The sign of each component is fixed (its largest loading positive) so
    the map does not flip between runs of the same weights."""
    x = x.double() - x.double().mean(0)
    _, s, vh = torch.linalg.svd(x, full_matrices=False)
    comps = vh[:2]                                                       # (2, C)
    signs = torch.sign(comps.gather(1, comps.abs().argmax(1, keepdim=True)))
    comps = comps * signs
    var = (s ** 2) / (s ** 2).sum()
    return (x @ comps.T).float(), var[:2].tolist()


def procrustes(source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The orthogonal R (2 x 2, rotation or reflection) minimising ||source @ R - target||."""
    u, _, vh = torch.linalg.svd(source.double().T @ target.double())
    return (u @ vh).float()


@dataclass(frozen=True)
class EmbeddingMap:
    label: str                   # the model's name
    chars: list[str]
    classes: list[str]           # char_class of each
    xy: torch.Tensor             # (V, 2) aligned PCA coordinates
    explained: list[float]       # the variance the two components explain
    aligned_on: int              # characters shared with the reference (0 for the reference itself)


def token_maps(models: dict[str, tuple[torch.nn.Module, CharTokenizer]]) -> list[EmbeddingMap]:
    """Per model, its token embeddings in 2-D; every map after the first is aligned to the first."""
    out: list[EmbeddingMap] = []
    ref_xy, ref_tok = None, None
    for label, (model, tok) in models.items():
        xy, var = pca_2d(model.token_embedding_table.weight.detach())
        shared = 0
        if ref_xy is not None:
            common = [c for c in tok.chars if c in ref_tok.stoi]
            shared = len(common)
            if shared >= 2:
                src = xy[[tok.stoi[c] for c in common]]
                dst = ref_xy[[ref_tok.stoi[c] for c in common]]
                xy = xy @ procrustes(src, dst)
        else:
            ref_xy, ref_tok = xy, tok
        out.append(EmbeddingMap(label, list(tok.chars), [char_class(c) for c in tok.chars], xy, var, shared))
    return out


def position_similarity(model) -> torch.Tensor:
    """(block_size, block_size) cosine similarity between the position embeddings."""
    p = model.position_embedding_table.weight.detach().float()
    p = p / p.norm(dim=1, keepdim=True).clamp_min(1e-12)
    return p @ p.T
