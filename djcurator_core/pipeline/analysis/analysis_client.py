"""Start DJAnalyzeWorkflow, follow its progress (done/total, rate, ETA), wait for it."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from datetime import timedelta

from temporalio.client import Client, WorkflowFailureError
from temporalio.service import RPCError

from djcurator_core.pipeline.analysis.analysis_workflow import DJAnalyzeWorkflow
from djcurator_core.pipeline.contracts import AnalysisProgress, AnalysisRequest, AnalysisSummary
from djcurator_core.pipeline.sets.client import ClientError, _rpc_error, wait_for_worker


class AnalysisFailed(ClientError):
    """The analysis run failed (the library could not be written); one line."""


class ProgressMeter:
    """Turns progress snapshots into "analysed 40/200 (1 failed), 2.1 tracks/s, ETA 1m16s".

    The rate counts from the first snapshot, on this process's clock."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._started = clock()

    def line(self, progress: AnalysisProgress) -> str:
        elapsed = max(self._clock() - self._started, 1e-9)
        rate = progress.done / elapsed
        text = f"analysed {progress.done}/{progress.total}"
        if progress.failed:
            text += f" ({progress.failed} failed)"
        if progress.done and rate > 0:
            remaining = (progress.total - progress.done) / rate
            text += f", {rate:.1f} tracks/s, ETA {_duration(remaining)}"
        return text


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


async def run_analysis(
    client: Client,
    request: AnalysisRequest,
    task_queue: str,
    *,
    on_progress: Callable[[AnalysisProgress], None] | None = None,
    poll_seconds: float = 1.0,
    workflow_id: str | None = None,
) -> AnalysisSummary:
    """Run the analysis workflow to the end, reporting progress every `poll_seconds`."""
    await wait_for_worker(client, task_queue)
    try:
        handle = await client.start_workflow(
            DJAnalyzeWorkflow.run,
            request,
            id=workflow_id or f"djanalyze-{uuid.uuid4().hex[:12]}",
            task_queue=task_queue,
        )
    except RPCError as exc:
        raise _rpc_error(client, exc) from None
    result = asyncio.ensure_future(handle.result())
    last: AnalysisProgress | None = None
    try:
        while True:
            finished, _ = await asyncio.wait({result}, timeout=poll_seconds)
            if finished:
                break
            if on_progress is None:
                continue
            try:
                progress = await handle.query(
                    DJAnalyzeWorkflow.get_progress, rpc_timeout=timedelta(seconds=5)
                )
            except Exception:  # busy or between tasks: skip this report
                continue
            if progress != last:
                on_progress(progress)
                last = progress
        summary = result.result()
    except WorkflowFailureError as exc:
        cause = exc.cause
        while getattr(cause, "cause", None) is not None:
            cause = cause.cause
        message = getattr(cause, "message", None) or str(cause or exc)
        raise AnalysisFailed(f"analysis failed: {message}") from None
    finally:
        if not result.done():
            result.cancel()
    if on_progress is not None and summary.progress != last:
        on_progress(summary.progress)
    return summary


MAX_ITEMS_PER_RUN = 5000  # one workflow's input stays far below the 2 MiB payload limit


async def _run_in_parts(
    client: Client,
    request: AnalysisRequest,
    task_queue: str,
    on_progress: Callable[[AnalysisProgress], None] | None,
) -> AnalysisSummary:
    """One workflow per MAX_ITEMS_PER_RUN items, one after another; progress and summary
    count over all of them."""
    items = request.items
    parts = [items[i : i + MAX_ITEMS_PER_RUN] for i in range(0, len(items), MAX_ITEMS_PER_RUN)]
    total = AnalysisSummary(progress=AnalysisProgress(total=len(items)))
    for part in parts or [[]]:
        base = total.progress.model_copy()

        def shifted(progress: AnalysisProgress, base=base) -> None:
            if on_progress is not None:
                on_progress(_add(base, progress, len(items)))

        summary = await run_analysis(
            client,
            request.model_copy(update={"items": part}),
            task_queue,
            on_progress=shifted if on_progress else None,
        )
        total.progress = _add(base, summary.progress, len(items))
        total.failures.extend(summary.failures)
        total.warnings.extend(summary.warnings)
        total.tracks.extend(summary.tracks)
    return total


def _add(base: AnalysisProgress, more: AnalysisProgress, total: int) -> AnalysisProgress:
    return AnalysisProgress(
        total=total,
        done=base.done + more.done,
        failed=base.failed + more.failed,
        stored=base.stored + more.stored,
        files_written=base.files_written + more.files_written,
    )


async def analyse_on(
    settings,
    task_queue: str,
    request: AnalysisRequest,
    *,
    on_progress: Callable[[AnalysisProgress], None] | None = None,
    say: Callable[[str], None] | None = None,
) -> AnalysisSummary:
    """Run the analysis where runs go: an embedded server with an in-process worker when
    `settings` is None (ConnectionSettings otherwise: a configured server or the local
    service, whose workers analyse). Large requests run as several workflows in turn.

    With a server of its own, this process stores the results: it runs a worker for the
    store activity on a task queue of its own, so the workers that analyse never need
    the library's database."""
    from djcurator_core.pipeline.analysis.analysis_activities import store_analysis_activity
    from djcurator_core.pipeline.sets.client import connect
    from djcurator_core.pipeline.workers.worker import embedded_runtime, run_worker
    from djcurator_core.pipeline.workers.worker_scope import DENY_ALL, WorkerScope

    # This process's own workers may open the library it asked for, and nothing else
    # (worker_scope: a worker's configuration, not a request, says what it may touch).
    scope = DENY_ALL if request.library is None else WorkerScope(libraries=(request.library.db,))
    if settings is None:
        async with embedded_runtime(task_queue=task_queue, say=say, scope=scope) as client:
            return await _run_in_parts(client, request, task_queue, on_progress)
    client = await connect(settings)
    if request.library is None:
        return await _run_in_parts(client, request, task_queue, on_progress)
    store_queue = f"djanalyze-store-{uuid.uuid4().hex[:12]}"
    request = request.model_copy(update={"store_task_queue": store_queue})
    async with run_worker(
        client, store_queue, say=say, activities=[store_analysis_activity], scope=scope
    ):
        return await _run_in_parts(client, request, task_queue, on_progress)
