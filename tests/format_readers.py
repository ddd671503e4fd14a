"""Reading written playlists back the way the DJ apps' libraries read them: Rekordbox XML
with pyrekordbox, Traktor NML with traktor-nml-utils. Each reader returns the playlist's
tracks in its order, as the library parsed them, plus the file each one points at."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote, urlparse

from pyrekordbox import RekordboxXml
from traktor_nml_utils import TraktorCollection


def rekordbox_path(track) -> str:
    """The file a Rekordbox TRACK points at. pyrekordbox's own decoding strips
    "file://localhost/" and so loses the leading "/" of POSIX paths; decode the URI."""
    uri = urlparse(track._element.get("Location"))
    assert (uri.scheme, uri.netloc) == ("file", "localhost"), uri
    return unquote(uri.path)


def rekordbox_playlist(path: Path, name: str) -> list:
    """The TRACKs of playlist `name`, in its order (entries are TrackIDs)."""
    xml = RekordboxXml(path)
    playlist = xml.get_playlist(name)
    assert playlist.is_playlist and playlist.key_type == "TrackID"
    by_id = {track["TrackID"]: track for track in xml.get_tracks()}
    tracks = [by_id[key] for key in playlist.get_tracks()]
    assert xml.num_tracks == len(tracks)
    return tracks


def nml_path(location) -> str:
    """The file an NML LOCATION points at (VOLUME is empty off macOS/Windows)."""
    assert location.dir.startswith("/:") and location.dir.endswith("/:"), location.dir
    folders = "".join(f"{part}/" for part in location.dir.split("/:") if part)
    return "/" + folders + location.file


def nml_playlist(path: Path, name: str) -> list:
    """The collection ENTRYs of the one playlist (named `name`), in its order."""
    nml = TraktorCollection(path).nml
    (node,) = nml.playlists.node.subnodes.node
    assert (node.type, node.name) == ("PLAYLIST", name)
    assert node.playlist.entries == len(node.playlist.entry) == nml.collection.entries
    by_key = {
        f"{e.location.volume}{e.location.dir}{e.location.file}": e for e in nml.collection.entry
    }
    assert all(entry.primarykey.type == "TRACK" for entry in node.playlist.entry)
    return [by_key[entry.primarykey.key] for entry in node.playlist.entry]


def all_exist(paths) -> bool:
    return all(os.path.isabs(path) and os.path.isfile(path) for path in paths)
