"""What a set becomes in Mixxx's database: the rows to add, in Mixxx's own units.

Pure: no database, no files. mixxx_database.py reads what Mixxx already has (the tracks at
the set's locations, their cues and beat grids) and the audio facts of the files Mixxx does
not know yet, and hands them to `plan_tracks`; it writes what comes back.

Checked against Mixxx 2.3.3 (schema version 32) by writing rows and starting the real app
(docs/mixxx.md, tests/test_mixxx_app.py):

- Positions (cues) are in samples of an interleaved stereo stream, whatever the file's
  channel count: seconds * sample rate * 2. An intro cue at 0.25 s on a 44.1 kHz file is
  position 22050, and Mixxx showed it at 0:00.25.
- Cue types (mixxx::CueType): 6 = intro, 7 = outro; each is a range: `position` is its
  start, `length` its length (samples), `hotcue` -1. Mixxx's Auto DJ mixes from the outro
  of one track to the intro of the next ("Full Intro + Outro").
- A beat grid is the `beats` blob with `beats_version` "BeatGrid-2.0": the protobuf
  message mixxx.track.io.BeatGrid {Bpm bpm = 1 {double bpm = 1}; Beat first_beat = 2
  {int32 frame_position = 1}}, the first beat in frames. Mixxx logged "Successfully
  deserialized BeatGrid", drew it, kept it through its analysis and saved it unchanged.
- `key` may be Camelot text ("8A": Mixxx reads it as Lancelot, the same numbering) with
  `key_id` the mixxx ChromaticKey (1-12 C..B major, 13-24 C..B minor); Mixxx showed "Am"
  and later stored its own key blob.
- A track Mixxx does not know gets a track_locations row and a library row like
  TrackDAO::addTracksAddTrack writes them, with `header_parsed` 0 so that Mixxx reads the
  file's tags itself on first use (it did, and set 1).
"""

from __future__ import annotations

import os
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field

from djcurator_core.core.keys import KeyParseError, parse_key
from djcurator_core.core.mixing.mix_point import MixPoint
from djcurator_core.core.models import Track
from djcurator_core.core.report.justify import SetResult

SAMPLES_PER_FRAME = 2  # Mixxx's engine is stereo: positions count two samples per frame
CUE_INTRO = 6
CUE_OUTRO = 7
BEAT_GRID_VERSION = "BeatGrid-2.0"


@dataclass(frozen=True)
class AudioFacts:
    """What Mixxx's library row holds about a file, read from the file (mutagen)."""

    filesize: int
    samplerate: int | None  # None: the file could not be read (no cues, no grid)
    channels: int | None = None
    duration: float | None = None
    bitrate: int | None = None  # kbit/s, as Mixxx stores it


@dataclass(frozen=True)
class KnownTrack:
    """A track Mixxx already has at the location (library row), with what it holds."""

    track_id: int
    samplerate: int | None
    has_beats: bool
    bpm_locked: bool
    cue_types: frozenset[int]
    hidden: bool = False  # mixxx_deleted = 1 ("Hide from library")


@dataclass(frozen=True)
class CueRow:
    type: int
    position: int  # samples (see module docstring)
    length: int  # samples


@dataclass(frozen=True)
class NewTrack:
    """The library row of a track Mixxx does not know yet (and its track_locations row,
    unless `location_id` names the one Mixxx already has)."""

    location: str
    filename: str
    directory: str
    filesize: int
    artist: str
    title: str
    album: str
    genre: str
    filetype: str
    duration: float
    samplerate: int
    channels: int
    bitrate: int
    bpm: float
    key_text: str
    key_id: int
    location_id: int | None = None


@dataclass(frozen=True)
class TrackPlan:
    """One set track: its location, the rows to add, and what was left and why."""

    location: str
    label: str
    known: KnownTrack | None
    new: NewTrack | None
    cues: tuple[CueRow, ...] = ()
    beats: bytes | None = None  # a grid to write (only where the track has none)
    grid_bpm: float | None = None
    unhide: bool = False
    notes: tuple[str, ...] = field(default=())


def mixxx_location(path: str) -> str:
    """The location Mixxx stores for a file: its absolute path with '/' (QFileInfo's
    absoluteFilePath, which also Windows paths use in Mixxx's database)."""
    return os.path.abspath(os.path.expanduser(path)).replace(os.sep, "/")


def key_id(key_text: str | None) -> tuple[str, int]:
    """(Camelot text, Mixxx ChromaticKey) of a key in any notation; ("", 0) when unknown."""
    try:
        key = parse_key(key_text)
    except KeyParseError:
        key = None
    if key is None:
        return "", 0
    return key.camelot, (13 if key.is_minor else 1) + key.pitch_class


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # int32 fields encode negatives as 10-byte varints
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def beat_grid_blob(bpm: float, first_beat_frame: int) -> bytes:
    """The BeatGrid-2.0 protobuf: bpm (double) and the first beat's frame (int32)."""
    bpm_message = b"\x09" + struct.pack("<d", bpm)
    beat_message = b"\x08" + _varint(first_beat_frame)
    return (
        b"\x0a"
        + _varint(len(bpm_message))
        + bpm_message
        + b"\x12"
        + _varint(len(beat_message))
        + beat_message
    )


def _span(track: Track, mix: MixPoint | None, incoming: bool) -> tuple[float, float] | None:
    """Seconds (start, end) of the intro (incoming) or outro of `track`: from the set's
    mix point where the transition has one, else from the analysed structure."""
    structure = track.structure
    if mix is not None:
        start = mix.in_time if incoming else mix.out_time
        bar = mix.in_bar if incoming else mix.out_bar
        if structure is not None:
            end = structure.time_of_bar(bar + mix.overlap_bars)
        else:
            end = start + mix.overlap_seconds
        return start, max(start, end)
    if structure is None:
        return None
    bars = structure.intro if incoming else structure.outro
    if bars is None:
        return None
    return structure.time_of_bar(bars.start), structure.time_of_bar(bars.end)


def _cue(kind: int, span: tuple[float, float], samplerate: int, duration: float | None):
    start, end = span
    if duration:
        start, end = min(start, duration), min(end, duration)
    rate = samplerate * SAMPLES_PER_FRAME
    position = round(start * rate)
    return CueRow(kind, position, max(0, round(end * rate) - position))


def plan_tracks(
    result: SetResult,
    known: Mapping[str, KnownTrack],
    audio: Mapping[str, AudioFacts],
) -> list[TrackPlan]:
    """One TrackPlan per set track, in set order.

    known: Mixxx's tracks by location (mixxx_location); audio: facts of the files Mixxx
    does not know (and of known ones whose row has no sample rate). Tracks Mixxx knows
    are never added again; they get an intro/outro cue only where they have none of that
    type, and a beat grid only where they have none and their BPM is not locked."""
    plans = []
    count = len(result.tracks)
    mixes = {t.position: t.mix for t in result.transitions}
    for index, track in enumerate(result.tracks):
        location = mixxx_location(track.path or "")
        label = track.title or os.path.basename(location)
        old = known.get(location)
        facts = audio.get(location)
        samplerate = (old.samplerate if old else None) or (facts.samplerate if facts else None)
        notes: list[str] = []
        incoming = mixes.get(index) if index > 0 else None  # transition into this track
        outgoing = mixes.get(index + 1) if index < count - 1 else None
        duration = track.duration or (track.structure.duration if track.structure else None)
        cues = []
        have = old.cue_types if old else frozenset()
        for kind, mix, is_intro in ((CUE_INTRO, incoming, True), (CUE_OUTRO, outgoing, False)):
            name = "intro" if is_intro else "outro"
            span = _span(track, mix, is_intro)
            if span is None:
                continue
            if kind in have:
                notes.append(f"kept its own {name} cue")
            elif not samplerate:
                notes.append(f"no {name} cue: the file's sample rate is unknown")
            else:
                cues.append(_cue(kind, span, samplerate, duration))
        beats = grid_bpm = None
        structure = track.structure
        wants_grid = structure is not None and structure.steady and samplerate
        if wants_grid and old is not None and (old.has_beats or old.bpm_locked):
            wants_grid = False  # never replace Mixxx's grid (or a locked BPM)
        if wants_grid:
            grid_bpm = structure.bpm
            beats = beat_grid_blob(grid_bpm, round(structure.first_downbeat * samplerate))
        new = None
        if old is None:
            text, kid = key_id(track.key)
            facts = facts or AudioFacts(filesize=0, samplerate=None)
            new = NewTrack(
                location=location,
                filename=location.rsplit("/", 1)[-1],
                directory=location.rsplit("/", 1)[0] or "/",
                filesize=facts.filesize,
                artist=track.artist,
                title=track.title,
                album=track.album,
                genre=track.genre,
                filetype=os.path.splitext(location)[1].lstrip(".").lower() or "?",
                duration=float(duration or facts.duration or 0.0),
                samplerate=samplerate or 0,
                channels=facts.channels or 0,
                bitrate=facts.bitrate or 0,
                bpm=float(grid_bpm or track.bpm or 0.0),
                key_text=text,
                key_id=kid,
            )
        plans.append(
            TrackPlan(
                location=location,
                label=label,
                known=old,
                new=new,
                cues=tuple(cues),
                beats=beats,
                grid_bpm=grid_bpm,
                unhide=bool(old and old.hidden),
                notes=tuple(notes),
            )
        )
    return plans
