"""The app's figures, taken in chromium by the browser tests that record them (the same code that
`make test` runs, so the benchmark and the tests measure one thing): the Attention slider's latency
idle and while a run trains, the home page's render time, the heavy pages' first render on a fresh
server, and the server's memory with the three default models loaded."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from statistics import median

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "test-results"
TESTS = ["tests/browser/test_browser.py::test_attention_slider_redraws_heatmap_and_latency",
         "tests/browser/test_browser_train.py", "tests/browser/test_browser_perf.py"]
FILES = {"idle": "attention-latency.json", "training": "attention-latency-training.json", "app": "app-perf.json",
         "one_user": "attention-latency-one-user.json", "four_users": "attention-latency-four-users.json",
         "trick_batches": "trick-batches-latency.json", "first": "first-renders.json"}
FIRST_PAGES = {"compare": "Compare", "speak": "Speak like them", "heads": "Inside the heads"}  # first-renders.json
DOC = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- slider: measured by tests/browser/test_browser_perf.py under python -m bench -->", "<!-- /slider -->"
DATA = "<!-- slider-records: "


def measure(rounds: int = 1) -> dict:
    """Run the browser tests `rounds` times; each figure is the median over the rounds."""
    if not shutil.which("chromium") and not Path("/usr/bin/chromium").exists():
        return {"skipped": "chromium is not installed (make browser-deps)"}
    runs = []
    for i in range(rounds):
        print(f"  ui round {i + 1}/{rounds}: browser tests", file=sys.stderr, flush=True)
        for name in FILES.values():
            (RESULTS / name).unlink(missing_ok=True)
        proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *TESTS], cwd=ROOT,
                              capture_output=True, text=True, env={**os.environ, "PODIUM_BENCH": "1"})
        if proc.returncode:
            return {"failed": proc.stdout[-2000:]}
        runs.append({k: json.loads((RESULTS / f).read_text()) for k, f in FILES.items()})
    record_slider()  # docs/benchmarks.md's slider section, from these records
    return {
        "slider_idle_ms": median([r["idle"]["median_ms"] for r in runs]),
        "slider_idle_whole_ms": median([r["idle"]["whole_median_ms"] for r in runs]),
        "slider_training_ms": median([r["training"]["while_training"]["median_ms"] for r in runs]),
        "home_render_s": median([r["app"]["home_render_s"] for r in runs]),
        **{f"first_{page}_s": median([r["first"]["first_render_s"][title] for r in runs])
           for page, title in FIRST_PAGES.items()},
        "rss_three_models_mb": median([r["app"]["rss_three_models_mb"] for r in runs]),
        "peak_rss_mb": median([r["app"]["peak_rss_mb"] for r in runs]),
        "slider_one_user_ms": median([r["one_user"]["keys"]["median_ms"] for r in runs]),
        "slider_four_users_ms": median([r["four_users"]["median_ms"] for r in runs]),
        "slider_four_users_p90_ms": median([r["four_users"]["p90_ms"] for r in runs]),
        "rounds": rounds, "samples": runs,
    }


def slider_section(one: dict | None, four: dict | None, tb: dict | None = None) -> str:
    """docs/benchmarks.md's section on the context slider, from the browser tests' records."""
    m = (four or one or {}).get("machine", {})
    lines = [BEGIN, "## The context slider (chromium, drawn in the browser)", "",
             f"Host: {m.get('cpu', '?')} ({m.get('kind') or 'kind not detected'}), {m.get('cores', '?')} cores; "
             "other engineers' tests were running on the same 2 cores, so the load is given with each figure.", "",
             "| figure | median | p90 | in the page, median / p90 | load (1 min) | target |",
             "|---|---:|---:|---:|---:|---|"]
    if one:
        k = one["keys"]
        lines.append(f"| one user, key press -> map and grid redrawn ({k['changes']} fresh T) "
                     f"| {k['whole_median_ms']:.0f} ms "
                     f"| {k['whole_p90_ms']:.0f} ms | {k['in_page_median_ms']:.1f} / {k['in_page_p90_ms']:.1f} ms "
                     f"| {one['machine']['load_1m']:.1f} | <= 50 / 100 ms |")
    if four:
        lines.append(f"| four users pressing at once, {four['runs_training']} runs training "
                     f"({four['changes']} presses) "
                     f"| {four['whole_median_ms']:.0f} ms | {four['whole_p90_ms']:.0f} ms "
                     f"| {four['in_page_median_ms']:.1f} / {four['in_page_p90_ms']:.1f} ms "
                     f"| {four['machine']['load_1m']:.1f} | <= 50 / 100 ms |")
    for name, label in (("trick", "Trick page, T slider"), ("batches", "Batches page, block-size slider")):
        if tb:
            r = tb[name]
            lines.append(f"| {label}, one user, key press -> all that follows T redrawn ({r['changes']} fresh T) "
                         f"| {r['median_ms']:.0f} ms | {r['p90_ms']:.0f} ms | | {tb['machine']['load_1m']:.1f} "
                         f"| <= 50 / 100 ms |")
    if one:
        d = one["drag"]
        lines += ["", f"Dragging the thumb with the mouse: {d['frames']} redraws for {d['inputs']} input events "
                  f"({d['distinct_T']} values of T in {d['drag_s']:.2f} s, {d['frames_per_s']:.0f} a second: the rate "
                  f"at which Playwright moved the mouse under this load); input event -> redraw median "
                  f"{d['input_to_draw_median_ms']:.1f} ms, p90 {d['input_to_draw_p90_ms']:.1f} ms. Attention page "
                  f"first paint (sidebar link -> maps drawn, first visit, model loaded cold): "
                  f"{one['attention_first_paint_s']:.2f} s."]
    lines += ["", "Key press -> redraw is timed from Playwright's key press to the redrawn canvases (polled each "
              "animation frame); \"in the page\" is the slider's input event -> the redraw, timed in the page. The "
              "decoder view holds one forward pass over the first block_size characters, so every T up to "
              "block_size is cut from it in the browser (causality); the encoder view and T past block_size are a "
              "forward pass on the server per T. Before (plotly, every step a server round trip): 285 ms median "
              "for one user and ~1.1 s with four users on this machine kind.", END]
    return "\n".join(lines)


def record_slider() -> None:
    """Write the slider section into docs/benchmarks.md (replacing the previous one) from the records
    in test-results/. The records travel inside the section too (an HTML comment), so a record that is
    missing now (another test run cleaned test-results/) keeps its last measured row."""
    text = DOC.read_text(encoding="utf-8") if DOC.exists() else "# Benchmarks\n"
    old = {}
    if BEGIN in text and DATA in text:
        blob = text[text.index(DATA) + len(DATA):text.index(" -->", text.index(DATA))]
        old = json.loads(blob)
    records = {}
    for name in ("one_user", "four_users", "trick_batches"):
        path = RESULTS / FILES[name]
        records[name] = json.loads(path.read_text()) if path.exists() else old.get(name)
    if not any(records.values()):
        return  # nothing measured: the section stays as it was
    section = slider_section(records["one_user"], records["four_users"], records["trick_batches"])
    section = section.replace(END, f"{DATA}{json.dumps(records, separators=(',', ':'))} -->\n{END}")
    if BEGIN in text and END in text:
        text = text[:text.index(BEGIN)] + section + text[text.index(END) + len(END):]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    DOC.write_text(text, encoding="utf-8")
