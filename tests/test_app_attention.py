"""AppTest: the Attention page follows its widgets and never shows a traceback."""
import re

import numpy as np
import pytest
from apptest_helpers import decode, figures, heatmaps, open_page, page_text

from core.config import TrainConfig, preset
from core.dataset import prepare
from core.train import train


@pytest.fixture(scope="module")
def runs_root(tmp_path_factory):
    """A real (small, briefly trained) GPT in a checkpoints folder of its own."""
    root = tmp_path_factory.mktemp("att-runs")
    data = prepare(["Barack Obama"])
    cfg, _ = preset("tiny", data.tokenizer.vocab_size, n_layer=2, n_head=2, n_embd=32, block_size=16)
    train(data, cfg, TrainConfig(batch_size=8, max_iters=20, eval_interval=20, eval_iters=2, warmup_iters=2,
                                 device="cpu", dtype="float32"), root / "obama-small")
    return root


@pytest.fixture
def page(runs_root, monkeypatch):
    monkeypatch.setenv("PODIUM_CHECKPOINTS", str(runs_root))
    return open_page("attention")


def maps(at):
    """Stage maps by name ("q @ k^T", "scaled", "masked", "softmax", ...) and the layer x head mosaic."""
    return {re.sub(r"^\d\. ", "", name).split(":")[0].split(" (")[0]: z for name, z in heatmaps(at)}


def test_trained_model_is_default_and_heatmap_follows_slider(page):
    assert page.selectbox(key="attention_model").value.startswith("obama-small")
    for T in (1, 7, 16):
        page.slider(key="attention_T").set_value(T).run()
        assert not page.exception
        m = maps(page)
        assert m["softmax"].shape == (T, T)
        assert m["q @ k^T"].shape == (T, T)
        assert m["output = softmax @ v"].shape == (16, T)  # head_size x T
        np.testing.assert_allclose(m["softmax"].sum(1), 1.0, atol=1e-4)
        assert np.isnan(m["masked"][np.triu_indices(T, 1)]).all()  # future cells masked (grey)


def test_past_block_size_crops_and_says_so(page):
    page.slider(key="attention_T").set_value(24).run()
    assert maps(page)["softmax"].shape == (16, 16)
    text = page_text(page)
    assert "cropped" in text and "no embedding for position 16" in text


def test_encoder_mode_removes_the_mask_on_the_same_head(page):
    page.slider(key="attention_T").set_value(10).run()
    decoder = maps(page)["softmax"]
    page.segmented_control(key="attention_mode").set_value("encoder (no mask)").run()
    encoder = maps(page)["softmax"]
    assert np.allclose(decoder[np.triu_indices(10, 1)], 0)
    assert (encoder[np.triu_indices(10, 1)] > 0).all()
    assert not np.isnan(maps(page)["encoder"]).any()


def test_layer_and_head_change_the_map(page):
    page.slider(key="attention_T").set_value(12).run()
    first = maps(page)["q @ k^T"]
    page.selectbox(key="attention_layer").set_value(1).run()
    page.selectbox(key="attention_head").set_value(1).run()
    assert not np.allclose(first, maps(page)["q @ k^T"])
    mosaic = next(tr for fig in figures(page) for tr in fig["data"] if tr.get("name") == "every layer x head")
    assert mosaic["meta"] == {"rows": 2, "cols": 2, "T": 12}  # every layer (rows) x every head (columns)
    z, gap = decode(mosaic["z"]), 12 // 8
    assert z.shape == (2 * 12 + gap, 2 * 12 + gap)
    assert np.isnan(z[12:12 + gap]).all() and np.isnan(z[:, 12:12 + gap]).all()  # blank bands between tiles
    np.testing.assert_allclose(z[12 + gap:, 12 + gap:], maps(page)["softmax"], atol=1e-6)  # layer 2, head 2
    assert mosaic["y"][12 + gap].startswith("layer 2 · query") and mosaic["x"][0].startswith("head 1 · key")


def test_bad_text_gives_messages_not_tracebacks(page):
    key = [t.key for t in page.text_area][0]
    page.text_area(key=key).set_value("A snowman ☃ speaks").run()
    assert not page.exception
    assert "☃" in page_text(page) and "vocabulary" in page_text(page)
    page.text_area(key=key).set_value("").run()
    assert not page.exception and "empty" in page_text(page)
    page.text_area(key=key).set_value("Short").run()
    assert not page.exception
    assert maps(page)["softmax"].shape[0] <= 5


def test_no_trained_model_offers_the_untrained_one(tmp_path, monkeypatch):
    monkeypatch.setenv("PODIUM_CHECKPOINTS", str(tmp_path))
    at = open_page("attention")
    assert at.selectbox(key="attention_model").value.startswith("untrained")
    assert "No trained GPT yet" in page_text(at)
    at.slider(key="attention_T").set_value(9).run()
    assert maps(at)["softmax"].shape == (9, 9)
