"""Pretraining and fine-tuning: a base request leaves the chosen speakers out; a fine-tuned run
starts from exactly the base's weights and vocabulary, names its base, and refuses (or, when asked,
drops) characters the base does not know."""
from __future__ import annotations

import pytest
import torch
from helpers import OBAMA, TRUMP, one_thread  # noqa: F401 (autouse)

from core.config import ConfigError
from core.runs import checkpoints as ck
from core.runs import record as rec
from core.runs import start as runs
from core.text.corpus import DEFAULT_SPEAKERS, sotu_speakers
from core.text.tokenizer import UnknownCharError

SMALL = {"max_iters": 6, "eval_interval": 3, "eval_iters": 2, "batch_size": 4, "block_size": 16, "n_layer": 1,
         "n_head": 2, "n_embd": 16}


def test_a_base_leaves_the_chosen_speakers_out_and_knows_the_whole_corpus():
    r = runs.RunRequest.pretrain(DEFAULT_SPEAKERS)
    assert not set(r.speakers) & set(DEFAULT_SPEAKERS)
    assert set(r.speakers) | set(DEFAULT_SPEAKERS) == set(sotu_speakers())
    assert set(r.vocab_from) == set(DEFAULT_SPEAKERS) and r.default_name() == "sotu-base-gpt-tiny"
    lincoln = runs.RunRequest.pretrain(["Abraham Lincoln"])
    assert "Abraham Lincoln" not in lincoln.speakers and OBAMA in lincoln.speakers
    with pytest.raises(ConfigError, match="nothing is left"):
        runs.RunRequest.pretrain(sotu_speakers())


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    root = tmp_path_factory.mktemp("ft")
    runs.create(runs.RunRequest.make([TRUMP], "gpt", "tiny", **SMALL), root, name="base")
    runs.execute(root / "base")
    return root


def test_a_fine_tuned_run_starts_from_the_base_weights_and_names_it(base):
    ft = runs.create(runs.RunRequest.make([OBAMA], "gpt", "finetune", init_from="base", max_iters=4,
                                          eval_interval=4, eval_iters=2, batch_size=4), base)
    assert ft.name == "barack-obama-gpt-ft-base" and ft.init_from == "base"
    base_rec = rec.RunRecord.load(base / "base")
    assert ft.model == base_rec.model and ft.vocab == base_rec.vocab  # the base's architecture and vocabulary
    assert ft.train.learning_rate == 3e-4 and ft.train.max_iters == 4
    first = {}

    def grab(e):
        if getattr(e, "kind", "") == "eval" and e.step == 0:
            first.update({k: v.clone() for k, v in e.model.state_dict().items()})
    result = runs.execute(base / ft.name, callbacks=[grab], lock=ft.lock)
    assert result.status == "finished"
    weights = ck.read_checkpoint(base / "base" / rec.BEST).state["model"]
    assert all(torch.equal(first[k], weights[k]) for k in weights), "step 0 is the base's best weights"
    assert rec.RunRecord.load(base / ft.name).init_from == "base"
    with pytest.raises(ConfigError, match="keeps its base's architecture"):
        runs.plan(runs.RunRequest.make([OBAMA], "gpt", "finetune", init_from="base", n_layer=3), base)
    with pytest.raises(ConfigError, match="cannot start from 'nothing'"):
        runs.plan(runs.RunRequest.make([OBAMA], "gpt", "finetune", init_from="nothing"), base)


def test_characters_the_base_lacks_are_named_and_dropped_only_when_asked(base, tmp_path, monkeypatch):
    data = tmp_path / "data"
    data.mkdir()
    (data / "Zed.txt").write_text(("The euro sign \u20ac is new here. " * 40 + "\n") * 3, encoding="utf-8")
    monkeypatch.setenv("PODIUM_DATA", str(data))
    with pytest.raises(UnknownCharError, match="'\u20ac'.*drop them, or replace each with a space"):
        runs.plan(runs.RunRequest.make(["Zed"], "gpt", "finetune", init_from="base"), base, data)
    record, d = runs.plan(runs.RunRequest.make(["Zed"], "gpt", "finetune", init_from="base", unknown="drop"), base,
                          data)
    assert record.unknown == "drop" and "\u20ac" not in d.tokenizer.stoi and len(d.train) > 0
