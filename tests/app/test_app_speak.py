"""AppTest: Speak like them fine-tunes another speaker from the base or from one of its stages (by
default the stage the speakers' models went through for a speaker new to the base, the base for one it
has read), and the run it starts trains from there."""
from __future__ import annotations

import shutil

import pytest
from apptest_helpers import open_page, page_text
from conftest import stop_all
from helpers import OBAMA, TRUMP, copy_shipped, one_thread, wait_until  # noqa: F401 (autouse)

from core.runs import record as rec
from core.runs import start as runs

BASE, RECENT = "sotu-base-gpt-tiny", ["Ronald Reagan", "William J. Clinton"]
SMALL = {"eval_iters": 4, "batch_size": 8}


def lora_run(root, speakers, init_from, steps):
    created = runs.create(runs.RunRequest.make(speakers, "gpt", "lora", init_from=init_from, max_iters=steps,
                                               eval_interval=steps // 2, **SMALL), root)
    assert runs.execute(created.path, lock=created.lock, samples=False).status == "finished"
    return rec.RunRecord.load(created.path)


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    """The shipped tiny base, a stage of it on two recent presidents, and Obama's adapters on the stage."""
    root = copy_shipped(tmp_path_factory.mktemp("speak-page-runs"), (BASE,))
    stage = lora_run(root, RECENT, BASE, 10)
    assert stage.best_step > 0, "the stage should learn in 10 steps: it is what the page offers"
    lora_run(root, [OBAMA], stage.name, 6)
    return root, stage.name


@pytest.fixture
def root(chain, monkeypatch):
    root, _ = chain
    monkeypatch.setenv("PODIUM_CHECKPOINTS", str(root))
    before = {s.path.name for s in runs.list_runs(root)}
    yield root
    stop_all(root)
    for s in runs.list_runs(root):
        if s.path.name not in before:  # the run this test started: the next test sees the chain alone
            shutil.rmtree(s.path)


def test_a_new_speaker_starts_from_the_stage_the_speakers_went_through(root, chain):
    _, stage = chain
    at = open_page("speak")
    assert not at.exception, [e.message for e in at.exception]
    assert f"Fine-tuned through a stage: **{stage}**" in page_text(at)
    at.selectbox(key="speak_new_speaker").set_value(TRUMP).run()  # no fine-tune of his yet; new to the base
    start = at.selectbox(key=f"speak_start_{BASE}_False")
    assert start.value == stage
    assert start.options == [f"{stage} (a stage: Reagan, Clinton)", f"{BASE} (the base)"]
    at.button(key="speak_finetune").click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert any(f"from **{stage}**" in s.value for s in at.success), page_text(at)
    new = [r for r in rec.list_runs(root) if r.speakers == [TRUMP]]
    assert len(new) == 1 and new[0].init_from == stage and new[0].role == "fine-tune"
    # the tiny base is small enough that every weight trains by default: from the stage's merged weights
    assert new[0].train.lora_rank == 0
    assert wait_until(lambda: any(e["kind"] == "step" for e in rec.read_metrics(new[0].path)), timeout=120)


def test_a_speaker_the_base_has_read_starts_from_the_base_and_is_said(root):
    at = open_page("speak")
    at.selectbox(key="speak_new_speaker").set_value(RECENT[0]).run()  # read by the base, and by the stage
    assert at.selectbox(key=f"speak_start_{BASE}_True").value == BASE
    assert f"{RECENT[0]}'s train split is in {BASE}'s training text" in page_text(at)
    at.radio(key=f"speak_how_{BASE}").set_value("lora").run()
    at.button(key="speak_finetune").click().run()
    new = [r for r in rec.list_runs(root) if r.speakers == [RECENT[0]]]
    assert len(new) == 1 and new[0].init_from == BASE and new[0].train.lora_rank == 8
