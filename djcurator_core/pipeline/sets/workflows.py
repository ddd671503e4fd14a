"""DJSetWorkflow: load -> sequence -> justify (-> write the playlist), each step a
retried activity, with queries.

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

from datetime import timedelta

from pydantic import ValidationError
from temporalio import workflow
from temporalio.api.common.v1 import Payload
from temporalio.common import RawValue, RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.exceptions import TimeoutError as ActivityTimeoutError

with workflow.unsafe.imports_passed_through():
    from djcurator_core.core.report.justify import SetResult
    from djcurator_core.pipeline.contracts import (
        STEPS,
        WORKFLOW_NAME,
        ExportedTracks,
        JustifiedSet,
        JustifyRequest,
        LoadedTracks,
        LoadRequest,
        Progress,
        RememberSet,
        SequencedOrder,
        SequenceRequest,
        SetRequest,
        WritePlaylistRequest,
        WrittenPlaylist,
        steps_for,
    )
    from djcurator_core.pipeline.sets.library_activities import (
        export_tracks_activity,
        write_playlist_activity,
    )
    from djcurator_core.pipeline.sets.set_activities import (
        generate_justifications_activity,
        load_tracks_activity,
        sequence_tracks_activity,
    )
    from djcurator_core.pipeline.sets.set_history import (
        recent_sets,
        remember_set_activity,
        schedule_of_run,
    )

RETRY_POLICY = RetryPolicy(
    initial_interval=timedelta(seconds=1), backoff_coefficient=2.0, maximum_attempts=3
)
LOAD_TIMEOUT = timedelta(seconds=30)
SEQUENCE_TIMEOUT = timedelta(seconds=60)
JUSTIFY_TIMEOUT = timedelta(seconds=60)
HEARTBEAT_TIMEOUT = timedelta(seconds=4)  # a killed worker is noticed within this
EXPORT_TIMEOUT = timedelta(minutes=5)  # reads every matching file's tags (heartbeats)
PLAYLIST_TIMEOUT = timedelta(seconds=30)


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

    async def _step(self, number: int, activity, argument, timeout: timedelta, *, heartbeat=True):
        """Run step `number` of this run's steps (steps_for): its status and step name for
        the queries, the activity with its timeout and retries, then its timing (workflow
        clock) and the attempt it succeeded on. Returns the activity's result.

        Every step issues the same command as before this helper existed (one
        ScheduleActivityTask, heartbeat timeout only where `heartbeat`), so recorded
        histories replay (tests/test_replay.py)."""
        status, activity_name = self._steps[number - 1]
        self._progress = self._progress.model_copy(
            update={"status": status, "step": activity_name, "step_number": number}
        )
        started = workflow.now()
        result = await workflow.execute_activity(
            activity,
            argument,
            start_to_close_timeout=timeout,
            heartbeat_timeout=HEARTBEAT_TIMEOUT if heartbeat else None,
            retry_policy=RETRY_POLICY,
        )
        seconds = (workflow.now() - started).total_seconds()
        self._progress = self._progress.model_copy(
            update={
                "timings": {**self._progress.timings, activity_name: round(seconds, 3)},
                "attempts": {**self._progress.attempts, activity_name: result.attempt},
            }
        )
        return result

    def _note(self, **update) -> None:
        """More progress for the queries (tracks loaded, the playlist written)."""
        self._progress = self._progress.model_copy(update=update)

    @workflow.run
    async def run(self, request: SetRequest) -> SetResult:
        try:
            return await self._run(request)
        except ActivityError as error:
            raise self._failed(error) from error

    async def _run(self, request: SetRequest) -> SetResult:
        self._steps = steps_for(request)
        self._progress = self._progress.model_copy(update={"total_steps": len(self._steps)})
        if request.library is not None:
            exported: ExportedTracks = await self._step(
                1, export_tracks_activity, request.library, EXPORT_TIMEOUT
            )
            tracks = exported.tracks
        else:
            load = LoadRequest(
                path=request.tracks_path, tracks=request.tracks, stored=request.stored_tracks
            )
            loaded: LoadedTracks = await self._step(
                1, load_tracks_activity, load, LOAD_TIMEOUT, heartbeat=False
            )
            tracks = loaded.tracks
        self._note(tracks_loaded=tracks.count)

        sequenced: SequencedOrder = await self._step(
            2,
            sequence_tracks_activity,
            SequenceRequest(
                tracks=tracks,
                options=request.options,
                recent_sets=recent_sets(request.fresh_sets),
            ),
            SEQUENCE_TIMEOUT,
        )
        justified: JustifiedSet = await self._step(
            3,
            generate_justifications_activity,
            JustifyRequest(
                tracks=tracks,
                order=sequenced.order,
                options=request.options,
                notes=sequenced.notes,
            ),
            JUSTIFY_TIMEOUT,
        )
        if request.playlist is not None:
            written: WrittenPlaylist = await self._step(
                4,
                write_playlist_activity,
                WritePlaylistRequest(
                    result_json=justified.result_json,
                    target=request.playlist,
                    name=request.name,
                    query=request.library.query if request.library is not None else None,
                ),
                PLAYLIST_TIMEOUT,
                heartbeat=False,
            )
            self._note(playlist=", ".join(written.paths) or written.path)
            await self._remember(request, sequenced.track_ids)
        self._note(status="completed")
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
