"""AppTest: every page that shows a table prints its numbers through ui.fmt (issue #23, "numbers
printed raw"): a missing value is the placeholder "—", never "None" or "nan", and no number is
written out as text with an exponent or a long run of zeros. On copies of the shipped runs: the
speaker models, the base and its fine-tunes, the ladder."""
from __future__ import annotations

import pytest
from apptest_helpers import assert_no_raw_numbers, open_page
from helpers import ROOT, SHIPPED, copy_shipped, one_thread  # noqa: F401 (autouse)

PAGES = ("home", "tokens", "speeches", "batches", "bigram", "attention", "ladder", "generate", "compare", "speak",
         "heads")


@pytest.fixture(scope="module")
def runs_root(tmp_path_factory):
    src = ROOT / "checkpoints"
    names = tuple(p.name for p in sorted(src.iterdir())
                  if (p / "model.pt").exists() and (p / "meta.json").exists() and not (p / "trainer.lock").exists()
                  and (p.name in SHIPPED.values() or "-ladder-" in p.name or "sotu-base-gpt-tiny" in p.name))
    return copy_shipped(tmp_path_factory.mktemp("numbers-runs"), names)


@pytest.mark.parametrize("page", PAGES)
def test_no_table_prints_none_or_raw_floats(runs_root, monkeypatch, page):
    monkeypatch.setenv("PODIUM_CHECKPOINTS", str(runs_root))
    at = open_page(page, timeout=240)
    assert_no_raw_numbers(at)
