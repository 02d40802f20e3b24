"""Compare: every speaker's model scored on every speaker's val text (a speaker x speaker loss
matrix), and "who said it": which model finds a passage least surprising, character by character."""
import html

import pandas as pd
import streamlit as st

from core.lessons.attribution import who_said
from core.lessons.compare import excerpt, loss_matrix
from core.limits import MAX_PASSAGE_CHARS
from core.runs import catalog
from core.runs.checkpoints import weights_key
from core.text.tokenizer import visible
from ui import charts, fmt, journey, speak, state
from ui.compare import attribution as attribution_section
from ui.compare import style as style_section

VMAX = 6.0   # surprisal (nats) at which the colour saturates; ln(vocab ~88) ~ 4.5 is a uniform guess
STOPS = ((0.0, (255, 255, 255)), (0.45, (254, 224, 139)), (1.0, (215, 48, 39)))  # white -> yellow -> red


@st.cache_data(show_spinner="Scoring every model on every speaker's val text...", max_entries=16)
def scored_matrix(key: tuple, speakers: tuple[str, ...], _models: dict):
    """key: (label, run folder, model.pt mtime) per model: a retrained run is scored again."""
    return loss_matrix(_models, list(speakers))


@st.cache_data(show_spinner="Scoring the passage...", max_entries=32)
def scored_passage(key: tuple, text: str, _models: dict):
    return who_said({k: m.model for k, m in _models.items()}, {k: m.tokenizer for k, m in _models.items()}, text)


def colour(s: float) -> str:
    t = max(0.0, min(1.0, s / VMAX))
    for (t0, c0), (t1, c1) in zip(STOPS, STOPS[1:]):
        if t <= t1:
            f = (t - t0) / (t1 - t0)
            return "#{:02x}{:02x}{:02x}".format(*(round(a + f * (b - a)) for a, b in zip(c0, c1)))
    return "#{:02x}{:02x}{:02x}".format(*STOPS[-1][1])


def char_span(c: str, s: float | None) -> str:
    shown = "↵\n" if c == "\n" else c
    if s is None:
        return f'<span title="not scored: nothing comes before it">{html.escape(shown)}</span>'
    tip = html.escape(f"{visible(c)}: {s:.2f} nats", quote=True)
    return f'<span title="{tip}" style="background:{colour(s)}">{html.escape(shown)}</span>'


def surprisal_html(text: str, surprisal: list[float]) -> str:
    """text with each character's background coloured by its surprisal (the first is not scored)."""
    spans = [char_span(text[0], None)] + [char_span(c, s) for c, s in zip(text[1:], surprisal)]
    return ('<div style="white-space:pre-wrap;font-family:ui-monospace,monospace;font-size:0.85rem;'
            'line-height:1.6;padding:0.3rem 0">' + "".join(spans) + "</div>")


def legend_html() -> str:
    steps = [0, 1, 2, 3, 4, 5, 6]
    cells = "".join(f'<span style="background:{colour(v)};padding:0 0.6rem;border:1px solid #eee">'
                    f'{v}{"+" if v == VMAX else ""}</span>' for v in steps)
    return ('<div style="font-size:0.8rem">surprisal -ln p(char | context), nats: ' + cells
            + " &nbsp;(hover a character for its value)</div>")


journey.header(__file__)
st.markdown(
    "Every model below has the same architecture and vocabulary, and learned one speaker: trained on that "
    "speaker alone, or fine-tuned on that speaker from a base model (see *Speak like them*). The loss of a "
    "model on a text is how surprised it is, on average, by each next character (nats per character; lower is "
    "better). Score each model on each speaker's **validation** "
    "text, which no model trained on, and the speakers' styles show up as numbers.")

speakers = state.chosen_speakers()
style_section.render(speakers)   # words and style figures: no model needed
chosen = speak.choose_models(speakers)
runs = {s: r for s, r in chosen.items() if r}
missing = [s for s, r in chosen.items() if r is None]
if not runs:
    st.info("No finished GPT trained on one of these speakers alone yet, so there is nothing to compare. "
            "Train one per speaker on the Train page, or with "
            "`python -m core train --speaker \"Barack Obama\" --preset tiny` (a few minutes on CPU).",
            icon=":material/info:")
    st.stop()
if missing:
    st.warning("No finished GPT trained on " + ", ".join(missing) + " alone: "
               + ("its" if len(missing) == 1 else "their") + " row is missing below (the text is still scored).",
               icon=":material/warning:")

with state.friendly_errors():
    models = {s: state.load_run(r) for s, r in runs.items()}
    key = tuple((s, *weights_key(r.path)) for s, r in runs.items())
    st.caption("Models: " + "; ".join(f"{s}: {catalog.describe(r)}" for s, r in runs.items()))
    st.dataframe(pd.DataFrame([{"speaker": s, "run": r.name, "steps": r.step,
                                "parameters": r.n_params,
                                "block size": r.model.block_size,
                                "best val loss (estimate)": r.best_val_loss} for s, r in runs.items()]),
                 hide_index=True, width="stretch", placeholder=fmt.MISSING,
                 column_config={"steps": st.column_config.NumberColumn(format=fmt.COUNT),
                                "parameters": st.column_config.NumberColumn(format=fmt.COUNT),
                                "best val loss (estimate)": st.column_config.NumberColumn(format="%.3f")})

    st.subheader("The loss matrix")
    m = scored_matrix(key, tuple(speakers), models)
    row_best, col_best = m.row_best(), m.column_best()
    cells = [[f"{v:.3f}" + (" ★" if row_best[i] == j else "") + (" ●" if col_best[j] == i else "")
              for j, v in enumerate(row)] for i, row in enumerate(m.values)]
    fig = charts.heatmap(m.values, m.speakers, m.models, "val loss (nats/char): model (row) on speaker's text (column)",
                         colorscale="Viridis_r", colorbar_title="nats/char", x_title="text of (val split)",
                         y_title="model trained on", height=170 + 60 * len(m.models), hover_name="val loss")
    fig.update_traces(text=cells, texttemplate="%{text}", textfont={"size": 13})
    fig.update_layout(xaxis={"tickangle": 0, "tickfont": {"size": 12}}, yaxis={"tickfont": {"size": 12}},
                      shapes=[{"type": "rect", "xref": "x", "yref": "y", "x0": m.speakers.index(s) - 0.5,
                               "x1": m.speakers.index(s) + 0.5, "y0": i - 0.5, "y1": i + 0.5,
                               "line": {"color": "white", "width": 4}}
                              for i, s in enumerate(m.models) if s in m.speakers])
    st.plotly_chart(fig, key="compare_matrix")
    st.caption("White boxes: a model on its own speaker's text (the diagonal). ★ the lowest loss in a row "
               "(the text that model finds easiest); ● the lowest in a column (the model that predicts that "
               "text best). Compare down a column for a fair test: same text, different models; across a "
               "row the texts differ, and some are simply easier to predict. The same numbers as "
               "`python -m core eval --checkpoint RUN --speaker NAME`.")
    for note in m.notes:
        st.caption(note)

    verdicts = m.verdicts()
    lines = []
    for v in verdicts:
        others = ", ".join(f"{k}'s model {x:.3f}" for k, x in v["others"].items())
        if v["own_best"]:
            lines.append(f"- :green[:material/check_circle:] **{v['speaker']}**: their own model scores their "
                         f"text best, {v['own']:.3f}" + (f" (vs {others})." if others else "."))
        else:
            lines.append(f"- :red[:material/cancel:] **{v['speaker']}**: {v['best_model']}'s model scores this "
                         f"text better ({v['best']:.3f}) than their own ({v['own']:.3f}).")
    wins = sum(v["own_best"] for v in verdicts)
    if len(m.models) < 2:
        st.markdown("Only one speaker has a model, so there is no other model to compare it with.")
    st.markdown(f"**Does each speaker's own model score that speaker's text best? "
                f"{'Yes' if wins == len(verdicts) else 'No'}: {wins} of {len(verdicts)}.**\n\n"
                + "\n".join(lines))
    if wins < len(verdicts):
        st.caption("A speaker's own model can lose when another model is simply better at English overall "
                   "(trained on more text, for more steps, or with more parameters): each number mixes the "
                   "speaker's style with the model's general skill.")

    st.subheader("Who said it?")
    st.markdown("Paste any passage. Each model scores every character given the ones before it; the model "
                "least surprised by the passage is the guess.")
    source = st.selectbox("Start from a real excerpt of", list(runs), key="compare_source",
                          help="A short passage from this speaker's validation text (never trained on)")
    _, val_text = state.speaker(source, models[source].record.clean).split()
    default = excerpt(val_text, 300)
    text = st.text_area("Passage", value=default, key=f"compare_passage_{source}", height=120,
                        max_chars=MAX_PASSAGE_CHARS, help=f"Up to {MAX_PASSAGE_CHARS:,} characters")
    if not text.strip():
        st.warning("The passage is empty: type or paste some text.")
        st.stop()
    unknown = sorted({c for mm in models.values() for c in mm.tokenizer.unknown(text)})
    if unknown:
        st.error("These characters are not in the models' vocabulary: " + ", ".join(f"{c!r}" for c in unknown)
                 + ". Remove them to continue.", icon=":material/error:")
        st.stop()

    g = scored_passage(key, text, models)
    names, means, probs = list(g.mean_loss), list(g.mean_loss.values()), list(g.probabilities.values())
    truth = f" It really is {source}." if text == default else ""
    said = fmt.posterior(g.probabilities[g.guess], len(g.probabilities))
    st.success(f"Guess: **{g.guess}** ({said}), from {fmt.count(g.chars)} scored characters.{truth}",
               icon=":material/record_voice_over:")
    b1, b2 = st.columns(2)
    colors = [charts.speaker_color(n) for n in names]  # each speaker's model in the speaker's colour
    fig = charts.bar(names, means, "mean loss per character (lower: less surprised)", y_title="nats/char",
                     height=300, color=colors)
    fig.update_traces(text=[f"{v:.3f}" for v in means], textposition="outside", cliponaxis=False)
    b1.plotly_chart(fig, key="compare_mean_loss")
    fig = charts.bar(names, probs, "the guess: P(speaker | passage)", y_title="probability", height=300,
                     color=colors)
    fig.update_traces(text=[fmt.posterior(p, len(probs)) for p in probs], textposition="outside", cliponaxis=False)
    fig.update_yaxes(range=[0, 1.1], tickformat=".0%")
    b2.plotly_chart(fig, key="compare_guess")
    st.caption("The guess is Bayes' rule with equal priors: P(speaker | passage) is proportional to the "
               "probability the speaker's model gives the whole passage, exp(-total loss), so it is a softmax "
               "over minus the **total** loss (nats summed over the characters), not the mean. Small "
               "per-character differences add up over hundreds of characters, so the guess is usually "
               "confident; the mean loss on the left shows how close the models really are.")

    st.markdown("**Surprisal, character by character** (one row per model)")
    st.html(legend_html())
    for name, mean in g.mean_loss.items():
        s = g.surprisal[name]
        st.markdown(f"{name}'s model · mean {mean:.3f} nats/char")
        st.html(surprisal_html(text, s))

attribution_section.render(speakers)
