"""A set as a Rekordbox XML collection (the "rekordbox xml" / Imported Library format).

The file holds a COLLECTION with one TRACK per track of the set (TrackID = its position,
Name, Artist, Album, Genre, TotalTime in whole seconds, AverageBpm, Tonality, Comments
and Location) and, under PLAYLISTS, the ROOT folder with one playlist named after the
set whose entries point at the TrackIDs in the set's order. Rekordbox reads it through
Preferences > Advanced > rekordbox xml > Imported Library (docs/formats.md).

- Location is a ``file://localhost/`` URI of the absolute path, percent-encoded
  (``file://localhost/Users/dj/Music/a%20b.mp3``, ``file://localhost/C:/Music/a.mp3``):
  the format has no relative paths, so `relative_to` does not apply to it. (pyrekordbox's
  own `encode_path` writes ``file://localhost//Users/...`` for POSIX paths, which is why
  this module writes the document itself; the tests read it back with pyrekordbox.)
- Tonality is the key's musical name in the spelling DJ tools share (``Am``, ``F#m``,
  ``Db``), which Rekordbox shows in the notation the user chose.
- Comments carries the track's note (track_notes): how the set gets into this track.
- A track with an analysed structure carries its beat grid as one ``TEMPO`` entry
  (Inizio = the first downbeat in seconds, Bpm, Metro "4/4", Battito 1: that beat is
  beat 1 of a bar) and its mix cues as memory cues: ``POSITION_MARK`` Type 0 (a cue),
  Num -1 (a memory cue, no hot cue pad), Start in seconds, named after the transition
  ("4->5 mix in, bar 1"; set_cues.py). The file is a new one, never Rekordbox's own
  collection; how Rekordbox's import treats a track it already holds: docs/formats.md.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from urllib.parse import quote

from djcurator_core.core.keys import parse_key
from djcurator_core.core.report.justify import SetResult
from djcurator_core.files.dj_formats.playlist import PlaylistError
from djcurator_core.files.dj_formats.set_cues import TrackCues, set_cues
from djcurator_core.files.dj_formats.track_notes import track_notes
from djcurator_core.files.dj_formats.xml_document import serialise, xml_text

PRODUCT = {"Name": "beets-djset", "Version": "1", "Company": "beets-djset"}
DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>'


def location_uri(track_path: str) -> str:
    """The Location of a file: ``file://localhost`` + its absolute path with '/' as the
    separator (a Windows drive keeps its colon), percent-encoded as a URI path."""
    path = os.path.abspath(track_path).replace(os.sep, "/")
    if not path.startswith("/"):  # "C:/Music/a.mp3"
        path = "/" + path
    return "file://localhost" + quote(path, safe="/:")


def _number(value: float) -> str:
    return f"{value:.2f}"


def _track_attributes(position: int, track, note: str) -> dict[str, str]:
    if not track.path:
        raise PlaylistError(f"track {track.id} ({track.label}) has no file path")
    attributes = {"TrackID": str(position), "Name": track.title or track.label}
    for field, value in (("Artist", track.artist), ("Album", track.album), ("Genre", track.genre)):
        if value:
            attributes[field] = value
    if track.duration is not None:
        attributes["TotalTime"] = str(round(track.duration))
    if track.bpm is not None:
        attributes["AverageBpm"] = _number(track.bpm)
    key = parse_key(track.key)
    if key is not None:
        attributes["Tonality"] = key.name
    attributes["Comments"] = note
    attributes["Location"] = location_uri(track.path)
    return {name: xml_text(value) for name, value in attributes.items()}


def _seconds(value: float) -> str:
    return f"{value:.3f}"


def _add_grid_and_cues(element: ET.Element, marks: TrackCues) -> None:
    grid = marks.grid
    if grid is not None:
        ET.SubElement(
            element,
            "TEMPO",
            Inizio=_seconds(grid.first_downbeat),
            Bpm=_number(grid.bpm),
            Metro=f"{grid.beats_per_bar}/4",
            Battito="1",
        )
    for cue in marks.cues:
        ET.SubElement(
            element,
            "POSITION_MARK",
            Name=xml_text(cue.name),
            Type="0",
            Start=_seconds(cue.seconds),
            Num="-1",
        )


def render_rekordbox_xml(result: SetResult, name: str) -> str:
    """The Rekordbox XML document of the set: its tracks and one playlist called `name`."""
    root = ET.Element("DJ_PLAYLISTS", Version="1.0.0")
    ET.SubElement(root, "PRODUCT", PRODUCT)
    collection = ET.SubElement(root, "COLLECTION", Entries=str(len(result.tracks)))
    notes = track_notes(result)
    marks = set_cues(result)
    for position, track in enumerate(result.tracks, 1):
        element = ET.SubElement(
            collection, "TRACK", _track_attributes(position, track, notes[position - 1])
        )
        _add_grid_and_cues(element, marks[position - 1])
    playlists = ET.SubElement(root, "PLAYLISTS")
    folder = ET.SubElement(playlists, "NODE", Type="0", Name="ROOT", Count="1")
    playlist = ET.SubElement(
        folder,
        "NODE",
        Name=xml_text(" ".join(name.split())),
        Type="1",
        KeyType="0",  # entries name TrackIDs (1 would be Locations)
        Entries=str(len(result.tracks)),
    )
    for position in range(1, len(result.tracks) + 1):
        ET.SubElement(playlist, "TRACK", Key=str(position))
    return serialise(root, DECLARATION)
