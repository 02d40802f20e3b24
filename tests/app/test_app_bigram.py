"""AppTest: the Bigram page trains a speaker's bigram in the background (or loads one), compares its table
and loss with counting, shows one-hot @ W as a lookup and its gradient, the n-gram tables that counting
would need, samples from the bigram, and shows that only the last character matters."""
from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from apptest_helpers import decode, figures, heatmaps, open_page, page_text, percent_bounds

from core.lessons.ngram import NGramCounts, gpt_params
from core.runs import checkpoints as ck
from core.runs import record as rec
from core.runs import start as run_manager
from core.text.dataset import prepare

SPEAKER = "Barack Obama"            # the first default speaker: the page's default choice
RUN = "barack-obama-bigram"         # the name the page gives it
FLOOR_TOLERANCE = 0.05
SHIPPED_GPT = Path(__file__).resolve().parents[2] / "checkpoints" / "barack-obama-gpt-tiny"


@pytest.fixture(autouse=True)
def _checkpoints(monkeypatch, tmp_path):
    monkeypatch.setenv("PODIUM_CHECKPOINTS", str(tmp_path))


@pytest.fixture(scope="module")
def data():
    return prepare([SPEAKER])


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """A short bigram run trained once through the app's own start path (a background process), copied
    into each test's checkpoints folder that needs one."""
    root = tmp_path_factory.mktemp("bigram-runs")
    request = run_manager.RunRequest.make([SPEAKER], "bigram", "bigram", True, max_iters=300, eval_interval=300,
                                          eval_iters=5)
    s = run_manager.start(request, root, name=RUN)
    assert run_manager.wait(s.path, timeout=180).status == "finished"
    return s.path


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


def train_in_background(at, button: str, run_dir) -> None:
    """Click Train / Retrain: a background run starts (a process, not the script thread) and the page
    shows its progress; once it has finished, the next reruns load it."""
    at.button(key=button).click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.session_state["bigram_run"] == run_dir.name
    assert at.get("progress"), "the page shows the run's progress while it trains"
    status = run_manager.wait(run_dir, timeout=180)
    assert status.status == "finished", status.message
    at.run()  # the progress fragment sees the run end and reruns the page (run_every never ticks in AppTest)
    assert not at.exception and not at.error
    assert "bigram_run" not in at.session_state


def test_train_saves_a_run_that_reaches_the_count_floor(tmp_path, data):
    at = open_page("bigram")
    at.number_input(key="bigram_steps").set_value(1000)
    train_in_background(at, "bigram_train", tmp_path / RUN)
    record = rec.RunRecord.load(tmp_path / RUN)
    assert record.model.model_type == "bigram" and record.train.max_iters == 1000
    assert (tmp_path / RUN / "model.pt").is_file() and (tmp_path / RUN / "meta.json").is_file()
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
    train_in_background(at, "bigram_retrain", tmp_path / f"{RUN}-2")
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
    bars = [tr for fig in figures(at) for tr in fig["data"]
            if tr.get("type") == "bar" and "likeliest" in fig["layout"]["title"]["text"]]
    assert len(bars) == 2 and bars[0]["y"] == bars[1]["y"]

    at.text_input(key="bigram_ctx_b").set_value("...shy").run()
    assert any(i.value.startswith("Different") for i in at.info)

    at.text_input(key="bigram_ctx_b").set_value("snow ☃").run()
    assert not at.exception
    assert "not in the vocabulary" in " ".join(e.value for e in at.error)


def rows_of(at, name: str) -> dict[str, np.ndarray]:
    """The named rows of a one-row-per-name heatmap (y labels -> rows of z)."""
    for fig in figures(at):
        for tr in fig["data"]:
            if tr.get("type") == "heatmap" and name in tr.get("y", []):
                return dict(zip(tr["y"], decode(tr["z"])))
    raise AssertionError(f"no heatmap row {name!r}")


def test_onehot_times_the_table_is_the_lookup_and_its_gradient(tmp_path, trained_run, data):
    shutil.copytree(trained_run, tmp_path / RUN)
    at = open_page("bigram")
    W = torch.load(trained_run / "model.pt", weights_only=True)
    W = next(v for k, v in (W.get("model", W)).items() if "token_embedding_table" in k).float().numpy()
    tok = data.tokenizer
    for ch in ("e", "T"):
        at.selectbox(key="bigram_onehot_char").set_value(tok.chars.index(ch)).run()
        rows = rows_of(at, "one-hot(x) @ W")
        np.testing.assert_allclose(rows["one-hot(x) @ W"], W[tok.chars.index(ch)], rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(rows["one-hot(x) @ W"], rows["nn.Embedding(x)"])
        assert not np.allclose(rows["next row of W"], rows["nn.Embedding(x)"])
        onehot = rows_of(at, "one-hot(x)")["one-hot(x)"]
        assert onehot.sum() == 1 and onehot[tok.chars.index(ch)] == 1
    assert "= **True**" in page_text(at)
    batch = at.code[[i for i, c in enumerate(at.code) if c.language != "python"][0]].value
    distinct = {"\n" if c == "↵" else c for row in batch.split("\n") for c in row}
    grad = next(tr for fig in figures(at) for tr in fig["data"]
                if fig["layout"]["title"]["text"].startswith("|gradient|"))
    nonzero = {tok.chars[i] for i, v in enumerate(decode(grad["y"])) if v > 0}
    assert nonzero == distinct and 1 < len(nonzero) < tok.vocab_size
    assert any("exactly these" in s.value for s in at.success)


def test_counting_does_not_scale(tmp_path, data):
    shutil.copytree(SHIPPED_GPT, tmp_path / SHIPPED_GPT.name, ignore=shutil.ignore_patterns("latest.pt"))
    at = open_page("bigram")     # no bigram yet: the counting section needs none
    V, sd = data.tokenizer.vocab_size, data.speakers[0]
    assert metrics(at)["Rows: V^n"] == f"{V ** 3:,}"                     # the default n = 3
    at.slider(key="bigram_ngram_n").set_value(2).run()
    m = metrics(at)
    assert m["Rows: V^n"] == f"{V ** 2:,}" and m["Counts: V^(n+1)"] == f"{V ** 3:,}"
    gpt = [k for k in m if k.startswith("GPT parameters")]
    assert gpt == ["GPT parameters at block_size = 2"]
    assert int(m[gpt[0]].replace(",", "")) == gpt_params(ck.load_model(tmp_path / SHIPPED_GPT.name).config, 2)
    table = at.dataframe[0].value
    assert list(table["n"]) == list(range(1, 9))
    loss = [float(v) for v in table["count model val loss"]]   # shown as "2.410"
    assert loss[1] < loss[0]                                            # two characters of context beat one
    assert loss[0] == pytest.approx(NGramCounts.fit(sd.train, 1, V).loss(sd.val), abs=1e-3)
    seen = [percent_bounds(v)[0] for v in table["rows never seen"]]                # "98.7%", "> 99.9%"
    assert seen == sorted(seen) and seen[-1] > 99
    at.slider(key="bigram_ngram_n").set_value(8).run()
    assert metrics(at)["Rows: V^n"] == f"{V ** 8 / 1e15:.3g} quadrillion"  # past a billion, in words
    curve = [fig for fig in figures(at) if "by context length" in fig["layout"]["title"]["text"]][0]
    assert any("barack-obama-gpt-tiny" in (s.get("text") or "") for s in curve["layout"].get("annotations", []))
