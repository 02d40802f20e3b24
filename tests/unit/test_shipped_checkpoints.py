"""The trained defaults in checkpoints/: small, loadable, sharing one vocabulary, and scoring
their speaker's val text exactly as their metadata says."""
import json
import math
import subprocess

import pytest
import torch

from core.model.scoring import sequence_loss
from core.runs.checkpoints import load_model
from core.runs.record import CHECKPOINTS_DIR
from core.text.corpus import DEFAULT_SPEAKERS, load_speaker

SHIPPED = {s: CHECKPOINTS_DIR / f"{'-'.join(s.lower().replace('.', '').split())}-gpt-tiny" for s in DEFAULT_SPEAKERS}


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("speaker", DEFAULT_SPEAKERS)
def test_shipped_model_matches_its_metadata(speaker):
    run = SHIPPED[speaker]
    assert (run / "model.pt").stat().st_size <= 4 * 1024 * 1024
    meta = json.loads((run / "meta.json").read_text())
    assert meta["speakers"] == [speaker] and meta["status"] == "finished"
    assert meta["model"]["model_type"] == "gpt" and meta["model"]["n_layer"] == 4
    loaded = load_model(run)
    _, val = load_speaker(speaker, meta["clean"]).split()
    loss = sequence_loss(loaded.model, loaded.tokenizer.encode_tensor(val))
    assert math.isclose(loss, meta["val_loss_full"][speaker], abs_tol=2e-3)
    assert loss < math.log(loaded.tokenizer.vocab_size) / 2  # far from uniform guessing


def test_shipped_models_share_one_vocabulary():
    vocabs = {json.loads((run / "meta.json").read_text())["vocab"] for run in SHIPPED.values()}
    assert len(vocabs) == 1


def test_the_shipped_weights_stay_within_the_budget():
    """Every weights file that git tracks under checkpoints/ (what a clone holds, not a learner's own runs):
    60 MB in all (issue 24's budget)."""
    listed = subprocess.run(["git", "ls-files", "*.pt"], cwd=CHECKPOINTS_DIR, capture_output=True, text=True)
    if listed.returncode:
        pytest.skip("not a git checkout: which weights are shipped is git's to say")
    files = [CHECKPOINTS_DIR / line for line in listed.stdout.splitlines()]
    total = sum(p.stat().st_size for p in files)
    assert files and total <= 60e6, f"{total / 1e6:.1f} MB of weights in {len(files)} files"
