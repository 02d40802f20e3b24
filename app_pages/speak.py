"""The lecture's last chapter made live: pretrain a base on every other president's addresses
(pretraining learns the language), fine-tune it on one speaker (fine-tuning learns the speaker),
and set the result beside the same speaker's model trained from scratch."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from core.limits import MAX_PROMPT_CHARS
from core.model.sampling import SPEAK_SAMPLE
from core.runs import catalog
from core.runs import checkpoints as ck
from core.runs import start as runs
from ui import fmt, journey, speak, state
from ui.watch import GROUP, SELECTED, WATCHED, watch

LORA_FROM = 2_000_000  # a base bigger than this is fine-tuned through LoRA adapters by default

journey.header(__file__)
st.markdown(
    "A speaker's own addresses are a few hundred thousand characters: a small model trained on them alone "
    "learns English and the speaker at once, and learns English badly (*hofgen people*). The lecture ends on "
    "the fix: **pretraining** on a large body of text learns the language, then **fine-tuning** the same "
    "weights on the speaker, with a small learning rate for a few hundred steps, learns the speaker. Here "
    "the base model read every other president's State of the Union addresses (none of the chosen speakers' "
    "text, so their validation text is new to it); each speaker's model starts from its weights.")

bases = speak.bases()
if not bases:
    st.info("No base model yet. Pretrain one with `python -m core pretrain` (about 12 minutes on 2 CPU cores "
            "for the tiny architecture), or start one from the Train page.")
    st.stop()
base = {b.name: b for b in bases}[st.selectbox("Base model", [b.name for b in bases], key="speak_base",
                                               help="A run pretrained on many presidents' addresses")]
st.caption(f"**{base.name}**: {base.model.n_params():,} parameters, {base.step:,} steps on {len(base.speakers)} "
           f"presidents' addresses, vocabulary of {base.model.vocab_size} characters, best val loss "
           + (f"{base.best_val_loss:.3f}" if base.best_val_loss is not None else "?"))

records = state.runs("gpt")
speakers = state.chosen_speakers()
scratch_runs = catalog.speaker_models(records, speakers, "scratch")  # full size: never a ladder rung
tuned_runs = catalog.speaker_models(records, speakers, "fine-tune", base=base.name)
stages = {r.init_from for r in tuned_runs.values() if r is not None and r.init_from != base.name}
rows, trio = [], {}
with state.friendly_errors():
    for s in speakers:
        ft, scratch = tuned_runs.get(s), scratch_runs.get(s)
        trio[s] = (ft, scratch)
        seen = speak.seen_in_pretraining(base, s)
        rows.append({"speaker": s + (" (seen in pretraining)" if seen else ""),
                     "base, zero-shot": speak.zero_shot(*ck.weights_key(base.path), s, True),
                     "fine-tuned": speak.val_loss(ft, s) if ft else None,
                     "from scratch": speak.val_loss(scratch, s) if scratch else None,
                     "fine-tuned run": ft.name if ft else "not yet",
                     "scratch run": scratch.name if scratch else "none"})
    st.subheader("Loss on each speaker's validation text (nats per character, lower is better)")
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", placeholder=fmt.MISSING,
                 column_config={k: st.column_config.NumberColumn(format="%.3f")
                                for k in ("base, zero-shot", "fine-tuned", "from scratch")})
    for stage in sorted(stages):
        via = next((r for r in records if r.name == stage), None)
        if via is not None:
            st.caption(f"Fine-tuned through a stage: **{stage}** first continued {base.name} on "
                       f"{', '.join(via.speakers)} ({via.step:,} steps); the speakers' runs start from it.")
    if any(speak.seen_in_pretraining(base, s) for s in speakers):
        st.warning("A speaker marked *seen in pretraining* has addresses in the base model's training text (its "
                   "train split; never its validation text): the speaker's voice is not new to the base, so its "
                   "losses here flatter the base.")

st.subheader("One prompt, one seed, three models")
c1, c2, c3 = st.columns([3, 1, 1])
PROMPT, CHARS, SEED, TEMPERATURE = SPEAK_SAMPLE  # the defaults the shipped runs' probes.json holds
prompt = c1.text_input("Prompt", PROMPT, key="speak_prompt", max_chars=MAX_PROMPT_CHARS)
seed = c2.number_input("Seed", 0, 2**31 - 1, SEED, key="speak_seed")
temperature = c3.slider("Temperature", 0.1, 1.5, TEMPERATURE, 0.05, key="speak_temperature")
with state.friendly_errors():
    for s in speakers:
        ft, scratch = trio.get(s, (None, None))
        st.markdown(f"**{s}**")
        cols = st.columns(3)
        for col, (label, run) in zip(cols, (("base", base), ("fine-tuned", ft), ("from scratch", scratch))):
            if run is None:
                col.caption(f"{label}: no run yet")
                continue
            text = speak.sample(*ck.weights_key(run.path), prompt, CHARS, int(seed), float(temperature))
            col.caption(f"{label} · {run.name}")
            col.code(prompt + text, language=None, wrap_lines=True)


def fine_tune(speaker: str, start_from: str, how: str) -> None:
    try:
        started = runs.start_group([runs.RunRequest.make([speaker], "gpt", how, state.cleaning(), start_from)],
                                   state.runs_root())
    except state.USER_ERRORS as e:
        st.session_state["speak_msg"] = ("error", f"Nothing was started: {e}")
        return
    r = started[0].record
    st.session_state[GROUP], st.session_state[SELECTED] = r.group, r.name
    watch([r.name, *(st.session_state.get(WATCHED) or [])])
    st.session_state["speak_msg"] = ("success", f"Started **{r.name}** from **{start_from}**: follow it on the "
                                                "Train page.")


st.subheader("Fine-tune another speaker")
names = state.speaker_names()
starts = {r.name: r for r in catalog.stages(records, base.name)}  # the base's stages, then the base itself
starts[base.name] = base
c1, c2 = st.columns(2)
who = c1.selectbox("Speaker", names, index=names.index("Abraham Lincoln") if "Abraham Lincoln" in names else 0,
                   key="speak_new_speaker")
# By default a speaker the base has read starts from the base (Jimmy Carter, measured: 1.010 from the base,
# 1.015 through the recent stage); a new one from the stage the speakers above went through
known = speak.seen_in_pretraining(base, who)
used = base.name if known else next((n for n in sorted(stages) if n in starts), base.name)
start_from = c2.selectbox(
    "Start from", list(starts), index=list(starts).index(used), key=f"speak_start_{base.name}_{known}",
    format_func=lambda n: f"{n} (the base)" if n == base.name
    else f"{n} (a stage: {', '.join(map(fmt.surname, starts[n].speakers))})",
    help="The base itself, or a stage: the base first fine-tuned on some presidents' addresses. A stage near the "
         "speaker's time (its language, its topics) gives a new modern speaker a better start (the speakers "
         "above went through one); a speaker the base has read starts best from the base, which a stage "
         "has moved away from that speaker.")
c3, c4 = st.columns([8, 3], vertical_alignment="bottom")  # the button's label whole at 1400 px
HOW = {"lora": "LoRA adapters: rank 8, 400 steps", "finetune": "every weight: 600 steps"}
how = c3.radio("What trains", list(HOW), format_func=HOW.get, key=f"speak_how_{base.name}", horizontal=True,
               index=0 if base.model.n_params() > LORA_FROM else 1,
               help="LoRA trains a low-rank update of each projection with the base frozen: a few percent of the "
                    "weights, saved alone (a small file), and it overfits a speaker's few hundred thousand "
                    "characters less; every weight is the lecture's way. The default follows the base's size.")
c4.button("Fine-tune", key="speak_finetune", type="primary", icon=":material/play_arrow:",
          width="stretch", on_click=fine_tune, args=(who, start_from, how),
          help="In the background, from the chosen start; follow it on the Train page")
seen_by = [r.name for r in (base, starts[start_from]) if speak.seen_in_pretraining(r, who)]
if seen_by:
    st.caption(f"{who}'s train split is in {' and '.join(dict.fromkeys(seen_by))}'s training text: the model starts "
               "out knowing this speaker, and the losses for this speaker say so.")
if "speak_msg" in st.session_state:
    level, text = st.session_state["speak_msg"]
    getattr(st, level)(text)
    if level == "success":
        st.page_link("app_pages/train.py", label="Watch it train and learn to speak", icon=":material/model_training:")
