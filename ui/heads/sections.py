"""The sections of the "Inside the heads" page: the heads table, ablation, the logit lens and the
embedding maps. Numbers come from ui.probes (cached core calls); this module only lays them out."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from core.lessons.attribution import check_passage, verdict_of
from core.probe import heads as core_heads
from core.probe import lens as core_lens
from core.probe.embeddings import CLASSES, position_similarity
from core.text.tokenizer import visible
from ui import charts, fmt, state
from ui import probes as cached

CLASS_COLOURS = {"vowel": "#d62728", "consonant": "#1f77b4", "capital": "#9467bd", "digit": "#2ca02c",
                 "punctuation": "#ff7f0e", "space": "#7f7f7f"}


def head_name(layer: int, head: int) -> str:
    return f"L{layer + 1} H{head + 1}"


def _two(x: float | None) -> float | None:
    """Rounded to what the table shows, without a "-0.00" (a relative score a hair under 0 is 0)."""
    return None if x is None else round(x, 2) + 0.0


def heads_table(run, with_worth: bool) -> None:
    rows = cached.scores(run)
    frame = pd.DataFrame([{"head": head_name(r["layer"], r["head"]), "does": r["label"], "score": r["best_score"],
                           "spread (chars)": r.get("spread"),
                           "attends most to": "  ".join(f"{visible(c)} {fmt.pct(share)} ({lift:.1f}x)"
                                                       for c, share, lift in r.get("attends", [])[:3]),
                           **{core_heads.LABELS[p]: _two(r.get("relative", r["scores"]).get(p))
                              for p in core_heads.PATTERNS}}
                          for r in rows])
    if with_worth:
        w = cached.worth(run)
        frame.insert(3, "worth (nats)", [w["worth"][r["layer"]][r["head"]] for r in rows])
        st.caption(f"Worth: how much the val loss ({w['base']:.4f} nats/char) rises when the head alone is "
                   "mean-ablated (its output replaced by its average over the val text, position by position).")
    st.dataframe(frame, hide_index=True, key="heads_table", placeholder=fmt.MISSING,
                 column_config={"score": st.column_config.ProgressColumn("score", min_value=0.0, max_value=1.0,
                                                                         format="%.2f"),
                                "spread (chars)": st.column_config.NumberColumn(format="%.1f"),
                                "worth (nats)": st.column_config.NumberColumn(format="%.4f"),
                                **{core_heads.LABELS[p]: st.column_config.NumberColumn(format="%.2f")
                                   for p in core_heads.PATTERNS}})
    st.caption(f"Each pattern's score is the share of the head's attention on it, over the positions where the "
               "pattern has a target (TransformerLens's head detector), measured against a head that attends "
               "evenly to the whole past: 0 is no preference, 1 is all of it on the pattern (a class of "
               "characters, vowels say, gets a third of any head's attention). A head is labelled with its "
               f"strongest pattern when that reaches {core_heads.CLEAR}; otherwise by how many characters it "
               f"spreads over in effect (exp of its attention's entropy) and the character it gives "
               f"{core_heads.LEAN}x or more the attention an even head would. Duplicate and induction are measured "
               f"on random letters repeated twice (Olsson et al. 2022), the rest on {run.speakers[0]}'s val text.")


def ablation(run, chosen: list[tuple[int, int]], mode: str, speakers: list[str], passage: str,
             speaker_models: dict) -> None:
    rows = []
    for name in speakers:
        try:
            a = cached.ablation(run, name, chosen, mode)
        except ValueError as e:  # a text the model's vocabulary cannot encode
            st.caption(f"{name}: {e}")
            continue
        rows.append({"speaker's val text": name, "loss": a["base"], "ablated": a["loss"], "change (nats)": a["delta"]})
    st.dataframe(pd.DataFrame(rows), hide_index=True, key="heads_ablation_table", placeholder=fmt.MISSING,
                 column_config={c: st.column_config.NumberColumn(format="%.4f")
                                for c in ("loss", "ablated", "change (nats)")})
    st.caption(f"The first {cached.PAGE_CHARS:,} characters of each val text; {mode} ablation"
               + (" (each head's output replaced by its mean over that text)." if mode == "mean" else
                  " (each head's output replaced by zeros)."))
    if len(speaker_models) < 2 or not passage:
        return
    check_passage(passage, [state.load_run(r).tokenizer for r in speaker_models.values()])
    scored = {label: cached.passage_surprisal(r, passage) for label, r in speaker_models.items()}
    mine = next(label for label, r in speaker_models.items() if r.name == run.name)
    before = verdict_of(scored)
    after = verdict_of({**scored, mine: cached.passage_surprisal(run, passage, chosen, mode)})  # one model changed
    names = list(before.probabilities)
    st.markdown(f"**Who said it?** The passage scored by every speaker's model, with {mine}'s model ablated:")
    n_models = len(names)
    st.dataframe(pd.DataFrame({"model": names,
                               "P(model | passage)": [fmt.posterior(before.probabilities[n], n_models) for n in names],
                               "after ablation": [fmt.posterior(after.probabilities[n], n_models) for n in names],
                               "nats/char": [fmt.number(before.mean_loss[n]) for n in names],
                               "after (nats/char)": [fmt.number(after.mean_loss[n]) for n in names]}),
                 hide_index=True, key="heads_who_table", placeholder=fmt.MISSING)
    st.caption(f"Guess: {before.guess} before, {after.guess} after.")


def logit_lens(run, loaded, text: str) -> None:
    T = min(len(text), loaded.config.block_size)
    pos = st.slider("Position to read (the lens predicts the character after it)", 0, max(1, T - 1), T - 1,
                    key="heads_lens_pos") if T > 1 else 0
    view = core_lens.lens(loaded.model, loaded.tokenizer, text, min(pos, T - 1), k=5)
    shown = visible(view.text[:view.position + 1][-40:])
    st.markdown(f"After `…{shown}`" + (f" the next character is `{visible(view.target)}`." if view.target else "."))
    table = pd.DataFrame({"readout of": view.layers,
                          **{f"#{i + 1}": [f"{visible(t[i][0])} {fmt.pct(t[i][1])}" for t in view.top]
                             for i in range(5)}})
    if view.target_prob is not None:
        table["P(next)"] = [fmt.pct(p) for p in view.target_prob]
    st.dataframe(table, hide_index=True, key="heads_lens_table", placeholder=fmt.MISSING)
    losses = cached.layer_losses(run)
    st.plotly_chart(charts.bar(view.layers, losses, title=f"Loss of each layer's readout on {run.speakers[0]}'s "
                               "val text (nats/char)", y_title="nats/char", height=280,
                               color=charts.speaker_color(run.speakers[0])), key="heads_lens_loss")
    st.caption("Each row applies the model's final LayerNorm and head to the residual stream after that layer "
               "(the logit lens); the last row is the model's own prediction.")


ROLE_WORDS = {"scratch": "from scratch", "fine-tune": "fine-tuned", "base": "base", "rung": "ladder rung"}


def map_title(run) -> str:
    """A map's title over its third of the chart: the speaker on one line (in the speaker's colour, set
    by the caller), how the model was made on the next; the full run name is in the caption below (a
    run's name is wider than its map, and three of them were drawn over each other)."""
    who = run.speakers[0] if len(run.speakers) == 1 else f"{len(run.speakers)} speakers"
    return f"{who}<br>{ROLE_WORDS.get(run.role, run.role)}"


def embedding_maps(runs: list, loaded) -> None:
    maps = cached.maps(runs)
    by_name = {r.name: r for r in runs}
    c1, c2 = st.columns([3, 2])
    fig_data = []
    for k, m in enumerate(maps):
        for cls in CLASSES:
            pts = [(xy, c) for xy, c, k2 in zip(m["xy"], m["chars"], m["classes"]) if k2 == cls]
            if not pts:
                continue
            fig_data.append({"type": "scatter", "mode": "text", "name": cls, "legendgroup": cls,
                             "showlegend": k == 0, "xaxis": f"x{k + 1}", "yaxis": f"y{k + 1}",
                             "x": [p[0][0] for p in pts], "y": [p[0][1] for p in pts],
                             "text": [visible(p[1]) for p in pts],
                             "textfont": {"color": CLASS_COLOURS[cls], "size": 13},
                             "hovertemplate": "%{text}<extra>" + cls + "</extra>"})
    n = len(maps)
    layout = {"height": 400, "margin": {"l": 10, "r": 10, "t": 80, "b": 10},  # the title, then two lines a map
              "title": {"text": "Token embeddings (PCA, 2-D), aligned to the first map", "font": {"size": 14},
                        "yref": "container", "y": 1, "yanchor": "top", "pad": {"t": 8}},
              "legend": {"orientation": "h"},
              "annotations": [{"text": map_title(by_name[m["label"]]), "xref": "paper", "yref": "paper",
                               "showarrow": False, "x": (k + 0.5) / n, "y": 1.0, "yanchor": "bottom",
                               "font": {"size": 12, "color": charts.speaker_color(by_name[m["label"]].speakers[0])}}
                              for k, m in enumerate(maps)]}
    for k in range(n):
        layout[f"xaxis{k + 1}"] = {"domain": [k / n + 0.01, (k + 1) / n - 0.01], "zeroline": False,
                                   "showticklabels": False}
        layout[f"yaxis{k + 1}"] = {"anchor": f"x{k + 1}", "zeroline": False, "showticklabels": False}
    c1.plotly_chart({"data": fig_data, "layout": layout}, key="heads_embeddings")
    c1.caption("Each speaker model's map is rotated (or mirrored) onto the first by orthogonal Procrustes over "
               "the characters they share, so the same region means the same thing across maps. Variance "
               "explained by the two axes: " + "; ".join(f"{m['label']} {fmt.pct(sum(m['explained']))}" for m in maps))
    sim = position_similarity(loaded.model).numpy()
    labels = [str(i) for i in range(len(sim))]
    c2.plotly_chart(charts.heatmap(sim, labels, labels, "Position embeddings: cosine similarity", zmin=-1, zmax=1,
                                   zmid=0, colorscale=charts.DIVERGING, x_title="position", y_title="position",
                                   height=380, hover_name="cosine"), key="heads_positions", theme=None)
