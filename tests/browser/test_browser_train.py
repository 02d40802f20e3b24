"""Real browser: the Train page trains live in chromium (the loss chart gains points while nobody
touches the page), Stop keeps latest.pt, Resume trains on; the Attention page's slider latency
while a run trains in the background; and a server killed with SIGKILL mid-run leaves its run
training: a new server re-attaches to it through the URL, stops it and resumes it from its latest
checkpoint."""
from __future__ import annotations

import json
import os
import signal
import time

import pytest
from browser_helpers import RESULTS, describe, open_attention, shot, slider_latency, wait_idle
from conftest import start_server, stop_all

from core.runs import checkpoints as ck
from core.runs import record as rec
from core.runs import start as runs

pytestmark = pytest.mark.browser
RUN = "barack-obama-gpt-tiny"  # the first free name in an empty folder
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


def test_live_training_stop_resume_attention_latency_and_a_killed_server(page, tmp_path):
    root = tmp_path
    proc, url = start_server(root)
    try:
        train_stop_resume_and_kill_the_server(page, root, url, proc)
    finally:
        stop_all(root)
        proc.terminate()
        proc.wait(timeout=10)


def train_stop_resume_and_kill_the_server(page, root, url, proc) -> None:
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
    assert page.locator(f"[data-testid=stProgress]:has-text('{RUN}')").count() == 0

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
    finally:
        stop_all(root)
        proc.terminate()
        proc.wait(timeout=10)

    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "attention-latency-training.json").write_text(json.dumps(
        {"while_training": training, "run": RUN, "steps_trained": final.step}, indent=1))
    print(f"\nattention slider -> heatmap while a run trains: {describe(training)}")
    print(f"train browser test: {time.perf_counter() - t_start:.0f} s")
