"""Real browser: the Generate page writes three texts side by side, streaming them (a text is seen
part-written), and scores each with every speaker's model (percentages that sum to 100%); the Compare
page's matrix, read back from the plotly figure in chromium, is what `python -m core eval` prints for
each pair."""
from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys

import pytest
from apptest_helpers import assert_percentages_sum_to_100
from browser_helpers import shot
from conftest import ROOT, start_server
from helpers import SHIPPED, copy_shipped
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

pytestmark = pytest.mark.browser
NAMES = SHIPPED
SPEAKERS = list(NAMES)

TEXTS = """() => Array.from(document.querySelectorAll('[data-testid=stHtml] div'))
  .filter(d => d.style.whiteSpace === 'pre-wrap' && d.firstElementChild && d.firstElementChild.tagName === 'SPAN'
               && d.firstElementChild.style.color)
  .map(d => d.textContent.slice(d.firstElementChild.textContent.length))"""
MATRIX = """() => {
  const decode = (v) => {
    if (v && v.bdata) {               // plotly's {dtype, bdata, shape} encoding of a numpy array
      const bin = atob(v.bdata), bytes = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
      const T = {f4: Float32Array, f8: Float64Array}[String(v.dtype).replace(/[<>|=]/, '')];
      const flat = Array.from(new T(bytes.buffer));
      const [rows, cols] = String(v.shape).split(',').map(Number);
      return Array.from({length: rows}, (_, r) => flat.slice(r * cols, (r + 1) * cols));
    }
    return Array.from(v, row => Array.from(row));
  };
  for (const el of document.querySelectorAll('[data-testid=stPlotlyChart] .js-plotly-plot')) {
    const t = (el.layout && el.layout.title && el.layout.title.text) || '';
    if (t.includes('val loss') && el.data && el.data[0] && el.data[0].z)
      return {x: Array.from(el.data[0].x), y: Array.from(el.data[0].y), z: decode(el.data[0].z)};
  }
  return null;
}"""


EVAL_ALL = """import sys
from core.cli.main import main  # what `python -m core` runs: one process for the nine evals, torch imported once
for run, speaker in zip(sys.argv[1::2], sys.argv[2::2]):
    assert main(["eval", "--checkpoint", run, "--speaker", speaker, "--json", "--out", {root!r}]) == 0
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The shipped tiny GPT of each default speaker and a server on them; the CLI evals of the nine
    (run, speaker) pairs run meanwhile in a background process, on one thread."""
    root = copy_shipped(tmp_path_factory.mktemp("browser-gen-cmp"))
    pairs = [a for m in SPEAKERS for s in SPEAKERS for a in (NAMES[m], s)]
    evals = subprocess.Popen([sys.executable, "-c", EVAL_ALL.format(root=str(root)), *pairs], cwd=ROOT, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "OMP_NUM_THREADS": "1"})
    proc, url = start_server(root)
    yield url, evals
    evals.kill()
    proc.terminate()
    proc.wait(timeout=10)


def cli_results(evals: subprocess.Popen) -> dict[tuple[str, str], dict]:
    out, err = evals.communicate(timeout=120)
    assert evals.returncode == 0, err
    rows = [json.loads(line) for line in out.splitlines() if line.strip()]
    return {(r["run"], r["speaker"]): r for r in rows}


RUNNING = """() => { const w = document.querySelector('[data-testid=stStatusWidget]');
  return !!w && /Running|Stop/.test(w.innerText); }"""


def wait_idle(page, timeout=60_000):
    """Wait for the run the last action started (if it shows up within 1.5 s) to finish. Streamlit
    1.67's status widget reads "Stop" while a script runs and is gone when it is idle."""
    page.wait_for_selector("[data-testid=stApp]", timeout=timeout)
    with contextlib.suppress(PlaywrightTimeoutError):
        page.wait_for_function(RUNNING, timeout=1500)
    page.wait_for_function(f"() => !({RUNNING})()", timeout=timeout)
    page.wait_for_timeout(300)


def settled_texts(page, differ_from: list[str] | None = None, timeout=60_000) -> list[str]:
    """The three generated texts once the script has finished writing all of them."""
    cond = "t.length === 3 && t.every(s => s.length === 300)"
    if differ_from is not None:
        cond += f" && JSON.stringify(t) !== {json.dumps(json.dumps(differ_from))}"
    page.wait_for_function(f"() => {{ const t = ({TEXTS})(); return {cond}; }}", timeout=timeout)
    wait_idle(page)
    assert page.evaluate(f"() => {{ const t = ({TEXTS})(); return {cond}; }}")
    return page.evaluate(TEXTS)


WHO_TABLES = """() => Array.from(document.querySelectorAll('[data-testid=stDataFrame] table'))
  .map(t => ({head: Array.from(t.querySelectorAll('th')).map(c => c.textContent),
              rows: Array.from(t.querySelectorAll('tr')).slice(1)
                      .map(r => Array.from(r.querySelectorAll('td')).map(c => c.textContent))}))
  .filter(t => t.head.includes('P(said it)'))"""


def test_side_by_side_generation_writes_three_texts(page, server):
    url, _ = server
    page.set_viewport_size({"width": 1400, "height": 1400})
    page.goto(f"{url}/generate")
    page.wait_for_selector("h1", timeout=60_000)
    first = settled_texts(page)                     # the first visit writes with the default settings
    assert len(set(first)) >= 2                     # three models, three texts (tiny models may agree a lot)
    seed = page.get_by_role("spinbutton", name="Seed")
    seed.fill("7")
    seed.press("Enter")
    wait_idle(page)
    assert page.evaluate(TEXTS) == first            # a setting alone does not rewrite: the button does
    page.get_by_role("button", name="Generate", exact=True).click()
    page.wait_for_function(f"() => ({TEXTS})().some(t => t.length > 0 && t.length < 300)", timeout=60_000,
                           polling=20)                     # streamed: a text is seen part-written
    texts = settled_texts(page, differ_from=first)
    assert len(texts) == 3 and all(len(t) == 300 for t in texts) and texts != first
    with contextlib.suppress(PlaywrightTimeoutError):      # a table is drawn a moment after its script ends
        page.wait_for_function(f"() => ({WHO_TABLES})().length === 3", timeout=10_000)
    tables = page.evaluate(WHO_TABLES)                     # under each text, who said it
    assert len(tables) == 3, tables
    for table in tables:
        assert table["head"][:2] == ["scored by", "P(said it)"]
        assert [row[0] for row in table["rows"]] == SPEAKERS
        assert_percentages_sum_to_100([row[1] for row in table["rows"]])
    assert page.get_by_text("Sounds most like").count() == 3
    assert page.locator("[data-testid=stException]").count() == 0
    shot(page, "page-generate.png")


def test_compare_matrix_matches_the_cli(page, server):
    url, evals = server
    page.set_viewport_size({"width": 1400, "height": 1400})
    page.goto(f"{url}/compare")
    page.wait_for_selector("h1", timeout=60_000)
    page.wait_for_function(f"() => ({MATRIX})() !== null", timeout=60_000)
    wait_idle(page)
    shown = page.evaluate(MATRIX)
    assert shown["y"] == SPEAKERS and shown["x"] == SPEAKERS
    cli = cli_results(evals)
    for i, m in enumerate(SPEAKERS):
        for j, s in enumerate(SPEAKERS):
            assert shown["z"][i][j] == pytest.approx(cli[(NAMES[m], s)]["val_loss"], abs=1e-3), (m, s)
    assert "Guess:" in page.locator("[data-testid=stAlert]").first.inner_text()
    assert page.locator("[data-testid=stException]").count() == 0
    shot(page, "page-compare.png")
