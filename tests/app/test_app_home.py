"""AppTest: the Home page lists the pipeline and which speakers have trained models."""
from pathlib import Path

from apptest_helpers import open_page

from core.config import TrainConfig, preset
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
