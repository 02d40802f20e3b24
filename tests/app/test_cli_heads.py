"""`python -m core heads` and `python -m core lens` on a shipped model, and their errors."""
import json

from helpers import ROOT, one_thread  # noqa: F401

from core.cli.main import main

RUN = str(ROOT / "checkpoints" / "barack-obama-gpt-tiny")


def test_heads_json_one_object_per_head(capsys):
    assert main(["heads", "--checkpoint", RUN, "--json", "--max-chars", "3000"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == 16
    assert {(r["layer"], r["head"]) for r in rows} == {(i, j) for i in range(1, 5) for j in range(1, 5)}
    assert all(set(r["scores"]) >= {"previous_token", "induction"} and r["ablation"] == "mean" for r in rows)
    top = max(rows, key=lambda r: r["worth_nats"])
    assert (top["layer"], top["best"]) == (1, "previous_token") and top["worth_nats"] > 0.3


def test_heads_text_table_and_no_ablation(capsys):
    assert main(["heads", "--checkpoint", RUN, "--no-ablation"]) == 0
    out = capsys.readouterr().out
    assert "no ablation" in out and "L1H2" in out and "previous char" in out


def test_lens_json(capsys):
    assert main(["lens", "--checkpoint", RUN, "--text", "My fellow Americans", "--position", "3",
                 "--max-chars", "2000", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["target"] == "e" and [r["layer"] for r in out["layers"]][0] == "embeddings"
    assert len(out["layers"]) == 5 and out["layers"][-1]["val_loss"] < out["layers"][0]["val_loss"]


def test_bad_input_is_an_error_line_and_exit_2(capsys):
    assert main(["lens", "--checkpoint", RUN, "--text", "snow ☃"]) == 2
    assert capsys.readouterr().err.startswith("error: ")
    assert main(["heads", "--checkpoint", "no-such-run"]) == 2
    assert "error: " in capsys.readouterr().err
