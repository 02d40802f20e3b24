"""The lecture's trade-off between codebook size and sequence length: the same speeches as
characters, and as sub-word units of a byte-pair encoding (BPE) trained on them at a few
vocabulary sizes (with Hugging Face `tokenizers`, offline)."""
from __future__ import annotations

from dataclasses import dataclass

from core.errors import UserError


@dataclass(frozen=True)
class CodebookRow:
    scheme: str           # "characters" or "BPE"
    vocab_size: int
    tokens: dict          # speaker -> sequence length
    chars_per_token: float


def codebook_tradeoff(texts: dict[str, str], vocab_sizes=(256, 512, 1024, 4096)) -> list[CodebookRow]:
    """For each vocabulary size, a BPE trained on all the texts, and each text's length in tokens."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    if not texts or not any(texts.values()):
        raise UserError("no text to tokenize")
    total_chars = sum(len(t) for t in texts.values())
    alphabet = sorted(set("".join(texts.values())))
    rows = [CodebookRow("characters", len(alphabet), {k: len(v) for k, v in texts.items()}, 1.0)]
    for size in vocab_sizes:
        if size <= len(alphabet):
            continue
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.Metaspace()  # keep spaces as part of the units
        tok.decoder = decoders.Metaspace()
        trainer = trainers.BpeTrainer(vocab_size=size, initial_alphabet=alphabet, show_progress=False,
                                      special_tokens=[])
        tok.train_from_iterator(list(texts.values()), trainer=trainer)
        lengths = {k: len(tok.encode(v).ids) for k, v in texts.items()}
        rows.append(CodebookRow("BPE", tok.get_vocab_size(), lengths, total_chars / max(1, sum(lengths.values()))))
    return rows
