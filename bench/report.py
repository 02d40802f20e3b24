"""The benchmark report: docs/benchmarks.md, one section per CPU kind (tables, targets met or not), the raw figures as
.json, and a plot as .png (a plotly figure rendered by Debian's chromium, offline)."""
from __future__ import annotations

import json
import re
import shutil
import tempfile
from pathlib import Path

import plotly.graph_objects as go

from bench.ui import FIRST_PAGES

UI_TARGETS = {"slider_idle_ms": ("Attention slider -> heatmap, idle (median)", 200, "ms"),
              "slider_training_ms": ("Attention slider -> heatmap, while a run trains (median)", 350, "ms"),
              "home_render_s": ("Home page rendered, after the server first answers", 3.0, "s"),
              **{f"first_{k}_s": (f"{title}, first render on a fresh server (click to drawn and idle)", 2.0, "s")
                 for k, title in FIRST_PAGES.items()},
              "rss_three_models_mb": ("App memory (RSS) with the three default models loaded", 1536, "MB")}

METHOD = """\
## How this was measured

- Each leg is a fresh process: `../shared/bench/reference.py` (the lecture's code) or `python -m bench.leg`
  (Podium's trainer `core.train.loop.fit` and sampler `core.model.sampling.generate`), on the same text
  (Barack Obama's addresses, cleaned), config, seed, thread count and number of steps, in the order A B A B;
  the tables give medians over the rounds and ratios of medians.
- Both train with AdamW at a constant learning rate of 1e-3 (betas 0.9, 0.999; weight decay 0.01; no clipping)
  on a character vocabulary of the text alone and the first 90% of it; the first 5 steps are left out of the
  timing; train and val loss are means over the same number of batches each.
- Training tokens/s counts the training step only (batch, forward, backward, optimizer), evaluations excluded.
  MFU = tokens/s x (6 N + 12 L C T) FLOPs per token, over the matmul peak measured here (2048^3, best of 3).
- Podium trains in bf16 autocast where the CPU multiplies bf16 natively (`--dtype auto`); the fp32 row shows
  what the same code does without it.
- Sampling: 500 new tokens from a one-token context. Podium samples with its KV cache (`core.model.decoder`).
  Past block_size its default window drops the older half of the context at once ("shift"); the "slide"
  column keeps the lecture's exact semantics (the last block_size tokens, re-run at every step).
- The app's figures come from the browser tests that record them (chromium, 16 slider steps over fresh values
  of T each, medians; the rounds' medians are given).

## What makes the difference (each measured on the machine kind named, 2 cores)

- bf16 autocast for the projections (the bf16 matmul peak over the fp32 one is at the top of each
  section: 2.8x to 4.4x on the machines measured so far, which is why the ratios differ between reports).
- Dropout: PyTorch's CPU dropout draws one Bernoulli sample per element (29% of a lecture-config step);
  `core.model.dropout` draws four 16-bit samples per 64-bit random integer and multiplies by a float mask.
- Dropout masks built in integers as wide as the dtype (the scale's bits where kept, 0 where dropped): the
  same values as a bool mask converted to bf16, which is 15x slower (a lecture-config step 772 -> 706 ms).
- Attention in training: the CPU's scaled_dot_product_attention falls back to an fp32 path with dropout
  and its flash kernel is slow at these sizes without; `core.model.dropout.attention` runs the two batched
  matmuls in bf16 and the mask, softmax and dropout as one autograd node (99 -> 35 ms per layer with
  dropout; without, a small-config step 47.7 -> 35.2 ms on Zen 5).
- Fused AdamW on the CPU (4.7 vs 14.9 ms a step at the lecture size), one `.item()` per log interval.
- Sampling: a preallocated KV cache as the model's attention kernel, bf16 weights packed once for
  oneDNN for big models (the 24 projections of a token: 0.48 vs 2.47 ms in fp32), and the "shift" window.
- Tried and dropped: `torch.compile` on the CPU (slower: 1441 vs 1140 ms a lecture-config step, ~35 s to
  compile); bf16 weights for the tiny preset's sampling (slower: 1691 vs 3189 tokens/s).
"""


def _ratio(results: dict, name: str, key: str) -> float | None:
    m = results["configs"][name]["median"]
    if "reference" not in m:
        return None
    return m["podium"][key] / m["reference"][key]


def _mfu(row: dict, peak: float) -> float:
    return row["train_tokens_per_s"] * row["flops_per_token"] / peak


def _check(ok: bool | None) -> str:
    return "n/a" if ok is None else ("met" if ok else "**not met**")


def summary(results: dict) -> str:
    """A few lines for the terminal."""
    lines = []
    for name, c in results["configs"].items():
        m = c["median"]
        line = f"{name}: podium train {m['podium']['train_tokens_per_s']:,.0f} tok/s, generate " \
               f"{m['podium']['generate_tokens_per_s']:,.0f} tok/s"
        if "reference" in m:
            line += (f"; x{_ratio(results, name, 'train_tokens_per_s'):.2f} train, "
                     f"x{_ratio(results, name, 'generate_tokens_per_s'):.1f} generate, val loss "
                     f"{m['podium']['val_loss'] - m['reference']['val_loss']:+.4f} vs reference")
        lines.append(line)
    u = results.get("ui") or {}
    if "slider_idle_ms" in u:
        lines.append(f"app: slider {u['slider_idle_ms']:.0f} ms idle, {u['slider_training_ms']:.0f} ms training; "
                     f"home {u['home_render_s']:.2f} s; {u['rss_three_models_mb']:.0f} MB")
    return "\n".join(lines)


HEAD = """# Benchmarks

One section per CPU kind measured (its model, family and model numbers, and its matmul peaks), so that
figures from different machines are never mixed in one table: `make bench` (`python -m bench`) rewrites
the section of the machine it runs on and keeps the others. Do not edit the generated sections by hand."""


def kind(results: dict) -> tuple[str, str]:
    """(label, key) of the CPU kind a run measured (older results: their CPU's name alone)."""
    mach = results["machine"]
    label = mach.get("kind") or mach["cpu"]
    return label, mach.get("kind_key") or re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")


def markdown(results: dict) -> str:
    """The run's section, marked with its CPU kind's key, its headings one level down."""
    label, key = kind(results)
    body = _tables(results).replace("\n## ", "\n### ").replace("benchmarks.png", f"benchmarks-{key}.png")
    return (f"<!-- bench-{key}: generated by make bench on this CPU kind -->\n## {label}\n\n{body}\n"
            f"<!-- /bench-{key} -->")


def _tables(results: dict) -> str:
    mach, peaks = results["machine"], results["peaks"]
    out = ["Generated by `make bench` (`python -m bench`)." + (
               " **A --quick smoke run: not figures to report.**" if results.get("quick") else ""), "",
           f"- Date: {mach['date']}",
           f"- Machine: {mach['cpu']}, {mach['cores']} cores, {mach['threads']} torch threads, "
           f"bf16 matmul native: {mach['bf16_matmul']}" + (f", GPU: {mach['gpu']}" if "gpu" in mach else ""),
           f"- Versions: Python {mach['python']}, torch {mach['torch']}",
           f"- Matmul peak (2048^3): fp32 {peaks['float32'] / 1e9:,.0f} GFLOP/s, "
           f"bf16 {peaks['bfloat16'] / 1e9:,.0f} GFLOP/s",
           f"- Reference: `{results['reference'] or 'not found: Podium alone'}`", "",
           "![ratios against the reference](benchmarks.png)", "",
           "## Training throughput", "",
           "| config | implementation | tokens/s | ms/step | val loss | MFU of fp32 peak | MFU of bf16 peak |",
           "|---|---|---:|---:|---:|---:|---:|"]
    for name, c in results["configs"].items():
        for impl, row in c["median"].items():
            label = {"podium": f"Podium ({row['dtype']})", "podium-fp32": "Podium (float32)"}.get(impl, impl)
            out.append(f"| {name} | {label} | {row['train_tokens_per_s']:,.0f} | {row['train_ms_per_iter']:,.1f} | "
                       f"{row['val_loss']:.4f} | {_mfu(row, peaks['float32']):.0%} | "
                       f"{_mfu(row, peaks['bfloat16']):.0%} |")
    out += ["", "| config | steps x rounds | Podium / reference tokens/s | target | val loss, Podium - reference "
                "| within +0.02 |", "|---|---|---:|---:|---:|---|"]
    for name, c in results["configs"].items():
        m, cfg = c["median"], c["config"]
        r = _ratio(results, name, "train_tokens_per_s")
        dloss = m["podium"]["val_loss"] - m["reference"]["val_loss"] if "reference" in m else None
        target = results["targets"][name]["train"]
        out.append(f"| {name} | {cfg['iters']} x {c['rounds']} | {r:.2f}x | >= {target}x ({_check(r >= target)}) | "
                   f"{dloss:+.4f} | {_check(dloss <= results['loss_slack'])} |" if r is not None else
                   f"| {name} | {cfg['iters']} x {c['rounds']} | n/a | >= {target}x | n/a | n/a |")
    out += ["", "Configs: " + "; ".join(
        f"**{n}** batch {c['config']['batch-size']}, block {c['config']['block-size']}, "
        f"{c['config']['n-layer']} layers, "
        f"{c['config']['n-head']} heads, {c['config']['n-embd']} wide, dropout {c['config']['dropout']}, "
        f"{c['median']['podium']['params']:,} parameters" for n, c in results["configs"].items()), "",
        "## Sampling (500 new tokens, batch 1)", "",
        "| config | reference tokens/s | Podium, shift window | ratio | target | Podium, slide window | ratio "
        "| target |",
        "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, c in results["configs"].items():
        m = c["median"]
        ref = m.get("reference", {}).get("generate_tokens_per_s")
        pod, slide = m["podium"]["generate_tokens_per_s"], m["podium"].get("generate_tokens_per_s_slide")
        target = results["targets"][name]["generate"]
        slide_target = results["targets"][name].get("slide")
        slide_goal = f">= {slide_target:.0f}x" if slide_target else "n/a"
        if ref:
            slide_check = f" ({_check(slide / ref >= slide_target)})" if slide_target else ""
            out.append(f"| {name} | {ref:,.0f} | {pod:,.0f} | {pod / ref:.1f}x | >= {target:.0f}x "
                       f"({_check(pod / ref >= target)}) | {slide:,.0f} | {slide / ref:.1f}x | "
                       f"{slide_goal}{slide_check} |")
        else:
            out.append(f"| {name} | n/a | {pod:,.0f} | n/a | >= {target:.0f}x | {slide:,.0f} | n/a | {slide_goal} |")
    out += ["", "## The app (chromium)", "", "| figure | measured | target | |", "|---|---:|---:|---|"]
    u = results.get("ui") or {}
    if "slider_idle_ms" in u:
        for key, (label, target, unit) in UI_TARGETS.items():
            if key not in u:  # a figure the benchmark took later than these results
                continue
            out.append(f"| {label} | {u[key]:,.2f} {unit} | <= {target:,} {unit} | {_check(u[key] <= target)} |")
        out += ["", f"Every layer x head redrawn too: {u['slider_idle_whole_ms']:.0f} ms idle. Peak memory "
                    f"{u['peak_rss_mb']:.0f} MB. Medians over {u['rounds']} round(s) of the browser tests."]
    else:
        out.append(f"| not measured | {u.get('skipped') or u.get('failed') or 'skipped (--no-ui)'} | | |")
    out += ["", "## GPU", "",
            "No CUDA device on this machine: the GPU path (bf16 autocast, TF32, fused AdamW, flash attention "
            "through SDPA, `--compile`) was not measured here. On a GPU machine: `python -m bench --device cuda`."
            if "gpu" not in mach else f"Measured on {mach['gpu']} (see the tables)."]
    return "\n".join(out)


def plot(results: dict) -> go.Figure:
    bars, targets, labels = [], [], []
    for name in results["configs"]:
        for key, what in (("train_tokens_per_s", "train"), ("generate_tokens_per_s", "generate")):
            r = _ratio(results, name, key)
            if r is not None:
                labels.append(f"{what}<br>{name}")
                bars.append(r)
                targets.append(results["targets"][name][what])
    fig = go.Figure([go.Bar(x=labels, y=bars, name="Podium / reference", text=[f"{b:.1f}x" for b in bars],
                            textposition="outside", marker_color="#1f77b4"),
                     go.Scatter(x=labels, y=targets, mode="markers", name="target",
                                marker={"symbol": "line-ew-open", "size": 40, "color": "#d62728",
                                        "line": {"width": 3}})])
    fig.update_layout(title="Podium against the lecture reference (same machine, same run)", width=760, height=420,
                      yaxis={"type": "log", "title": "speed-up (log scale)",
                             "tickvals": [1, 1.5, 2, 3, 5, 10, 20, 30, 50],
                             "ticktext": ["1x", "1.5x", "2x", "3x", "5x", "10x", "20x", "30x", "50x"]},
                      template="plotly_white",
                      margin={"l": 60, "r": 20, "t": 60, "b": 60})
    return fig


def render_png(fig: go.Figure, path: Path) -> bool:
    """Draw the figure with Debian's chromium (offline: plotly.js inline). False if there is none."""
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return False
    if not Path(chromium).exists():
        return False
    with tempfile.TemporaryDirectory() as tmp:
        html = Path(tmp) / "plot.html"
        fig.write_html(html, include_plotlyjs=True, full_html=True, config={"staticPlot": True})
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=[
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"])
            page = browser.new_page(viewport={"width": 800, "height": 460})
            page.goto(html.as_uri())
            page.wait_for_selector(".main-svg")
            page.locator(".js-plotly-plot").screenshot(path=str(path))
            browser.close()
    return True


def kept_sections(text: str) -> list[str]:
    """The sections other writers own (`<!-- name: ... -->` ... `<!-- /name -->`: the slider's, written
    by the browser tests; the pretraining and who-said-it figures), kept when the benchmark rewrites."""
    return [m.group(0) for m in re.finditer(r"<!-- ([\w-]+):.*?<!-- /\1 -->", text, re.S)]


def loose_text(text: str) -> list[str]:
    """Paragraphs outside every section, between the head and "## How this was measured" (both of which
    the writer writes itself): text a rewrite would drop, so it must be inside a section first."""
    body = re.sub(r"<!-- ([\w-]+):.*?<!-- /\1 -->", "\n\n", text, flags=re.S)
    body = body.removeprefix(HEAD)
    end = body.find("## How this was measured")
    return [p.strip() for p in body[:end if end >= 0 else len(body)].split("\n\n") if p.strip()]


def check_kept(md_path: Path) -> None:
    """Refuse to rewrite a file holding text outside its sections (a hand-written section without its
    <!-- name: ... --> ... <!-- /name --> markers): the rewrite would lose it."""
    if not md_path.exists():
        return
    loose = loose_text(md_path.read_text(encoding="utf-8"))
    if loose:
        raise SystemExit(f"{md_path}: {len(loose)} paragraph(s) outside any <!-- name: ... --> ... <!-- /name --> "
                         f"section would be lost by the rewrite, the first: {loose[0][:120]!r}; wrap them in markers "
                         "(or pass --out elsewhere)")


def write(results: dict, md_path: Path) -> None:
    """This CPU kind's section written in place of its last one; every other kind's, and the sections
    other writers own, kept; how it was measured once at the end. Refuses (check_kept) when the file
    holds text outside its sections."""
    md_path.parent.mkdir(parents=True, exist_ok=True)
    check_kept(md_path)
    label, key = kind(results)
    kept = kept_sections(md_path.read_text(encoding="utf-8")) if md_path.exists() else []
    md_path.with_name(f"{md_path.stem}-{key}.json").write_text(json.dumps(results, indent=1))
    text = markdown(results)
    png = md_path.with_name(f"{md_path.stem}-{key}.png")
    if not render_png(plot(results), png):
        text = text.replace(f"![ratios against the reference]({png.name})", "(no plot: chromium not found)")
    mine = f"<!-- bench-{key}:"
    others = [k for k in kept if not k.startswith(mine)]
    kinds = [k for k in others if k.startswith("<!-- bench-")]
    rest = [k for k in others if not k.startswith("<!-- bench-")]
    md_path.write_text("\n\n".join([HEAD, text, *kinds, *rest, METHOD]) + "\n")
