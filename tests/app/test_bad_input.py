"""The bad-input catalogue: whatever a user feeds Podium, a clear message and no traceback, and no
file touched outside data/ and checkpoints/ (here: their temporary stand-ins, $PODIUM_DATA and
$PODIUM_CHECKPOINTS). Each core case calls what the pages and the CLI call; each CLI case runs
`python -m core ...`'s main() and reads its one line; each page case drives the page with AppTest and
finds the message on it. The red-team's second round (issue 13) is here: bad run folders (tests/bad_runs.py),
lying checkpoints, escapes, seeds, temperatures, UTF-16, a data/ file named like a president."""
from __future__ import annotations

import io
import json
import math
import os
import pickle
import re
from pathlib import Path

import pytest
import torch
from apptest_helpers import open_page, page_text
from bad_runs import make_bad_runs
from helpers import OBAMA, ROOT, copy_shipped, one_thread, speaker_data, tiny_gpt, tiny_train  # noqa: F401

from core.cli.main import main
from core.config import ConfigError, ModelConfig, TrainConfig
from core.errors import RunBusy, TrainingDiverged, UserError
from core.limits import MAX_NEW_CHARS, MAX_PASSAGE_CHARS, MAX_PROBE_CHARS, MAX_PROMPT_CHARS
from core.model.models import build_model
from core.model.sampling import sample_text
from core.probe.attention_view import context_window
from core.runs import checkpoints as ck
from core.runs import record as rec
from core.runs import start as runs
from core.runs.metrics import curves
from core.runs.start import train
from core.text.corpus import MAX_TEXT_BYTES, SpeakerError, add_user_text, load_speaker, read_user_text
from core.text.tokenizer import CharTokenizer, UnknownCharError, parse_ids

GOOD_TEXT = ("We the people of the United States, in order to form a more perfect union, establish justice, "
             "insure domestic tranquility, provide for the common defense, promote the general welfare. ") * 4
DATA_FILES = ["Barack Obama.txt", "Short Speaker.txt"]  # what data/ holds throughout
RUN_FILES = (".pt", ".json", ".jsonl", ".log", ".lock", ".tmp", ".request", ".txt")  # what a run or upload writes


def tree(root: Path) -> dict[str, tuple[int, int]]:
    """Files a Podium run or upload could write (by suffix), anywhere under root but .git and the
    virtualenv and the browser tests' output: path -> (size, mtime). Source files are left out: other
    people edit them meanwhile."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in {".git", ".venv", "__pycache__", ".ruff_cache", ".pytest_cache",
                                                            "test-results"}]
        for f in filenames:
            p = Path(dirpath) / f
            if p.suffix in RUN_FILES:
                with_stat = p.stat()
                out[str(p.relative_to(root))] = (with_stat.st_size, with_stat.st_mtime_ns)
    return out


REPO_BEFORE = tree(ROOT)


@pytest.fixture(scope="module")
def places(tmp_path_factory):
    """Temporary data/ and checkpoints/ for the whole catalogue (pages and core read the env vars):
    one short user text, a data/ file named like a president, one small trained run (1 layer, 16 wide:
    a ~34 KB model.pt) and some bad checkpoint files; and a second root holding every bad run folder."""
    data, root = tmp_path_factory.mktemp("data"), tmp_path_factory.mktemp("checkpoints")
    bad = tmp_path_factory.mktemp("bad-runs")
    (data / "Short Speaker.txt").write_text(GOOD_TEXT[:300], encoding="utf-8")
    (data / "Barack Obama.txt").write_text(GOOD_TEXT, encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PODIUM_DATA", str(data))
        mp.setenv("PODIUM_CHECKPOINTS", str(root))
        d = speaker_data(OBAMA)
        train(d, tiny_gpt(d.tokenizer.vocab_size, n_layer=1, n_embd=16), tiny_train(max_iters=4, eval_interval=4),
              root / "small-run")
        good = (root / "small-run" / rec.BEST).read_bytes()
        (root / "truncated.pt").write_bytes(good[: len(good) // 2])
        torch.save({"weights": torch.zeros(3)}, root / "not-ours.pt")
        payload = torch.load(root / "small-run" / rec.BEST, weights_only=True)  # its meta, another model's weights
        payload["model"] = build_model(tiny_gpt(d.tokenizer.vocab_size, n_embd=32)).state_dict()
        torch.save(payload, root / "other-config.pt")
        (root / "pickle.pt").write_bytes(pickle.dumps(Payload(root / "PWNED"), protocol=2))
        bad_runs = make_bad_runs(root / "small-run", bad)
        passages = tmp_path_factory.mktemp("passages")
        (passages / "big-passage.txt").write_bytes(b"We will build the wall. " * 44_000)  # ~1 MB
        (passages / "long-passage.txt").write_text("a" * 40_000, encoding="utf-8")
        (passages / "blank-passage.txt").write_text("            \n\n \n", encoding="utf-8")
        shipped = copy_shipped(tmp_path_factory.mktemp("shipped"))  # speaker models for the pages that need them
        yield {"data": data, "root": root, "bad": bad, "bad_runs": bad_runs, "tok": d.tokenizer, "passages": passages,
               "shipped": shipped,
               "model": ck.load_model(root / "small-run" / rec.BEST).model}


class Payload:
    """Unpickling this would create a file: proof that a checkpoint's pickle never runs."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def request(**overrides) -> runs.RunRequest:
    speakers = overrides.pop("speakers", (OBAMA,))
    return runs.RunRequest.make(speakers, "gpt", "tiny", **{"max_iters": 10, **overrides})


# id -> (call(places), the exception a user gets, a pattern its message holds)
CORE_CASES = {
    "upload: empty file": (lambda p: add_user_text(b"", "a.txt", p["data"]), SpeakerError, "empty"),
    "upload: whitespace only": (lambda p: add_user_text(b" \n\t \r\n", "a.txt", p["data"]), SpeakerError, "empty"),
    "upload: binary": (lambda p: add_user_text(b"\x89PNG\r\n\x1a\n\x00\x00\x0dIHDR", "a.txt", p["data"]),
                       SpeakerError, "binary"),
    "upload: not UTF-8": (lambda p: add_user_text("Déjà vu, café. ".encode("latin-1") * 40, "a.txt", p["data"]),
                          SpeakerError, "not UTF-8"),
    "upload: over the size cap": (lambda p: add_user_text(b"a" * (MAX_TEXT_BYTES + 1), "a.txt", p["data"]),
                                  SpeakerError, "over the 20 MB limit"),
    "upload: one character": (lambda p: add_user_text(b"a", "a.txt", p["data"]), SpeakerError, "too little"),
    "upload: too short to split": (lambda p: add_user_text(b"word " * 30, "a.txt", p["data"]), SpeakerError,
                                   "at least 200"),
    "upload: name with a path": (lambda p: add_user_text(GOOD_TEXT.encode(), "../../etc/evil.txt", p["data"]),
                                 SpeakerError, "no folders"),
    "upload: name with ..": (lambda p: add_user_text(GOOD_TEXT.encode(), "..txt", p["data"]), SpeakerError,
                             "cannot name"),
    "upload: a president's name": (lambda p: add_user_text(GOOD_TEXT.encode(), "Barack Obama.txt", p["data"]),
                                   SpeakerError, "already exists"),
    "text shorter than block_size + 1": (lambda p: runs.validate(request(speakers=("Short Speaker",))),
                                         ConfigError, r"Short Speaker is too short for a context of 64"),
    "block size 0": (lambda p: runs.validate(request(block_size=0)), ConfigError, "block_size"),
    "n_embd not divisible by n_head": (lambda p: runs.validate(request(n_embd=30, n_head=4)), ConfigError,
                                       "divisible"),
    "sizes that would exhaust memory": (lambda p: runs.validate(request(n_embd=4096, n_layer=48, n_head=32,
                                                                        batch_size=4096, block_size=8192)),
                                        ConfigError, r"about [\d,.]+ GB .* available"),
    "batch size 0": (lambda p: runs.validate(request(batch_size=0)), ConfigError, "batch_size"),
    "0 iterations": (lambda p: runs.validate(request(max_iters=0)), ConfigError, "max_iters"),
    "dropout 1": (lambda p: runs.validate(request(dropout=1.0)), ConfigError, "dropout"),
    "negative learning rate": (lambda p: runs.validate(request(learning_rate=-0.1)), ConfigError, "learning_rate"),
    "a GPU that is not there": (lambda p: runs.validate(request(device="cuda")), ConfigError, "no CUDA"),
    "unknown speaker": (lambda p: load_speaker("Barak Obama"), SpeakerError, "Did you mean 'Barack Obama'"),
    "no speaker": (lambda p: runs.validate(request(speakers=())), ConfigError, "at least one speaker"),
    "run name with a path separator": (lambda p: rec.validate_run_name("runs/../../x"), rec.RecordError,
                                       "no path separators"),
    "run name with ..": (lambda p: rec.validate_run_name("a..b"), rec.RecordError, "'..'"),
    "run name ending in a newline": (lambda p: rec.validate_run_name("rt-nl\n"), rec.RecordError,
                                     "invalid run name"),
    "learning rate so high the loss explodes": (
        lambda p: train(speaker_data(OBAMA), tiny_gpt(speaker_data(OBAMA).tokenizer.vocab_size),
                        tiny_train(learning_rate=10.0, min_lr=0, max_iters=30, eval_interval=10), p["root"] / "nan"),
        TrainingDiverged, "learning rate .* too high"),
    "learning rate 1e30": (lambda p: tiny_train(learning_rate=1e30), ConfigError, "learning_rate .* 1e\\+30"),
    "checkpoint truncated": (lambda p: ck.load_model(p["root"] / "truncated.pt"), ck.CheckpointError,
                             "truncated|cannot be read|not a Podium"),
    "checkpoint not ours": (lambda p: ck.load_model(p["root"] / "not-ours.pt"), ck.CheckpointError,
                            "not a Podium checkpoint"),
    "checkpoint from another vocabulary": (
        lambda p: ck.load_model(p["root"] / "small-run" / rec.BEST, expect_vocab=CharTokenizer("abc")),
        ck.CheckpointError, "vocabulary"),
    "checkpoint from another config": (lambda p: ck.load_model(p["root"] / "other-config.pt"), ck.CheckpointError,
                                       "do not match"),
    "checkpoint carrying a pickle payload": (lambda p: ck.load_model(p["root"] / "pickle.pt"), ck.CheckpointError,
                                             "."),
    "resume a run that does not exist": (lambda p: runs.resume(p["root"] / "nothing-here"), rec.RecordError,
                                         "nothing-here"),
    "prompt outside the vocabulary": (lambda p: sample_text(p["model"], p["tok"], "Hi ☃", 5), UnknownCharError,
                                      "☃"),
    "temperature 0": (lambda p: sample_text(p["model"], p["tok"], "Hi", 5, temperature=0), UserError,
                      "temperature must be above 0"),
    "negative temperature": (lambda p: sample_text(p["model"], p["tok"], "Hi", 5, temperature=-1), UserError,
                             "temperature"),
    "top-k 0": (lambda p: sample_text(p["model"], p["tok"], "Hi", 5, top_k=0), UserError, "top-k"),
    "top-k above the vocabulary size": (lambda p: sample_text(p["model"], p["tok"], "Hi", 5, top_k=10_000),
                                        UserError, "between 1 and the vocabulary size"),
    "context length 0": (lambda p: context_window("some text", 0, 64), UserError, "at least 1"),
    "text shorter than the context": (lambda p: context_window("short", 10, 64), UserError, "fewer than T"),
    "token ids that are not numbers": (lambda p: parse_ids("18, 47, x"), UserError, "'x' is not a token id"),
    "token id outside the vocabulary": (lambda p: p["tok"].decode([1, 999]), UserError, "outside the vocabulary"),
}


def _bad(p, name: str) -> Path:
    return p["bad_runs"][name]


def _lock_twice(p):
    with rec.TrainerLock(p["bad"] / "locked"), rec.TrainerLock(p["bad"] / "locked"):
        pass


UTF16_NO_BOM = GOOD_TEXT.encode("utf-16-le")
CORE_CASES.update({  # the second round (issue 13)
    "meta.json: best_val_loss as text": (lambda p: rec.RunRecord.load(_bad(p, "meta-best-val-text")),
                                         rec.RecordError, "best_val_loss must be a number, got '0.5'"),
    "meta.json: model as text": (lambda p: rec.RunRecord.load(_bad(p, "meta-model-text")), rec.RecordError,
                                 "settings are unusable"),
    "meta.json: speakers as text": (lambda p: rec.RunRecord.load(_bad(p, "meta-speakers-text")), rec.RecordError,
                                    "speakers must be a list"),
    "meta.json: unknown status": (lambda p: rec.RunRecord.load(_bad(p, "meta-status-unknown")), rec.RecordError,
                                  "unknown status 'exploded'"),
    "meta.json: history of text": (lambda p: rec.RunRecord.load(_bad(p, "meta-history-text")), rec.RecordError,
                                   "whole number|history"),
    "meta.json: cut short": (lambda p: rec.RunRecord.load(_bad(p, "meta-not-json")), rec.RecordError,
                             "not readable run metadata"),
    "meta.json: a list": (lambda p: rec.RunRecord.load(_bad(p, "meta-a-list")), rec.RecordError, "not a JSON object"),
    "checkpoint claiming 48 layers x 1024": (lambda p: ck.read_checkpoint(_bad(p, "ckpt-48-layers") / rec.BEST),
                                             ck.CheckpointError, "do not match the model config"),
    "checkpoint of views of one number": (
        lambda p: ck.read_checkpoint(_bad(p, "ckpt-hollow-48-layers") / rec.BEST), ck.CheckpointError,
        "do not hold their own values"),
    "checkpoint with block_size 8.5": (lambda p: ck.read_checkpoint(_bad(p, "ckpt-block-8.5") / rec.BEST),
                                       ck.CheckpointError, "block_size must be a whole number"),
    "checkpoint with vocab_size 88.0": (lambda p: ck.read_checkpoint(_bad(p, "ckpt-vocab-88.0") / rec.BEST),
                                        ck.CheckpointError, "vocab_size .* whole number"),
    "checkpoint with n_embd 100000": (lambda p: ck.read_checkpoint(_bad(p, "ckpt-n-embd-100000") / rec.BEST),
                                      ck.CheckpointError, "n_embd must be between 1 and 4,096"),
    "checkpoint with NaN weights": (lambda p: ck.load_model(_bad(p, "ckpt-nan")), ck.CheckpointError,
                                    "NaN or infinite"),
    "a second trainer on one run": (_lock_twice, RunBusy, "being trained by another process"),
    "config: block_size 8.5": (lambda p: ModelConfig(vocab_size=88, block_size=8.5), ConfigError, "whole number"),
    "config: seed 2**70": (lambda p: TrainConfig(seed=2**70), ConfigError, "seed must be between"),
    "config: lr NaN": (lambda p: TrainConfig(learning_rate=math.nan), ConfigError, "finite"),
    "config: True as a number": (lambda p: ModelConfig(vocab_size=88, n_layer=True), ConfigError, "whole number"),
    "temperature inf": (lambda p: sample_text(p["model"], p["tok"], "Hi", 5, temperature=math.inf), UserError,
                        "finite"),
    "temperature NaN": (lambda p: sample_text(p["model"], p["tok"], "Hi", 5, temperature=math.nan), UserError,
                        "temperature"),
    "sampling seed 2**70": (lambda p: sample_text(p["model"], p["tok"], "Hi", 5, seed=2**70), UserError,
                            "seed must be a whole number between"),
    "sampling seed -1": (lambda p: sample_text(p["model"], p["tok"], "Hi", 5, seed=-1), UserError, "seed"),
    "text: UTF-16 without a byte-order mark": (lambda p: read_user_text(UTF16_NO_BOM, "u.txt"), SpeakerError,
                                               "UTF-16 text without a byte-order mark"),
    "text: UTF-16 BOM then odd bytes": (lambda p: read_user_text(b"\xff\xfeh\x00i", "u.txt"), SpeakerError,
                                        "not valid UTF-16"),
    "text: UTF-32 holding NULs": (lambda p: read_user_text("\ufeffab\x00c".encode("utf-32-le"), "u.txt"),
                                  SpeakerError, "binary"),
    "upload: a president's name in lower case": (
        lambda p: add_user_text(GOOD_TEXT.encode(), "barack obama.txt", p["data"]), SpeakerError, "already exists"),
})


@pytest.mark.parametrize("case", list(CORE_CASES))
def test_core_refuses_with_a_clear_message(places, case):
    call, error, pattern = CORE_CASES[case]
    with pytest.raises(error) as e:
        call(places)
    message = str(e.value)
    assert isinstance(e.value, UserError), type(e.value)  # a plain ValueError would be a bug
    assert re.search(pattern, message), message
    assert "Traceback" not in message and len(message) < 600 and message[0] not in "[{<"


def test_what_the_red_team_broke_now_works(places):
    """The other side of the refusals: a UTF-16 text with its mark is read, a data/ file named like a
    president is a speaker of its own (Obama keeps his 7 addresses), a metrics log with junk lines gives
    curves from its events only, and an unreadable folder is listed with the reason beside the others."""
    assert read_user_text(GOOD_TEXT.encode("utf-16"), "u.txt") == GOOD_TEXT
    assert len(load_speaker(OBAMA).speeches) == 7
    mine = load_speaker("Barack Obama (data file)")
    assert mine.text == GOOD_TEXT.strip() and mine.source.endswith("Barack Obama.txt")
    events = rec.read_metrics(_bad(places, "metrics-junk"))
    assert events == rec.read_metrics(places["root"] / "small-run") and curves(events).val_step == [0, 4]
    found = rec.scan(places["bad"])
    unreadable = {u.name: u.reason for u in found.unreadable}
    assert set(unreadable) == {n for n in places["bad_runs"] if n.startswith("meta-")}, unreadable
    assert {r.name for r in found.records} == {n for n in places["bad_runs"] if not n.startswith("meta-")}


# id -> (argv, a pattern its one line holds); run against the catalogue's places ({root}, {bad}, {data})
CLI_CASES = {
    "train --name ending in a newline": (["train", "--name", "rt-nl\n", "--max-iters", "2"], "invalid run name"),
    "train --lr 1e30": (["train", "--lr", "1e30"], r"learning_rate .* 1e\+30"),
    "train --seed 2**70": (["train", "--seed", str(2**70)], "seed must be between"),
    "train --block-size 8.5": (["train", "--block-size", "8.5"], "invalid int value"),
    "train --n-embd 100000": (["train", "--n-embd", "100000"], "n_embd must be between"),
    "train --dropout 1": (["train", "--dropout", "1"], "dropout"),
    "train --max-iters 0": (["train", "--max-iters", "0"], "max_iters"),
    "train --batch-size 0": (["train", "--batch-size", "0"], "batch_size"),
    "train an unknown speaker": (["train", "--speaker", "Barak Obama"], "Did you mean 'Barack Obama'"),
    "train a text shorter than the context": (["train", "--speaker", "Short Speaker"], "too short"),
    "train --model bigram --preset tiny": (["train", "--model", "bigram", "--preset", "tiny"], "does not fit"),
    "train --device cuda": (["train", "--device", "cuda", "--max-iters", "2"], "CUDA"),
    "train --name that exists": (["train", "--name", "small-run", "--max-iters", "2"], "already exists"),
    "train --resume a run that does not exist": (["train", "--resume", "nothing-here"], "no run 'nothing-here'"),
    "train --resume with a new setting": (["train", "--resume", "small-run", "--lr", "0.1"], "cannot change a run"),
    "train --resume a finished run without more steps": (["train", "--resume", "small-run"], "already reached"),
    "train --init-from a run that does not exist": (["train", "--init-from", "nothing-here"], "nothing-here"),
    "train --resume through a path": (["train", "--resume", "../../etc"], "no run"),
    "sample --temperature inf": (["sample", "--checkpoint", "small-run", "--temperature", "inf"], "finite"),
    "sample --temperature nan": (["sample", "--checkpoint", "small-run", "--temperature", "nan"], "temperature"),
    "sample --temperature 0": (["sample", "--checkpoint", "small-run", "--temperature", "0"], "above 0"),
    "sample --seed 2**70": (["sample", "--checkpoint", "small-run", "--seed", str(2**70)], "seed must be"),
    "sample --top-k 0": (["sample", "--checkpoint", "small-run", "--top-k", "0"], "top-k"),
    "sample --max-new-tokens -1": (["sample", "--checkpoint", "small-run", "--max-new-tokens", "-1"],
                                   "between 0 and"),
    "sample a prompt outside the vocabulary": (["sample", "--checkpoint", "small-run", "--prompt", "☃"], "☃"),
    "sample --escapes with a broken escape": (["sample", "--checkpoint", "small-run", "--escapes", "--prompt",
                                               "a\\x"], "broken escape"),
    "sample --escapes of a character outside it": (["sample", "--checkpoint", "small-run", "--escapes",
                                                    "--prompt", "caf\\u2603"], "☃"),
    "sample --window sideways": (["sample", "--checkpoint", "small-run", "--window", "sideways"], "invalid choice"),
    "sample a .pt that is not ours": (["sample", "--checkpoint", "{root}/not-ours.pt"], "not a Podium checkpoint"),
    "sample a pickle payload": (["sample", "--checkpoint", "{root}/pickle.pt"], "refused"),
    "sample a checkpoint claiming 48 layers": (["sample", "--checkpoint", "ckpt-48-layers", "--out", "{bad}"],
                                               "do not match"),
    "sample a checkpoint of views": (["sample", "--checkpoint", "ckpt-hollow-48-layers", "--out", "{bad}"],
                                     "do not hold their own values"),
    "sample block_size 8.5": (["sample", "--checkpoint", "ckpt-block-8.5", "--out", "{bad}"], "whole number"),
    "sample vocab_size 88.0": (["sample", "--checkpoint", "ckpt-vocab-88.0", "--out", "{bad}"], "whole number"),
    "sample n_embd 100000": (["sample", "--checkpoint", "ckpt-n-embd-100000", "--out", "{bad}"], "n_embd"),
    "sample NaN weights": (["sample", "--checkpoint", "ckpt-nan", "--out", "{bad}"], "NaN"),
    "sample a truncated checkpoint": (["sample", "--checkpoint", "ckpt-truncated", "--out", "{bad}"],
                                      "truncated or corrupt"),
    "sample --which latest of a run without one": (["sample", "--checkpoint", "ckpt-nan", "--which", "latest",
                                                    "--out", "{bad}"], "no checkpoint file"),
    "train --n-layer 0": (["train", "--n-layer", "0"], "n_layer"),
    "eval on an unknown speaker": (["eval", "--checkpoint", "small-run", "--speaker", "Nobody Atall"],
                                   "unknown speaker"),
    "eval NaN weights": (["eval", "--checkpoint", "ckpt-nan", "--out", "{bad}", "--speaker", OBAMA], "NaN"),
    "heads of NaN weights": (["heads", "--checkpoint", "ckpt-nan", "--out", "{bad}", "--no-ablation"], "NaN"),
    "lens of a checkpoint claiming 48 layers": (["lens", "--checkpoint", "ckpt-48-layers", "--out", "{bad}",
                                                 "--text", "Hi"], "do not match"),
}
CLI_CASES.update({  # the third round (issue 20)
    "attribution --lengths 0": (["attribution", "--lengths", "0"], "passage length .* between 2 and"),
    "attribution --lengths -5": (["attribution", "--lengths", "-5"], "passage length .* between 2 and"),
    "attribution --lengths 1": (["attribution", "--lengths", "1"], "passage length .* between 2 and"),
    "attribution --lengths past the limit": (["attribution", "--lengths", str(MAX_PASSAGE_CHARS + 1)],
                                             "between 2 and 20,000"),
    "attribution --passages -3": (["attribution", "--passages", "-3"], "passages per speaker .* between 1 and"),
    "attribution --passages 0": (["attribution", "--passages", "0"], "passages per speaker .* between 1 and"),
    "whosaid a 1 MB file": (["whosaid", "--text", "{passages}/big-passage.txt"], "longer than a passage can be"),
    "whosaid a file of 40,000 characters": (["whosaid", "--text", "{passages}/long-passage.txt"],
                                            "40,000 characters long; the limit is 20,000"),
    "whosaid on spaces and newlines": (["whosaid", "--text", "{passages}/blank-passage.txt"], "nothing to attribute"),
    "whosaid a file that is not there": (["whosaid", "--text", "{passages}/nowhere.txt"], "cannot read"),
    "whosaid with neither --text nor --jsonl": (["whosaid"], "give one of --text FILE"),
    "whosaid with both --text and --jsonl": (["whosaid", "--text", "-", "--jsonl", "-"], "give one of --text FILE"),
    "whosaid --jsonl of a file that is not there": (["whosaid", "--jsonl", "{passages}/nowhere.jsonl", "--out",
                                                     "{shipped}"], "cannot read"),
    "lens --escapes with a broken escape": (["lens", "--checkpoint", "small-run", "--escapes", "--text", "The \\x"],
                                            "--text has a broken escape"),
    "lens --escapes of a character outside it": (["lens", "--checkpoint", "small-run", "--escapes", "--text",
                                                  "caf\u00e9"], "'é'"),
    "lens --top 0": (["lens", "--checkpoint", "small-run", "--text", "Hi", "--top", "0"], "--top .* between 1 and"),
    "lens --max-chars 0": (["lens", "--checkpoint", "small-run", "--text", "Hi", "--max-chars", "0"],
                           "--max-chars must be 1 or more"),
    "lens --text past the limit": (["lens", "--checkpoint", "small-run", "--text", "a" * (MAX_PROBE_CHARS + 1)],
                                   "the limit is 2,000"),
    "heads --max-chars 0": (["heads", "--checkpoint", "small-run", "--max-chars", "0"], "--max-chars must be 1"),
    "heads --max-chars -5": (["heads", "--checkpoint", "small-run", "--max-chars", "-5"], "--max-chars must be 1"),
    "sample --max-new-tokens past the limit": (["sample", "--checkpoint", "small-run", "--max-new-tokens",
                                                str(MAX_NEW_CHARS + 1)], "between 0 and 5,000"),
    "sample --prompt past the limit": (["sample", "--checkpoint", "small-run", "--prompt",
                                        "a" * (MAX_PROMPT_CHARS + 1)], "--prompt is 2,001 characters long"),
    "train --model bigram --init-from a GPT": (["train", "--model", "bigram", "--init-from", "small-run",
                                                "--max-iters", "2"], "small-run is a gpt model"),
    "ladder --rungs 1-": (["ladder", "--rungs", "1-", "--max-iters", "1"], "rungs must look like 1-7"),
    "ladder --rungs -3": (["ladder", "--rungs", "-3", "--max-iters", "1"], "rungs must look like 1-7"),
})


def cli(places, argv: list[str], capsys) -> tuple[int, str, str]:
    argv = [a.format(**{k: places[k] for k in ("root", "bad", "data", "passages", "shipped")}) for a in argv]
    if "--out" not in argv:
        argv += ["--out", str(places["root"])]
    try:
        rc = main([*argv, "--data-dir", str(places["data"])])
    except SystemExit as e:  # argparse: usage and one error line, status 2
        rc = e.code
    out = capsys.readouterr()
    return rc, out.out, out.err


@pytest.mark.parametrize("case", list(CLI_CASES))
def test_cli_refuses_with_one_line_and_status_2(places, case, capsys):
    argv, pattern = CLI_CASES[case]
    rc, out, err = cli(places, argv, capsys)
    assert rc == 2, (rc, out, err)
    last = err.strip().splitlines()[-1]
    assert re.search(pattern, last) and "error" in last, err
    assert "Traceback" not in err


def test_cli_lists_bad_runs_as_unreadable_and_names_a_renamed_file(places, capsys):
    rc, out, err = cli(places, ["runs", "--out", "{bad}", "--json"], capsys)
    assert rc == 0 and not err
    rows = {r["run"]: r for r in json.loads(out)["runs"]}
    assert rows["meta-best-val-text"]["status"] == "unreadable" and "'0.5'" in rows["meta-best-val-text"]["message"]
    assert rows["ckpt-nan"]["status"] == "finished"  # a bad checkpoint is found when it is loaded
    rc, out, err = cli(places, ["speakers", "--stats", "--json"], capsys)
    stats = {r["speaker"]: r for r in json.loads(out)["speakers"]}
    assert rc == 0 and stats[OBAMA]["speeches"] == 7 and stats["Barack Obama (data file)"]["speeches"] == 1
    assert "note: Barack Obama.txt is the speaker 'Barack Obama (data file)'" in err
    rc, out, err = cli(places, ["sample", "--checkpoint", "small-run", "--escapes", "--prompt", "Mart\u00ed\\n",
                                "--max-new-tokens", "3", "--json"], capsys)
    assert rc == 0 and json.loads(out)["prompt"] == "Mart\u00ed\n", err  # í is in the vocabulary


def test_the_catalogue_covers_at_least_60_distinct_bad_inputs():
    pages = len(UPLOADS) + len(PAGE_SETTINGS) + len(TOKEN_IDS) + 2  # + memory on Train, bad runs on every page
    assert len(CORE_CASES) + len(CLI_CASES) + pages >= 60


def test_refusals_left_the_data_and_runs_as_they_were(places):
    """After the cases above: no new speaker file, the runs folder holds only what was put there,
    the pickle never ran, an empty prompt starts from a newline instead of failing."""
    assert sorted(p.name for p in places["data"].iterdir()) == DATA_FILES
    assert not (places["root"] / "PWNED").exists()
    assert sorted(p.name for p in places["root"].iterdir() if p.is_dir()) in (["small-run"], ["nan", "small-run"])
    assert ck.load_model(places["root"] / "small-run" / rec.BEST).model is not None
    assert len(sample_text(places["model"], places["tok"], "", 5, seed=0)) == 5
    nan = places["root"] / "nan"
    if nan.exists():  # the diverged run said why, and kept what it saved before
        assert "too high" in rec.read_json(nan / rec.META)["message"]


# --- the same through the pages --------------------------------------------------------------------
UPLOADS = {  # file name, bytes, what the page says
    "empty": ("empty.txt", b"", "empty"),
    "whitespace only": ("blank.txt", b"   \n\n  ", "empty"),
    "binary": ("image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00", "binary"),
    "not UTF-8": ("latin.txt", "Déjà vu, café. ".encode("latin-1") * 40, "not UTF-8"),
    "over the size cap": ("huge.txt", b"a" * (MAX_TEXT_BYTES + 1), "over the 20 MB limit"),
    "too short": ("short.txt", b"Hello.", "too little"),
    "a president's name": ("Donald J. Trump.txt", GOOD_TEXT.encode(), "already exists"),
    "UTF-16 without a byte-order mark": ("utf16.txt", UTF16_NO_BOM, "UTF-16 text without a byte-order mark"),
    "a name with a path": ("../../evil.txt", GOOD_TEXT.encode(), "no folders"),
}


@pytest.fixture
def speeches(places):
    return open_page("speeches")


@pytest.mark.parametrize("case", list(UPLOADS))
def test_speeches_page_refuses_a_bad_upload_with_a_message(places, speeches, case):
    name, raw, said = UPLOADS[case]
    speeches.file_uploader(key="speeches_upload").set_value((name, raw, "text/plain")).run()
    assert not speeches.exception
    assert said in " ".join(e.value for e in speeches.error), page_text(speeches)
    assert sorted(p.name for p in places["data"].iterdir()) == DATA_FILES


def test_speeches_page_adds_a_good_upload_as_a_chosen_speaker(places, speeches):
    """UTF-16 with its byte-order mark is read as the text it is; the renamed data/ file is named."""
    assert "Barack Obama.txt is the speaker 'Barack Obama (data file)'" in " ".join(i.value for i in speeches.info)
    speeches.file_uploader(key="speeches_upload").set_value(("My Own Words.txt", GOOD_TEXT.encode("utf-16"),
                                                             "text/plain")).run()
    assert not speeches.exception
    assert "Added **My Own Words**" in " ".join(s.value for s in speeches.success)
    assert (places["data"] / "My Own Words.txt").read_text(encoding="utf-8") == GOOD_TEXT
    assert "My Own Words" in speeches.session_state["podium_speakers"]
    assert "My Own Words" in [h.value for h in speeches.subheader]  # shown beside the others
    (places["data"] / "My Own Words.txt").unlink()


def test_the_uploader_is_given_cores_limit():
    source = (ROOT / "app_pages" / "speeches.py").read_text()
    assert "max_upload_size=MAX_TEXT_MB" in source and "MB" not in source.split("help=")[1].split(")")[0]


def test_train_page_refuses_a_size_that_would_exhaust_memory(places):
    at = open_page("train")
    at.toggle(key="train_custom").set_value(True).run()
    for name, value in (("n_layer", 48), ("n_embd", 4096), ("n_head", 32), ("batch_size", 4096),
                        ("block_size", 8192)):
        at.number_input(key=f"train_{name}_gpt_tiny").set_value(value).run()
    at.button(key="train_start").click().run()
    assert not at.exception
    assert "GB of memory" in " ".join(e.value for e in at.error), page_text(at)
    assert not any(p.is_dir() and p.name.endswith("custom") for p in places["root"].iterdir())


PAGE_SETTINGS = [("generate_temperature", 0.0, "temperature must be above 0"),
                 ("generate_prompt", "Snow ☃ man", "☃")]


@pytest.mark.parametrize("field, value, said", PAGE_SETTINGS)
def test_generate_page_refuses_bad_settings_with_a_message(places, field, value, said, monkeypatch):
    monkeypatch.setenv("PODIUM_CHECKPOINTS", str(places["shipped"]))  # speaker models to write with
    at = open_page("generate")
    widget = at.number_input(key=field) if field.endswith("temperature") else at.text_input(key=field)
    widget.set_value(value).run()
    at.button(key="generate_go").click().run()
    assert not at.exception
    assert said in page_text(at) + " ".join(e.value for e in at.error)


TOKEN_IDS = [("18, 47, x", "not a token id"), ("1, 9999", "outside the vocabulary")]


def test_tokens_page_refuses_bad_ids_with_a_message(places):
    at = open_page("tokens")
    for ids, said in TOKEN_IDS:
        at.text_input(key="tokens_ids").set_value(ids).run()
        assert not at.exception
        assert said in page_text(at)


@pytest.mark.parametrize("page", ["home", "train", "generate", "attention"])
def test_bad_runs_break_no_page(places, page, monkeypatch):
    """Every bad folder of the red-team's table in the runs folder: each page renders, the sidebar lists
    the unreadable ones with the reason, and a page that loads a bad checkpoint says why."""
    monkeypatch.setenv("PODIUM_CHECKPOINTS", str(places["bad"]))
    at = open_page(page, query={"watch": "metrics-junk"} if page == "train" else None)
    sidebar = " ".join(c.value for c in at.sidebar.caption)
    assert "**meta-best-val-text** · unreadable: best_val_loss must be a number" in sidebar, sidebar
    if page == "generate":
        at.button(key="generate_go").click().run()
        assert not at.exception, [e.message for e in at.exception]


def _someone_elses_run(run_dir: Path) -> bool:
    """A run folder in the real checkpoints/ that another person's process wrote meanwhile: its
    trainer is alive, or its record names a trainer that is neither this process nor its child."""
    if rec.trainer_alive(run_dir):
        return True
    try:
        pid = json.loads((run_dir / rec.META).read_text()).get("pid")
    except (OSError, ValueError):
        return False
    if not isinstance(pid, int) or pid == os.getpid():
        return False
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1]) != os.getpid()
    except (OSError, IndexError, ValueError):
        return True  # gone, and not our child (the pages' runs here train in the temporary root)


def test_nothing_was_touched_outside_data_and_checkpoints():
    """Last in this file: every case above ran, and no run or speaker file appeared or changed in the
    repository (the cases wrote into their temporary data/ and checkpoints/ only). Run folders that
    other people's trainers wrote meanwhile are theirs, not ours."""
    after = tree(ROOT)
    changed = sorted(k for k in set(REPO_BEFORE) | set(after) if REPO_BEFORE.get(k) != after.get(k))
    ours = [k for k in changed if not (k.startswith("checkpoints/") and len(Path(k).parts) > 2
                                       and _someone_elses_run(ROOT / "checkpoints" / Path(k).parts[1]))]
    assert not ours, ours


def test_whosaid_reads_a_passage_as_people_save_it(places, tmp_path, capsys, monkeypatch):
    """Issue 20, 5.6-5.7: a UTF-8 file with a byte-order mark (as Notepad saves it) is read as the
    text it holds, by the shipped models; bytes that are not UTF-8 on standard input are named as such."""
    passage = "We will build the wall, and Mexico is going to pay for it. Believe me, it's going to be great."
    saved = tmp_path / "notepad.txt"
    saved.write_bytes(b"\xef\xbb\xbf" + passage.encode("utf-8"))
    rc = main(["whosaid", "--text", str(saved), "--json", "--out", str(ROOT / "checkpoints")])
    out = capsys.readouterr()
    assert rc == 0, out.err
    verdict = json.loads(out.out)
    assert verdict["chars"] == len(passage) - 1 and verdict["guess"] in verdict["probabilities"]
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"We will \xff\xfe\xff win")))
    rc, out, err = cli(places, ["whosaid", "--text", "-"], capsys)
    assert rc == 2 and "standard input: not UTF-8 text (bad byte at position 8)" in err, err
    assert "Traceback" not in err


def test_whosaid_jsonl_gives_one_verdict_a_line_and_names_the_bad_lines(places, tmp_path, capsys):
    """Many passages in one run (issue 24): one JSON object a line in, one verdict a line out; a line
    that cannot be scored says why on its own line, the others are attributed, and the run exits 2."""
    lines = [json.dumps({"text": "We will make America great again, believe me."}), "", "{not json",
             json.dumps({"text": "   "}), json.dumps({"words": "no text"}),
             json.dumps({"text": "The state of our union is strong, and we will get this done."})]
    path = tmp_path / "passages.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    rc, out, err = cli(places, ["whosaid", "--jsonl", str(path), "--out", "{shipped}"], capsys)
    rows = [json.loads(line) for line in out.splitlines()]
    assert rc == 2 and "3 line(s) could not be attributed" in err and "Traceback" not in err
    assert [r["line"] for r in rows] == [1, 3, 4, 5, 6]
    assert [("guess" in r, "error" in r) for r in rows] == [(True, False), (False, True), (False, True),
                                                             (False, True), (True, False)]
    assert "nothing to attribute" in rows[2]["error"] and '"text"' in rows[3]["error"]
    assert rows[0]["chars"] == len("We will make America great again, believe me.") - 1


@pytest.mark.parametrize("page, key", [("heads", "heads_passage_"), ("compare", "compare_passage_")])
def test_who_said_it_boxes_are_capped_at_cores_limit(places, page, key, monkeypatch):
    """Issue 20, 5.4: the box on Inside the heads had no cap (1 MB pasted ran for minutes); both
    boxes take core's one limit, and say it. (On the shipped models: the pages need speaker models.)"""
    monkeypatch.setenv("PODIUM_CHECKPOINTS", str(places["shipped"]))
    at = open_page(page)
    boxes = [t for t in at.text_area if str(t.key).startswith(key)]
    assert boxes, page_text(at)
    assert all(t.proto.max_chars == MAX_PASSAGE_CHARS for t in boxes)
    assert all(f"{MAX_PASSAGE_CHARS:,}" in t.help for t in boxes)
