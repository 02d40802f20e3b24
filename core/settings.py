"""The settings of a run, as declared once on ModelConfig and TrainConfig (core.config.setting),
turned into what each front end needs: argparse flags for the CLI and the benchmark leg, the Train
page's form fields, and overrides read back from either."""
from __future__ import annotations

import argparse
from dataclasses import MISSING, dataclass, fields

from core.config import ModelConfig, TrainConfig


@dataclass(frozen=True)
class Setting:
    name: str           # the config field
    owner: str          # "model" or "train"
    kind: type          # int, float, str or bool
    default: object
    label: str
    help: str
    lo: object
    hi: object
    step: object
    flag: str           # --max-iters, --lr, ...
    choices: tuple
    models: tuple[str, ...]
    form: bool          # offered on the Train page's custom form
    cli: bool           # offered as a CLI flag


def _settings() -> tuple[Setting, ...]:
    out = []
    for owner, cls in (("model", ModelConfig), ("train", TrainConfig)):
        for f in fields(cls):
            m = f.metadata
            kind = {"int": int, "float": float, "str": str, "bool": bool}[str(f.type)]
            out.append(Setting(f.name, owner, kind, None if f.default is MISSING else f.default, m["label"],
                               m["help"], m["lo"], m["hi"], m["step"],
                               m["flag"] or "--" + f.name.replace("_", "-"), m["choices"], m["models"], m["form"],
                               m["cli"]))
    return tuple(out)


SETTINGS: tuple[Setting, ...] = _settings()
BY_NAME = {s.name: s for s in SETTINGS}


def form_settings(model_type: str) -> list[Setting]:
    return [s for s in SETTINGS if s.form and model_type in s.models]


def add_flags(parser: argparse.ArgumentParser, names: list[str] | None = None, defaults: dict | None = None) -> None:
    """One flag per CLI setting (or per name in names), typed and documented from its declaration.
    Without defaults a flag defaults to None: "not given", so the preset's value stands."""
    defaults = defaults or {}
    for s in SETTINGS:
        if (names is None and not s.cli) or (names is not None and s.name not in names):
            continue
        rng = f" [{s.lo:g}..{s.hi:g}]" if s.lo is not None and s.kind is not bool else ""
        kw = {"dest": s.name, "default": defaults.get(s.name), "help": f"{s.help}{rng}"}
        if s.kind is bool:  # a switch that is on by default (the ladder's pieces) is turned off with --no-X
            parser.add_argument(s.flag, action=argparse.BooleanOptionalAction if s.default is True else "store_true",
                                **kw)
        else:
            parser.add_argument(s.flag, type=s.kind, choices=s.choices or None,
                                metavar=None if s.choices else s.name.upper(), **kw)


def overrides_from(args: argparse.Namespace) -> dict:
    """The settings given on the command line (None and False mean: not given; 0 is a value, so no
    `in (None, False)`, which 0 == False would match: --seed 0 or --dropout 0 were dropped)."""
    return {s.name: v for s in SETTINGS
            if s.cli and (v := getattr(args, s.name, None)) is not None and (v is not False or s.default is True)}
