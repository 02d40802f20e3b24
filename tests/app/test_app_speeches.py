"""AppTest: the Speeches page shows each chosen speaker's real numbers, side by side."""
from __future__ import annotations

import pytest
from apptest_helpers import decode, figures, open_page, page_text

from core.text.corpus import DEFAULT_SPEAKERS, load_speaker


@pytest.fixture(autouse=True)
def _checkpoints(monkeypatch, tmp_path):
    monkeypatch.setenv("PODIUM_CHECKPOINTS", str(tmp_path))


def metrics(at, label: str) -> list[str]:
    return [m.value for m in at.metric if m.label == label]


def split_bars(at) -> dict[str, dict[str, list]]:
    """{"train": {speaker: n}, "val": {...}} read back from the split figure."""
    fig = next(f for f in figures(at) if any(t.get("orientation") == "h" for t in f["data"]))
    return {t["name"]: dict(zip(t["y"], decode(t["x"]).astype(int).tolist(), strict=True)) for t in fig["data"]}


def test_default_speakers_side_by_side_with_real_counts():
    at = open_page("speeches")
    assert not at.error
    assert len(at.columns) == len(DEFAULT_SPEAKERS)
    assert [h.value for h in at.subheader] == list(DEFAULT_SPEAKERS)
    speakers = [load_speaker(n) for n in DEFAULT_SPEAKERS]
    stats = [s.stats() for s in speakers]
    assert metrics(at, "Characters") == [f"{s['characters']:,}" for s in stats]
    assert metrics(at, "Words") == [f"{s['words']:,}" for s in stats]
    assert metrics(at, "Vocabulary") == [str(s["vocabulary"]) for s in stats]
    # the top-words tables are the speakers' own
    tables = [d.value for d in at.dataframe if list(d.value.columns) == ["word", "count"]]
    assert [t["word"].tolist() for t in tables] == [[w for w, _ in s.top_words(10)] for s in speakers]
    # one character chart per speaker, then the split drawn to scale with every speaker's real split
    assert len(figures(at)) == len(DEFAULT_SPEAKERS) + 1
    bars = split_bars(at)
    for s in speakers:
        train, val = s.split()
        assert bars["train"][s.name] == len(train) and bars["val"][s.name] == len(val)
    assert "90%" in page_text(at)
    # an excerpt of each speaker's latest speech
    assert speakers[0].speeches[-1].text[:80] in "\n".join(t.value for t in at.text)


def test_one_speaker_one_column():
    at = open_page("speeches")
    # AppTest runs a switched-to page without app.py (so without the sidebar's widgets): set the
    # sidebar's state directly, as the multiselect would.
    at.session_state["podium_speakers"] = ["Barack Obama"]
    at.run()
    assert not at.exception and not at.error
    assert len(at.columns) == 1
    assert [h.value for h in at.subheader] == ["Barack Obama"]
    assert metrics(at, "Characters") == [f"{load_speaker('Barack Obama').stats()['characters']:,}"]
    assert list(split_bars(at)["train"]) == ["Barack Obama"]


def test_cleaning_toggle_changes_the_counts():
    at = open_page("speeches")
    at.session_state["podium_clean"] = False
    at.run()
    assert not at.exception
    raw = [load_speaker(n, clean=False).stats()["characters"] for n in DEFAULT_SPEAKERS]
    assert metrics(at, "Characters") == [f"{n:,}" for n in raw]
