"""core/'s rooms keep to their rules, checked on the source (ast), so that a wrong-way import fails
here and not in a newcomer's head:
- each room imports only the ground floor, itself and the rooms before it:
  ground < text < model < train, probe < runs < lessons < cli; train and probe never import each other;
- train and probe touch no file; only runs/ writes under checkpoints/ (text/ may add a speaker's
  .txt to data/);
- nothing in core imports streamlit, nor core.cli (but cli itself and core.__main__); ui/ and the
  pages never import core.cli."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "core"
ORDER = {"ground": 0, "text": 1, "model": 2, "train": 3, "probe": 3, "runs": 4, "lessons": 5, "cli": 6}
ROOMS = [r for r in ORDER if r != "ground"]
WRITES = {"save", "write_text", "write_bytes", "atomic_write", "write_json", "mkdir", "rmtree", "unlink", "rename",
          "touch", "mkstemp", "append_metrics", "link", "symlink_to", "open:w"}  # calls that change files
READS = {"open", "load", "read_text", "read_bytes", "iterdir", "glob", "stat", "exists", "is_file", "is_dir"}


def room_of(module: str) -> str:
    """core.text.corpus -> text; core.errors -> ground; core -> ground."""
    parts = module.split(".")
    return parts[1] if len(parts) > 2 and parts[1] in ORDER else ("ground" if len(parts) < 3 or parts[1] not in
                                                                   ORDER else parts[1])


def modules() -> dict[str, Path]:
    out = {}
    for path in sorted(CORE.rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        out[".".join(rel.parts).removesuffix(".__init__")] = path
    return out


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) for every import, at the top or inside a function: `from core.x import y` names
    core.x.y when y is a module (a room's file), else core.x."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for a in node.names:
                full = f"{node.module}.{a.name}"
                found.append((node.lineno, full if full in MODULES or (CORE / full.split(".", 1)[1].replace(
                    ".", "/")).is_dir() else node.module))
    return found


def calls(path: Path) -> list[tuple[int, str]]:
    """(line, name) of every call; open() with a mode that writes is named "open:w"."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
            if name == "open":
                modes = [a.value for a in [*node.args[1:2], *(k.value for k in node.keywords if k.arg == "mode")]
                         if isinstance(a, ast.Constant) and isinstance(a.value, str)]
                out.append((node.lineno, "open:w" if any(set(m) & set("wax+") for m in modes) else "open"))
            else:
                out.append((node.lineno, name))
    return out


MODULES = modules()


def wrong_way(module: str, path: Path) -> list[str]:
    here = room_of(module)
    bad = []
    for line, target in imports(path):
        if target.split(".")[0] == "streamlit":
            bad.append(f"{module}:{line} imports streamlit")
        if not target.startswith("core.") and target != "core":
            continue
        there = room_of(target)
        if there == "cli" and here != "cli" and module != "core.__main__":
            bad.append(f"{module}:{line} imports {target} (nothing in core imports the CLI)")
        elif here != "ground" and there != here and ORDER[there] >= ORDER[here]:
            bad.append(f"{module}:{line} ({here}) imports {target} ({there}): a room imports only the rooms before it")
        elif here == "ground" and there != "ground" and module not in ("core", "core.__main__"):
            bad.append(f"{module}:{line} (the ground floor) imports {target} ({there})")
    return bad


def test_every_room_has_its_door_and_says_what_it_holds():
    for room in ROOMS:
        init = CORE / room / "__init__.py"
        assert init.exists(), room
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
        assert doc and len(doc) > 80, f"{room}/__init__.py: say what the room holds and what it knows nothing of"
    loose = sorted(p.name for p in CORE.glob("*.py"))
    assert loose == ["__init__.py", "__main__.py", "config.py", "device.py", "errors.py", "limits.py",
                     "settings.py"], loose


def test_no_import_points_back():
    bad = [b for m, p in MODULES.items() for b in wrong_way(m, p)]
    assert not bad, "\n".join(bad)


def test_train_and_probe_touch_no_file():
    bad = [f"{m}:{line} calls {name}" for m, p in MODULES.items() if room_of(m) in ("train", "probe")
           for line, name in calls(p) if name in WRITES | READS]
    assert not bad, "\n".join(bad)


def test_only_runs_writes_files():
    """Writes happen in runs/ (under checkpoints/) and in text/corpus.py (a speaker added to data/)."""
    allowed = {"core.text.corpus"}
    bad = [f"{m}:{line} calls {name}" for m, p in MODULES.items()
           if room_of(m) != "runs" and m not in allowed for line, name in calls(p) if name in WRITES]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("folder", ["ui", "app_pages"])
def test_the_pages_never_import_the_cli(folder):
    bad = [f"{p.relative_to(ROOT)}:{line} imports {t}" for p in (ROOT / folder).rglob("*.py")
           for line, t in imports(p) if t.startswith("core.cli")]
    assert not bad, "\n".join(bad)
    assert (ROOT / "app.py").exists()


def test_the_checker_sees_a_wrong_way_import(tmp_path):
    """The rules above fail on a file that breaks them (the test is not blind)."""
    fake = tmp_path / "gpt.py"
    fake.write_text("from core.runs import record\nimport streamlit as st\nfrom core.cli.main import main\n")
    bad = wrong_way("core.model.gpt", fake)
    assert len(bad) == 3 and "imports core.runs.record (runs)" in bad[0], bad
    probe = tmp_path / "lens.py"
    probe.write_text("from core.train import loop\nopen('x').read()\nopen('y', 'ab')\n")
    assert wrong_way("core.probe.lens", probe) and sorted(n for _, n in calls(probe) if n in READS | WRITES) == [
        "open", "open:w"]
