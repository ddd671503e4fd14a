"""Writing a set into Mixxx's database: checked first, backed up, then one transaction.

Before anything is written: the database must exist (Mixxx creates it on its first
start), no running Mixxx may hold it (mixxx_running.py: Mixxx keeps the library in memory
and would overwrite or ignore rows written under it), its schema version must be one this
module was tested with (the settings row `mixxx.schema.version`), and every set track
must have a file. Then the database is copied next to itself
(`mixxxdb.sqlite.before-djset`, SQLite's backup API: a consistent copy) and the rows are
written in one transaction (BEGIN IMMEDIATE ... COMMIT): a failure rolls it back, and a
process killed halfway leaves a hot journal that SQLite rolls back on the next open, so
the database is as it was either way.

Only these tables are written: track_locations and library (tracks Mixxx does not know,
the way TrackDAO adds them; a beat grid for a known track that has none), cues (intro and
outro where a track has none of that type), Playlists and PlaylistTracks (the set's
playlist, the Auto DJ queue when asked), crates and crate_tracks (when asked). Existing
cues, beat grids and tracks are never changed, except that a track hidden in Mixxx
("Hide from library") is shown again when the set uses it, as Mixxx does when a hidden
track is added to a playlist.

DJSET_TEST_MIXXX_PAUSE (tests only): a file this module creates halfway through the
transaction before it waits 60 s, so that a test can kill the process mid-write.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from djcurator_core.core.report.justify import SetResult
from djcurator_core.errors import DJSetError
from djcurator_core.files.mixxx.mixxx_rows import (
    BEAT_GRID_VERSION,
    AudioFacts,
    KnownTrack,
    TrackPlan,
    mixxx_location,
    plan_tracks,
)
from djcurator_core.files.mixxx.mixxx_running import mixxx_holding

TESTED_SCHEMA_VERSIONS = (32,)  # Mixxx 2.3.x (2.3.3 checked: docs/mixxx.md)
TABLES_WRITTEN = (
    "track_locations",
    "library",
    "cues",
    "Playlists",
    "PlaylistTracks",
    "crates",
    "crate_tracks",
)
AutoDJMode = Literal["off", "append", "replace"]
AUTODJ_MODES: tuple[str, ...] = ("off", "append", "replace")
PLAYLIST_AUTODJ = 1  # Playlists.hidden of the Auto DJ queue (PlaylistDAO::PLHT_AUTO_DJ)
CUE_COLOR = 0xFF8000  # the colour Mixxx 2.3 gives the cues it places itself
BACKUP_SUFFIX = ".before-djset"
PAUSE_ENV = "DJSET_TEST_MIXXX_PAUSE"


class MixxxError(DJSetError):
    """The set cannot be written into the Mixxx database; one line naming why. Nothing
    was written."""


@dataclass(frozen=True)
class MixxxTarget:
    """Where and how: the database, the Auto DJ queue (off, append, replace), a crate."""

    database: str
    autodj: AutoDJMode = "off"
    crate: str | None = None


@dataclass
class MixxxWritten:
    database: Path
    playlist: str
    added: int = 0  # tracks Mixxx did not know
    matched: int = 0  # tracks it knew (by location)
    cues: int = 0
    grids: int = 0
    autodj: int = 0  # tracks put in the Auto DJ queue
    crate: str | None = None
    backup: Path | None = None
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = [
            f"playlist {self.playlist!r} in {self.database}",
            f"{self.added} tracks added, {self.matched} known",
            f"{self.cues} cues, {self.grids} beat grids",
        ]
        if self.autodj:
            parts.append(f"{self.autodj} in the Auto DJ queue")
        if self.crate:
            parts.append(f"crate {self.crate!r}")
        return "; ".join(parts)


def default_settings_folder(
    platform: str = sys.platform,
    home: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] = os.environ,
) -> Path:
    """Mixxx's settings folder (where mixxxdb.sqlite lives) on this platform, as the Mixxx
    manual's "Settings files" appendix gives it: ~/.mixxx on Linux; on macOS the sandboxed
    app's container (Mixxx 2.3 and later), else ~/Library/Application Support/Mixxx;
    %LOCALAPPDATA%\\Mixxx on Windows."""
    home_dir = Path(home) if home is not None else Path.home()
    if platform == "win32":
        local = environ.get("LOCALAPPDATA") or str(home_dir / "AppData" / "Local")
        return Path(local) / "Mixxx"
    if platform == "darwin":
        support = Path("Library") / "Application Support" / "Mixxx"
        sandboxed = home_dir / "Library" / "Containers" / "org.mixxx.mixxx" / "Data" / support
        return sandboxed if sandboxed.is_dir() else home_dir / support
    return home_dir / ".mixxx"


def default_database() -> Path:
    return default_settings_folder() / "mixxxdb.sqlite"


def _connect(path: Path) -> sqlite3.Connection:
    con = sqlite3.connect(path, timeout=2.0, isolation_level=None)
    con.row_factory = sqlite3.Row
    return con


def schema_version(con: sqlite3.Connection) -> int | None:
    try:
        row = con.execute(
            "SELECT value FROM settings WHERE name = 'mixxx.schema.version'"
        ).fetchone()
    except sqlite3.DatabaseError:
        return None
    try:
        return int(row[0]) if row else None
    except (TypeError, ValueError):
        return None


def check_database(database: str | os.PathLike[str]) -> Path:
    """The database's path once it may be written: a MixxxError (one line) when it is
    missing, held by a running Mixxx, or of a schema version not tested."""
    path = Path(os.path.expanduser(database)).absolute()
    if not path.is_file():
        raise MixxxError(
            f"mixxx database {path} not found: start Mixxx once to create it, or set "
            "djset.mixxx.database"
        )
    holder = mixxx_holding(path)
    if holder is not None:
        raise MixxxError(
            f"mixxx database {path} is held by Mixxx: {holder}; quit Mixxx, then write "
            "the set again"
        )
    try:
        con = _connect(path)
        try:
            version = schema_version(con)
        finally:
            con.close()
    except sqlite3.Error as exc:
        raise MixxxError(f"mixxx database {path}: {exc}") from None
    if version not in TESTED_SCHEMA_VERSIONS:
        tested = ", ".join(str(v) for v in TESTED_SCHEMA_VERSIONS)
        shown = "none" if version is None else str(version)
        raise MixxxError(
            f"mixxx database {path} has schema version {shown}, not one this plugin was "
            f"tested with ({tested}, Mixxx 2.3): nothing written"
        )
    return path


def read_audio(location: str) -> AudioFacts:
    """What Mixxx's library row holds about the file (mutagen); the sample rate is None
    where mutagen cannot read the file (the track is added without cues or grid)."""
    size = os.path.getsize(location)
    try:
        import mutagen

        audio = mutagen.File(location)
    except Exception:  # any unreadable file: Mixxx reads it itself on first use
        audio = None
    info = getattr(audio, "info", None)
    if info is None:
        return AudioFacts(filesize=size, samplerate=None)
    bitrate = getattr(info, "bitrate", 0) or 0
    return AudioFacts(
        filesize=size,
        samplerate=getattr(info, "sample_rate", None) or None,
        channels=getattr(info, "channels", None),
        duration=getattr(info, "length", None),
        bitrate=int(bitrate // 1000) if bitrate > 1000 else int(bitrate),
    )


def _known_tracks(con: sqlite3.Connection, locations: list[str]):
    """(KnownTrack by location, track_locations id by location) of the set's files."""
    known: dict[str, KnownTrack] = {}
    location_ids: dict[str, int] = {}
    for start in range(0, len(locations), 500):
        chunk = locations[start : start + 500]
        marks = ",".join("?" * len(chunk))
        rows = con.execute(
            "SELECT tl.id AS location_id, tl.location, l.id AS track_id, l.samplerate, "
            "length(l.beats) AS beats_size, l.bpm_lock, l.mixxx_deleted "
            "FROM track_locations tl LEFT JOIN library l ON l.location = tl.id "
            f"WHERE tl.location IN ({marks})",
            chunk,
        ).fetchall()
        for row in rows:
            location_ids[row["location"]] = row["location_id"]
            if row["track_id"] is None:
                continue
            known[row["location"]] = KnownTrack(
                track_id=row["track_id"],
                samplerate=row["samplerate"] or None,
                has_beats=bool(row["beats_size"]),
                bpm_locked=bool(row["bpm_lock"]),
                cue_types=frozenset(),
                hidden=bool(row["mixxx_deleted"]),
            )
    if known:
        ids = {track.track_id: location for location, track in known.items()}
        types: dict[int, set[int]] = {}
        id_list = list(ids)
        for start in range(0, len(id_list), 500):
            chunk = id_list[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for row in con.execute(
                f"SELECT track_id, type FROM cues WHERE track_id IN ({marks})", chunk
            ):
                types.setdefault(row["track_id"], set()).add(row["type"])
        for track_id, location in ids.items():
            old = known[location]
            known[location] = KnownTrack(
                track_id=old.track_id,
                samplerate=old.samplerate,
                has_beats=old.has_beats,
                bpm_locked=old.bpm_locked,
                cue_types=frozenset(types.get(track_id, ())),
                hidden=old.hidden,
            )
    return known, location_ids


def _backup(con: sqlite3.Connection, path: Path) -> Path:
    """A consistent copy of the database next to it, replacing the previous one."""
    backup = path.with_name(path.name + BACKUP_SUFFIX)
    partial = path.with_name(path.name + BACKUP_SUFFIX + ".partial")
    copy = sqlite3.connect(partial)
    try:
        con.backup(copy)
    finally:
        copy.close()
    os.replace(partial, backup)
    return backup


def _pause_for_test(step: int, steps: int) -> None:
    marker = os.environ.get(PAUSE_ENV)
    if marker and step == steps // 2:
        Path(marker).write_text(str(os.getpid()))
        time.sleep(60)


def _insert_track(con, plan: TrackPlan, location_ids: Mapping[str, int]) -> int:
    new = plan.new
    assert new is not None
    location_id = location_ids.get(new.location)
    if location_id is None:
        location_id = con.execute(
            "INSERT INTO track_locations (location, filename, directory, filesize, "
            "fs_deleted, needs_verification) VALUES (?, ?, ?, ?, 0, 0)",
            (new.location, new.filename, new.directory, new.filesize),
        ).lastrowid
    beats = plan.beats
    return con.execute(
        "INSERT INTO library (artist, title, album, year, genre, tracknumber, location, "
        "comment, url, duration, bitrate, samplerate, cuepoint, bpm, channels, "
        "datetime_added, mixxx_deleted, played, header_parsed, filetype, replaygain, "
        "timesplayed, rating, key, beats, beats_version, beats_sub_version, bpm_lock, "
        "key_id, composer, grouping, album_artist, replaygain_peak, tracktotal) "
        "VALUES (?, ?, ?, '', ?, '', ?, '', '', ?, ?, ?, 0, ?, ?, CURRENT_TIMESTAMP, 0, 0, "
        "0, ?, 0, 0, 0, ?, ?, ?, ?, 0, ?, '', '', '', -1.0, '//')",
        (
            new.artist,
            new.title,
            new.album,
            new.genre,
            location_id,
            new.duration,
            new.bitrate,
            new.samplerate,
            new.bpm,
            new.channels,
            new.filetype,
            new.key_text,
            beats,
            BEAT_GRID_VERSION if beats else None,
            "" if beats else None,
            new.key_id,
        ),
    ).lastrowid


def _playlist(con, name: str) -> tuple[int, bool]:
    """(id, created) of the visible playlist named `name`: emptied when it exists."""
    row = con.execute(
        "SELECT id, locked FROM Playlists WHERE name = ? AND hidden = 0 ORDER BY id LIMIT 1",
        (name,),
    ).fetchone()
    if row is not None:
        if row["locked"]:
            raise MixxxError(f"mixxx playlist {name!r} is locked: unlock it in Mixxx or use --name")
        con.execute("DELETE FROM PlaylistTracks WHERE playlist_id = ?", (row["id"],))
        con.execute(
            "UPDATE Playlists SET date_modified = CURRENT_TIMESTAMP WHERE id = ?", (row["id"],)
        )
        return row["id"], False
    playlist_id = con.execute(
        "INSERT INTO Playlists (name, position, hidden, date_created, date_modified, locked) "
        "VALUES (?, COALESCE((SELECT MAX(position) FROM Playlists), 0) + 1, 0, "
        "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 0)",
        (name,),
    ).lastrowid
    return playlist_id, True


def _add_to_playlist(con, playlist_id: int, track_ids: list[int], first: int) -> None:
    con.executemany(
        "INSERT INTO PlaylistTracks (playlist_id, track_id, position, pl_datetime_added) "
        "VALUES (?, ?, ?, CURRENT_TIMESTAMP)",
        [(playlist_id, track_id, first + i) for i, track_id in enumerate(track_ids)],
    )


def _autodj(con, mode: str, track_ids: list[int]) -> int:
    row = con.execute(
        "SELECT id FROM Playlists WHERE hidden = ? ORDER BY id LIMIT 1", (PLAYLIST_AUTODJ,)
    ).fetchone()
    if row is None:
        raise MixxxError("mixxx database has no Auto DJ queue: start Mixxx once, then retry")
    if mode == "replace":
        con.execute("DELETE FROM PlaylistTracks WHERE playlist_id = ?", (row["id"],))
    last = con.execute(
        "SELECT COALESCE(MAX(position), 0) FROM PlaylistTracks WHERE playlist_id = ?",
        (row["id"],),
    ).fetchone()[0]
    _add_to_playlist(con, row["id"], track_ids, last + 1)
    return len(track_ids)


def _crate(con, name: str, track_ids: list[int]) -> None:
    row = con.execute("SELECT id, locked FROM crates WHERE name = ?", (name,)).fetchone()
    if row is not None and row["locked"]:
        raise MixxxError(f"mixxx crate {name!r} is locked: unlock it in Mixxx or name another")
    crate_id = (
        row["id"] if row else con.execute("INSERT INTO crates (name) VALUES (?)", (name,)).lastrowid
    )
    con.executemany(
        "INSERT OR IGNORE INTO crate_tracks (crate_id, track_id) VALUES (?, ?)",
        [(crate_id, track_id) for track_id in dict.fromkeys(track_ids)],
    )


def write_set(result: SetResult, name: str, target: MixxxTarget) -> MixxxWritten:
    """Write the set as the playlist `name` (replacing the tracks of a playlist of that
    name), plus the Auto DJ queue and a crate as `target` asks; see the module docstring
    for the checks and what is written. A MixxxError (one line) leaves the database as it
    was."""
    if target.autodj not in AUTODJ_MODES:
        raise MixxxError(f"--mixxx-autodj {target.autodj!r}: one of {', '.join(AUTODJ_MODES)}")
    if not name.strip():
        raise MixxxError("mixxx playlist name is empty: give --name")
    path = check_database(target.database)
    locations = []
    for track in result.tracks:
        if not track.path:
            raise MixxxError(f"track {track.id} ({track.title or 'untitled'}) has no file path")
        location = mixxx_location(track.path)
        if not os.path.isfile(location):
            raise MixxxError(f"track {track.id}: file {location} not found")
        locations.append(location)
    try:
        con = _connect(path)
    except sqlite3.Error as exc:
        raise MixxxError(f"mixxx database {path}: {exc}") from None
    try:
        return _write(con, path, result, name, target, locations)
    except sqlite3.Error as exc:
        raise MixxxError(f"mixxx database {path}: {exc}; nothing written") from None
    finally:
        con.close()


def _write(con, path: Path, result, name: str, target: MixxxTarget, locations: list[str]):
    known, location_ids = _known_tracks(con, locations)
    audio = {
        location: read_audio(location)
        for location in locations
        if location not in known or not known[location].samplerate
    }
    plans = plan_tracks(result, known, audio)
    written = MixxxWritten(database=path, playlist=name, crate=target.crate)
    written.backup = _backup(con, path)
    try:
        con.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        raise MixxxError(f"mixxx database {path} is in use by another program ({exc})") from None
    try:
        track_ids = []
        for step, plan in enumerate(plans):
            _pause_for_test(step, len(plans))
            if plan.known is None:
                track_id = _insert_track(con, plan, location_ids)
                written.added += 1
                if plan.beats:
                    written.grids += 1
            else:
                track_id = plan.known.track_id
                written.matched += 1
                if plan.unhide:
                    con.execute("UPDATE library SET mixxx_deleted = 0 WHERE id = ?", (track_id,))
                if plan.beats:
                    changed = con.execute(
                        "UPDATE library SET beats = ?, beats_version = ?, "
                        "beats_sub_version = '', bpm = ? WHERE id = ? AND "
                        "(beats IS NULL OR length(beats) = 0) AND COALESCE(bpm_lock, 0) = 0",
                        (plan.beats, BEAT_GRID_VERSION, plan.grid_bpm, track_id),
                    ).rowcount
                    written.grids += changed
            con.executemany(
                "INSERT INTO cues (track_id, type, position, length, hotcue, label, color) "
                "VALUES (?, ?, ?, ?, -1, '', ?)",
                [(track_id, c.type, c.position, c.length, CUE_COLOR) for c in plan.cues],
            )
            written.cues += len(plan.cues)
            written.notes.extend(f"{plan.label}: {note}" for note in plan.notes)
            track_ids.append(track_id)
        playlist_id, _ = _playlist(con, name)
        _add_to_playlist(con, playlist_id, track_ids, 1)
        if target.autodj != "off":
            written.autodj = _autodj(con, target.autodj, track_ids)
        if target.crate:
            _crate(con, target.crate, track_ids)
        con.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            con.execute("ROLLBACK")
        raise
    return written
