"""Raw DJ tags read straight from audio files with mutagen: BPM, key, energy, and the
structure `beet djanalyze --write` stores (files/tagging/structure_tag.py).

beets keeps BPM as an integer and rewrites some key spellings ("F# minor" becomes "Fm"),
so the exporter reads the file's own tags as DJ tools wrote them (see NOTES.md 2):

- ID3 (MP3, AIFF, WAV): TBPM, TKEY, TXXX:EnergyLevel, COMM "8A - Energy 6" / "9A - 5",
  TXXX:DJSET_STRUCTURE.
- Vorbis comments (FLAC, Ogg, Opus): BPM, INITIALKEY or KEY, ENERGYLEVEL, COMMENT,
  DJSET_STRUCTURE.
- MP4 (M4A, MP4): tmpo, freeform ----:com.apple.iTunes:initialkey / KEY / BPM /
  EnergyLevel / DJSET_STRUCTURE, ©cmt.

Values come back as they are in the file (key and structure text unparsed) apart from
BPM and energy,
which are numbers; unreadable numbers count as absent. No beets imports.

Only the tags are parsed where the format is plain from the file's first bytes and its
name (`_read_tags_only`): ID3v2 at the start of an .mp3 (only the four frames above are
decoded), FLAC, MP4. `mutagen.File` would also try every format it knows and parse the
audio stream's details (duration, bitrate), which the export does not need (the duration
is the library's `length`): a third to a half of the time per file. A file the tags-only
read fails on is read again with `mutagen.File`, so every error (and every result of a
file in any other format) is what mutagen.File gives; the one difference is that tags are
now read from a file whose tags are intact and whose audio is damaged.
"""

from __future__ import annotations

import fcntl
import math
import os
import re
import stat
from collections.abc import Iterable
from dataclasses import dataclass

import mutagen
from mutagen.flac import FLAC
from mutagen.id3 import COMM, ID3, TBPM, TKEY, TXXX, Frames_2_2
from mutagen.mp4 import MP4Tags
from mutagen.mp4._atom import Atoms

from djcurator_core.core.models import file_kind
from djcurator_core.errors import DJSetError, first_line
from djcurator_core.files.tagging.structure_tag import STRUCTURE_TAG

_VORBIS_KEY_FIELDS = ("initialkey", "key")
_MP4_FREEFORM = "----:com.apple.iTunes:"
# The ID3 frames _id3_tags reads (with their ID3v2.2 names, which mutagen upgrades): every
# other frame stays undecoded (cover art, lyrics...).
_ID3_FRAMES = {
    **{frame.__name__: frame for frame in (TBPM, TKEY, TXXX, COMM)},
    **{name: Frames_2_2[name] for name in ("TBP", "TKE", "TXX", "COM")},
}
_MP4_SUFFIXES = (".m4a", ".mp4", ".m4b", ".m4p", ".m4r", ".m4v")
_NOT_PLAIN = object()  # _read_tags_only: not a format it reads
_STRUCTURE_NAME = STRUCTURE_TAG.lower()

# "8A - Energy 6", "9A - 5", "Energy 7", "F#m - Energy 6": Mixed In Key's comment styles.
_COMMENT_RE = re.compile(
    r"^\s*(?:(?P<key>[0-9A-Ga-gm#\u266f\u266d]{1,4}(?:\s*(?:minor|major|min|maj))?)\s*[-/|]\s*)?"
    r"(?:energy\s*(?:level)?\s*:?\s*(?P<energy>\d{1,2}(?:\.\d+)?)"
    r"|(?P<bare>\d{1,2}(?:\.\d+)?))\b",
    re.IGNORECASE,
)


class TagReadError(DJSetError):
    """The file could not be opened or parsed; the message is one line naming the file."""


class NotAPlainFile(TagReadError):
    """The path is a FIFO, device, socket or folder: never read (a FIFO would block the
    reader until something writes to it, /dev/zero would never end)."""


@dataclass(frozen=True)
class DJTags:
    """DJ tags of one file; None where the file has no (usable) value."""

    bpm: float | None = None
    key: str | None = None  # raw text, e.g. "F# minor", "8A", "1m"
    energy: float | None = None  # 1-10 scale as written by Mixed In Key
    comment_key: str | None = None  # key text found in a "8A - Energy 6" comment
    structure: str | None = None  # DJSET_STRUCTURE text, unparsed (structure_tag.py)


def parse_number(text: object) -> float | None:
    """A positive number from tag text ("127.60", "124,5", " 126 "), else None."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    if isinstance(text, int | float) and not isinstance(text, bool):
        value = float(text)
    elif isinstance(text, str):
        try:
            value = float(text.strip().replace(",", "."))
        except ValueError:
            return None
    else:
        return None
    return value if value > 0 and math.isfinite(value) else None


def parse_energy_comment(text: str) -> tuple[float | None, str | None]:
    """Energy and key text from a Mixed In Key style comment, or (None, None).

    "8A - Energy 6" -> (6.0, "8A"); "9A - 5" -> (5.0, "9A"); "Energy 7" -> (7.0, None).
    A bare number is energy only when a key precedes it, so "2019 remaster" is not.
    """
    match = _COMMENT_RE.match(text or "")
    if not match:
        return None, None
    key = match.group("key")
    raw = match.group("energy") or (match.group("bare") if key else None)
    energy = parse_number(raw)
    if energy is None or not 1 <= energy <= 10:
        return None, None
    return energy, key


def _first_text(values: Iterable[object]) -> str | None:
    for value in values:
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        text = str(value).strip()
        if text:
            return text
    return None


def _dj_tags(
    bpm: float | None,
    key: str | None,
    energy: float | None,
    comments: Iterable[str],
    structure: str | None = None,
) -> DJTags:
    """DJTags with the key of the first energy comment, whose energy stands in for a
    missing energy tag."""
    comment_energy, comment_key = None, None
    for comment in comments:
        comment_energy, comment_key = parse_energy_comment(comment)
        if comment_energy is not None:
            break
    energy = energy if energy is not None else comment_energy
    return DJTags(bpm, key, energy, comment_key, structure)


def _id3_tags(tags: ID3) -> DJTags:
    bpm = parse_number(_first_text(tags["TBPM"].text)) if "TBPM" in tags else None
    key = _first_text(tags["TKEY"].text) if "TKEY" in tags else None
    energy, structure = None, None
    for frame in tags.getall("TXXX"):
        desc = frame.desc.replace(" ", "").lower()
        if desc == "energylevel" and energy is None:
            energy = parse_number(_first_text(frame.text))
        elif desc == _STRUCTURE_NAME and structure is None:
            structure = _first_text(frame.text)
    comments = [text for frame in tags.getall("COMM") for text in frame.text]
    return _dj_tags(bpm, key, energy, comments, structure)


def _vorbis_tags(tags) -> DJTags:
    def first(name: str) -> str | None:
        return _first_text(tags.get(name, []))

    key = next((k for k in (first(name) for name in _VORBIS_KEY_FIELDS) if k), None)
    comments = [*tags.get("comment", []), *tags.get("description", [])]
    energy = parse_number(first("energylevel"))
    return _dj_tags(parse_number(first("bpm")), key, energy, comments, first(_STRUCTURE_NAME))


def _mp4_tags(tags: MP4Tags) -> DJTags:
    freeform = {
        name[len(_MP4_FREEFORM) :].lower(): _first_text(values)
        for name, values in tags.items()
        if name.startswith(_MP4_FREEFORM)
    }
    bpm = parse_number(freeform.get("bpm"))
    if bpm is None and tags.get("tmpo"):
        bpm = parse_number(tags["tmpo"][0])
    key = freeform.get("initialkey") or freeform.get("key")
    energy = parse_number(freeform.get("energylevel"))
    return _dj_tags(bpm, key, energy, tags.get("\xa9cmt", []), freeform.get(_STRUCTURE_NAME))


def read_dj_tags(path: str | bytes | os.PathLike[str]) -> DJTags:
    """Read BPM, key and energy from the file's own tags.

    Raises TagReadError (one line naming the file) when the file is missing, not an audio
    file mutagen knows, or its tags cannot be parsed, whatever mutagen raised; NotAPlainFile
    for a FIFO, device or folder (never opened for reading). A file without tags gives an
    empty DJTags.
    """
    shown = os.fsdecode(path)
    try:
        with open_plain_file(path) as handle:
            tags = _read_tags(handle, shown)
    except TagReadError:
        raise
    except (mutagen.MutagenError, OSError) as exc:  # some carry no message at all
        reason = getattr(exc, "strerror", None) or first_line(exc)
        raise TagReadError(f"{shown}: cannot read tags ({reason})") from None
    except Exception as exc:  # a parser tripping over a damaged file
        reason, kind = first_line(exc), type(exc).__name__
        said = reason if reason == kind else f"{kind}: {reason}"
        raise TagReadError(f"{shown}: cannot read tags ({said})") from None
    return dj_tags_from(tags)


def dj_tags_from(tags: object) -> DJTags:
    """The DJ tags in a mutagen tag object (ID3, MP4Tags, Vorbis comments, APEv2; None:
    the file has no tags)."""
    if tags is None:
        return DJTags()
    if isinstance(tags, ID3):
        return _id3_tags(tags)
    if isinstance(tags, MP4Tags):
        return _mp4_tags(tags)
    if hasattr(tags, "get") and hasattr(tags, "keys"):  # VCommentDict, APEv2: by name
        return _vorbis_tags(_CaseInsensitive(tags))
    return DJTags()


def _read_tags(handle, shown: str):
    """The file's tag object (None: no tags): tags only where _read_tags_only can, else
    (and after any failure there) through mutagen.File, which also names the errors."""
    header = handle.read(128)
    try:
        tags = _read_tags_only(handle, header, shown.lower())
    except Exception:  # mutagen.File decides, with its own error
        tags = _NOT_PLAIN
    if tags is not _NOT_PLAIN:
        return tags
    handle.seek(0)
    audio = mutagen.File(handle)
    if audio is None:
        raise TagReadError(f"{shown}: not an audio file with tags mutagen knows")
    return audio.tags


def _read_tags_only(handle, header: bytes, name: str):
    """The tag object of an MP3 with ID3v2, a FLAC or an MP4 file, without parsing the
    audio stream: the same tags mutagen.File finds (it picks the same class for these
    first bytes and suffixes), or _NOT_PLAIN for any other file."""
    handle.seek(0)
    if header.startswith(b"ID3") and name.endswith(".mp3"):
        # as mutagen.mp3.MP3 loads it (ID3v1 at the end included), four frames decoded
        return ID3(handle, known_frames=_ID3_FRAMES)
    if header.startswith(b"fLaC") and name.endswith(".flac"):
        return FLAC(handle).tags
    if header[4:8] == b"ftyp" and name.endswith(_MP4_SUFFIXES):
        atoms = Atoms(handle)
        try:
            atoms[b"moov"]  # no movie box: mutagen.File says the file is damaged
        except KeyError:
            return _NOT_PLAIN
        return MP4Tags(atoms, handle) if MP4Tags._can_load(atoms) else None
    return _NOT_PLAIN


def open_plain_file(path: str | bytes | os.PathLike[str]):
    """The file opened for binary reading, only if it is a regular file.

    Opened non-blocking (a FIFO opens at once instead of waiting for a writer) and checked
    with fstat on the open descriptor, so a file swapped for a FIFO after a check by name
    is still caught; blocking mode is restored for the read. Raises NotAPlainFile or
    OSError. The handle's `name` is the path, which mutagen uses to guess the format."""
    handle = open(path, "rb", opener=_non_blocking_opener)  # noqa: SIM115 (returned)
    try:
        mode = os.fstat(handle.fileno()).st_mode
        if not stat.S_ISREG(mode):
            raise NotAPlainFile(f"{os.fsdecode(path)}: not a regular file ({file_kind(mode)})")
        flags = fcntl.fcntl(handle.fileno(), fcntl.F_GETFL)
        fcntl.fcntl(handle.fileno(), fcntl.F_SETFL, flags & ~os.O_NONBLOCK)
    except BaseException:
        handle.close()
        raise
    return handle


def _non_blocking_opener(path: str | bytes, flags: int) -> int:
    return os.open(path, flags | os.O_NONBLOCK)


class _CaseInsensitive:
    """Name lookup ignoring case, for Vorbis comments and APEv2 tags alike."""

    def __init__(self, tags) -> None:
        self._values: dict[str, list[str]] = {}
        names = list(tags.keys())  # VCommentDict iterates (name, value) pairs
        for name in names:
            values = tags[name]
            if not isinstance(values, list):  # APEv2 values
                values = [str(values)]
            self._values.setdefault(name.lower(), []).extend(str(v) for v in values)

    def get(self, name: str, default: list[str]) -> list[str]:
        return self._values.get(name.lower(), default)
