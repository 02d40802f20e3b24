"""Real browser: the Train page trains live in chromium (the loss chart gains points while nobody
touches the page), Stop keeps latest.pt, Resume trains on; the Attention page's slider latency
while a run trains in the background; a server killed with SIGKILL mid-run leaves its run
training: a new server re-attaches to it through the URL, stops it and resumes it from its latest
checkpoint. Then what a learner did on one page never changed which model another page shows: with
that stopped run (a small model) and a ladder rung trained with other settings beside the shipped
runs, Generate, Attention, Speak like them and Inside the heads still open on each speaker's
full-size model (core.runs.catalog) and name it."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from browser_helpers import RESULTS, describe, open_attention, shot, slider_latency, wait_idle
from conftest import ROOT, start_server, stop_all
from helpers import SHIPPED, copy_shipped

from core.runs import checkpoints as ck
from core.runs import record as rec
from core.runs import start as runs

pytestmark = pytest.mark.browser
SPEAKERS = list(SHIPPED)
SCRATCH = list(SHIPPED.values())
TUNED = [n.replace("-gpt-tiny", "-gpt-ft-sotu-base-gpt-tiny") for n in SCRATCH]
RUN = "barack-obama-gpt-tiny-2"  # the next free name beside the shipped one
RUNG = "barack-obama-ladder-3-multi-head-40-steps"
# a small GPT; more steps than the test needs, so it is still training whenever the test looks
CONFIG = [("layers (n_layer)", 1), ("width (n_embd)", 32), ("heads (n_head)", 2), ("context (block_size)", 32),
          ("batch size", 16), ("iterations (max_iters)", 20000), ("eval interval (steps)", 100)]
TRAIN_POINTS = """() => {
  for (const el of document.querySelectorAll('[data-testid=stPlotlyChart] .js-plotly-plot')) {
    if (!el._fullData || !el.data.some(d => (d.name || '').endsWith(' · val'))) continue;
    const train = el._fullData.filter(d => (d.name || '').endsWith(' · train'));
    return train.reduce((n, d) => n + (d.x ? d.x.length : 0), 0);
  }
  return -1;
}"""


def status_text(page) -> str:
    return page.locator("[data-testid=stMarkdownContainer]", has_text="Status:").last.inner_text()


def test_live_training_stop_resume_a_killed_server_and_no_pages_model_changes(page, tmp_path):
    root = copy_shipped(tmp_path / "runs", (*SCRATCH, *TUNED, "sotu-base-gpt-tiny"))
    # a ladder rung with other settings (40 steps, not its 1,500), trained by the CLI meanwhile
    rung = subprocess.Popen([sys.executable, "-m", "core", "ladder", "--speaker", SPEAKERS[0], "--rungs", "3",
                             "--max-iters", "40", "--out", str(root), "--json"], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "OMP_NUM_THREADS": "1"})
    proc, url = start_server(root)
    try:
        proc, url = train_stop_resume_and_kill_the_server(page, root, url, proc)
        _, err = rung.communicate(timeout=300)
        assert rung.returncode == 0, err
        assert rec.RunRecord.load(root / RUNG).role == "rung"
        stop_all(root)
        assert runs.status(root / RUN).status == "stopped"
        every_page_shows_the_full_size_models(page, url)
    finally:
        rung.kill()  # a no-op once it has ended
        stop_all(root)
        proc.terminate()
        proc.wait(timeout=10)


def train_stop_resume_and_kill_the_server(page, root, url, proc):
    """The live Train page, Stop, Resume, the slider while it trains, a killed server and a new one:
    returns the new server (proc, url), its run training again."""
    t_start = time.perf_counter()
    page.set_viewport_size({"width": 1400, "height": 2400})
    page.goto(f"{url}/train")
    page.wait_for_selector("h1", timeout=60_000)
    wait_idle(page)
    speakers = page.locator("[data-testid=stMain] [data-testid=stMultiSelect]").filter(has_text="Speakers to train on")
    for name in ("Donald J. Trump", "Joseph R. Biden Jr."):
        speakers.get_by_role("button", name=f"Remove {name}").click()
        wait_idle(page)
    page.get_by_text("Custom hyperparameters").click()
    wait_idle(page)
    for label, value in CONFIG:
        box = page.get_by_role("spinbutton", name=label)
        box.fill(str(value))
        box.press("Enter")
        wait_idle(page)
    assert "1 run(s)" in page.locator("[data-testid=stMain]").inner_text()

    page.get_by_role("button", name="Start", exact=True).click()
    page.wait_for_selector(f"[data-testid=stProgress]:has-text('{RUN}')", timeout=60_000)
    assert f"watch={RUN}" in page.url  # a reload, or a new server, finds the run again
    # live: the chart gains points on its own, from the page's poll
    page.wait_for_function(f"() => ({TRAIN_POINTS})() >= 2", timeout=120_000)
    first = page.evaluate(TRAIN_POINTS)
    page.wait_for_function(f"() => ({TRAIN_POINTS})() > {first}", timeout=60_000)
    assert page.locator("[data-testid=stException]").count() == 0

    page.locator(".st-key-train_stop button").click()
    page.wait_for_function("() => document.body.innerText.includes('Status: stopped')", timeout=90_000)
    assert (root / RUN / rec.LATEST).exists()
    stopped = runs.status(root / RUN)
    assert stopped.status == "stopped" and stopped.step < 20000
    # the bar leaves when the rerun that drew "stopped" ends (Streamlit removes stale elements at its end)
    page.wait_for_selector(f"[data-testid=stProgress]:has-text('{RUN}')", state="detached", timeout=30_000)

    page.locator(".st-key-train_resume button").click()
    page.wait_for_function("() => /Status: (queued|running)/.test(document.body.innerText)", timeout=60_000)
    page.wait_for_selector(f"[data-testid=stProgress]:has-text('{RUN}')", timeout=60_000)
    assert runs.status(root / RUN).active
    # wait for the resumed leg to get past where it stopped, so the trainer is busy during the latency test
    page.wait_for_function(f"() => ({TRAIN_POINTS})() > {stopped.step // 10}", timeout=90_000)

    # the Attention page's slider, while the run trains in its own process
    open_attention(page)
    training = slider_latency(page)
    assert runs.status(root / RUN).active, "the run should still be training while the slider is measured"

    # back on Train: it re-attaches to the run (the session remembers it)
    page.get_by_role("link", name="8. Train").click()
    page.wait_for_selector(f"[data-testid=stProgress]:has-text('{RUN}')", timeout=60_000)
    assert page.locator("[data-testid=stException]").count() == 0
    shot(page, "page-train.png")

    # the server is killed mid-run: the trainer has a session of its own and trains on
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    assert runs.status(root / RUN).active
    proc, url = start_server(root)  # a new server; the learner reloads the same URL
    try:
        page.goto(f"{url}/train?watch={RUN}")
        page.wait_for_selector(f"[data-testid=stProgress]:has-text('{RUN}')", timeout=90_000)
        page.locator(".st-key-train_stop button").click()
        page.wait_for_function("() => document.body.innerText.includes('Status: stopped')", timeout=90_000)
        final = runs.status(root / RUN)
        assert final.status == "stopped" and final.step > stopped.step
        assert ck.load_model(root / RUN, which="latest").model is not None
        page.locator(".st-key-train_resume button").click()
        page.wait_for_function("() => /Status: (queued|running)/.test(document.body.innerText)", timeout=60_000)
        page.wait_for_function(  # it trains on from its saved step
            f"() => {{ const m = document.body.innerText.match(/step ([\\d,]+) \\/ 20,000/); "
            f"return m && +m[1].replace(/,/g, '') > {final.step}; }}", timeout=90_000)
        assert page.locator("[data-testid=stException]").count() == 0
    except BaseException:  # the new server is the caller's only when this returns
        proc.terminate()
        proc.wait(timeout=10)
        raise

    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "attention-latency-training.json").write_text(json.dumps(
        {"while_training": training, "run": RUN, "steps_trained": final.step}, indent=1))
    print(f"\nattention slider -> heatmap while a run trains: {describe(training)}")
    print(f"train browser test: {time.perf_counter() - t_start:.0f} s")
    return proc, url


def main_text(page) -> str:
    return page.locator("[data-testid=stMain]").inner_text()


def open_page(page, url: str, path: str, heading: str) -> str:
    page.goto(f"{url}/{path}")
    page.wait_for_selector(f"h1:has-text('{heading}')", timeout=60_000)
    wait_idle(page, timeout=120_000)
    assert page.locator("[data-testid=stException]").count() == 0, path
    return main_text(page)


def every_page_shows_the_full_size_models(page, url: str) -> None:
    """The learner's stopped run and the rung sit beside the shipped runs; no page takes either."""
    text = open_page(page, url, "generate", "Generate")
    assert all(name in text for name in TUNED), text[:2000]  # every column names its speaker's model
    assert RUN not in text and "ladder" not in text

    text = open_page(page, url, "attention", "Self-attention")
    assert f"Showing {TUNED[0]}" in text and "fine-tuned from sotu-base-gpt-tiny" in text

    open_page(page, url, "speak", "Speak like them")
    last = f"from scratch · {SCRATCH[-1]}"  # the samples' captions name each model (the table is a canvas)
    page.wait_for_function(f"() => document.body.innerText.includes({last!r})", timeout=180_000)
    text = main_text(page)
    for name in (*TUNED, *SCRATCH):
        assert name in text, name
    assert RUN not in text and "ladder" not in text
    shot(page, "page-speak-models.png")

    text = open_page(page, url, "heads", "Inside the heads")
    assert f"Showing {TUNED[0]}" in text
    assert page.locator("[data-testid=stException]").count() == 0
