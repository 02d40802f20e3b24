"""AppTest: the Home page lists the pipeline, which speakers have trained models, and where the steps take the loss."""
import json
import math
from pathlib import Path

import pytest
from apptest_helpers import decode, figures, open_page
from helpers import ROOT, SHIPPED

from core.config import TrainConfig, preset
from core.lessons.milestones import milestones
from core.runs import catalog
from core.runs import record as rec
from core.runs.start import train
from core.text.dataset import prepare
from ui.pages import STEPS


def test_home_links_every_step_and_shows_no_models(tmp_path, monkeypatch):
    monkeypatch.setenv("PODIUM_CHECKPOINTS", str(tmp_path))
    at = open_page("home")
    links = [el.proto.page for el in at.main.get("page_link") if not el.value.startswith("Next:")]  # not the footer
    assert len(links) == len(STEPS) == 12       # every page but Home, in the lecture's order
    assert [link.rsplit("/", 1)[-1] for link in links] == [Path(s.path).stem for s in STEPS]
    assert "No trained model yet" in at.info[0].value
    table = at.dataframe[0].value
    assert list(table["speaker"]) == ["Barack Obama", "Donald J. Trump", "Joseph R. Biden Jr."]


def test_home_counts_a_trained_model(tmp_path, monkeypatch):
    monkeypatch.setenv("PODIUM_CHECKPOINTS", str(tmp_path))
    data = prepare(["Donald J. Trump"])
    cfg, _ = preset("bigram", data.tokenizer.vocab_size)
    train(data, cfg, TrainConfig(batch_size=8, max_iters=5, eval_interval=5, eval_iters=1, warmup_iters=0,
                                 device="cpu"), tmp_path / "trump-bigram")
    at = open_page("home")
    table = at.dataframe[0].value.set_index("speaker")
    assert table.loc["Donald J. Trump", "bigram runs"] == 1
    assert table.loc["Barack Obama", "bigram runs"] == 0


def test_home_draws_where_the_steps_take_the_loss_from_the_records(monkeypatch):
    """On the shipped runs: a bar per stage, read from the records (no scoring), falling from the uniform
    guess to the fine-tuned model, each the figure the stage's own page shows."""
    root = ROOT / "checkpoints"
    monkeypatch.setenv("PODIUM_CHECKPOINTS", str(root))
    steps = milestones(rec.list_runs(root), "Barack Obama", root)
    ladder = {json.loads(line)["run"]: json.loads(line)["val_loss"]
              for line in (root / "ladder.jsonl").read_text().splitlines()}
    scratch = rec.RunRecord.load(root / SHIPPED["Barack Obama"])
    assert steps[0].loss == math.log(scratch.model.vocab_size) and steps[0].run is None
    assert [m.loss for m in steps[1:8]] == pytest.approx([ladder[m.run] for m in steps[1:8]])
    assert steps[-2].run == scratch.name and steps[-2].loss == catalog.own_loss(scratch, "Barack Obama")
    assert steps[-1].loss < steps[-2].loss < steps[7].loss < steps[1].loss < steps[0].loss
    at = open_page("home")
    fig = next(f for f in figures(at) if f["data"][0].get("orientation") == "h")
    assert decode(fig["data"][0]["x"]).tolist() == pytest.approx([m.loss for m in steps])
    assert list(fig["data"][0]["y"]) == [m.label for m in steps]
