"""DJSetWorkflow: load -> sequence -> justify, as three retried activities, with queries.

States (query `get_status`): initializing -> loading_tracks -> sequencing_tracks ->
generating_justifications -> completed, or failed. `get_progress` adds the step number,
tracks loaded, per-step timings (workflow clock) and the attempt each step succeeded on.

A request that names a beets library instead of tracks (scheduled sets, schedules.py)
starts with exporting_tracks (the query is evaluated when the run runs) in place of
loading_tracks; a request with a playlist target ends with writing_playlist (the
playlist written atomically by the worker). `steps_for(request)` lists a run's steps.

Workflow code must stay deterministic: all work happens in the activities; a failed step
fails the workflow with an ApplicationError carrying the activity's error type (a plain
exception here would only make Temporal retry the workflow task forever).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, Field, ValidationError, model_validator
from temporalio import workflow
from temporalio.api.common.v1 import Payload
from temporalio.common import RawValue, RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.exceptions import TimeoutError as ActivityTimeoutError

with workflow.unsafe.imports_passed_through():
    from djcurator_core.core.justify import SetResult
    from djcurator_core.core.models import Track
    from djcurator_core.core.planning import SetOptions
    from djcurator_core.pipeline.library_activities import (
        ExportedTracks,
        LibrarySource,
        PlaylistTarget,
        WritePlaylistRequest,
        WrittenPlaylist,
        export_tracks_activity,
        write_playlist_activity,
    )
    from djcurator_core.pipeline.set_activities import (
        JustifiedSet,
        JustifyRequest,
        LoadedTracks,
        LoadRequest,
        SequencedOrder,
        SequenceRequest,
        generate_justifications_activity,
        load_tracks_activity,
        sequence_tracks_activity,
    )
    from djcurator_core.pipeline.set_history import (
        RememberSet,
        recent_sets,
        remember_set_activity,
        schedule_of_run,
    )
    from djcurator_core.pipeline.track_sets import TrackSet

DEFAULT_TASK_QUEUE = "djset"
WORKFLOW_NAME = "DJSetWorkflow"

Status = Literal[
    "initializing",
    "exporting_tracks",
    "loading_tracks",
    "sequencing_tracks",
    "generating_justifications",
    "writing_playlist",
    "completed",
    "failed",
]

# (status while the step runs, activity name)
STEPS: tuple[tuple[str, str], ...] = (
    ("loading_tracks", "load_tracks_activity"),
    ("sequencing_tracks", "sequence_tracks_activity"),
    ("generating_justifications", "generate_justifications_activity"),
)
# Optional steps: the export replaces the load when the request names a library.
EXPORT_STEP = ("exporting_tracks", "export_tracks_activity")
PLAYLIST_STEP = ("writing_playlist", "write_playlist_activity")

RETRY_POLICY = RetryPolicy(
    initial_interval=timedelta(seconds=1), backoff_coefficient=2.0, maximum_attempts=3
)
LOAD_TIMEOUT = timedelta(seconds=30)
SEQUENCE_TIMEOUT = timedelta(seconds=60)
JUSTIFY_TIMEOUT = timedelta(seconds=60)
HEARTBEAT_TIMEOUT = timedelta(seconds=4)  # a killed worker is noticed within this
EXPORT_TIMEOUT = timedelta(minutes=5)  # reads every matching file's tags (heartbeats)
PLAYLIST_TIMEOUT = timedelta(seconds=30)


class SetRequest(BaseModel):
    """What to make a set of: a tracks_enriched file the worker reads, the tracks, or a
    beets library and query (exported by the worker when the run runs); optionally where
    the worker writes the playlist."""

    name: str = Field(min_length=1)
    tracks_path: str | None = None
    tracks: list[Track] | None = None
    stored_tracks: TrackSet | None = None  # a large set, put in the payload store by the client
    library: LibrarySource | None = None
    options: SetOptions = SetOptions()
    playlist: PlaylistTarget | None = None
    # scheduled runs: hold back the tracks of the schedule's last this-many sets
    # (set_history.py); 0 = no history
    fresh_sets: int = Field(0, ge=0)

    @model_validator(mode="after")
    def _one_source(self) -> SetRequest:
        given = [self.tracks_path, self.tracks, self.stored_tracks, self.library]
        if sum(source is not None for source in given) != 1:
            raise ValueError("give exactly one of tracks_path, tracks, stored_tracks and library")
        return self


def steps_for(request: SetRequest) -> tuple[tuple[str, str], ...]:
    """(status, activity) of each step the request's run takes, in order."""
    first = EXPORT_STEP if request.library is not None else STEPS[0]
    last = (PLAYLIST_STEP,) if request.playlist is not None else ()
    return (first, *STEPS[1:], *last)


class Progress(BaseModel):
    status: Status = "initializing"
    step: str | None = None  # activity of the current (or failed) step
    step_number: int = 0  # 1..total_steps once a step started
    total_steps: int = len(STEPS)
    tracks_loaded: int | None = None
    playlist: str | None = None  # the playlist files written (runs with a playlist target)
    timings: dict[str, float] = {}  # seconds per finished step, by activity name
    attempts: dict[str, int] = {}  # attempt each finished step succeeded on
    error_type: str | None = None
    error: str | None = None
    # Filled in by the client from the server's view of the running step (the workflow
    # cannot know them): its current attempt and its last heartbeat message.
    attempt: int | None = None
    detail: str | None = None

    def line(self) -> str:
        """A one-line rendering for command lines (without `detail`, which changes often)."""
        if self.status in ("initializing", "completed", "failed"):
            text = self.status
        else:
            text = f"step {self.step_number}/{self.total_steps}: {self.status}"
        if self.tracks_loaded is not None:
            text += f" ({self.tracks_loaded} tracks)"
        if self.attempt and self.attempt > 1 and self.status not in ("completed", "failed"):
            text += f" attempt {self.attempt}"
        if self.error:
            text += f": {self.error_type}: {self.error}"
        return text


def _unparsed_json(text: str) -> RawValue:
    """A JSON payload passed on as it is: parsing and re-encoding a 10,000-track set in
    workflow code would count against the SDK's 2 s deadlock timer."""
    return RawValue(Payload(metadata={"encoding": b"json/plain"}, data=text.encode()))


# An input that fails validation (a client that skipped `client.validate_request`, or
# `temporal workflow start` with hand-written JSON) fails the workflow instead of making
# its first task retry forever.
@workflow.defn(name=WORKFLOW_NAME, failure_exception_types=[ValidationError])
class DJSetWorkflow:
    def __init__(self) -> None:
        self._progress = Progress()
        self._steps = STEPS

    @workflow.query
    def get_progress(self) -> Progress:
        return self._progress

    @workflow.query
    def get_status(self) -> str:
        return self._progress.status

    def _begin(self, number: int) -> None:
        status, activity_name = self._steps[number - 1]
        self._progress = self._progress.model_copy(
            update={"status": status, "step": activity_name, "step_number": number}
        )

    def _finish(self, activity_name: str, started: datetime, attempt: int, **update) -> None:
        seconds = (workflow.now() - started).total_seconds()
        self._progress = self._progress.model_copy(
            update={
                "timings": {**self._progress.timings, activity_name: round(seconds, 3)},
                "attempts": {**self._progress.attempts, activity_name: attempt},
                **update,
            }
        )

    @workflow.run
    async def run(self, request: SetRequest) -> SetResult:
        try:
            return await self._run(request)
        except ActivityError as error:
            raise self._failed(error) from error

    async def _run(self, request: SetRequest) -> SetResult:
        self._steps = steps_for(request)
        self._progress = self._progress.model_copy(update={"total_steps": len(self._steps)})
        self._begin(1)
        started = workflow.now()
        if request.library is not None:
            exported: ExportedTracks = await workflow.execute_activity(
                export_tracks_activity,
                request.library,
                start_to_close_timeout=EXPORT_TIMEOUT,
                heartbeat_timeout=HEARTBEAT_TIMEOUT,
                retry_policy=RETRY_POLICY,
            )
            tracks, attempt = exported.tracks, exported.attempt
        else:
            loaded: LoadedTracks = await workflow.execute_activity(
                load_tracks_activity,
                LoadRequest(
                    path=request.tracks_path, tracks=request.tracks, stored=request.stored_tracks
                ),
                start_to_close_timeout=LOAD_TIMEOUT,
                retry_policy=RETRY_POLICY,
            )
            tracks, attempt = loaded.tracks, loaded.attempt
        self._finish(self._steps[0][1], started, attempt, tracks_loaded=tracks.count)

        self._begin(2)
        started = workflow.now()
        sequenced: SequencedOrder = await workflow.execute_activity(
            sequence_tracks_activity,
            SequenceRequest(
                tracks=tracks,
                options=request.options,
                recent_sets=recent_sets(request.fresh_sets),
            ),
            start_to_close_timeout=SEQUENCE_TIMEOUT,
            heartbeat_timeout=HEARTBEAT_TIMEOUT,
            retry_policy=RETRY_POLICY,
        )
        self._finish("sequence_tracks_activity", started, sequenced.attempt)

        self._begin(3)
        started = workflow.now()
        justified: JustifiedSet = await workflow.execute_activity(
            generate_justifications_activity,
            JustifyRequest(
                tracks=tracks,
                order=sequenced.order,
                options=request.options,
                notes=sequenced.notes,
            ),
            start_to_close_timeout=JUSTIFY_TIMEOUT,
            heartbeat_timeout=HEARTBEAT_TIMEOUT,
            retry_policy=RETRY_POLICY,
        )
        self._finish("generate_justifications_activity", started, justified.attempt)

        if request.playlist is not None:
            self._begin(4)
            started = workflow.now()
            written: WrittenPlaylist = await workflow.execute_activity(
                write_playlist_activity,
                WritePlaylistRequest(
                    result_json=justified.result_json,
                    target=request.playlist,
                    name=request.name,
                    query=request.library.query if request.library is not None else None,
                ),
                start_to_close_timeout=PLAYLIST_TIMEOUT,
                retry_policy=RETRY_POLICY,
            )
            shown = ", ".join(written.paths) or written.path
            self._finish("write_playlist_activity", started, written.attempt, playlist=shown)
            await self._remember(request, sequenced.track_ids)
        self._progress = self._progress.model_copy(update={"status": "completed"})
        return _unparsed_json(justified.result_json)  # the client reads it as a SetResult

    async def _remember(self, request: SetRequest, track_ids: list[str]) -> None:
        """A scheduled run that published its set adds it to the schedule's history (part
        of the playlist step: a set is remembered once its playlist is written)."""
        schedule_id = schedule_of_run()
        if schedule_id is None or request.fresh_sets <= 0:
            return
        await workflow.execute_activity(
            remember_set_activity,
            RememberSet(schedule_id=schedule_id, track_ids=track_ids, keep=request.fresh_sets),
            start_to_close_timeout=PLAYLIST_TIMEOUT,
            retry_policy=RETRY_POLICY,
        )

    def _failed(self, error: ActivityError) -> ApplicationError:
        """Record the failure for the queries; the error the workflow fails with."""
        cause = error.cause
        if isinstance(cause, ApplicationError):
            error_type, message = cause.type or "ApplicationError", cause.message
        elif isinstance(cause, ActivityTimeoutError):
            error_type = "ActivityTimeout"
            kind = cause.type.name.lower().replace("_", "-") if cause.type else "a"
            message = f"{error.activity_type} timed out ({kind} timeout)"
        else:
            error_type, message = type(cause).__name__, str(cause or error)
        self._progress = self._progress.model_copy(
            update={"status": "failed", "error_type": error_type, "error": message}
        )
        return ApplicationError(message, error.activity_type, type=error_type, non_retryable=True)
