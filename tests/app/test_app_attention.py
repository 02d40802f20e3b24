"""AppTest: the Attention page sends the browser what it draws (one pass for every T up to
block_size in the decoder view, the server's pass for any other T) and never shows a traceback."""
import numpy as np
import pytest
from apptest_helpers import open_page, page_text

from core.config import TrainConfig, preset
from core.probe.attention_view import attention_view
from core.runs import checkpoints as ck
from core.runs.start import train
from core.text.dataset import prepare


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


def sent(at) -> tuple[dict, dict]:
    """The explorer's header and arrays, as the browser decodes them."""
    from ui.attention.widget import unpack
    (el,) = at.get("bidi_component")
    return unpack(el.proto.bytes)


def shown(at, T: int) -> dict[str, np.ndarray]:
    """What the browser draws at T: cut from its own pass, or else the server's pass for T."""
    header, arrays = sent(at)
    part = "local" if header.get("local") and header["causal"] and header["local"]["T"] >= T else "exact"
    assert part == "local" or header["exact"]["requested"] == T, "the browser would have to ask the server"
    n = header[part]["T"]
    t = min(T, n)
    return {"scores": arrays[f"{part}.scores"][:, :, :t, :t], "weights": arrays[f"{part}.weights"][:, :, :t, :t],
            "out": arrays[f"{part}.out"][:, :, :t], "labels": header[part]["labels"][:t], "part": part,
            "guesses": header[part]["guesses"][t - 1] if part == "local" else header[part]["guesses"][-1]}


def the_text(at) -> str:
    return [t.value for t in at.text_area][0]


def test_one_pass_serves_every_T_up_to_block_size_exactly(page, runs_root):
    header, _ = sent(page)
    assert page.selectbox(key="attention_model").value.startswith("obama-small")
    assert header["local"]["T"] == 16 and header["limit"] == 32 and "exact" not in header
    loaded = ck.load_model(runs_root / "obama-small")
    for T in (1, 7, 16):  # the oracle: a forward pass of exactly the first T characters
        want = attention_view(loaded.model, loaded.tokenizer, the_text(page), T)
        got = shown(page, T)
        assert got["part"] == "local" and got["weights"].shape == (2, 2, T, T)
        np.testing.assert_allclose(got["scores"], want.scores, atol=1e-4)
        np.testing.assert_allclose(got["weights"], want.weights, atol=1e-5)
        np.testing.assert_allclose(got["out"], want.out, atol=1e-5)
        assert got["labels"] == want.labels and got["guesses"][0][0] == want.next_chars[0][0]
        np.testing.assert_allclose(got["weights"].sum(-1), 1.0, atol=1e-4)
        assert (got["weights"][..., np.triu_indices(T, 1)[0], np.triu_indices(T, 1)[1]] == 0).all()
    assert "causality" in page_text(page)


def test_past_block_size_the_server_crops(page):
    page.session_state["attention_T"] = 24  # what the browser sets when the slider passes block_size
    page.run()
    assert not page.exception
    header, _ = sent(page)
    assert header["exact"]["requested"] == 24 and header["exact"]["cropped"] == 8
    got = shown(page, 24)
    assert got["part"] == "exact" and got["weights"].shape == (2, 2, 16, 16)
    assert got["labels"][0].endswith("(8)")  # the first 8 characters were dropped
    assert header["local"]["T"] == 16  # the browser keeps its own range meanwhile


def test_encoder_mode_is_a_server_pass_with_no_mask(page):
    page.session_state["attention_T"] = 10
    page.run()
    decoder = shown(page, 10)["weights"]
    page.segmented_control(key="attention_mode").set_value("encoder (no mask)").run()
    header, _ = sent(page)
    assert "local" not in header and header["exact"]["requested"] == 10 and not header["causal"]
    encoder = shown(page, 10)["weights"]
    iu = np.triu_indices(10, 1)
    assert np.allclose(decoder[..., iu[0], iu[1]], 0)
    assert (encoder[..., iu[0], iu[1]] > 0).all()
    assert "one forward pass per T" in page_text(page)


def test_every_layer_and_head_travel_and_differ(page):
    header, arrays = sent(page)
    assert (header["L"], header["H"], header["hs"]) == (2, 2, 16)
    w = arrays["local.weights"]
    assert w.shape == (2, 2, 16, 16) and arrays["local.out"].shape == (2, 2, 16, 16)
    assert not np.allclose(w[0, 0], w[1, 1])
    assert header["scales"]["diverging"][0] == [0.0, [5, 48, 97]]  # plotly's RdBu_r, as the page had


def test_bad_text_gives_messages_not_tracebacks(page):
    key = [t.key for t in page.text_area][0]
    page.text_area(key=key).set_value("A snowman ☃ speaks").run()
    assert not page.exception
    assert "☃" in page_text(page) and "vocabulary" in page_text(page)
    page.text_area(key=key).set_value("").run()
    assert not page.exception and "empty" in page_text(page)
    page.text_area(key=key).set_value("Short").run()
    assert not page.exception
    header, _ = sent(page)
    assert header["limit"] == 5 and header["local"]["T"] == 5


def test_no_trained_model_offers_the_untrained_one(tmp_path, monkeypatch):
    monkeypatch.setenv("PODIUM_CHECKPOINTS", str(tmp_path))
    at = open_page("attention")
    assert at.selectbox(key="attention_model").value.startswith("untrained")
    assert "No trained GPT yet" in page_text(at)
    assert shown(at, 9)["weights"].shape[-2:] == (9, 9)
