"""The app's pages, declared once: the router (app.py) builds its navigation from this list, the
Home page its pipeline, and each page the number in its heading (`number(__file__)`), in the
lecture's order: a step moved here is renumbered everywhere."""
from __future__ import annotations

from pathlib import Path
from typing import NamedTuple


class PageInfo(NamedTuple):
    path: str
    title: str   # the navigation's label: "<step>. <name>"
    icon: str
    what: str    # one line for Home's pipeline


HOME = PageInfo("app_pages/home.py", "Home", ":material/home:", "")
_LECTURE = [  # (page, name, icon, what it shows), in order: the numbers follow from it
    ("app_pages/speeches.py", "Speeches", ":material/record_voice_over:",
     "the raw text of each speaker, its statistics and the 90/10 split"),
    ("app_pages/tokens.py", "Tokens", ":material/abc:",
     "one shared character vocabulary; encode and decode; characters vs BPE"),
    ("app_pages/batches.py", "Batches", ":material/grid_on:",
     "B x T windows and the (context -> target) pairs inside them"),
    ("app_pages/bigram.py", "Bigram", ":material/table:",
     "a V x V table of next-character logits: tokens don't talk yet; why counting stops scaling"),
    ("app_pages/trick.py", "The trick", ":material/functions:",
     "averaging the past with a triangular matrix and a softmax"),
    ("app_pages/attention.py", "Attention", ":material/visibility:",
     "queries, keys, the mask and the softmax of a trained GPT, one character through a head"),
    ("app_pages/ladder.py", "Build it up", ":material/stairs:",
     "one head, many heads, feed-forward, blocks, residuals, LayerNorm, dropout: what each buys"),
    ("app_pages/train.py", "Train", ":material/model_training:",
     "train a bigram or a GPT per speaker and watch the losses, samples and heads live"),
    ("app_pages/generate.py", "Generate", ":material/edit_note:",
     "every speaker's model continues the same prompt with the same seed"),
    ("app_pages/compare.py", "Compare", ":material/compare_arrows:",
     "whose model knows whose words: the cross-loss matrix, styles and who said it"),
    ("app_pages/speak.py", "Speak like them", ":material/campaign:",
     "pretrain on every other president, fine-tune per speaker: English first, style second"),
    ("app_pages/heads.py", "Inside the heads", ":material/psychology:",
     "what each head does, what it is worth, what each layer predicts"),
]
STEPS = [PageInfo(path, f"{i}. {name}", icon, what) for i, (path, name, icon, what) in enumerate(_LECTURE, 1)]
PAGES = [HOME, *STEPS]


def number(page_file: str) -> int:
    """A step's number, for its page's heading: its place in STEPS (1-based)."""
    name = Path(page_file).name
    return next(i for i, step in enumerate(STEPS, 1) if Path(step.path).name == name)
