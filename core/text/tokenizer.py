"""Character-level tokenizer: one sorted vocabulary shared by every speaker's model, so any model
can score any speaker's text."""
from __future__ import annotations

import json
import re
from collections.abc import Iterable

import torch

from core.errors import UserError

_VISIBLE = {" ": "␣", "\n": "↵", "\t": "⇥"}


def visible(text: str) -> str:
    """Text for display with its blanks made visible: space '␣', newline '↵', tab '⇥'."""
    return "".join(_VISIBLE.get(c, c) for c in text)


def parse_ids(text: str) -> list[int]:
    """Token ids as a person types them: "18, 47 56" or "[18, 47, 56]"; a clear ValueError otherwise."""
    ids = []
    for part in re.split(r"[\s,\[\]]+", text):
        if not part:
            continue
        try:
            ids.append(int(part))
        except ValueError:
            raise UserError(f"{part!r} is not a token id: type whole numbers separated by commas or spaces, "
                             "e.g. 18, 47, 56") from None
    return ids


class UnknownCharError(UserError):
    """Text holds characters the vocabulary lacks; `chars` lists them."""

    def __init__(self, chars: list[str], message: str | None = None):
        self.chars = chars
        shown = ", ".join(f"{c!r} (U+{ord(c):04X})" for c in chars[:10])
        more = f" and {len(chars) - 10} more" if len(chars) > 10 else ""
        super().__init__(message or f"characters not in the vocabulary: {shown}{more}")


class CharTokenizer:
    def __init__(self, chars: Iterable[str]):
        chars = sorted(set(chars))
        if not chars:
            raise UserError("a vocabulary needs at least one character")
        if any(len(c) != 1 for c in chars):
            raise UserError("every vocabulary entry must be a single character")
        self.chars: list[str] = chars
        self.stoi = {c: i for i, c in enumerate(chars)}

    @classmethod
    def from_texts(cls, texts: Iterable[str]) -> CharTokenizer:
        vocab: set[str] = set()
        for t in texts:
            vocab.update(t)
        return cls(vocab)

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def unknown(self, text: str) -> list[str]:
        """Characters of text outside the vocabulary, in order of first appearance."""
        return [c for c in dict.fromkeys(text) if c not in self.stoi]

    def encode(self, text: str) -> list[int]:
        try:
            return [self.stoi[c] for c in text]
        except KeyError:
            raise UnknownCharError(self.unknown(text)) from None

    def encode_tensor(self, text: str) -> torch.Tensor:
        return torch.tensor(self.encode(text), dtype=torch.long)

    def decode(self, ids: Iterable[int]) -> str:
        n = len(self.chars)
        out = []
        for i in ids:
            i = int(i)
            if not 0 <= i < n:
                raise UserError(f"token id {i} is outside the vocabulary (0..{n - 1})")
            out.append(self.chars[i])
        return "".join(out)

    def to_json(self) -> str:
        return json.dumps({"type": "char", "chars": "".join(self.chars)}, ensure_ascii=False)

    @classmethod
    def from_json(cls, s: str) -> CharTokenizer:
        d = json.loads(s)
        if not isinstance(d, dict) or d.get("type") != "char" or not isinstance(d.get("chars"), str):
            raise UserError("not a Podium character vocabulary")
        return cls(d["chars"])

    def __eq__(self, other) -> bool:
        return isinstance(other, CharTokenizer) and self.chars == other.chars

    def __hash__(self) -> int:
        return hash("".join(self.chars))

    def __repr__(self) -> str:
        return f"CharTokenizer(vocab_size={self.vocab_size})"


def unescape(text: str, flag: str = "--prompt") -> str:
    r"""--escapes: \n, \t, \u00e9 ... become the characters; every other character stays itself
    (latin-1 with backslashreplace keeps é or ☃ whole through unicode_escape)."""
    try:
        return text.encode("latin-1", "backslashreplace").decode("unicode_escape")
    except UnicodeDecodeError as e:
        raise UserError(f"{flag} has a broken escape ({e.reason}): write \\\\ for a backslash") from None
