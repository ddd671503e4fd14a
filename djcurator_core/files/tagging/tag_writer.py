"""Write analysed BPM, key, energy (and structure) into a file's tags, the way DJ tools
write them.

The mirror image of files/tagging/tags.py (the reader), so that what `beet djanalyze -w` writes
reads back the same:

- ID3 (MP3, WAV, AIFF): TBPM "172.30", TKEY "F#m", TXXX:EnergyLevel "7".
- Vorbis comments (FLAC, Ogg Vorbis, Opus): BPM, INITIALKEY, ENERGYLEVEL.
- MP4 (M4A): tmpo (whole BPM: the atom holds an integer) plus the precise value in the
  freeform ----:com.apple.iTunes:BPM, freeform initialkey and EnergyLevel.
- The structure (beat grid, phrases, intro/outro) as its stored JSON text
  (structure_tag.py) in TXXX:DJSET_STRUCTURE, the Vorbis comment DJSET_STRUCTURE or the
  MP4 freeform DJSET_STRUCTURE: no DJ app reads it; it keeps the analysis with the file.

An estimated key also gets its confidence (0..1, two decimals) in a tag of its own:
TXXX:KeyConfidence, KEYCONFIDENCE, freeform KeyConfidence. The key tag itself stays a
plain valid key, so that every DJ tool still reads it; a tool (or a user) who wants to
know whether to trust it reads the confidence beside it (below 0.5: uncertain, see
docs/analyze.md). DJ tools leave tags they do not know alone.

Only the values given are written; every other tag of the file is left as it was. The
key is written as its musical name ("Am", "F#m", "Db"), which fits the ID3 spec's three
characters and which every DJ tool reads.
"""

from __future__ import annotations

import os

import mutagen
from mutagen.id3 import ID3, TBPM, TKEY, TXXX
from mutagen.mp4 import MP4FreeForm, MP4Tags

from djcurator_core.errors import first_line
from djcurator_core.files.audio_decode import DecodeError, check_regular_file
from djcurator_core.files.tagging.structure_tag import STRUCTURE_TAG

_MP4_FREEFORM = "----:com.apple.iTunes:"


class TagWriteError(Exception):
    """The file's tags could not be written; the message is one line naming the file."""


def _bpm_text(bpm: float) -> str:
    return f"{bpm:.2f}"


def _confidence_text(confidence: float) -> str:
    return f"{confidence:.2f}"


def _write_id3(
    tags: ID3,
    bpm: float | None,
    key: str | None,
    energy: int | None,
    confidence: float | None,
    structure: str | None,
) -> None:
    if bpm is not None:
        tags.setall("TBPM", [TBPM(encoding=3, text=[_bpm_text(bpm)])])
    if key is not None:
        tags.setall("TKEY", [TKEY(encoding=3, text=[key])])
    if energy is not None:
        for frame in list(tags.getall("TXXX")):
            if frame.desc.replace(" ", "").lower() == "energylevel":
                tags.delall(frame.HashKey)
        tags.add(TXXX(encoding=3, desc="EnergyLevel", text=[str(energy)]))
    if confidence is not None:
        for frame in list(tags.getall("TXXX")):
            if frame.desc.replace(" ", "").lower() == "keyconfidence":
                tags.delall(frame.HashKey)
        tags.add(TXXX(encoding=3, desc="KeyConfidence", text=[_confidence_text(confidence)]))
    if structure is not None:
        for frame in list(tags.getall("TXXX")):
            if frame.desc.replace(" ", "").lower() == STRUCTURE_TAG.lower():
                tags.delall(frame.HashKey)
        tags.add(TXXX(encoding=3, desc=STRUCTURE_TAG, text=[structure]))


def _write_mp4(
    tags: MP4Tags,
    bpm: float | None,
    key: str | None,
    energy: int | None,
    confidence: float | None,
    structure: str | None,
) -> None:
    def freeform(name: str, text: str) -> None:
        for existing in [k for k in tags if k.lower() == (_MP4_FREEFORM + name).lower()]:
            del tags[existing]
        tags[_MP4_FREEFORM + name] = [MP4FreeForm(text.encode("utf-8"))]

    if bpm is not None:
        tags["tmpo"] = [int(round(bpm))]
        freeform("BPM", _bpm_text(bpm))
    if key is not None:
        freeform("initialkey", key)
    if energy is not None:
        freeform("EnergyLevel", str(energy))
    if confidence is not None:
        freeform("KeyConfidence", _confidence_text(confidence))
    if structure is not None:
        freeform(STRUCTURE_TAG, structure)


def _write_vorbis(
    tags,
    bpm: float | None,
    key: str | None,
    energy: int | None,
    confidence: float | None,
    structure: str | None,
) -> None:
    if bpm is not None:
        tags["BPM"] = [_bpm_text(bpm)]
    if key is not None:
        tags["INITIALKEY"] = [key]
    if energy is not None:
        tags["ENERGYLEVEL"] = [str(energy)]
    if confidence is not None:
        tags["KEYCONFIDENCE"] = [_confidence_text(confidence)]
    if structure is not None:
        tags[STRUCTURE_TAG] = [structure]


def write_dj_tags(
    path: str | bytes | os.PathLike[str],
    bpm: float | None = None,
    key: str | None = None,
    energy: int | None = None,
    key_confidence: float | None = None,
    structure: str | None = None,
) -> None:
    """Write the given values into the file's tags (see the module docstring)."""
    shown = os.fsdecode(path)
    try:
        check_regular_file(shown)
        audio = mutagen.File(shown)
        if audio is None:
            raise TagWriteError(f"{shown}: not an audio file with tags mutagen knows")
        if audio.tags is None:
            audio.add_tags()
        tags = audio.tags
        if isinstance(tags, ID3):
            _write_id3(tags, bpm, key, energy, key_confidence, structure)
        elif isinstance(tags, MP4Tags):
            _write_mp4(tags, bpm, key, energy, key_confidence, structure)
        elif hasattr(tags, "keys"):
            _write_vorbis(tags, bpm, key, energy, key_confidence, structure)
        else:
            raise TagWriteError(f"{shown}: no DJ tag convention for {type(tags).__name__}")
        audio.save()
    except TagWriteError:
        raise
    except DecodeError as exc:
        raise TagWriteError(str(exc)) from None
    except (mutagen.MutagenError, OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or first_line(exc)
        raise TagWriteError(f"{shown}: cannot write tags ({reason})") from None
