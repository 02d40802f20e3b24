"""The app's pages, declared once: the router (app.py) builds its navigation from this list and the
Home page its pipeline, in the lecture's order."""
from __future__ import annotations

from typing import NamedTuple


class PageInfo(NamedTuple):
    path: str
    title: str   # the navigation's label (and the number of the step)
    icon: str
    what: str    # one line for Home's pipeline


HOME = PageInfo("app_pages/home.py", "Home", ":material/home:", "")
STEPS = [
    PageInfo("app_pages/speeches.py", "1. Speeches", ":material/record_voice_over:",
             "the raw text of each speaker, its statistics and the 90/10 split"),
    PageInfo("app_pages/tokens.py", "2. Tokens", ":material/abc:",
             "one shared character vocabulary; encode and decode; characters vs BPE"),
    PageInfo("app_pages/batches.py", "3. Batches", ":material/grid_on:",
             "B x T windows and the (context -> target) pairs inside them"),
    PageInfo("app_pages/bigram.py", "4. Bigram", ":material/table:",
             "a V x V table of next-character logits: tokens don't talk yet; why counting stops scaling"),
    PageInfo("app_pages/trick.py", "5. The trick", ":material/functions:",
             "averaging the past with a triangular matrix and a softmax"),
    PageInfo("app_pages/attention.py", "6. Attention", ":material/visibility:",
             "queries, keys, the mask and the softmax of a trained GPT, one character through a head"),
    PageInfo("app_pages/ladder.py", "7. Build it up", ":material/stairs:",
             "one head, many heads, feed-forward, blocks, residuals, LayerNorm, dropout: what each buys"),
    PageInfo("app_pages/train.py", "8. Train", ":material/model_training:",
             "train a bigram or a GPT per speaker and watch the losses, samples and heads live"),
    PageInfo("app_pages/generate.py", "9. Generate", ":material/edit_note:",
             "every speaker's model continues the same prompt with the same seed"),
    PageInfo("app_pages/compare.py", "10. Compare", ":material/compare_arrows:",
             "whose model knows whose words: the cross-loss matrix, styles and who said it"),
    PageInfo("app_pages/speak.py", "11. Speak like them", ":material/campaign:",
             "pretrain on every other president, fine-tune per speaker: English first, style second"),
    PageInfo("app_pages/heads.py", "12. Inside the heads", ":material/psychology:",
             "what each head does, what it is worth, what each layer predicts"),
]
PAGES = [HOME, *STEPS]
