"""`python -m core heads` and `python -m core lens` on a shipped model, and their errors."""
import json

import pytest
from helpers import copy_shipped, one_thread  # noqa: F401

from core.cli.main import main


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> str:
    """A copy of the shipped Obama model: what these commands store beside it stays out of the repository."""
    return str(copy_shipped(tmp_path_factory.mktemp("cli-heads"), ("barack-obama-gpt-tiny",)) / "barack-obama-gpt-tiny")


def test_heads_json_one_object_per_head(run, capsys):
    assert main(["heads", "--checkpoint", run, "--json", "--max-chars", "3000"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == 16
    assert {(r["layer"], r["head"]) for r in rows} == {(i, j) for i in range(1, 5) for j in range(1, 5)}
    assert all(set(r["scores"]) >= {"previous_token", "induction"} and r["ablation"] == "mean" for r in rows)
    top = max(rows, key=lambda r: r["worth_nats"])
    assert (top["layer"], top["best"]) == (1, "previous_token") and top["worth_nats"] > 0.3


def test_heads_text_table_and_no_ablation(run, capsys):
    assert main(["heads", "--checkpoint", run, "--no-ablation"]) == 0
    out = capsys.readouterr().out
    assert "no ablation" in out and "L1H2" in out and "previous char" in out


def test_lens_json(run, capsys):
    assert main(["lens", "--checkpoint", run, "--text", "My fellow Americans", "--position", "3",
                 "--max-chars", "2000", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["target"] == "e" and [r["layer"] for r in out["layers"]][0] == "embeddings"
    assert len(out["layers"]) == 5 and out["layers"][-1]["val_loss"] < out["layers"][0]["val_loss"]


def test_bad_input_is_an_error_line_and_exit_2(run, capsys):
    assert main(["lens", "--checkpoint", run, "--text", "snow ☃"]) == 2
    assert capsys.readouterr().err.startswith("error: ")
    assert main(["heads", "--checkpoint", "no-such-run"]) == 2
    assert "error: " in capsys.readouterr().err
