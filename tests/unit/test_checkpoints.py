"""Checkpoints: the round trip gives identical logits; anything that is not a sound Podium
checkpoint is refused with CheckpointError (and a pickle payload never runs); run names."""
from __future__ import annotations

import builtins
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from helpers import OBAMA, ROOT, one_thread, speaker_data, spread_weights, tiny_gpt, tiny_train  # noqa: F401 (autouse)

from core.config import ModelConfig, TrainConfig
from core.model.models import build_model
from core.runs import checkpoints as ck
from core.runs import record as rec
from core.runs.start import train
from core.text.tokenizer import CharTokenizer

IDS = torch.tensor([[5, 17, 3, 40, 2, 9, 9, 60, 1, 0, 33, 12]])


def save_run(root: Path, name: str, model, tok: CharTokenizer) -> Path:
    """A run folder written through the checkpoint API, as the trainer does."""
    record = rec.RunRecord(name=name, speakers=[OBAMA], model=model.config, train=TrainConfig(), vocab=tok.to_json(),
                           status="finished")
    run = root / name
    ck.save_checkpoint(run / rec.BEST, model, record)
    ck.save_checkpoint(run / rec.LATEST, model, record, step=0)
    record.save(run)
    return run


@pytest.fixture(scope="module")
def tok() -> CharTokenizer:
    return speaker_data(OBAMA).tokenizer


@pytest.fixture(scope="module")
def gpt_run(tok, tmp_path_factory):
    torch.manual_seed(0)
    model = spread_weights(build_model(tiny_gpt(tok.vocab_size)), std=0.2)
    root = tmp_path_factory.mktemp("ckpt")
    return root, save_run(root, "tiny-gpt", model, tok), model


def fresh_copy(run: Path, tmp_path: Path) -> Path:
    dst = tmp_path / run.name
    shutil.copytree(run, dst)
    return dst


@pytest.mark.parametrize("model_type", ["gpt", "bigram"])
def test_round_trip_gives_identical_logits(tok, tmp_path, model_type):
    torch.manual_seed(1)
    cfg = tiny_gpt(tok.vocab_size) if model_type == "gpt" else ModelConfig(
        model_type="bigram", vocab_size=tok.vocab_size, block_size=8)
    model = spread_weights(build_model(cfg), std=0.2, seed=3)
    save_run(tmp_path, "rt", model, tok)
    for ref in ("rt", tmp_path / "rt", tmp_path / "rt" / rec.BEST):
        loaded = ck.load_model(ref, root=tmp_path)
        assert loaded.tokenizer == tok and loaded.config == cfg and not loaded.model.training
        ids = IDS[:, :cfg.block_size]
        assert torch.equal(loaded.model(ids)[0], model(ids)[0])
        assert not list(loaded.model.buffers())  # build_from skips the initialisers: load_state_dict sets all
        assert loaded.path == tmp_path / "rt" / rec.BEST
    assert ck.load_model("rt", which="latest", root=tmp_path).path.name == rec.LATEST
    assert not [n for n in os.listdir(tmp_path / "rt") if n.endswith(".tmp")]


def test_a_trained_run_loads_with_its_best_weights(tok, tmp_path):
    data = speaker_data(OBAMA)
    train(data, tiny_gpt(tok.vocab_size), tiny_train(max_iters=10, eval_interval=5), tmp_path / "t")
    loaded = ck.load_model("t", root=tmp_path, expect_vocab=tok)
    assert loaded.record.best_step in (0, 5, 10) and loaded.record.speakers == [OBAMA]
    assert [r.name for r in rec.list_runs(tmp_path)] == ["t"]
    assert rec.list_runs(tmp_path)[0].status == "finished"


def refuse(path_or_ref, match: str, **kw):
    with pytest.raises(rec.RecordError, match=match) as e:
        ck.load_model(path_or_ref, **kw)
    return str(e.value)


def test_refuses_a_torch_file_that_is_not_a_podium_checkpoint(tmp_path):
    torch.save({"model": {"w": torch.ones(2)}, "step": 3}, tmp_path / "other.pt")
    refuse(tmp_path / "other.pt", "not a Podium checkpoint")
    torch.save(torch.ones(3), tmp_path / "tensor.pt")
    refuse(tmp_path / "tensor.pt", "not a Podium checkpoint")


def test_refuses_a_truncated_or_garbage_file(gpt_run, tmp_path):
    run = fresh_copy(gpt_run[1], tmp_path)
    data = (run / rec.BEST).read_bytes()
    (run / rec.BEST).write_bytes(data[: len(data) // 2])
    refuse(run.name, "truncated or corrupt", root=tmp_path)
    (run / rec.BEST).write_bytes(b"")
    refuse(run.name, "not a readable checkpoint", root=tmp_path)
    (run / rec.BEST).write_bytes(b"this is not a zip archive at all")
    refuse(run.name, "not a readable checkpoint", root=tmp_path)


@pytest.mark.parametrize("garbage", [b"", b"x", b".", b"(", b"X", b"N.", b"}", b"\x80\x02K", b"PK\x03\x04",
                                     b"this is not a zip archive at all"])
def test_refuses_short_garbage_files_with_a_checkpoint_error(tmp_path, garbage):
    """The unpickler fails on garbage in many ways (EOFError with no message, IndexError,
    struct.error ...): every one must come out as a CheckpointError, never a crash."""
    (tmp_path / "junk.pt").write_bytes(garbage)
    with pytest.raises(rec.RecordError) as e:
        ck.read_checkpoint(tmp_path / "junk.pt")
    assert "junk.pt" in str(e.value) and str(e.value).strip()[-1] != ":"


def test_a_corrupted_checkpoint_loads_or_is_refused_never_crashes(gpt_run, tmp_path):
    data = bytearray((gpt_run[1] / rec.BEST).read_bytes())
    rng = torch.Generator().manual_seed(0)
    refused = 0
    for i in range(40):
        bad = bytearray(data)
        where = torch.randint(len(bad), (4,), generator=rng).tolist()
        for w in where:
            bad[w] = int(torch.randint(256, (1,), generator=rng))
        if i % 4 == 0:
            bad = bad[: int(where[0])]
        (tmp_path / rec.BEST).write_bytes(bytes(bad))
        try:
            ck.load_model(tmp_path / rec.BEST)
        except ck.CheckpointError:
            refused += 1
    assert refused >= 10


class _Payload:
    """Unpickling this calls builtins.open(marker, "w"): it creates the marker file."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return builtins.open, (str(self.marker), "w")


def test_a_pickle_payload_is_refused_and_never_runs(gpt_run, tmp_path):
    run = fresh_copy(gpt_run[1], tmp_path)
    good = torch.load(run / rec.BEST, weights_only=True)
    marker = tmp_path / "PWNED"
    torch.save({**good, "extra": _Payload(marker)}, run / rec.BEST)  # otherwise a valid checkpoint
    msg = refuse(run.name, "refused", root=tmp_path)
    assert "run code" in msg
    with pytest.raises(rec.RecordError):
        ck.read_checkpoint(run / rec.BEST)
    assert not marker.exists(), "loading the checkpoint ran the pickled code"
    # the payload is live: an unsafe load would have created the marker
    torch.load(run / rec.BEST, weights_only=False)
    assert marker.exists()


def test_refuses_a_checkpoint_with_another_vocabulary(gpt_run, tok):
    root, run, _ = gpt_run
    ck.load_model(run.name, root=root, expect_vocab=tok)  # the right one loads
    other = CharTokenizer(tok.chars[:-1] + ["☃"])
    msg = refuse(run.name, "vocabulary", root=root, expect_vocab=other)
    assert str(tok.vocab_size) in msg


def rewrite_payload(path: Path, edit) -> None:
    payload = torch.load(path, weights_only=True)
    meta = json.loads(payload["meta"])
    edit(meta, payload)
    payload["meta"] = json.dumps(meta)
    torch.save(payload, path)


def test_refuses_weights_that_do_not_match_the_config(gpt_run, tmp_path):
    run = fresh_copy(gpt_run[1], tmp_path)
    rewrite_payload(run / rec.BEST, lambda meta, _: meta["model"].update(n_embd=64))
    msg = refuse(run.name, "do not match the model config", root=tmp_path)
    assert "the config says" in msg
    run2 = fresh_copy(gpt_run[1], tmp_path / "b")
    rewrite_payload(run2 / rec.BEST, lambda meta, p: p["model"].pop("lm_head.bias"))
    refuse(run2.name, "do not match", root=tmp_path / "b")


FIRST_LOAD = """import sys
from core.runs import checkpoints as ck
for path in sys.argv[1:]:
    ck.load_model(path)
print("torch._dynamo" in sys.modules, "sympy" in sys.modules)"""


def test_loading_never_imports_torch_dynamo(gpt_run, tok, tmp_path):
    """The shape check on the meta device skips the random initialisers, whose meta path imports
    torch._dynamo (2-5 s, paid by the first model a process loaded), and the model is built on the CPU
    (leaving the meta device imports sympy, 0.2 s). A fresh process, a GPT and a bigram: nothing pulls
    either in."""
    bigram = build_model(ModelConfig(model_type="bigram", vocab_size=tok.vocab_size, block_size=8))
    paths = [str(gpt_run[1] / rec.BEST), str(save_run(tmp_path, "bigram", bigram, tok) / rec.BEST)]
    out = subprocess.run([sys.executable, "-c", FIRST_LOAD, *paths], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False False"


@pytest.mark.parametrize("edit, match", [
    (lambda meta, p: meta["model"].update(vocab_size=10), "does not match its vocabulary"),
    (lambda meta, p: meta.pop("vocab"), "unusable metadata"),
    (lambda meta, p: meta["model"].update(n_embd=30, n_head=4), "unusable metadata"),
    (lambda meta, p: p.update(version=99), "version 99"),
])
def test_refuses_unusable_metadata(gpt_run, tmp_path, edit, match):
    run = fresh_copy(gpt_run[1], tmp_path)
    rewrite_payload(run / rec.BEST, edit)
    refuse(run.name, match, root=tmp_path)


def test_unknown_runs_are_refused(gpt_run, tmp_path):
    root = gpt_run[0]
    msg = refuse("no-such-run", "no run", root=root)
    assert "tiny-gpt" in msg  # the message lists the known runs
    refuse(tmp_path / "missing" / rec.BEST, "no run", root=root)
    (tmp_path / "empty").mkdir()
    refuse(tmp_path / "empty", "no run", root=root)
    refuse("../tiny-gpt", "invalid run name|no run", root=root / "sub")


@pytest.mark.parametrize("bad", ["../x", "a/b", "", "..", ".hidden", "a\\b", "x" * 81, "a b", "-lead", "a..b",
                                 None])
def test_validate_run_name_refuses_paths_and_odd_names(bad):
    with pytest.raises(rec.RecordError, match="invalid run name"):
        rec.validate_run_name(bad)


@pytest.mark.parametrize("good", ["barack-obama-gpt-tiny", "run_1", "A.b-c", "x" * 80])
def test_validate_run_name_accepts_plain_names(good):
    assert rec.validate_run_name(good) == good


def test_atomic_write_leaves_the_old_file_when_writing_fails(tmp_path):
    path = tmp_path / "meta.json"
    rec.write_json(path, {"a": 1})

    def boom(f):
        f.write(b'{"half": ')
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        rec.atomic_write(path, boom)
    assert rec.read_json(path) == {"a": 1}
    assert os.listdir(tmp_path) == ["meta.json"], "the temp file is removed"


def test_metrics_log_skips_a_torn_last_line(tmp_path):
    rec.append_metrics(tmp_path, {"kind": "step", "step": 1, "train_loss": 4.0})
    rec.append_metrics(tmp_path, {"kind": "step", "step": 2, "train_loss": 3.0})
    with open(tmp_path / rec.METRICS, "a", encoding="utf-8") as f:  # JSON that is not an event, then a torn line
        f.write('[1, 2]\nnull\n{"kind": "step"}\n{"kind": "step", "step": "abc", "train_loss": 1}\n"x"\n{"kind": "st')
    assert [e["step"] for e in rec.read_metrics(tmp_path)] == [1, 2]
    assert rec.read_metrics(tmp_path / "nowhere") == []


def test_unreadable_meta_json_is_a_checkpoint_error(tmp_path):
    (tmp_path / rec.META).write_text("{not json")
    with pytest.raises(rec.RecordError, match="not readable"):
        rec.read_json(tmp_path / rec.META)
    with pytest.raises(rec.RecordError, match="does not exist"):
        rec.read_json(tmp_path / "nope.json")
