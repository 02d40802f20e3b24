"""AppTest: the Trick page multiplies b by tril(ones), and shows the three versions of the running average
agreeing at any T (every T travels to the browser at once; its slider picks one)."""
from __future__ import annotations

import json

import numpy as np
import pytest
from apptest_helpers import open_page

LECTURE_AB = [[2, 7], [8, 11], [14, 16]]


@pytest.fixture(autouse=True)
def _checkpoints(monkeypatch, tmp_path):
    monkeypatch.setenv("PODIUM_CHECKPOINTS", str(tmp_path))


def tables(at) -> dict[str, list[list[float]]]:
    """The five tables in page order: b (the editor), a, a @ b, a_norm, a_norm @ b."""
    frames = [d.value.values.tolist() for d in at.dataframe]
    assert len(frames) == 5, len(frames)
    return dict(zip(["b", "a", "ab", "a_norm", "avg"], frames, strict=True))


def browser(at) -> dict[str, dict]:
    """What the page sends its browser components, by key name: the slider and, per matrix, every T."""
    out = {}
    for el in at.get("bidi_component"):
        out[el.proto.id.rsplit("-", 1)[-1]] = json.loads(el.proto.json)
    return out


def shown(at, T: int) -> dict[str, np.ndarray]:
    """The matrices the browser draws at T, by title (-inf, sent as null, as NaN)."""
    return {d["title"]: np.array(d["per_T"][T - 1]["z"], dtype=float) for d in browser(at).values()
            if d["kind"] == "matrix"}


def square_maps(at, T: int) -> dict[str, np.ndarray]:
    """The T x T matrices of versions 2 and 3, by title."""
    return {t: z for t, z in shown(at, T).items() if t.startswith(("v2 wei", "v3 masked", "v3 wei"))}


def test_default_is_the_lectures_example():
    at = open_page("trick")
    assert not at.error
    t = tables(at)
    assert t["b"] == [[2, 7], [6, 4], [6, 5]]
    assert t["a"] == [[1, 0, 0], [1, 1, 0], [1, 1, 1]]
    assert t["ab"] == LECTURE_AB
    np.testing.assert_allclose(t["avg"], [[2, 7], [4, 5.5], [14 / 3, 16 / 3]], rtol=1e-6)
    np.testing.assert_allclose(np.sum(t["a_norm"], axis=1), 1.0, rtol=1e-6)
    printed = at.code[0].value
    assert "[8, 11]" in printed and "[14, 16]" in printed
    assert at.data_editor(key="trick_b").editing_mode == "dynamic"


def test_editing_b_changes_the_running_sums():
    at = open_page("trick")
    at.session_state["trick_b"] = {"edited_rows": {0: {"c0": 5}}, "added_rows": [{"c0": 1, "c1": 1}],
                                   "deleted_rows": []}
    at.run()
    assert not at.exception
    t = tables(at)
    b = np.array([[5, 7], [6, 4], [6, 5], [1, 1]])
    assert t["ab"] == np.cumsum(b, axis=0).tolist()
    assert t["ab"] != LECTURE_AB
    np.testing.assert_allclose(t["avg"], np.cumsum(b, axis=0) / np.arange(1, 5)[:, None], rtol=1e-6)


def test_an_empty_cell_in_b_is_a_message_not_a_traceback():
    at = open_page("trick")
    at.session_state["trick_b"] = {"edited_rows": {}, "added_rows": [{"c0": 1}], "deleted_rows": []}
    at.run()
    assert not at.exception
    assert "empty cells" in " ".join(e.value for e in at.error)
    at.session_state["trick_b"] = {"edited_rows": {}, "added_rows": [{"c0": 1, "c1": 2}] * 20, "deleted_rows": []}
    at.run()
    assert not at.exception
    assert "rows" in " ".join(e.value for e in at.error)


def test_every_T_travels_to_the_browser_and_the_three_versions_agree():
    at = open_page("trick")
    sent = browser(at)
    assert sent["trick_T"]["kind"] == "slider" and sent["trick_T"]["T"] == 8 and sent["trick_T"]["max"] == 16
    assert {z.shape for z in square_maps(at, 8).values()} == {(8, 8)}
    at.slider(key="trick_C").set_value(3).run()
    assert not at.exception
    for T in (1, 5, 16):
        maps = square_maps(at, T)
        assert len(maps) == 3 and {z.shape for z in maps.values()} == {(T, T)}
        masked = next(z for t, z in maps.items() if t.startswith("v3 masked"))
        assert np.isnan(masked[np.triu_indices(T, 1)]).all()            # -inf cells: drawn grey, not 0
        assert (masked[np.tril_indices(T)] == 0).all()
        for t, z in maps.items():
            if "wei" in t:
                np.testing.assert_allclose(z.sum(1), 1.0, rtol=1e-5)     # rows of weights sum to 1
                assert (np.triu(z, 1) == 0).all()                      # the future gets no weight
        outs = [z for t, z in shown(at, T).items() if t.startswith(("v1:", "v2:", "v3:"))]
        assert len(outs) == 3 and all(o.shape == (T, 3) for o in outs)
        np.testing.assert_allclose(outs[0], outs[1], atol=1e-5)
        np.testing.assert_allclose(outs[0], outs[2], atol=1e-5)
        xs = shown(at, T)["x: the input all three average"]
        np.testing.assert_allclose(outs[0][-1], xs.mean(0), atol=1e-5)  # the last row averages all of x
    badge = browser(at)["trick_allclose"]["per_T"]
    assert len(badge) == 16 and all(b["allclose"] and b["max_diff"] < 1e-5 for b in badge)
