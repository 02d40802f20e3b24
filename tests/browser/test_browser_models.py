"""Real browser: what a learner does on one page never changes which model another page shows. A
Start then a Stop on the Train page (a run stopped at its first steps) and a ladder rung trained with
other settings (a small model) sit beside the shipped runs; Generate, Attention, Speak like them and
Inside the heads still open on each speaker's full-size model (core.runs.catalog) and name it."""
from __future__ import annotations

import subprocess
import sys

import pytest
from browser_helpers import shot, wait_idle
from conftest import ROOT, served
from helpers import copy_shipped

from core.runs import record as rec
from core.runs import start as runs

pytestmark = pytest.mark.browser
SPEAKERS = ["Barack Obama", "Donald J. Trump", "Joseph R. Biden Jr."]
SCRATCH = ["barack-obama-gpt-tiny", "donald-j-trump-gpt-tiny", "joseph-r-biden-jr-gpt-tiny"]
TUNED = [n.replace("-gpt-tiny", "-gpt-ft-sotu-base-gpt-tiny") for n in SCRATCH]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from served(copy_shipped(tmp_path_factory.mktemp("models-browser-runs"),
                                   (*SCRATCH, *TUNED, "sotu-base-gpt-tiny")))


def main_text(page) -> str:
    return page.locator("[data-testid=stMain]").inner_text()


def open_page(page, url: str, path: str, heading: str) -> str:
    page.goto(f"{url}/{path}")
    page.wait_for_selector(f"h1:has-text('{heading}')", timeout=60_000)
    wait_idle(page, timeout=120_000)
    assert page.locator("[data-testid=stException]").count() == 0, path
    return main_text(page)


def test_a_start_a_stop_and_a_rung_change_no_pages_model(page, server):
    url, root = server
    page.set_viewport_size({"width": 1400, "height": 2000})
    open_page(page, url, "train", "Train")
    chooser = page.locator("[data-testid=stMain] [data-testid=stMultiSelect]").filter(has_text="Speakers to train on")
    for other in SPEAKERS[1:]:
        chooser.get_by_role("button", name=f"Remove {other}").click()
        wait_idle(page)
    page.get_by_role("button", name="Start", exact=True).click()
    stopped = "barack-obama-gpt-tiny-2"  # the next free name beside the shipped one
    page.wait_for_selector(f"[data-testid=stProgress]:has-text('{stopped}')", timeout=90_000)
    page.locator(".st-key-train_stop button").click()
    page.wait_for_function("() => document.body.innerText.includes('Status: stopped')", timeout=120_000)
    assert runs.status(root / stopped).status == "stopped"

    rung = subprocess.run([sys.executable, "-m", "core", "ladder", "--speaker", SPEAKERS[0], "--rungs", "3",
                           "--max-iters", "40", "--out", str(root), "--json"], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert rung.returncode == 0, rung.stderr
    assert rec.RunRecord.load(root / "barack-obama-ladder-3-multi-head-40-steps").role == "rung"

    text = open_page(page, url, "generate", "Generate")
    assert all(name in text for name in TUNED), text[:2000]  # every column names its speaker's model
    assert stopped not in text and "ladder" not in text

    text = open_page(page, url, "attention", "Self-attention")
    assert f"Showing {TUNED[0]}" in text and "fine-tuned from sotu-base-gpt-tiny" in text

    open_page(page, url, "speak", "Speak like them")
    last = f"from scratch · {SCRATCH[-1]}"  # the samples' captions name each model (the table is a canvas)
    page.wait_for_function(f"() => document.body.innerText.includes({last!r})", timeout=180_000)
    text = main_text(page)
    for name in (*TUNED, *SCRATCH):
        assert name in text, name
    assert stopped not in text and "ladder" not in text
    shot(page, "page-speak-models.png")

    text = open_page(page, url, "heads", "Inside the heads")
    assert f"Showing {TUNED[0]}" in text
    assert page.locator("[data-testid=stException]").count() == 0
