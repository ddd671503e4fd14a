"""A set as a Traktor NML file: collection entries plus one playlist in the set's order.

Traktor imports it with "Import Playlist" (docs/formats.md). Each ENTRY carries TITLE,
ARTIST, LOCATION, ALBUM, INFO (GENRE, COMMENT = the track's note from track_notes, KEY
in Open Key, Traktor's own notation, PLAYTIME), TEMPO (BPM) and MUSICAL_KEY (VALUE
0-11 = C..B major, 12-23 = C..B minor). The playlist's entries are PRIMARYKEYs of TYPE
TRACK whose KEY is VOLUME + DIR + FILE of the entry.

A track with an analysed structure also carries its beat grid and its mix cues as
``CUE_V2`` entries (START in milliseconds): the grid marker (TYPE 4, at the first
downbeat, with ``GRID BPM``) where one grid fits the whole track, and a stored cue
(TYPE 0, HOTCUE -1: no hot cue pad) at each mix point, named after its transition
("4->5 mix in, bar 1"; set_cues.py). The file is a new one, never Traktor's own
collection.nml; how Traktor's import treats a track it already holds: docs/formats.md.

Paths are absolute and split Traktor's way: VOLUME (a Windows drive "C:", the volume
name of a macOS "/Volumes/NAME/..." path, else the name of the startup volume), DIR
(each folder followed by "/:", starting with "/:") and FILE. NML has no relative paths,
so `relative_to` does not apply to it. Traktor runs on macOS and Windows: a file
written elsewhere (where no /Volumes entry names the startup volume) has an empty
VOLUME for non-/Volumes paths, and Traktor may need its Relocate function for them.

No library writes it: traktor-nml-utils can, but it is GPL-3.0-only and this project is
MIT, so the tests use it only to read the files back.
"""

from __future__ import annotations

import ntpath
import os
import uuid
import xml.etree.ElementTree as ET
from functools import cache

from djcurator_core.core.keys import parse_key
from djcurator_core.core.report.justify import SetResult
from djcurator_core.files.dj_formats.playlist import PlaylistError
from djcurator_core.files.dj_formats.set_cues import TrackCues, set_cues
from djcurator_core.files.dj_formats.track_notes import track_notes
from djcurator_core.files.dj_formats.xml_document import has_non_xml_characters, serialise, xml_text

NML_VERSION = "19"
CUE, GRID_MARKER = "0", "4"  # CUE_V2 TYPE: a cue point, the beat grid's anchor
DECLARATION = '<?xml version="1.0" encoding="UTF-8" standalone="no" ?>'


@cache
def startup_volume() -> str:
    """The macOS startup volume's name: the /Volumes entry that links to "/"
    ("Macintosh HD"), or "" where there is none."""
    try:
        names = sorted(os.listdir("/Volumes"))
    except OSError:
        return ""
    for name in names:
        try:
            if os.path.realpath(os.path.join("/Volumes", name)) == "/":
                return name
        except OSError:
            continue
    return ""


def nml_location(track_path: str, volume: str | None = None) -> tuple[str, str, str]:
    """(VOLUME, DIR, FILE) of a file. `volume` names the startup volume (default: found
    in /Volumes) for absolute POSIX paths outside /Volumes."""
    absolute = os.path.abspath(track_path)
    drive, rest = ntpath.splitdrive(absolute) if os.sep == "\\" else ("", absolute)
    parts = [part for part in rest.replace("\\", "/").split("/") if part]
    if not parts:
        raise PlaylistError(f"{track_path}: not a file path")
    if drive:
        found_volume = drive
    elif len(parts) > 2 and parts[0] == "Volumes":
        found_volume, parts = parts[1], parts[2:]
    else:
        found_volume = startup_volume() if volume is None else volume
    folders, file_name = parts[:-1], parts[-1]
    directory = "/:" + "".join(f"{folder}/:" for folder in folders)
    return found_volume, directory, file_name


def primary_key(volume: str, directory: str, file_name: str) -> str:
    """The KEY a playlist entry uses for a collection entry."""
    return f"{volume}{directory}{file_name}"


def playlist_uuid(name: str) -> str:
    """The same name gives the same UUID, so a rewritten set stays one playlist."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"beets-djset:{name}").hex


def _cue(entry: ET.Element, name: str, kind: str, seconds: float) -> ET.Element:
    return ET.SubElement(
        entry,
        "CUE_V2",
        NAME=xml_text(name),
        DISPL_ORDER="0",
        TYPE=kind,
        START=f"{seconds * 1000:.6f}",
        LEN="0.000000",
        REPEATS="-1",
        HOTCUE="-1",
    )


def _add_grid_and_cues(entry: ET.Element, marks: TrackCues) -> None:
    if marks.grid is not None:
        marker = _cue(entry, "Beat Marker", GRID_MARKER, marks.grid.first_downbeat)
        ET.SubElement(marker, "GRID", BPM=f"{marks.grid.bpm:.6f}")
    for cue in marks.cues:
        _cue(entry, cue.name, CUE, cue.seconds)


def _entry(collection: ET.Element, track, note: str, volume: str | None, marks: TrackCues) -> str:
    if not track.path:
        raise PlaylistError(f"track {track.id} ({track.label}) has no file path")
    if has_non_xml_characters(track.path):
        raise PlaylistError(f"track {track.id}: its path holds a control character")
    location = nml_location(track.path, volume)
    entry = ET.SubElement(collection, "ENTRY")
    if track.title:
        entry.set("TITLE", xml_text(track.title))
    if track.artist:
        entry.set("ARTIST", xml_text(track.artist))
    ET.SubElement(
        entry, "LOCATION", DIR=location[1], FILE=location[2], VOLUME=location[0], VOLUMEID=""
    )
    if track.album:
        ET.SubElement(entry, "ALBUM", TITLE=xml_text(track.album))
    info = ET.SubElement(entry, "INFO")
    if track.genre:
        info.set("GENRE", xml_text(track.genre))
    info.set("COMMENT", xml_text(note))
    key = parse_key(track.key)
    if key is not None:
        info.set("KEY", key.open_key)
    if track.duration is not None:
        info.set("PLAYTIME", str(round(track.duration)))
        info.set("PLAYTIME_FLOAT", f"{track.duration:.6f}")
    if track.bpm is not None:
        ET.SubElement(entry, "TEMPO", BPM=f"{track.bpm:.6f}", BPM_QUALITY="100.000000")
    if key is not None:
        value = key.pitch_class + (12 if key.is_minor else 0)
        ET.SubElement(entry, "MUSICAL_KEY", VALUE=str(value))
    _add_grid_and_cues(entry, marks)
    return primary_key(*location)


def render_traktor_nml(result: SetResult, name: str, *, volume: str | None = None) -> str:
    """The NML document: the set's tracks as collection entries and one playlist `name`
    in the set's order. `volume`: see nml_location."""
    root = ET.Element("NML", VERSION=NML_VERSION)
    ET.SubElement(root, "HEAD", COMPANY="www.native-instruments.com", PROGRAM="Traktor")
    ET.SubElement(root, "MUSICFOLDERS")
    collection = ET.SubElement(root, "COLLECTION", ENTRIES=str(len(result.tracks)))
    notes = track_notes(result)
    marks = set_cues(result)
    keys = [
        _entry(collection, track, notes[index], volume, marks[index])
        for index, track in enumerate(result.tracks)
    ]
    ET.SubElement(root, "SETS", ENTRIES="0")
    playlists = ET.SubElement(root, "PLAYLISTS")
    folder = ET.SubElement(playlists, "NODE", TYPE="FOLDER", NAME="$ROOT")
    subnodes = ET.SubElement(folder, "SUBNODES", COUNT="1")
    shown_name = xml_text(" ".join(name.split()))
    node = ET.SubElement(subnodes, "NODE", TYPE="PLAYLIST", NAME=shown_name)
    playlist = ET.SubElement(
        node, "PLAYLIST", ENTRIES=str(len(keys)), TYPE="LIST", UUID=playlist_uuid(shown_name)
    )
    for key in keys:
        entry = ET.SubElement(playlist, "ENTRY")
        ET.SubElement(entry, "PRIMARYKEY", TYPE="TRACK", KEY=key)
    # Traktor writes <X></X>, never <X/>: write it the way it writes it.
    return serialise(root, DECLARATION, short_empty_elements=False)
