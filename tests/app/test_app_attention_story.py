"""AppTest: the Attention page's "token + position" and "story of one character" sections, on a
shipped model: the (T, C) embedding maps, the crop past block_size, one position's weights and the
weighted sum of values, picked by the slider."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from apptest_helpers import decode, figures, open_page, page_text

SHIPPED = Path(__file__).resolve().parents[2] / "checkpoints" / "barack-obama-gpt-tiny"


@pytest.fixture
def page(tmp_path, monkeypatch):
    shutil.copytree(SHIPPED, tmp_path / SHIPPED.name)
    monkeypatch.setenv("PODIUM_CHECKPOINTS", str(tmp_path))
    return open_page("attention")


def traces(at, title_start: str) -> list[dict]:
    return [tr for fig in figures(at) if (fig["layout"].get("title") or {}).get("text", "").startswith(title_start)
            for tr in fig["data"]]


def test_token_plus_position(page):
    at = page
    at.slider(key="attention_embed_T").set_value(12).run()
    assert not at.exception and not at.error
    tok, pos, x = (decode(traces(at, t)[0]["z"]) for t in ("tok_emb(x)", "pos_emb(arange(12))", "x = tok_emb"))
    assert tok.shape == pos.shape == x.shape == (12, 128)
    np.testing.assert_allclose(x, tok + pos, rtol=1e-4, atol=1e-5)
    assert not any("no position row" in w.value or "would ask for row" in w.value for w in at.warning)
    at.slider(key="attention_embed_T").set_value(70).run()      # past block_size = 64
    assert any("would ask for row 64" in w.value for w in at.warning)
    assert decode(traces(at, "x = tok_emb")[0]["z"]).shape == (64, 128)


def test_the_story_of_one_character(page):
    at = page
    at.slider(key="attention_story_T").set_value(10).run()
    assert at.slider(key="attention_story_position").value == 10        # the last character by default
    bars = traces(at, "")
    weights = [tr for tr in bars if tr.get("type") == "bar"][0]
    w = decode(weights["y"])
    assert len(w) == 10 and w.sum() == pytest.approx(1.0, abs=1e-3)
    assert f"w[9] = [{', '.join(f'{v:.2f}' for v in w)}]" in page_text(at)
    out = decode(traces(at, "the weighted sum of values")[0]["z"])
    np.testing.assert_allclose(out[:-1].sum(0), out[-1], rtol=1e-4, atol=1e-5)   # the shares add up to out

    at.slider(key="attention_story_position").set_value(3).run()
    w3 = decode([tr for tr in traces(at, "") if tr.get("type") == "bar"][0]["y"])
    assert len(w3) == 3                                                  # it sees only itself and before
    grid = decode(traces(at, "weights, layer 1 head 1")[0]["z"])
    np.testing.assert_allclose(grid[2, :3], w3, rtol=1e-4, atol=1e-5)

