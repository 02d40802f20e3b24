"""How long what a person types or passes may be, stated once: the CLI refuses past these limits
with a message, and the pages cap their boxes with them and say so. (An uploaded speaker's size
limit is the corpus's: core.corpus.MAX_TEXT_MB.)"""
from __future__ import annotations

from core.errors import UserError

MAX_PASSAGE_CHARS = 20_000   # who said it: a passage scored by every speaker's model (whosaid, Compare, heads)
MAX_PROMPT_CHARS = 2_000     # a sampling prompt (the model reads only its last block_size characters)
MAX_NEW_CHARS = 5_000        # characters generated in one request
MAX_PROBE_CHARS = 2_000      # a probe text read by the lens, the attention maps, the tokenizer
MAX_JSONL_LINES = 10_000     # passages in one `core whosaid --jsonl` run


def check_length(text: str, limit: int, what: str) -> str:
    """text, or a UserError that gives its length and the limit."""
    if len(text) > limit:
        raise UserError(f"{what} is {len(text):,} characters long; the limit is {limit:,}: shorten it")
    return text


def check_count(value: int, lo: int, hi: int | None, what: str) -> int:
    """A whole number in [lo, hi] (hi None: no upper bound), or a UserError that names the range."""
    if isinstance(value, bool) or not isinstance(value, int) or value < lo or (hi is not None and value > hi):
        upper = f" and {hi:,}" if hi is not None else " or more"
        span = f"between {lo:,}{upper}" if hi is not None else f"{lo:,}{upper}"
        raise UserError(f"{what} must be {span}, got {value!r}")
    return value
