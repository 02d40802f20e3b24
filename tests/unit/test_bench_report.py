"""bench.report's writer keeps what it does not own: every other section, and it refuses (before
measuring, and again before writing) a file with text outside any section, which a rewrite would lose."""
from __future__ import annotations

import pytest
from helpers import ROOT

from bench import report


def test_the_shipped_benchmarks_file_has_no_text_outside_its_sections():
    assert report.loose_text((ROOT / "docs" / "benchmarks.md").read_text(encoding="utf-8")) == []


def test_a_hand_written_section_without_markers_is_refused_and_the_file_left_as_it_was(tmp_path):
    kept = "<!-- notes: by hand -->\n## Notes\n\nkept\n<!-- /notes -->"
    loose = "## Found by hand\n\nA paragraph nobody marked."
    md = tmp_path / "benchmarks.md"
    md.write_text("\n\n".join([report.HEAD, kept, loose, report.METHOD]) + "\n", encoding="utf-8")
    assert report.loose_text(md.read_text(encoding="utf-8")) == ["## Found by hand", "A paragraph nobody marked."]
    before = md.read_text(encoding="utf-8")
    with pytest.raises(SystemExit, match="1 paragraph|2 paragraph"):
        report.write({"machine": {}}, md)
    assert md.read_text(encoding="utf-8") == before
    md.write_text("\n\n".join([report.HEAD, kept, report.METHOD]) + "\n", encoding="utf-8")
    report.check_kept(md)  # marked: nothing to refuse
    assert report.kept_sections(md.read_text(encoding="utf-8")) == [kept]
