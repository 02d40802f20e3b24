"""Which run is whose model: one rule for every page and command.

A speaker's model is a finished run of the right role (record.ROLES: written when the run was
created, never guessed) trained on that speaker alone, at full size (at least the size of the preset
the shipped models use: never a ladder rung, never a custom toy), whose best weights come from a
real evaluation (not step 0: never a run stopped before it learned). Among those, the one whose
loss on the speaker's whole val split is lowest: the shipped run, or the learner's better one. The
newest is shown only when the learner picks it (the pages list every run). A set of speaker models
(Compare, Generate, who said it) shares one architecture, so like is compared with like."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from core.config import preset
from core.runs.record import BEST, RunRecord, best_loss

FULL_SIZE = {"gpt": "tiny", "bigram": "bigram"}          # the preset a speaker's model is at least as big as
KINDS = {"fine-tune": "fine-tuned", "scratch": "from scratch"}  # the roles of speaker models, as the pages say them


def full_size(r: RunRecord) -> bool:
    ref, _ = preset(FULL_SIZE[r.model_type], r.model.vocab_size)
    return r.model.n_params() >= ref.n_params()


def usable(r: RunRecord) -> bool:
    """Finished, with best weights from an evaluation after step 0, on disk."""
    return (r.status == "finished" and r.best_step is not None and r.best_step > 0
            and r.path is not None and (Path(r.path) / BEST).exists())


def own_loss(r: RunRecord, speaker: str | None = None) -> float:
    """The run's loss on the speaker's whole val split when measured (finished runs are), else its best
    estimate."""
    speaker = speaker or r.speakers[0]
    full = r.val_loss_full.get(speaker)
    return full if full is not None else best_loss(r)


def arch(r: RunRecord) -> tuple:
    """The architecture, vocabulary aside: runs of one arch compare like with like."""
    return tuple(sorted((k, v) for k, v in r.model.to_dict().items() if k != "vocab_size"))


def root_base(r: RunRecord, by_name: dict[str, RunRecord]) -> str | None:
    """The base a fine-tuned run descends from: its init_from, or through a stage between them (a run
    fine-tuned on some speakers that the speaker's run starts from) that run's own, up to a base run."""
    name, seen = r.init_from, {r.name}
    while name in by_name and by_name[name].role != "base" and by_name[name].init_from and name not in seen:
        seen.add(name)
        name = by_name[name].init_from
    return name


def candidates(records: Iterable[RunRecord], speaker: str, role: str = "scratch", model_type: str = "gpt",
               base: str | None = None) -> list[RunRecord]:
    """Every run that may be the speaker's model in this role, the best first. base: only the
    fine-tunes descending from this base run (root_base)."""
    records = list(records)
    by_name = {r.name: r for r in records}
    found = [r for r in records if usable(r) and r.role == role and r.model_type == model_type
             and r.speakers == [speaker] and full_size(r) and (base is None or root_base(r, by_name) == base)]
    return sorted(found, key=lambda r: (own_loss(r, speaker), r.name))


def speaker_model(records: Iterable[RunRecord], speaker: str, role: str = "scratch", model_type: str = "gpt",
                  base: str | None = None) -> RunRecord | None:
    found = candidates(records, speaker, role, model_type, base)
    return found[0] if found else None


def speaker_models(records: Iterable[RunRecord], speakers: Sequence[str], role: str = "scratch",
                   model_type: str = "gpt", base: str | None = None) -> dict[str, RunRecord | None]:
    """One model per speaker (None where there is none), all of one architecture: the one that
    covers the most speakers, then the one whose models score best on average."""
    records = list(records)
    per = {s: candidates(records, s, role, model_type, base) for s in speakers}
    by_arch: dict[tuple, dict[str, RunRecord]] = {}
    for s, found in per.items():
        for r in found:
            by_arch.setdefault(arch(r), {}).setdefault(s, r)  # the best of each arch, per speaker
    if not by_arch:
        return {s: None for s in speakers}
    chosen = min(by_arch.values(), key=lambda m: (-len(m), sum(own_loss(r, s) for s, r in m.items()) / len(m)))
    return {s: chosen.get(s) for s in speakers}


def model_sets(records: Iterable[RunRecord], speakers: Sequence[str]) -> dict[str, dict[str, RunRecord]]:
    """Per role of speaker models (fine-tune, scratch), the set when every speaker has a model."""
    records = list(records)
    out = {}
    for role in KINDS:
        found = speaker_models(records, speakers, role)
        if all(found.values()):
            out[role] = found
    return out


def fine_tune_bases(records: Iterable[RunRecord], speakers: Sequence[str]) -> list[str]:
    """The bases from which every speaker has a fine-tuned model, the set chosen by default
    (speaker_models: the best on average) first: one per size a learner can pick."""
    records = list(records)
    chosen = speaker_models(records, speakers, "fine-tune")
    if not all(chosen.values()):
        return []
    by_name = {r.name: r for r in records}
    found = {root_base(r, by_name) for s in speakers for r in candidates(records, s, "fine-tune")}
    full = [b for b in sorted(found) if all(speaker_models(records, speakers, "fine-tune", base=b).values())]
    first = root_base(next(iter(chosen.values())), by_name)
    return sorted(full, key=lambda b: b != first)


def labelled_sets(records: Iterable[RunRecord], speakers: Sequence[str]) -> dict[str, dict[str, RunRecord]]:
    """Every complete set of speaker models, by how the pages and who-said-it name it: "fine-tuned"
    (the default base's), "from scratch", and "fine-tuned from BASE" for each other base."""
    records = list(records)
    out = {KINDS[role]: found for role, found in model_sets(records, speakers).items()}
    for base in fine_tune_bases(records, speakers)[1:]:
        out[f"fine-tuned from {base}"] = speaker_models(records, speakers, "fine-tune", base=base)
    return out


def default_role(records: Iterable[RunRecord], speakers: Sequence[str]) -> str:
    """The role a page opens on: the fine-tuned models when every speaker has one, else from scratch."""
    return "fine-tune" if "fine-tune" in model_sets(records, speakers) else "scratch"


def bases(records: Iterable[RunRecord]) -> list[RunRecord]:
    """Finished base runs, the best first."""
    return sorted((r for r in records if usable(r) and r.role == "base"), key=lambda r: (best_loss(r), r.name))


def stages(records: Iterable[RunRecord], base: str) -> list[RunRecord]:
    """The stages of a base: finished fine-tunes of it (directly or through another stage) on several
    speakers at once, that speakers' runs may start from; the best first."""
    records = list(records)
    by_name = {r.name: r for r in records}
    found = [r for r in records if usable(r) and r.role == "fine-tune" and len(r.speakers) > 1
             and root_base(r, by_name) == base]
    return sorted(found, key=lambda r: (best_loss(r), r.name))


def describe(r: RunRecord) -> str:
    """How a page names the run it shows: name, role, steps, loss on its own speaker's val split."""
    role = {"fine-tune": f"fine-tuned from {r.init_from}", "scratch": "from scratch", "base": "base",
            "rung": "ladder rung"}[r.role]
    loss = own_loss(r)
    said = f", val {loss:.3f}" if loss != float("inf") else ""
    steps = f"{r.step:,} steps" + (f", weights from step {r.best_step:,}, its best"
                                    if r.best_step not in (None, r.step) else "")
    return f"{r.name} ({role}, {steps}, {r.n_params:,} parameters{said})"
