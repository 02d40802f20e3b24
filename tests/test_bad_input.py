"""The bad-input catalogue: whatever a user feeds Podium, a clear message and no traceback, and no
file touched outside data/ and checkpoints/ (here: their temporary stand-ins, $PODIUM_DATA and
$PODIUM_CHECKPOINTS). Each core case calls what the pages and the CLI call; each page case drives
the page with AppTest and finds the message on it. The last test checks the repository is as it was."""
from __future__ import annotations

import os
import pickle
import re
from pathlib import Path

import pytest
import torch
from apptest_helpers import open_page, page_text
from helpers import OBAMA, ROOT, one_thread, speaker_data, tiny_gpt, tiny_train  # noqa: F401 (autouse)

from core import checkpoints as ck
from core import record as rec
from core import runs
from core.attention_view import context_window
from core.config import ConfigError
from core.corpus import MAX_TEXT_BYTES, SpeakerError, add_user_text, load_speaker
from core.errors import TrainingDiverged
from core.models import build_model
from core.runs import train
from core.sampling import sample_text
from core.tokenizer import CharTokenizer, UnknownCharError, parse_ids

SKIP = {".git", ".venv", "__pycache__", ".pytest_cache", ".ruff_cache", "test-results"}
GOOD_TEXT = ("We the people of the United States, in order to form a more perfect union, establish justice, "
             "insure domestic tranquility, provide for the common defense, promote the general welfare. ") * 4


def tree(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under root (but caches and the virtualenv): path -> (size, mtime)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in SKIP]
        for f in filenames:
            p = Path(dirpath) / f
            st = p.stat()
            out[str(p.relative_to(root))] = (st.st_size, st.st_mtime_ns)
    return out


REPO_BEFORE = tree(ROOT)


@pytest.fixture(scope="module")
def places(tmp_path_factory):
    """Temporary data/ and checkpoints/ for the whole catalogue (pages and core read the env vars),
    one short user text, one small trained run and some bad checkpoint files."""
    data, root = tmp_path_factory.mktemp("data"), tmp_path_factory.mktemp("checkpoints")
    (data / "Short Speaker.txt").write_text(GOOD_TEXT[:300], encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PODIUM_DATA", str(data))
        mp.setenv("PODIUM_CHECKPOINTS", str(root))
        d = speaker_data(OBAMA)
        train(d, tiny_gpt(d.tokenizer.vocab_size), tiny_train(max_iters=4, eval_interval=4), root / "small-run")
        good = (root / "small-run" / rec.BEST).read_bytes()
        (root / "truncated.pt").write_bytes(good[: len(good) // 2])
        torch.save({"weights": torch.zeros(3)}, root / "not-ours.pt")
        payload = torch.load(root / "small-run" / rec.BEST, weights_only=True)  # its meta, another model's weights
        payload["model"] = build_model(tiny_gpt(d.tokenizer.vocab_size, n_embd=16)).state_dict()
        torch.save(payload, root / "other-config.pt")
        (root / "pickle.pt").write_bytes(pickle.dumps(Payload(root / "PWNED"), protocol=2))
        yield {"data": data, "root": root, "tok": d.tokenizer,
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
                                  SpeakerError, "over the 21 MB limit"),
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
                                         ConfigError, r"longer than the val text of Short Speaker \(30 characters"),
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
    "run name with a path separator": (lambda p: rec.validate_run_name("runs/../../x"), ck.CheckpointError,
                                       "no path separators"),
    "run name with ..": (lambda p: rec.validate_run_name("a..b"), ck.CheckpointError, "'..'"),
    "learning rate so high the loss turns NaN": (
        lambda p: train(speaker_data(OBAMA), tiny_gpt(speaker_data(OBAMA).tokenizer.vocab_size),
                        tiny_train(learning_rate=1e6, min_lr=0, max_iters=30, eval_interval=10), p["root"] / "nan"),
        TrainingDiverged, "learning rate .* too high"),
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
    "resume a run that does not exist": (lambda p: runs.resume(p["root"] / "nothing-here"), ck.CheckpointError,
                                         "nothing-here"),
    "prompt outside the vocabulary": (lambda p: sample_text(p["model"], p["tok"], "Hi ☃", 5), UnknownCharError,
                                      "☃"),
    "temperature 0": (lambda p: sample_text(p["model"], p["tok"], "Hi", 5, temperature=0), ValueError,
                      "temperature must be above 0"),
    "negative temperature": (lambda p: sample_text(p["model"], p["tok"], "Hi", 5, temperature=-1), ValueError,
                             "temperature"),
    "top-k 0": (lambda p: sample_text(p["model"], p["tok"], "Hi", 5, top_k=0), ValueError, "top-k"),
    "top-k above the vocabulary size": (lambda p: sample_text(p["model"], p["tok"], "Hi", 5, top_k=10_000),
                                        ValueError, "between 1 and the vocabulary size"),
    "context length 0": (lambda p: context_window("some text", 0, 64), ValueError, "at least 1"),
    "text shorter than the context": (lambda p: context_window("short", 10, 64), ValueError, "fewer than T"),
    "token ids that are not numbers": (lambda p: parse_ids("18, 47, x"), ValueError, "'x' is not a token id"),
    "token id outside the vocabulary": (lambda p: p["tok"].decode([1, 999]), ValueError, "outside the vocabulary"),
}


@pytest.mark.parametrize("case", list(CORE_CASES))
def test_core_refuses_with_a_clear_message(places, case):
    call, error, pattern = CORE_CASES[case]
    with pytest.raises(error) as e:
        call(places)
    message = str(e.value)
    assert re.search(pattern, message), message
    assert "Traceback" not in message and len(message) < 600 and message[0] not in "[{<"


def test_the_catalogue_has_at_least_30_cases():
    assert len(CORE_CASES) >= 30


def test_refusals_left_the_data_and_runs_as_they_were(places):
    """After the cases above: no new speaker file, the runs folder holds only what was put there,
    the pickle never ran, an empty prompt starts from a newline instead of failing."""
    assert sorted(p.name for p in places["data"].iterdir()) == ["Short Speaker.txt"]
    assert not (places["root"] / "PWNED").exists()
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
    "over the size cap": ("huge.txt", b"a" * (MAX_TEXT_BYTES + 1), "limit"),
    "too short": ("short.txt", b"Hello.", "too little"),
    "a president's name": ("Donald J. Trump.txt", GOOD_TEXT.encode(), "already exists"),
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
    assert sorted(p.name for p in places["data"].iterdir()) == ["Short Speaker.txt"]


def test_speeches_page_adds_a_good_upload_as_a_chosen_speaker(places, speeches):
    speeches.file_uploader(key="speeches_upload").set_value(("My Own Words.txt", GOOD_TEXT.encode(),
                                                             "text/plain")).run()
    assert not speeches.exception
    assert "Added **My Own Words**" in " ".join(s.value for s in speeches.success)
    assert (places["data"] / "My Own Words.txt").read_text(encoding="utf-8") == GOOD_TEXT
    assert "My Own Words" in speeches.session_state["podium_speakers"]
    assert "My Own Words" in [h.value for h in speeches.subheader]  # shown beside the others
    (places["data"] / "My Own Words.txt").unlink()


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


@pytest.mark.parametrize("field, value, said", [("generate_temperature", 0.0, "temperature must be above 0"),
                                                ("generate_prompt", "Snow ☃ man", "☃")])
def test_generate_page_refuses_bad_settings_with_a_message(places, field, value, said):
    at = open_page("generate")
    widget = at.number_input(key=field) if field.endswith("temperature") else at.text_input(key=field)
    widget.set_value(value).run()
    at.button(key="generate_go").click().run()
    assert not at.exception
    assert said in page_text(at)


def test_tokens_page_refuses_bad_ids_with_a_message(places):
    at = open_page("tokens")
    for ids, said in (("18, 47, x", "not a token id"), ("1, 9999", "outside the vocabulary")):
        at.text_input(key="tokens_ids").set_value(ids).run()
        assert not at.exception
        assert said in page_text(at)


def test_nothing_was_touched_outside_data_and_checkpoints():
    """Last in this file: every case above ran, and the repository is file for file as before."""
    after = tree(ROOT)
    changed = sorted(k for k in set(REPO_BEFORE) | set(after) if REPO_BEFORE.get(k) != after.get(k))
    assert not changed, changed
