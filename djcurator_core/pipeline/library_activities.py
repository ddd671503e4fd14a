"""The workflow's library-side activities: export a beets query's tracks, write the playlist.

Scheduled sets (schedules.py) name a beets library and a query instead of carrying the
tracks, so that tonight's run sees the tracks added since yesterday, and they write the
playlist themselves. Both activities are safe to retry: the export only reads the
library and the files, and the playlist is written to a temp file and renamed over the
old one (playlist.write_atomically), so a failed run leaves the previous playlist as it
was.

beets is imported inside the activities, never at module level: the workflow module
imports this one, and workers that never serve a library run need not load beets. A
worker that serves these activities needs the library's database and music files at the
paths in the request. Outside `beet` (e.g. `python worker.py`), the first export reads
beets' configuration (BEETSDIR, as `beet` does) and loads its plugins plus djset, so
that queries on plugin fields (such as `energy:6..8`) parse the same way.
"""

from __future__ import annotations

import os
import sqlite3
import threading

from pydantic import BaseModel, Field, ValidationError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from djcurator_core.core.justify import SetResult
from djcurator_core.errors import validation_error_line
from djcurator_core.files.export import export_items
from djcurator_core.files.formats import FORMATS, FormatName, RenderOptions, write_playlists
from djcurator_core.files.playlist import PlaylistError, check_relative_to
from djcurator_core.pipeline.set_activities import (
    _log_execution,
    bad_input,
    heartbeating,
    pack_or_retry,
)
from djcurator_core.pipeline.track_sets import TrackSetField
from djcurator_core.pipeline.worker_scope import WorkerScope, current_scope

MAX_REPORTED_SKIPS = 20  # skipped tracks named in the export result (the rest counted)


class LibrarySource(BaseModel):
    """Where a scheduled set's tracks come from: a beets query, evaluated when it runs."""

    db: str = Field(min_length=1)  # absolute path of the beets library database
    directory: str | None = None  # beets' music directory (for relative paths in the db)
    query: list[str] = []  # beets query words; empty = the whole library
    keep_incomplete: bool = False  # keep tracks without BPM or key (neutral scores)

    def shown_query(self) -> str:
        return " ".join(self.query) or "(whole library)"


class PlaylistFile(BaseModel):
    path: str = Field(min_length=1)  # absolute path of the file
    format: FormatName = "m3u8"


class PlaylistTarget(BaseModel):
    """Where and how the workflow writes the playlist: one file per format.

    The first file is `path`/`format` (the only one before a run could write several
    formats, so schedules made then still parse); `more` holds the other formats' files
    (`--format m3u8,rekordbox`), written in that order."""

    path: str = Field(min_length=1)  # absolute path of the first format's file
    format: FormatName = "m3u8"
    more: list[PlaylistFile] = []
    relative_to: str | None = None  # folder the M3U8 entries are relative to; None = absolute
    forward_slash: bool = False

    @classmethod
    def of_files(cls, files: list[PlaylistFile], **settings) -> PlaylistTarget:
        first, *more = files
        return cls(path=first.path, format=first.format, more=more, **settings)

    def files(self) -> list[PlaylistFile]:
        return [PlaylistFile(path=self.path, format=self.format), *self.more]

    def shown(self) -> str:
        """ "/lists/a.m3u8 (m3u8), /lists/a.xml (rekordbox)" """
        return ", ".join(f"{file.path} ({file.format})" for file in self.files())


class ExportedTracks(BaseModel):
    tracks: TrackSetField  # inline or by reference (track_sets.py)
    matched: int  # items the query matched
    skipped: list[str] = []  # the first MAX_REPORTED_SKIPS left-out items, one line each
    skipped_count: int = 0
    attempt: int = 1


class WritePlaylistRequest(BaseModel):
    # The SetResult as the justification step returned it, passed on unparsed: parsing a
    # large set in workflow code counts against the SDK's deadlock timer (activities.py).
    result_json: str
    target: PlaylistTarget
    name: str
    query: list[str] | None = None  # shown in the playlist's header


class WrittenPlaylist(BaseModel):
    path: str  # the first file written
    paths: list[str] = []  # every file written, in order
    track_count: int
    attempt: int = 1


# --- beets in a worker -------------------------------------------------------------------

_beets_ready = threading.Lock()


def _prepare_beets() -> None:
    """Inside `beet` the plugins are loaded already; in a plain worker process, read beets'
    configuration and load its plugins (and djset, which declares `energy` a number)."""
    from beets import config, plugins
    from beets.util import cached_classproperty

    with _beets_ready:
        if list(plugins.find_plugins()):
            return
        config.read(user=True, defaults=True)
        names = config["plugins"].as_str_seq()
        if "djset" not in names:
            config["plugins"] = [*names, "djset"]
        plugins.load_plugins()
        cached_classproperty.cache.clear()  # item types now include the plugins' fields


def _open_library(source: LibrarySource, scope: WorkerScope):
    from beets.library import Library

    db = scope.library(source.db)  # only a library this worker's configuration names
    if not os.path.isfile(db):  # beets would create an empty library: refuse
        raise bad_input("LibraryError", f"beets library {source.db} not found")
    directory = source.directory or os.path.dirname(db)
    # Not the process-wide music folder: a `beet --serve` process has its own library.
    return Library(db, directory, set_music_dir=False)


def export_from_library(source: LibrarySource, scope: WorkerScope | None = None) -> ExportedTracks:
    """The query's tracks with the plugin's export rules (export.export_items), from a
    library `scope` allows (default: the running worker's, `worker_scope.current_scope`)."""
    from beets.dbcore.query import InvalidQueryError, ParsingError

    _prepare_beets()
    try:
        lib = _open_library(source, scope or current_scope())
    except sqlite3.Error as exc:
        raise ApplicationError(
            f"beets library {source.db}: {exc}", type="LibraryUnavailable"
        ) from None
    try:
        with lib.music_dir_context():  # paths in the db may be relative to the directory
            items = list(lib.items(source.query))
            export = export_items(items, keep_incomplete=source.keep_incomplete)
    except (InvalidQueryError, ParsingError) as exc:
        raise bad_input("QueryError", f"query {source.shown_query()}: {exc}") from None
    except sqlite3.Error as exc:  # e.g. "database is locked" during a big import: retry
        raise ApplicationError(
            f"beets library {source.db}: {exc}", type="LibraryUnavailable"
        ) from None
    finally:
        lib._close()
    if not items:
        raise bad_input(
            "NoTracks", f"no tracks match the query {source.shown_query()} in {source.db}"
        )
    if not export.tracks:
        raise bad_input(
            "NoTracks",
            f"none of the {len(items)} tracks matching {source.shown_query()} has a file, "
            "BPM and key",
        )
    attempt = activity.info().attempt if activity.in_activity() else 1
    return ExportedTracks(
        tracks=pack_or_retry(export.tracks),
        matched=len(items),
        skipped=[str(skipped) for skipped in export.skipped[:MAX_REPORTED_SKIPS]],
        skipped_count=len(export.skipped),
        attempt=attempt,
    )


# --- the activities ----------------------------------------------------------------------


@activity.defn
def export_tracks_activity(source: LibrarySource) -> ExportedTracks:
    """Evaluate the beets query now and export the matching items as tracks."""
    _log_execution("export_tracks_activity")
    with heartbeating(f"exporting {source.shown_query()}"):
        return export_from_library(source)


@activity.defn
def write_playlist_activity(request: WritePlaylistRequest) -> WrittenPlaylist:
    """Render the set in each format of the target, then write each file atomically over
    its previous version.

    Any failure to write (folder missing and not creatable, no permission, disk full) is
    non-retryable: that file's previous version stays as it was, the other formats are
    still written, and the run fails visibly naming the file.

    A file outside the folders this worker's configuration allows (worker_scope) fails
    the run before anything is written (NotAllowed): the request does not choose what the
    worker writes. So does a `relative_to` folder that does not exist."""
    _log_execution("write_playlist_activity")
    target = request.target
    workflow_id = activity.info().workflow_id if activity.in_activity() else None
    try:
        result = SetResult.model_validate_json(request.result_json)
    except ValidationError as exc:
        raise bad_input("PlaylistError", f"set result: {validation_error_line(exc)}") from None
    options = RenderOptions(
        query=request.query,
        workflow_id=workflow_id,
        relative_to=target.relative_to,
        forward_slash=target.forward_slash,
    )
    scope = current_scope()
    files = [
        (file.format, scope.playlist_path(file.path, FORMATS[file.format].suffix))
        for file in target.files()
    ]
    try:
        if target.relative_to is not None:
            # the playlist's own folder may be the base of its entries: make it first
            os.makedirs(os.path.dirname(files[0][1]), exist_ok=True)
            check_relative_to(target.relative_to)
        write_playlists(result, request.name, files, options).raise_errors()
    except PlaylistError as exc:
        raise bad_input("PlaylistError", str(exc)) from None
    except OSError as exc:  # the folder could not be made
        message = f"cannot write playlist {target.path}: {exc.strerror}"
        raise bad_input("PlaylistError", message) from None
    attempt = activity.info().attempt if activity.in_activity() else 1
    paths = [file.path for file in target.files()]
    return WrittenPlaylist(
        path=paths[0], paths=paths, track_count=result.summary.track_count, attempt=attempt
    )


LIBRARY_ACTIVITIES = [export_tracks_activity, write_playlist_activity]
