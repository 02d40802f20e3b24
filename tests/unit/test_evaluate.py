"""Scoring: a trained bigram reaches the count-based bigram's val loss (counted here, by hand);
per-character surprisal against a brute-force computation; evaluate_run."""
from __future__ import annotations

import math
from collections import Counter

import pytest
import torch
from helpers import OBAMA, TRUMP, one_thread, speaker_data, spread_weights, tiny_gpt, tiny_train  # noqa: F401 (autouse)
from torch.nn import functional as F

from core.config import ModelConfig, preset
from core.lessons.ngram import count_bigram_loss
from core.model.models import build_model
from core.model.scoring import sequence_loss, surprisal
from core.runs import checkpoints as ck
from core.runs import record as rec
from core.runs.evaluate import evaluate_run
from core.runs.start import train


def counted_bigram_loss(train_ids: list[int], val_ids: list[int], vocab: int, alpha: float) -> float:
    """Mean -log p(next | current) over the val pairs, p from add-alpha smoothed train pair counts."""
    pairs = Counter(zip(train_ids[:-1], train_ids[1:], strict=True))
    firsts = Counter(train_ids[:-1])
    total = 0.0
    for a, b in zip(val_ids[:-1], val_ids[1:], strict=True):
        total -= math.log((pairs[(a, b)] + alpha) / (firsts[a] + alpha * vocab))
    return total / (len(val_ids) - 1)


@pytest.fixture(scope="module")
def bigram_run(tmp_path_factory):
    data = speaker_data(OBAMA)
    # the preset's training as is (3000 steps, batch 64, lr 0.1 -> 0.01); fewer, smaller loss estimates
    model_cfg, train_cfg = preset("bigram", data.tokenizer.vocab_size, dtype="float32", device="cpu",
                                  eval_interval=1000, eval_iters=10)
    root = tmp_path_factory.mktemp("eval")
    result = train(data, model_cfg, train_cfg, root / "obama-bigram")
    return root, result


def test_trained_bigram_reaches_the_count_based_bigram_loss(bigram_run):
    """The headline oracle: gradient descent on the V x V table finds the counting solution."""
    root, result = bigram_run
    data = speaker_data(OBAMA)
    V = data.tokenizer.vocab_size
    assert result.status == "finished" and result.step == 3000
    counted = counted_bigram_loss(data.train.tolist(), data.val.tolist(), V, alpha=0.05)
    assert counted == pytest.approx(count_bigram_loss(data.train, data.val, V, alpha=0.05), abs=1e-9)
    model = ck.load_model("obama-bigram", root=root).model
    val_loss = sequence_loss(model, data.val)
    assert abs(val_loss - counted) < 0.02, f"trained {val_loss:.4f} vs counted {counted:.4f}"
    assert 2.0 < counted < 2.8  # ~2.41 nats: far below ln(V) ~ 4.48, so the check has teeth
    untrained = build_model(ModelConfig(model_type="bigram", vocab_size=V, block_size=8))
    assert sequence_loss(untrained, data.val) == pytest.approx(math.log(V), abs=1e-5)


def test_sequence_loss_scores_each_token_once_in_consecutive_windows():
    torch.manual_seed(0)
    model = spread_weights(build_model(tiny_gpt(20, block_size=8)), std=0.3)
    ids = torch.randint(20, (8 * 5 + 3,), generator=torch.Generator().manual_seed(1))
    x, y = ids[:40].view(5, 8), ids[1:41].view(5, 8)
    with torch.no_grad():
        logits, _ = model(x)
    expected = F.cross_entropy(logits.flatten(0, 1), y.flatten()).item()
    assert sequence_loss(model, ids) == pytest.approx(expected, abs=1e-5)
    assert sequence_loss(model, ids, batch_size=2) == pytest.approx(expected, abs=1e-5)
    with pytest.raises(ValueError, match="at least 9"):
        sequence_loss(model, ids[:8])


def brute_force_surprisal(model, ids: torch.Tensor, j: int, start: int) -> float:
    """-log p(ids[j+1] | ids[start..j]), one position at a time."""
    with torch.no_grad():
        logits, _ = model(ids[start:j + 1].unsqueeze(0))
    return F.cross_entropy(logits[0, -1], ids[j + 1]).item()


def window_start(j: int, n: int, T: int) -> int:
    """The first context character surprisal uses for out[j] (n = len(out)), as documented:
    the first block sees its whole prefix; later positions are filled half a block at a time,
    each chunk from a window of T ending at the chunk's last position (or at the text's end)."""
    if j < T:
        return 0
    stride = max(1, T // 2)
    end = min(n, T + ((j - T) // stride + 1) * stride)
    return end - T


def test_surprisal_matches_brute_force_for_gpt():
    data = speaker_data(OBAMA)
    tok = data.tokenizer
    torch.manual_seed(0)
    T = 8
    model = spread_weights(build_model(tiny_gpt(tok.vocab_size, block_size=T)), std=0.2)
    text = tok.decode(data.val[:31])
    out = surprisal(model, tok.encode_tensor(text))
    ids = tok.encode_tensor(text)
    n = len(ids) - 1
    assert out.shape == (n,)
    for j in range(n):
        start = window_start(j, n, T)
        assert j + 1 - start <= T and (j < T or j + 1 - start > T // 2), "context stays within the block"
        assert out[j].item() == pytest.approx(brute_force_surprisal(model, ids, j, start), abs=1e-4), j
    # inside the first block, surprisal is plain full-prefix scoring: the mean is sequence_loss
    head = ids[:T + 1]
    assert surprisal(model, head).mean().item() == pytest.approx(
        sequence_loss(model, head), abs=1e-5)


def test_surprisal_matches_brute_force_for_bigram():
    tok = speaker_data(OBAMA).tokenizer
    model = spread_weights(build_model(ModelConfig(model_type="bigram", vocab_size=tok.vocab_size, block_size=8)),
                           std=1.0)
    text = "We the People of the United States, in Order to form a more perfect Union"
    out = surprisal(model, tok.encode_tensor(text))
    logp = torch.log_softmax(model.token_embedding_table.weight, -1)
    expected = [-logp[tok.stoi[a], tok.stoi[b]].item() for a, b in zip(text[:-1], text[1:], strict=True)]
    assert out.tolist() == pytest.approx(expected, abs=1e-5)
    assert surprisal(model, tok.encode_tensor("W")).shape == (0,)


def test_evaluate_run_scores_any_speaker(bigram_run):
    root, _ = bigram_run
    res = evaluate_run("obama-bigram", TRUMP, root=root)
    assert isinstance(res, dict) and isinstance(res["val_loss"], float) and math.isfinite(res["val_loss"])
    loaded = ck.load_model("obama-bigram", root=root)
    trump_val = speaker_data(TRUMP).val
    assert res["val_loss"] == pytest.approx(sequence_loss(loaded.model, trump_val), abs=1e-9)
    assert res["val_chars"] == len(trump_val) and res["speaker"] == TRUMP and res["run"] == "obama-bigram"
    assert res["bits_per_char"] == pytest.approx(res["val_loss"] / math.log(2))
    assert res["trained_on"] == [OBAMA] and res["step"] == loaded.record.best_step
    own = evaluate_run(root / "obama-bigram", OBAMA, root=root)["val_loss"]
    assert own < math.log(speaker_data(OBAMA).tokenizer.vocab_size) - 1.5


def test_evaluate_run_refuses_unknown_runs_and_speakers(bigram_run, tmp_path):
    from core.text.corpus import SpeakerError

    root, _ = bigram_run
    with pytest.raises(rec.RecordError):
        evaluate_run("nope", OBAMA, root=root)
    with pytest.raises(SpeakerError):
        evaluate_run("obama-bigram", "Nobody Atall", root=root)


def test_a_tiny_gpt_run_evaluates_too(tmp_path):
    data = speaker_data(OBAMA)
    train(data, tiny_gpt(data.tokenizer.vocab_size), tiny_train(max_iters=5), tmp_path / "g")
    res = evaluate_run("g", OBAMA, root=tmp_path)
    assert math.isfinite(res["val_loss"]) and res["val_loss"] < math.log(data.tokenizer.vocab_size) + 0.1
