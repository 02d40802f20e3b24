"""The app's pages, declared once: the router (app.py) builds its navigation from this list, the
Home page its pipeline, and each page its heading, its "What to notice" box, its "Next" link and the
parts of the GPT it lights in the diagram (ui/journey.py), in the lecture's order: a step moved here
is renumbered, relinked and relit everywhere. Plain data: nothing here draws."""
from __future__ import annotations

from pathlib import Path
from typing import NamedTuple


class PageInfo(NamedTuple):
    path: str
    title: str             # the navigation's label: "<step>. <name>"
    icon: str
    what: str              # one line for Home's pipeline
    heading: str = ""      # the page's own heading, after its number
    chapter: str = ""      # the chapter of Karpathy's "Let's build GPT" the page follows
    notice: str = ""       # what to notice: the one thing the page's first screen teaches (2-3 sentences)
    parts: tuple[str, ...] = ()  # the parts of the GPT (PARTS) this page teaches: lit in the diagram


class Part(NamedTuple):
    key: str
    label: str
    page: str              # the page that teaches it: where the diagram's part links to


LECTURE = "Let's build GPT: from scratch, in code, spelled out"
# The GPT the lecture builds, from the text in to the next character out; each part links to the page
# that teaches it. ui/journey.py draws them in this order (ln, attention, ffwd, residual: one block).
PARTS = (
    Part("text", "text (the speeches)", "app_pages/speeches.py"),
    Part("tokens", "tokens: ids (B, T)", "app_pages/tokens.py"),
    Part("tok_emb", "token embedding", "app_pages/bigram.py"),
    Part("pos_emb", "position embedding", "app_pages/attention.py"),
    Part("ln", "LayerNorm", "app_pages/ladder.py"),
    Part("attention", "attention heads", "app_pages/attention.py"),
    Part("ffwd", "feed-forward", "app_pages/ladder.py"),
    Part("residual", "residual", "app_pages/ladder.py"),
    Part("ln_f", "final LayerNorm", "app_pages/ladder.py"),
    Part("lm_head", "linear head: logits", "app_pages/heads.py"),
    Part("softmax", "softmax: p(next character)", "app_pages/generate.py"),
)
WEIGHTS = ("tok_emb", "pos_emb", "ln", "attention", "ffwd", "residual", "ln_f", "lm_head")  # every trained part

HOME = PageInfo("app_pages/home.py", "Home", ":material/home:", "", "Podium: build a GPT, one step at a time")
_LECTURE = [  # in order: the numbers follow from it
    PageInfo(
        "app_pages/speeches.py", "Speeches", ":material/record_voice_over:",
        "the raw text of each speaker, its statistics and the 90/10 split",
        heading="Speeches", chapter="reading and exploring the data", parts=("text",),
        notice="Everything a model will ever know about a speaker is in these characters: a few hundred thousand "
               "each, a fraction of the lecture's 1.1 million of Shakespeare. Compare the speakers' sizes and "
               "frequent words, then the split: the last 10% of each text is held out to test on."),
    PageInfo(
        "app_pages/tokens.py", "Tokens", ":material/abc:",
        "one shared character vocabulary; encode and decode; characters vs BPE",
        heading="Tokens", chapter="tokenization, train/val split", parts=("tokens",),
        notice="A character tokenizer is a sorted list: a character's id is its place in it, and encode and "
               "decode are two lookups. A character outside the list cannot be read at all, and a bigger "
               "codebook (BPE) makes sequences shorter at the price of bigger tables."),
    PageInfo(
        "app_pages/batches.py", "Batches", ":material/grid_on:",
        "B x T windows and the (context -> target) pairs inside them",
        heading="Batches", chapter="data loader: batches of chunks of data", parts=("tokens",),
        notice="The targets y are the inputs x moved one character along the text. So one row of T characters "
               "holds T training examples, from one character of context up to T; the B rows are independent "
               "and are processed in parallel."),
    PageInfo(
        "app_pages/bigram.py", "Bigram", ":material/table:",
        "a V x V table of next-character logits: tokens don't talk yet; why counting stops scaling",
        heading="Bigram", chapter="simplest baseline: bigram language model, loss, generation",
        parts=("tok_emb", "softmax"),
        notice="The bigram model is one V x V table: the row of the current character holds the logits of the next. "
               "Trained by gradient descent, its loss falls from ln V (a uniform guess) to what counting pairs "
               "gives, and no lower: it reads one character of context."),
    PageInfo(
        "app_pages/trick.py", "The trick", ":material/functions:",
        "averaging the past with a triangular matrix and a softmax",
        heading="The trick", chapter="the mathematical trick in self-attention", parts=("attention",),
        notice="Averaging every token with the ones before it is one matrix multiply with a lower-triangular "
               "matrix whose rows sum to 1. Written as a softmax over a masked matrix of zeros it gives the same "
               "numbers, and that is self-attention's shape: it will learn the weights instead of fixing them."),
    PageInfo(
        "app_pages/attention.py", "Attention", ":material/visibility:",
        "queries, keys, the mask and the softmax of a trained GPT, one character through a head",
        heading="Self-attention, head by head", chapter="self-attention",
        parts=("tok_emb", "pos_emb", "attention"),
        notice="Each row of a head's weights is one character's softmax over the characters before it: the mask "
               "keeps the future at exactly 0. Move the slider: with the mask, adding characters never changes the "
               "rows already there, and a trained head's weights are learned, not the trick's even averages."),
    PageInfo(
        "app_pages/ladder.py", "Build it up", ":material/stairs:",
        "one head, many heads, feed-forward, blocks, residuals, LayerNorm, dropout: what each buys",
        heading="Build it up: what each piece buys",
        chapter="multi-headed self-attention, feedforward layers, residual connections, layernorm",
        parts=("attention", "ffwd", "residual", "ln", "ln_f"),
        notice="Each rung adds one piece of the GPT and is trained the same small way, so the change in validation "
               "loss is what that piece buys. Stacking blocks pays off only once residual connections and "
               "LayerNorm keep the deeper network trainable."),
    PageInfo(
        "app_pages/train.py", "Train", ":material/model_training:",
        "train a bigram or a GPT per speaker and watch the losses, samples and heads live",
        heading="Train a GPT, and watch it learn",
        chapter="scaling up the model! creating a few variables. adding dropout", parts=("softmax",),
        notice="A run starts at a loss of about ln V, a uniform guess, and must first get below the count "
               "bigram, the best a model without context can do. Watch the validation curve: when it stops "
               "following the training curve down, the model has begun to memorise its speaker."),
    PageInfo(
        "app_pages/generate.py", "Generate", ":material/edit_note:",
        "every speaker's model continues the same prompt with the same seed",
        heading="Generate: each speaker's GPT writes", chapter="generation: sampling from the model one character "
                                                                "at a time", parts=("softmax",),
        notice="The same prompt and the same random numbers go to every model, so the differences between the "
               "columns are what each model learned. Under each column the speaker models score the sample: a "
               "model's writing is not always attributed to its own speaker."),
    PageInfo(
        "app_pages/compare.py", "Compare", ":material/compare_arrows:",
        "whose model knows whose words: the cross-loss matrix, styles and who said it",
        heading="Compare: whose model knows whose words", chapter="the loss, beyond the lecture: each model "
                                                                  "on each speaker's val split", parts=("softmax",),
        notice="Read the loss matrix down a column: the same text, scored by every speaker's model. The lowest "
               "number there is usually, not always, the speaker's own model; a model that is better at English "
               "overall can win on someone else's text."),
    PageInfo(
        "app_pages/speak.py", "Speak like them", ":material/campaign:",
        "pretrain on every other president, fine-tune per speaker: English first, style second",
        heading="Speak like them: pretrain, then fine-tune", chapter="pretraining vs fine-tuning", parts=WEIGHTS,
        notice="A base model pretrained on every other president already knows English; for the shipped models, "
               "a few hundred steps of fine-tuning on one speaker reach a lower validation loss than training on "
               "that speaker alone from scratch. Pretraining learns the language, fine-tuning learns the speaker."),
    PageInfo(
        "app_pages/heads.py", "Inside the heads", ":material/psychology:",
        "what each head does, what it is worth, what each layer predicts",
        heading="Inside the heads", chapter="multi-headed self-attention, read from the trained model (beyond the "
                                            "lecture)", parts=("attention", "lm_head"),
        notice="Many heads follow a pattern you can name (the previous character, the start of the word, an "
               "earlier copy), and knocking one out shows what it is worth in nats. The logit lens reads each "
               "layer through the final head, so you can see the prediction form layer by layer."),
]
STEPS = [step._replace(title=f"{i}. {step.title}") for i, step in enumerate(_LECTURE, 1)]
PAGES = [HOME, *STEPS]


def _named(page_file: str) -> int:
    name = Path(page_file).name
    return next(i for i, page in enumerate(PAGES) if Path(page.path).name == name)


def number(page_file: str) -> int:
    """A step's number, for its page's heading: its place in STEPS (1-based)."""
    index = _named(page_file)
    assert index > 0, f"{page_file} is Home, not a step"
    return index


def info(page_file: str) -> PageInfo:
    """The page a file is (its __file__ or its path)."""
    return PAGES[_named(page_file)]


def following(page_file: str) -> PageInfo | None:
    """The step after this page (Home: step 1), or None after the last."""
    index = _named(page_file)
    return PAGES[index + 1] if index + 1 < len(PAGES) else None


def page_of(part: str) -> PageInfo:
    """The page a part of the diagram links to."""
    return info(next(p.page for p in PARTS if p.key == part))


def _check() -> None:
    keys = {p.key for p in PARTS}
    for page in PAGES:
        assert set(page.parts) <= keys, f"{page.path} lights unknown parts {set(page.parts) - keys}"
    for part in PARTS:
        assert any(Path(s.path).name == Path(part.page).name for s in STEPS), f"{part.key} links to no step"


_check()
