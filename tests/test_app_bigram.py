"""AppTest: the Bigram page trains (or loads) a speaker's bigram, compares its table and loss with counting,
samples from it, and shows that only the last character matters."""
from __future__ import annotations

import math
import shutil

import numpy as np
import pytest
import torch
from apptest_helpers import figures, heatmaps, open_page

from core.config import preset
from core.dataset import prepare
from core.train import train

SPEAKER = "Barack Obama"            # the first default speaker: the page's default choice
RUN = "barack-obama-bigram"         # the name the page gives it
FLOOR_TOLERANCE = 0.05


@pytest.fixture(autouse=True)
def _checkpoints(monkeypatch, tmp_path):
    monkeypatch.setenv("PODIUM_CHECKPOINTS", str(tmp_path))


@pytest.fixture(scope="module")
def data():
    return prepare([SPEAKER])


@pytest.fixture(scope="module")
def trained_run(data, tmp_path_factory):
    """A short bigram run trained once, copied into each test's checkpoints folder that needs one."""
    root = tmp_path_factory.mktemp("bigram-runs")
    model_cfg, train_cfg = preset("bigram", data.tokenizer.vocab_size, max_iters=300, eval_interval=300,
                                  eval_iters=5)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)   # as the app's script threads run (ui.state.configure_torch): tiny ops, no contention
    try:
        train(data, model_cfg, train_cfg, run_dir=root / RUN)
    finally:
        torch.set_num_threads(threads)
    return root / RUN


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def tables(at) -> dict[str, np.ndarray]:
    return {t.split(":")[0]: z for t, z in heatmaps(at) if t.startswith(("Learned", "Counted"))}


def test_without_a_trained_bigram_the_page_says_so(tmp_path, data):
    at = open_page("bigram")
    assert not at.error
    assert any("No bigram has been trained" in i.value for i in at.info)
    assert metrics(at)["Bigram val loss"] == "not trained"
    assert at.button(key="bigram_train")
    V = data.tokenizer.vocab_size
    t = tables(at)
    assert list(t) == ["Counted"] and t["Counted"].shape == (V, V)
    seen = ~np.isnan(t["Counted"]).all(axis=1)
    np.testing.assert_allclose(np.nansum(t["Counted"][seen], axis=1), 1.0, rtol=1e-4)
    assert not any(tmp_path.iterdir())


def test_train_saves_a_run_that_reaches_the_count_floor(tmp_path, data):
    at = open_page("bigram")
    at.number_input(key="bigram_steps").set_value(1000)
    at.button(key="bigram_train").click().run()
    assert not at.exception and not at.error
    assert (tmp_path / RUN / "model.pt").is_file() and (tmp_path / RUN / "meta.json").is_file()
    assert any(RUN in s.value for s in at.success)
    m = metrics(at)
    V = data.tokenizer.vocab_size
    val, uniform, floor = float(m["Bigram val loss"]), float(m["Uniform guessing: ln V"]), float(m["Count-based floor"])
    assert uniform == pytest.approx(math.log(V), abs=1e-3)
    assert val < uniform - 1.0
    assert abs(val - floor) < FLOOR_TOLERANCE
    t = tables(at)
    assert t["Learned"].shape == (V, V) and t["Counted"].shape == (V, V)
    np.testing.assert_allclose(t["Learned"].sum(axis=1), 1.0, rtol=1e-4)
    assert not any(i.value.startswith("No bigram") for i in at.info)


def test_a_saved_run_is_loaded_and_retrain_keeps_it(tmp_path, trained_run):
    shutil.copytree(trained_run, tmp_path / RUN)
    at = open_page("bigram")
    assert not at.error
    assert RUN in " ".join(c.value for c in at.caption)
    assert not at.get("button") or not any(b.key == "bigram_train" for b in at.button)
    at.number_input(key="bigram_steps").set_value(100)
    at.button(key="bigram_retrain").click().run()
    assert not at.exception
    assert (tmp_path / RUN / "model.pt").is_file()                 # the old run is kept
    assert (tmp_path / f"{RUN}-2" / "model.pt").is_file()          # the new one has a new name
    assert f"{RUN}-2" in " ".join(c.value for c in at.caption)


def test_samples_and_tokens_dont_talk(tmp_path, trained_run, data):
    shutil.copytree(trained_run, tmp_path / RUN)
    at = open_page("bigram")
    sample = at.code[-1].value
    assert len(sample) == 300
    at.number_input(key="bigram_seed").set_value(7).run()
    assert at.code[-1].value != sample

    assert any(s.value.startswith("Identical") for s in at.success)     # "...the" and "...she" end in "e"
    bars = [tr for fig in figures(at) for tr in fig["data"] if tr.get("type") == "bar"]
    assert len(bars) == 2 and bars[0]["y"] == bars[1]["y"]

    at.text_input(key="bigram_ctx_b").set_value("...shy").run()
    assert any(i.value.startswith("Different") for i in at.info)

    at.text_input(key="bigram_ctx_b").set_value("snow ☃").run()
    assert not at.exception
    assert "not in the vocabulary" in " ".join(e.value for e in at.error)
