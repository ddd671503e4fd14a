"""The workflow's library-side activities: export a beets query's tracks, write the playlist.

Scheduled sets (schedules.py) name a beets library and a query instead of carrying the
tracks, so that tonight's run sees the tracks added since yesterday, and they write the
playlist themselves. Both activities are safe to retry: the export only reads the
library and the files, and the playlist is written to a temp file and renamed over the
old one (playlist.write_atomically), so a failed run leaves the previous playlist as it
was.

A worker that serves these activities needs the library's database and music files at
the paths in the request, and opens and writes only what its own configuration allows
(worker_scope.py); beets_library.py opens the library (and sets beets up only in a
process that is nothing but a worker).
"""

from __future__ import annotations

import os

from pydantic import ValidationError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from djcurator_core.core.report.justify import SetResult
from djcurator_core.errors import DJSetError, validation_error_line
from djcurator_core.files.dj_formats.formats import FORMATS, RenderOptions, write_playlists
from djcurator_core.files.dj_formats.playlist import PlaylistError, check_relative_to
from djcurator_core.pipeline.beets_library import LibraryUnavailable, export_from_library
from djcurator_core.pipeline.contracts import (
    ExportedTracks,
    LibrarySource,
    WritePlaylistRequest,
    WrittenPlaylist,
)
from djcurator_core.pipeline.sets.set_activities import (
    _log_execution,
    bad_input,
    heartbeating,
    pack_or_retry,
)
from djcurator_core.pipeline.workers.worker_scope import current_scope

MAX_REPORTED_SKIPS = 20  # skipped tracks named in the export result (the rest counted)


# --- the activities ----------------------------------------------------------------------


@activity.defn
def export_tracks_activity(source: LibrarySource) -> ExportedTracks:
    """Evaluate the beets query now and export the matching items as tracks."""
    _log_execution("export_tracks_activity")
    with heartbeating(f"exporting {source.shown_query()}"):
        try:
            export, matched = export_from_library(source)
        except LibraryUnavailable as exc:  # locked or unreadable now: retried
            raise ApplicationError(str(exc), type="LibraryUnavailable") from None
        except DJSetError as exc:  # no such library, bad query, no usable tracks
            raise bad_input(type(exc).__name__, str(exc)) from None
    attempt = activity.info().attempt if activity.in_activity() else 1
    return ExportedTracks(
        tracks=pack_or_retry(export.tracks),
        matched=matched,
        skipped=[str(skipped) for skipped in export.skipped[:MAX_REPORTED_SKIPS]],
        skipped_count=len(export.skipped),
        attempt=attempt,
    )


@activity.defn
def write_playlist_activity(request: WritePlaylistRequest) -> WrittenPlaylist:
    """Render the set in each format of the target, then write each file atomically over
    its previous version.

    Any failure to write (folder missing and not creatable, no permission, disk full) is
    non-retryable: that file's previous version stays as it was, the other formats are
    still written, and the run fails visibly naming the file.

    A file outside the folders this worker's configuration allows (worker_scope) fails
    the run before anything is written (NotAllowed): the request does not choose what the
    worker writes. So does a `relative_to` folder that does not exist, and a Mixxx
    database (format mixxx) that is not the one the worker's configuration names."""
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
        mixxx_autodj=target.mixxx_autodj,
        mixxx_crate=target.mixxx_crate,
    )
    scope = current_scope()
    files = [
        (
            file.format,
            scope.mixxx_database(file.path)
            if FORMATS[file.format].database
            else scope.playlist_path(file.path, FORMATS[file.format].suffix),
        )
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
