"""Real browser, several sessions at once: three sessions each train a different speaker at the same
time, all finish, and each sees only its own run unless it asks (the slider's latency under
training is the benchmark's: tests/browser/test_browser_train.py, tests/browser/test_browser_perf.py); two tabs
of one of them pressing Start with the same settings make one run. (A server killed mid-run, and a
new one re-attaching: tests/browser/test_browser_train.py.)"""
from __future__ import annotations

import shutil
import subprocess

import pytest
from browser_helpers import wait_idle
from conftest import ROOT, start_server, stop_all

from core.runs import checkpoints as ck
from core.runs import record as rec
from core.runs import start as runs

pytestmark = pytest.mark.browser
SPEAKERS = ["Barack Obama", "Donald J. Trump", "Joseph R. Biden Jr."]
# the tiny preset made small: one layer, 32 wide (its heads, context and batch kept: each box filled is a
# rerun of every tab's script, about 2 s for the four)
SMALL = [("layers (n_layer)", 1), ("width (n_embd)", 32)]


def run_name(speaker: str, shipped: bool = True) -> str:
    """The name Start gives: the next free one after the shipped model's, which the server's folder holds."""
    return rec.slug(speaker + "-gpt-tiny") + ("-2" if shipped else "")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("concurrent-runs")
    for run in (ROOT / "checkpoints").glob("*-gpt-tiny"):  # the Attention page's models
        shutil.copytree(run, root / run.name)
    proc, url = start_server(root)
    yield url, root
    stop_all(root)
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def configure(pages: list, url: str, speakers: list[str], iters: int) -> None:
    """The Train page in each tab, set to train one small GPT on its speaker alone: each step done in
    every tab before any waits, so the server reruns the tabs' scripts side by side."""
    def each(act) -> None:
        for page, speaker in zip(pages, speakers):
            act(page, speaker)
        for page in pages:
            wait_idle(page)

    def open_train(page, _) -> None:
        page.set_viewport_size({"width": 1400, "height": 1600})
        page.goto(f"{url}/train")
    each(open_train)
    for page in pages:
        page.wait_for_selector("h1", timeout=60_000)
    chooser = "[data-testid=stMain] [data-testid=stMultiSelect]"
    for i in range(len(SPEAKERS) - 1):  # remove the other speakers, one a step
        each(lambda page, speaker, i=i: page.locator(chooser).filter(has_text="Speakers to train on").get_by_role(
            "button", name=f"Remove {[o for o in SPEAKERS if o != speaker][i]}").click())
    each(lambda page, _: page.get_by_text("Custom hyperparameters").click())
    for label, value in [*SMALL, ("iterations (max_iters)", iters)]:
        def fill(page, _, label=label, value=value) -> None:
            box = page.get_by_role("spinbutton", name=label)
            box.fill(str(value))
            box.press("Enter")
        each(fill)
    for page in pages:
        assert "1 run(s)" in page.locator("[data-testid=stMain]").inner_text()


def training_now(page) -> list[str]:
    """The run names in this session's "Training now" progress bars."""
    texts = page.locator("[data-testid=stProgress]").all_inner_texts()
    return sorted(name for name in (run_name(s) for s in SPEAKERS) if any(name in t for t in texts))


def test_three_sessions_train_three_speakers_at_once_and_each_sees_its_own(browser, browser_context_args, server):
    """Three sessions, one speaker each, press Start together; Biden's session has a second tab with the
    same settings that presses Start at the same moment: one run for both tabs, said in each."""
    url, root = server
    speakers = [*SPEAKERS, SPEAKERS[2]]
    sessions = [browser.new_context(**browser_context_args).new_page() for _ in speakers]
    configure(sessions, url, speakers, iters=100)
    for page in sessions:
        page.get_by_role("button", name="Start", exact=True).click(no_wait_after=True)
    for page, speaker in zip(sessions, speakers):
        page.wait_for_selector(f"[data-testid=stProgress]:has-text('{run_name(speaker)}')", timeout=90_000)
    assert sum(s.active for s in runs.list_runs(root)) == 3
    biden = run_name(SPEAKERS[2])
    assert [d.name for d in root.iterdir() if d.name.startswith(biden)] == [biden]  # the two tabs: one run
    said = " ".join(t for tab in sessions[2:] for t in tab.locator("[data-testid=stAlert]").all_inner_texts())
    assert "Started" in said and "not started twice" in said
    for page, speaker in zip(sessions, speakers):  # each session: its own run; the others only when asked
        page.wait_for_function("() => document.body.innerText.includes('2 other run(s) training on this server')",
                               timeout=30_000)
        assert training_now(page) == [run_name(speaker)]

    for page in sessions:
        assert page.locator("[data-testid=stException]").count() == 0
        page.context.close()  # the runs finish on their own: no tab's live progress takes their CPU meanwhile
    for speaker in SPEAKERS:
        done = runs.wait(root / run_name(speaker), timeout=300)
        assert done.status == "finished" and done.step == 100, done
        assert ck.load_model(done.path).model is not None
