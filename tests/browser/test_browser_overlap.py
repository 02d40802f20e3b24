"""Real browser, 1400 px wide, every page once, on the shipped models, as a learner goes: the Next links
alone walk from Home through every step to the last, each page under its own numbered heading and
without an exception, and a part of the sidebar's GPT diagram opens the page that teaches it, all in
one session (no reload: st.page_link switches pages in place). On every page, no text drawn over text.

On each page every Plotly chart's visible texts (title, axis titles, subplot titles and other
annotations, legend entries, colorbar titles and ticks, tick labels, text on bars and in cells) are
measured in the page: no two may overlap by more than OVERLAP_PX, none may leave its chart's box,
none may be drawn smaller than MIN_FONT_PX (a bar's text that Plotly shrinks to fit counts at the
size it is drawn). Overlap is measured on each text's em box: its box cut, across the line, to the
font size (a box as the browser reports it includes the font's line gap, so two rows of 8 px tick
labels 8 px apart would touch without a glyph touching). Tick labels are compared with each other
too: Plotly does not keep a dense category axis's labels apart when it is told how many to draw.
The one pair not compared: the labels of scatter points with each other (the embedding maps draw
each character at its place in the map; two characters with near embeddings must be drawn near).
Code blocks must not be clipped (scrollWidth > clientWidth: a learner would have to scroll sideways
to read the lecture's code), and nothing drawn (a chart, a canvas such as the Trick page's matrices,
a code block) may leave its column and spill over the next one. Expanders are opened first, so the
code and charts inside them are measured too. Screenshots in test-results/overlap-<page>.png: of a
page the audit finds fault with, or of every page with PODIUM_SHOTS=1."""
from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from browser_helpers import RESULTS, SHOTS, wait_idle
from conftest import ROOT, served
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from ui.pages import PAGES

pytestmark = pytest.mark.browser
WIDTH = 1400
OVERLAP_PX = 2    # two texts may touch by this much (glyph boxes include the font's ascent and descent)
MIN_FONT_PX = 8
# the page's heading is h, or the page raised (said at once, not after the timeout)
ARRIVED = ("h => ((document.querySelector('[data-testid=stMain] h1') || {}).innerText || '').trim() === h"
           " || !!document.querySelector('[data-testid=stException]')")
ATTENTION = next(i for i, p in enumerate(PAGES) if p.path.endswith("/attention.py"))
SHIPPED_FILES = ("meta.json", "model.pt", "metrics.jsonl", "probes.json")

# Runs in the page: one entry per chart, code block and drawn element, everything needed to judge it.
AUDIT = """() => {
  const box = el => { const r = el.getBoundingClientRect();
    return {x0: r.left, y0: r.top, x1: r.right, y1: r.bottom, w: r.width, h: r.height}; };
  const shown = el => { const r = el.getBoundingClientRect(); if (r.width < 1 || r.height < 1) return false;
    for (let e = el; e && e.nodeType === 1; e = e.parentElement) {
      const s = getComputedStyle(e);
      if (s.display === 'none' || s.visibility === 'hidden' || +s.opacity === 0) return false;
    }
    return true; };
  const role = t => {
    if (t.closest('.colorbar')) return 'colorbar';
    if (t.closest('.legend')) return 'legend';
    if (t.closest('.annotation')) return 'annotation';
    if (t.closest('.g-gtitle')) return 'title';
    const g = t.closest('g[class*="title"]');
    if (g && /^g-[xy]\\d*title$/.test(g.getAttribute('class'))) return 'axis title';
    const tick = t.closest('g[class$="tick"]');
    if (tick) { const layer = t.closest('g[class*="axislayer"]'), sub = t.closest('g.subplot');
      return 'tick ' + (sub ? sub.getAttribute('class').split(' ').pop() : '') + ' '
        + (layer ? layer.getAttribute('class') : tick.getAttribute('class')); }
    if (t.closest('.hm, .heatmaplayer')) return 'cell';
    if (t.closest('.scatterlayer')) return 'point';
    if (t.closest('.bartext, .barlayer')) return 'bar text';
    return 'text';
  };
  const heading = el => { // the nearest heading above an element: names a chart without a title
    const hs = Array.from(document.querySelectorAll('[data-testid=stMain] h1, [data-testid=stMain] h2, '
      + '[data-testid=stMain] h3'));
    let best = ''; const y = el.getBoundingClientRect().top;
    for (const h of hs) if (h.getBoundingClientRect().top <= y) best = h.innerText.trim();
    return best; };
  const ink = t => { // the text's box cut to its em box across its lines: what a glyph can cover
    const b = box(t), m = t.getScreenCTM(), scale = Math.hypot(m.a, m.b) || 1;
    const size = parseFloat(getComputedStyle(t).fontSize) * scale;
    const lines = Math.max(1, t.querySelectorAll('tspan.line').length), turned = Math.abs(m.b) > Math.abs(m.a);
    const inset = Math.max(0, ((turned ? b.w : b.h) / lines - size) / 2);
    const out = turned ? {...b, x0: b.x0 + inset, x1: b.x1 - inset} : {...b, y0: b.y0 + inset, y1: b.y1 - inset};
    return {size, ink: out};
  };
  const words = t => { const ls = Array.from(t.querySelectorAll('tspan.line'));
    return (ls.length ? ls.map(l => l.textContent.trim()).join(' / ') : t.textContent).trim(); };
  const charts = Array.from(document.querySelectorAll('[data-testid=stMain] .js-plotly-plot')).filter(shown)
    .map((plot, i) => {
      const svg = plot.querySelector('svg.main-svg');
      const texts = Array.from(plot.querySelectorAll('svg text'))
        .filter(t => !t.closest('.hoverlayer, .modebar') && t.textContent.trim() && shown(t))
        .map(t => ({text: words(t), role: role(t), ...box(t), ...ink(t)}));
      const title = plot.querySelector('.g-gtitle text');
      return {index: i, name: (title && words(title)) || '(untitled, under "' + heading(plot) + '")',
              box: box(svg || plot), texts};
    });
  const codes = Array.from(document.querySelectorAll('[data-testid=stMain] [data-testid=stCode] pre'))
    .filter(shown).map(pre => ({first: pre.innerText.trim().split('\\n')[0].slice(0, 60), sw: pre.scrollWidth,
                                cw: pre.clientWidth}));
  // a drawn element (chart, canvas, code block) wider than its column spills over its neighbour
  const drawn = [];
  for (const col of document.querySelectorAll('[data-testid=stMain] [data-testid=stColumn]')) {
    if (!shown(col)) continue;
    const c = box(col);
    for (const el of col.querySelectorAll('svg.main-svg, canvas, [data-testid=stCode]')) {
      if (!shown(el) || el.closest('[data-testid=stColumn]') !== col) continue;
      const b = box(el);
      if (b.x0 < c.x0 - 1 || b.x1 > c.x1 + 1)
        drawn.push({what: el.tagName.toLowerCase() + (el.getAttribute('class') ? '.' + el.getAttribute('class') : ''),
                    near: heading(el), el: b, col: c});
    }
  }
  return {charts, codes, drawn};
}"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The shipped runs as a fresh clone holds them (speaker models, the base, the fine-tunes, the
    ladder's rungs and their logs), copied into a folder the server may write into, and a bigram for
    Obama trained there (a few seconds: the Bigram page draws its tables, lookup and samples from one)."""
    root = tmp_path_factory.mktemp("overlap-runs")
    src = ROOT / "checkpoints"
    shipped = (p for p in src.iterdir() if p.is_dir() and ("-ladder-" in p.name or p.name.endswith("-gpt-tiny")))
    for run in sorted(shipped):
        (root / run.name).mkdir()
        for f in SHIPPED_FILES:
            if (run / f).exists():
                shutil.copy2(run / f, root / run.name / f)
    for f in ("attribution.json", "ladder.jsonl"):
        if (src / f).exists():
            shutil.copy2(src / f, root / f)
    bigram = subprocess.Popen([sys.executable, "-m", "core", "train", "--speaker", "Barack Obama", "--model", "bigram",
                               "--max-iters", "200", "--eval-iters", "10", "--eval-interval", "200", "--out", str(root),
                               "--name", "barack-obama-bigram"], cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    served_here = served(root)
    try:
        url, _ = next(served_here)  # the server starts while the bigram trains
        out, _ = bigram.communicate(timeout=300)
        assert bigram.returncode == 0, out
        yield url
    finally:
        bigram.kill()  # a no-op once it has ended
        served_here.close()  # stops the server


def _overlap(a: dict, b: dict) -> tuple[float, float]:
    return min(a["x1"], b["x1"]) - max(a["x0"], b["x0"]), min(a["y1"], b["y1"]) - max(a["y0"], b["y0"])


def problems(audit: dict) -> list[str]:
    """What the audit found wrong, one line each, with the chart and its texts."""
    out = []
    for chart in audit["charts"]:
        name, texts, cb = f"chart {chart['index'] + 1} {chart['name']!r}", chart["texts"], chart["box"]
        for i, a in enumerate(texts):
            if a["size"] < MIN_FONT_PX - 0.05:
                out.append(f"{name}: {a['role']} {a['text'][:40]!r} is {a['size']:.1f} px (under {MIN_FONT_PX} px)")
            if a["x0"] < cb["x0"] - 1 or a["x1"] > cb["x1"] + 1 or a["y0"] < cb["y0"] - 1 or a["y1"] > cb["y1"] + 1:
                out.append(f"{name}: {a['role']} {a['text'][:40]!r} leaves the chart "
                           f"(text x {a['x0']:.0f}..{a['x1']:.0f} y {a['y0']:.0f}..{a['y1']:.0f}, chart x "
                           f"{cb['x0']:.0f}..{cb['x1']:.0f} y {cb['y0']:.0f}..{cb['y1']:.0f})")
            for b in texts[i + 1:]:
                if a["role"] == b["role"] == "point":
                    continue  # labels of scatter points: where they stand is the data (see the docstring)
                w, h = _overlap(a["ink"], b["ink"])
                if w > OVERLAP_PX and h > OVERLAP_PX:
                    out.append(f"{name}: {a['role']} {a['text'][:40]!r} and {b['role']} {b['text'][:40]!r} overlap "
                               f"by {w:.0f} x {h:.0f} px")
    for code in audit["codes"]:
        if code["sw"] > code["cw"] + 1:
            out.append(f"code block {code['first']!r} is clipped: {code['sw']} px of text in {code['cw']} px")
    for d in audit["drawn"]:
        out.append(f"{d['what']} under {d['near']!r} leaves its column: x {d['el']['x0']:.0f}..{d['el']['x1']:.0f}, "
                   f"column x {d['col']['x0']:.0f}..{d['col']['x1']:.0f}")
    return out


def shortened(lines: list[str], each: int = 6) -> list[str]:
    """At most `each` lines per chart (a crowded axis can give a hundred), then how many more."""
    by_chart: dict[str, list[str]] = {}
    for line in lines:
        by_chart.setdefault(line.split(": ", 1)[0], []).append(line)
    out = []
    for chart_lines in by_chart.values():
        out += chart_lines[:each] + ([f"... and {len(chart_lines) - each} more"] if len(chart_lines) > each else [])
    return out


OPEN_CLOSED = """() => { const closed = document.querySelectorAll(
  '[data-testid=stMain] [data-testid=stExpander] details:not([open]) > summary');
  closed.forEach(summary => summary.click()); return closed.length; }"""


def open_expanders(page) -> None:
    """Every expander opened, each by a click on its summary (in one go: clicking them one by one
    through Playwright took 7 s on the Build it up page), until none is left closed."""
    for _ in range(5):
        if not page.evaluate(OPEN_CLOSED):
            return
        page.wait_for_timeout(100)


SETTLED = """() => { const main = document.querySelector('[data-testid=stMain]');
  return [main.querySelectorAll('[data-testid=stElementContainer]').length,
          main.querySelectorAll('[data-testid=stPlotlyChart]').length,
          main.querySelectorAll('[data-testid=stPlotlyChart]:has(svg.main-svg)').length,
          main.querySelectorAll('[data-testid=stSkeleton]').length]; }"""


def settle(page) -> None:
    """Every chart drawn: each Plotly chart has its SVG, no skeleton is left, and nothing has been added for
    two polls (the first page with a chart loads Plotly itself after the script has finished)."""
    last = None
    for _ in range(60):
        now = page.evaluate(SETTLED)
        if now == last and now[1] == now[2] and now[3] == 0:
            return
        last = now
        page.wait_for_timeout(250)


def scroll_through(page) -> None:
    """Every chart and canvas brought into view once (a chart is sized and drawn when it is shown)."""
    drawn = page.locator("[data-testid=stMain] [data-testid=stPlotlyChart], [data-testid=stMain] canvas")
    for i in range(drawn.count()):
        drawn.nth(i).scroll_into_view_if_needed()
    settle(page)


def screenshot(page, path: Path) -> None:
    """The whole page: Streamlit scrolls inside its own container, so the window is made as tall as
    the page for the shot (the width, and so the layout across, unchanged), then put back."""
    height = page.evaluate("() => document.querySelector('[data-testid=stMain]').scrollHeight")
    page.set_viewport_size({"width": WIDTH, "height": min(16_000, height + 100)})
    page.wait_for_timeout(300)
    page.screenshot(path=str(path))
    page.set_viewport_size({"width": WIDTH, "height": 1000})


def arrive(page, index: int) -> None:
    """PAGES[index] is shown under its own heading, its script has finished, and it raised nothing."""
    want = PAGES[index].heading if index == 0 else f"{index}. {PAGES[index].heading}"
    try:
        page.wait_for_function(ARRIVED, arg=want, timeout=120_000)
    except PlaywrightTimeout as e:
        shown = page.evaluate("() => Array.from(document.querySelectorAll('h1')).map(h => h.innerText)")
        raise AssertionError(f"waiting for {want!r}, the page shows {shown} at {page.url}") from e
    wait_idle(page, timeout=120_000)
    errors = page.locator("[data-testid=stException]")
    assert errors.count() == 0, f"{PAGES[index].title}: {errors.first.inner_text()}"


def visit(page, url: str, index: int) -> None:
    """Home by its URL, then each step by the Next link of the step before (one session)."""
    if index == 0:
        page.goto(url)
        arrive(page, 0)
        page.evaluate("() => { window.__sameSession = true; }")  # gone if anything reloads the page
        return
    nxt = page.locator(".st-key-journey_next").get_by_role("link")
    assert nxt.inner_text().strip().endswith(f"Next: {PAGES[index].title} →"), nxt.inner_text()
    nxt.click()
    page.wait_for_url(f"**/{Path(PAGES[index].path).stem}", timeout=30_000)
    arrive(page, index)


def test_the_next_links_walk_every_page_and_no_text_is_drawn_over_text(page, server):
    RESULTS.mkdir(exist_ok=True)
    page.set_viewport_size({"width": WIDTH, "height": 1000})
    found, seconds = {}, {}
    for index, info in enumerate(PAGES):
        t0 = time.perf_counter()
        visit(page, server, index)
        settle(page)
        open_expanders(page)
        scroll_through(page)
        audit = page.evaluate(AUDIT)
        if bad := problems(audit):
            found[info.title] = bad
        if bad or SHOTS:  # the page whole, to see what the audit found (drawing it costs ~0.7 s a page)
            screenshot(page, RESULTS / f"overlap-{Path(info.path).stem}.png")
        seconds[info.title] = round(time.perf_counter() - t0, 1)
    back = page.locator(".st-key-journey_next").get_by_role("link")  # the last step leads home
    assert "Back to Home" in back.inner_text()
    # on the last step (Inside the heads), the diagram's "attention heads" opens the Attention page
    diagram = page.get_by_test_id("stSidebar").get_by_test_id("stExpander").filter(has_text="The GPT, part by part")
    diagram.get_by_role("link", name="attention heads").click()
    arrive(page, ATTENTION)
    assert page.url.rstrip("/").endswith("/attention")
    assert page.evaluate("() => window.__sameSession === true"), "a link reloaded the app (a new session)"
    print(f"seconds a page: {seconds}")
    report = "\n".join(f"{title}:\n  " + "\n  ".join(shortened(lines)) for title, lines in found.items())
    assert not found, f"text drawn over text, out of its chart, too small or clipped ({seconds} s a page):\n{report}"
