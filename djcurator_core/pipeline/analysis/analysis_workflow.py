"""DJAnalyzeWorkflow: estimate BPM, key and energy for many files, in batches.

The items are cut into batches; up to `parallel_batches` batches are analysed at once
(`analyse_audio_batch`, each on one worker's process pool; several workers on several
machines share the batches of one run), each with heartbeats and retries. As soon as a
batch is analysed its results are stored (`store_analysis_activity`, on the task queue
of the process that owns the beets library), so an interrupted run keeps what it did.

A file that cannot be analysed is reported, not fatal; a batch whose activity fails
after its retries is reported as failed files too. Only a library that cannot be written
fails the run. Query `get_progress` for done/total/failed while it runs.

Workflow code stays deterministic: all work happens in the activities.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from djcurator_core.pipeline.analysis.analysis_activities import (
        analyse_audio_batch,
        store_analysis_activity,
    )
    from djcurator_core.pipeline.contracts import (
        LOW_KEY_CONFIDENCE,
        AnalysedBatch,
        AnalysedTrack,
        AnalysisBatch,
        AnalysisItem,
        AnalysisProgress,
        AnalysisRequest,
        AnalysisSummary,
        StoredBatch,
        StoreRequest,
    )

ANALYZE_WORKFLOW_NAME = "DJAnalyzeWorkflow"
SECONDS_PER_FILE = 60  # generous: a slow, loaded machine; the heartbeat catches a dead one
ANALYSIS_HEARTBEAT_TIMEOUT = timedelta(seconds=30)  # first file of a fresh pool: imports
STORE_TIMEOUT = timedelta(minutes=2)
ANALYSIS_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), backoff_coefficient=2.0, maximum_attempts=3
)
MAX_REPORTED_FAILURES = 1000  # failed files (and key/tempo changes) named in the summary


@workflow.defn(name=ANALYZE_WORKFLOW_NAME)
class DJAnalyzeWorkflow:
    def __init__(self) -> None:
        self._progress = AnalysisProgress()
        self._failures: list[str] = []
        self._warnings: list[str] = []
        self._tracks: list[AnalysedTrack] = []
        self._changes: list[AnalysedTrack] = []
        self._uncertain_keys = 0

    @workflow.query
    def get_progress(self) -> AnalysisProgress:
        return self._progress

    @workflow.run
    async def run(self, request: AnalysisRequest) -> AnalysisSummary:
        size = request.batch_size
        batches = [request.items[i : i + size] for i in range(0, len(request.items), size)]
        self._progress.total = len(request.items)
        slots = asyncio.Semaphore(request.parallel_batches)

        async def one(batch: list[AnalysisItem]) -> None:
            async with slots:
                tracks = await self._analyse(batch)
                if request.library is not None:
                    await self._store(request, tracks)
                else:
                    self._tracks.extend(tracks)
                self._count(tracks)

        await asyncio.gather(*(one(batch) for batch in batches))
        return AnalysisSummary(
            progress=self._progress,
            failures=self._failures,
            warnings=self._warnings,
            tracks=self._tracks,
            changes=self._changes,
            uncertain_keys=self._uncertain_keys,
        )

    async def _analyse(self, batch: list[AnalysisItem]) -> list[AnalysedTrack]:
        try:
            result: AnalysedBatch = await workflow.execute_activity(
                analyse_audio_batch,
                AnalysisBatch(items=batch),
                start_to_close_timeout=timedelta(seconds=SECONDS_PER_FILE * len(batch)),
                heartbeat_timeout=ANALYSIS_HEARTBEAT_TIMEOUT,
                retry_policy=ANALYSIS_RETRY,
            )
            return result.tracks
        except ActivityError as exc:  # the batch failed after its retries: report its files
            cause = getattr(exc.cause, "message", None) or str(exc.cause or exc)
            return [
                AnalysedTrack(item_id=item.item_id, path=item.path, error=f"{item.path}: {cause}")
                for item in batch
            ]

    async def _store(self, request: AnalysisRequest, tracks: list[AnalysedTrack]) -> None:
        good = [track for track in tracks if not track.error]
        if not good:
            return
        try:
            stored: StoredBatch = await workflow.execute_activity(
                store_analysis_activity,
                StoreRequest(
                    library=request.library,
                    tracks=good,
                    force=request.force,
                    write_tags=request.write_tags,
                ),
                task_queue=request.store_task_queue or workflow.info().task_queue,
                start_to_close_timeout=STORE_TIMEOUT,
                retry_policy=ANALYSIS_RETRY,
            )
        except ActivityError as exc:
            cause = exc.cause
            raise ApplicationError(
                getattr(cause, "message", None) or str(cause or exc),
                type=getattr(cause, "type", None) or "StoreFailed",
                non_retryable=True,
            ) from None
        self._progress.stored += stored.stored
        self._progress.files_written += stored.files_written
        self._warnings.extend(stored.warnings)

    def _count(self, tracks: list[AnalysedTrack]) -> None:
        failed = [track.error for track in tracks if track.error]
        self._progress.done += len(tracks)
        self._progress.failed += len(failed)
        room = MAX_REPORTED_FAILURES - len(self._failures)
        self._failures.extend(line for line in failed[: max(0, room)] if line)
        changes = [track for track in tracks if not track.error and track.changes]
        self._changes.extend(changes[: max(0, MAX_REPORTED_FAILURES - len(self._changes))])
        self._uncertain_keys += sum(
            1
            for track in tracks
            if track.key_confidence is not None and track.key_confidence < LOW_KEY_CONFIDENCE
        )
