"""Running the pipeline: a worker with everything registered, and an all-in-one runtime
(embedded dev server + client + in-process worker) for tests, the demo and the plugin."""

from __future__ import annotations

import concurrent.futures
import logging
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta

from temporalio.client import Client
from temporalio.worker import Worker

from djcurator_core.core.solver import solver_cache
from djcurator_core.pipeline.analysis.analysis_activities import (
    ANALYSIS_ACTIVITIES,
    shutdown_analysis_pool,
)
from djcurator_core.pipeline.analysis.analysis_workflow import DJAnalyzeWorkflow
from djcurator_core.pipeline.contracts import DEFAULT_TASK_QUEUE
from djcurator_core.pipeline.payload_store import default_folder
from djcurator_core.pipeline.server.dev_server import EmbeddedServer, EmbeddedServerError
from djcurator_core.pipeline.sets.client import ClientError, connect
from djcurator_core.pipeline.sets.library_activities import LIBRARY_ACTIVITIES
from djcurator_core.pipeline.sets.set_activities import SET_ACTIVITIES
from djcurator_core.pipeline.sets.set_history import HISTORY_ACTIVITIES
from djcurator_core.pipeline.sets.workflows import DJSetWorkflow
from djcurator_core.pipeline.workers.memory_gate import megabytes, set_worker_limit, worker_gate
from djcurator_core.pipeline.workers.worker_scope import DENY_ALL, WorkerScope, register, unregister

# A workflow task waits this long on a (possibly dead) worker's sticky queue before any
# worker may take it: short, so a crashed worker's workflows move on within seconds.
STICKY_TIMEOUT = timedelta(seconds=1)
# Every activity of DJSetWorkflow and DJAnalyzeWorkflow: a worker registers all of them,
# so any worker on the queue can run any step of any run.
ALL_ACTIVITIES = [*SET_ACTIVITIES, *LIBRARY_ACTIVITIES, *ANALYSIS_ACTIVITIES, *HISTORY_ACTIVITIES]
MAX_CONCURRENT_ACTIVITIES = 4
_log = logging.getLogger(__name__)


def build_worker(
    client: Client,
    task_queue: str = DEFAULT_TASK_QUEUE,
    *,
    max_concurrent_activities: int = MAX_CONCURRENT_ACTIVITIES,
    sticky_timeout: timedelta = STICKY_TIMEOUT,
    activities: list | None = None,
    memory_limit: int | None = None,
    **worker_kwargs,
) -> Worker:
    """A worker for DJSetWorkflow and DJAnalyzeWorkflow and their activities, the library
    ones of scheduled sets included (sync activities on a thread pool; audio analysis
    fans out further to a process pool of every core, see analysis_activities).

    The thread pool is shut down by `run_worker`, or call `worker.djset_executor.shutdown()`.
    Run it through `run_worker`: that gives its activities their scope (none here).
    `activities` replaces the registered activities (tests inject faults this way).
    `memory_limit`: bytes the heavy steps of this process may hold at once (memory_gate.py;
    None: DJSET_WORKER_MEMORY, else a share of the machine's memory).
    """
    set_worker_limit(memory_limit)
    executor = concurrent.futures.ThreadPoolExecutor(
        max_workers=max_concurrent_activities, thread_name_prefix="djset-activity"
    )
    worker = Worker(
        client,
        task_queue=task_queue,
        workflows=[DJSetWorkflow, DJAnalyzeWorkflow],
        activities=list(activities or ALL_ACTIVITIES),
        activity_executor=executor,
        max_concurrent_activities=max_concurrent_activities,
        sticky_queue_schedule_to_start_timeout=sticky_timeout,
        **worker_kwargs,
    )
    worker.djset_executor = executor  # type: ignore[attr-defined]
    return worker


@asynccontextmanager
async def run_worker(
    client: Client,
    task_queue: str = DEFAULT_TASK_QUEUE,
    say: Callable[[str], None] | None = None,
    *,
    scope: WorkerScope = DENY_ALL,
    **kwargs,
):
    """Run a worker in this process for the duration of the block.

    `scope` is what its activities may touch (worker_scope): the folders it writes
    playlists in, the beets libraries it opens, the folders it reads tracks files from.
    It comes from the worker's own configuration; the default allows none of them (sets
    with inline tracks and no playlist target need none).

    The worker polls at once. When the solver's cache is cold it compiles in a background
    thread meanwhile (solver_cache.prepare_in_background; `say` gets "preparing the
    solver, first run only ... in the background" and "solver ready"): every step is
    served during the compile, and the sequencing step waits for it, heartbeating
    (set_activities.wait_for_solver), so a client never finds a starting worker missing."""
    worker = build_worker(client, task_queue, **kwargs)
    register(client.namespace, task_queue, scope)
    try:
        async with worker:
            solver_cache.prepare_in_background(say or _log.info)
            yield worker
    finally:
        unregister(client.namespace, task_queue)
        worker.djset_executor.shutdown(wait=True, cancel_futures=True)
        shutdown_analysis_pool()


def worker_resources() -> str:
    """One line for a long-running worker's start: its memory budget for heavy steps and
    its payload store, as this process uses them."""
    return (
        f"heavy steps may hold {megabytes(worker_gate().limit)} at once; "
        f"payload store {default_folder()}"
    )


def _to_stderr(message: str) -> None:
    print(f"djset: {message}", file=sys.stderr, flush=True)


@asynccontextmanager
async def embedded_runtime(
    task_queue: str = DEFAULT_TASK_QUEUE,
    say: Callable[[str], None] | None = None,
    *,
    scope: WorkerScope = DENY_ALL,
    memory_limit: int | None = None,
    **server_kwargs,
) -> AsyncIterator[Client]:
    """Start an embedded dev server, connect, run an in-process worker; yield the client.

    Everything is shut down when the block ends. The server object is available as
    `client.djset_server` (its address, Web UI url...). A server that cannot start raises
    ClientError (one line), like every other connection problem. The worker's `scope`
    (see run_worker) allows nothing unless given: its port is reachable by other local
    users while it runs. `memory_limit`: its budget for heavy steps (None: the default).
    """
    server = EmbeddedServer(**server_kwargs)
    try:
        # In this thread, not a pool thread: the server is tied to the thread that starts
        # it (it dies with it, see server._die_with_parent_hook). Blocks the loop ~0.2-0.6 s.
        server.start()
    except EmbeddedServerError as exc:
        raise ClientError(f"embedded Temporal server: {exc}") from None
    try:
        client = await connect(server.connection_settings())
        client.djset_server = server  # type: ignore[attr-defined]
        async with run_worker(
            client, task_queue, say=say or _to_stderr, scope=scope, memory_limit=memory_limit
        ):
            yield client
    finally:
        server.stop()
