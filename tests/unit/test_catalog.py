"""core.runs.catalog: which run is a speaker's model, one rule for every page and command; and the
run's role, written into its record when it is created and read back."""
from __future__ import annotations

from pathlib import Path

import pytest
from helpers import OBAMA, ROOT, TRUMP

from core.config import ModelConfig, TrainConfig, preset
from core.runs import catalog
from core.runs import record as rec
from core.runs import start as runs

V = 88


def run(tmp: Path, name: str, speakers=(OBAMA,), role="scratch", status="finished", best_step=2000, loss=1.4,
        full: float | None = None, size="tiny", **model) -> rec.RunRecord:
    """A record with weights on disk (an empty model.pt: the catalog reads only records and names)."""
    cfg = preset(size, V)[0] if size else ModelConfig(model_type="gpt", vocab_size=V, **model)
    if model and size:
        cfg = preset(size, V, **model)[0]
    r = rec.RunRecord(name, list(speakers), cfg, TrainConfig(), vocab="", role=role, status=status,
                      step=best_step or 0, best_step=best_step, best_val_loss=loss, n_params=cfg.n_params(),
                      val_loss_full={speakers[0]: full} if full is not None else {},
                      init_from="base" if role == "fine-tune" else None)
    (tmp / name).mkdir()
    (tmp / name / rec.BEST).write_bytes(b"")
    r.save(tmp / name)
    return rec.RunRecord.load(tmp / name)


def test_a_speakers_model_is_a_finished_full_size_run_of_its_role(tmp_path):
    records = [
        run(tmp_path, "shipped", full=1.374),
        run(tmp_path, "newer-worse", full=1.50),                          # the learner's, worse: not the pick
        run(tmp_path, "stopped-at-0", status="stopped", best_step=0, loss=4.4),
        run(tmp_path, "finished-at-step-0", best_step=0, loss=4.4),       # nothing learned past the start
        run(tmp_path, "a-rung", role="rung", loss=0.9, size=None, n_layer=1, n_head=1, n_embd=32, block_size=32),
        run(tmp_path, "small-custom", loss=0.9, size=None, n_layer=1, n_head=1, n_embd=32, block_size=32),
        run(tmp_path, "tuned", role="fine-tune", full=1.25),
        run(tmp_path, "both", speakers=(OBAMA, TRUMP), loss=1.0),
    ]
    assert catalog.speaker_model(records, OBAMA).name == "shipped"
    assert catalog.speaker_model(records, OBAMA, "fine-tune").name == "tuned"
    assert catalog.speaker_model(records, OBAMA, "fine-tune", base="other-base") is None
    assert catalog.speaker_model(records, TRUMP) is None
    better = run(tmp_path, "learners-better", full=1.30)                  # the learner's better one: the pick
    assert catalog.speaker_model([*records, better], OBAMA).name == "learners-better"
    assert "learners-better (from scratch, 2,000 steps, 822" in catalog.describe(better)
    better.step = 2600                                   # trained on past its best: which weights are shown
    assert "2,600 steps, weights from step 2,000, its best" in catalog.describe(better)


def test_a_set_shares_one_architecture_and_covers_every_speaker_it_can(tmp_path):
    records = [run(tmp_path, "o-tiny", full=1.37), run(tmp_path, "t-tiny", (TRUMP,), full=1.60),
               run(tmp_path, "o-wide", full=1.20, n_embd=256)]  # a bigger model for Obama alone
    found = catalog.speaker_models(records, [OBAMA, TRUMP])
    assert {s: r.name for s, r in found.items()} == {OBAMA: "o-tiny", TRUMP: "t-tiny"}  # like with like
    assert catalog.speaker_models(records, [OBAMA])[OBAMA].name == "o-wide"
    assert set(catalog.model_sets(records, [OBAMA, TRUMP])) == {"scratch"}
    assert catalog.default_role(records, [OBAMA, TRUMP]) == "scratch"


def test_each_base_with_a_fine_tuned_model_per_speaker_is_a_size_to_pick(tmp_path):
    """A set of fine-tuned models per base: the better set first (the default), a base missing a
    speaker's model is no choice."""
    def tuned(name, speaker, base, full, **model):
        r = run(tmp_path, name, (speaker,), role="fine-tune", full=full, **model)
        r.init_from = base
        r.save(tmp_path / name)
        return rec.RunRecord.load(tmp_path / name)
    records = [tuned("o-small", OBAMA, "small-base", 1.25), tuned("t-small", TRUMP, "small-base", 1.41),
               tuned("o-big", OBAMA, "big-base", 1.15, n_embd=256), tuned("t-big", TRUMP, "big-base", 1.30, n_embd=256),
               tuned("o-other", OBAMA, "lone-base", 1.10, n_embd=512)]  # no Trump model from it
    assert catalog.fine_tune_bases(records, [OBAMA, TRUMP]) == ["big-base", "small-base"]
    picked = catalog.speaker_models(records, [OBAMA, TRUMP], "fine-tune", base="small-base")
    assert {s: r.name for s, r in picked.items()} == {OBAMA: "o-small", TRUMP: "t-small"}
    assert catalog.fine_tune_bases(records[:2], [OBAMA, TRUMP]) == ["small-base"]


def test_a_fine_tune_through_a_stage_belongs_to_the_base_the_stage_adapts(tmp_path):
    """base -> stage (fine-tuned on other speakers) -> speaker: the speaker's model is its base's, the base is
    the size to pick, and a page names the stage it was fine-tuned from."""
    def tuned(name, speakers, init_from, full=None):
        r = run(tmp_path, name, speakers, role="fine-tune", full=full)
        r.init_from = init_from
        r.save(tmp_path / name)
        return rec.RunRecord.load(tmp_path / name)
    records = [run(tmp_path, "big-base", (OBAMA, TRUMP, "Ronald Reagan"), role="base"),
               tuned("recent", ("Ronald Reagan", "George W. Bush"), "big-base"),
               tuned("o-recent", (OBAMA,), "recent", 1.19), tuned("t-recent", (TRUMP,), "recent", 1.31)]
    by_name = {r.name: r for r in records}
    assert catalog.root_base(by_name["o-recent"], by_name) == "big-base"
    picked = catalog.speaker_models(records, [OBAMA, TRUMP], "fine-tune", base="big-base")
    assert {s: r.name for s, r in picked.items()} == {OBAMA: "o-recent", TRUMP: "t-recent"}
    assert catalog.fine_tune_bases(records, [OBAMA, TRUMP]) == ["big-base"]
    assert "fine-tuned from recent" in catalog.describe(by_name["o-recent"])
    assert catalog.speaker_models(records[2:], [OBAMA], "fine-tune", base="big-base") == {OBAMA: None}
    assert [r.name for r in catalog.stages(records, "big-base")] == ["recent"]  # a speaker's run is no stage
    assert catalog.stages(records, "other-base") == []


def test_roles_are_written_when_a_run_is_created_and_read_back(tmp_path):
    assert runs.RunRequest.make([OBAMA]).role == "scratch"
    assert runs.RunRequest.make([OBAMA], init_from="x").role == "fine-tune"
    assert runs.RunRequest.pretrain([OBAMA, TRUMP]).role == "base"
    from core.lessons import ladder
    assert ladder.request(OBAMA, ladder.BY_NUMBER[3]).role == "rung"
    created = runs.create(runs.RunRequest.make([OBAMA], "gpt", "tiny", max_iters=5), tmp_path)
    assert rec.RunRecord.load(created.path).role == "scratch"
    with pytest.raises(runs.ConfigError, match="unknown role"):
        runs.RunRequest.make([OBAMA], role="favourite")


def test_the_shipped_runs_carry_their_roles():
    roles = {r.name: r.role for r in rec.list_runs(ROOT / "checkpoints")}
    assert roles["barack-obama-gpt-tiny"] == "scratch" and roles["sotu-base-gpt-tiny"] == "base"
    assert roles["barack-obama-gpt-ft-sotu-base-gpt-tiny"] == "fine-tune"
    assert {roles[n] for n in roles if "-ladder-" in n} == {"rung"}
    for name in roles:
        assert '"role"' in (ROOT / "checkpoints" / name / rec.META).read_text(encoding="utf-8"), name
