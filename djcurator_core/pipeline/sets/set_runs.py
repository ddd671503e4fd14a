"""Running one set from a command line: find the server to use, start DJSetWorkflow on
it, follow its progress and return the set.

The server is, in this order: the one configured (djset.temporal.*, TEMPORAL_* or a
temporal.toml profile), the local service (`beet djset --serve`) if one runs for the
state folder, else an embedded dev server with an in-process worker that lives exactly
as long as the command (`worker.embedded_runtime`). Schedules and `--collect` need a
server that outlives the command, so they use `find_server` alone.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from djcurator_core.core.report.justify import SetResult
from djcurator_core.pipeline.contracts import Progress, SetRequest
from djcurator_core.pipeline.server.local_service import ServiceInfo, running_service
from djcurator_core.pipeline.sets.client import (
    ClientError,
    ConnectionSettings,
    connect,
    start_set,
    wait_for_result,
)


@dataclass(frozen=True)
class Server:
    """Where a run goes. settings None: nothing runs; an embedded server is needed."""

    settings: ConnectionSettings | None
    task_queue: str
    service: ServiceInfo | None = None  # the local service, when it is the one used


def find_server(
    settings: ConnectionSettings, task_queue: str, state_dir: str | os.PathLike[str]
) -> Server:
    """The configured server, else the running local service, else Server(None, ...)."""
    configured = settings.if_configured()
    if configured is not None:
        return Server(configured, task_queue)
    service = running_service(state_dir)
    if service is None:
        return Server(None, task_queue)
    return Server(service.connection_settings(), service.task_queue, service)


def require_lasting_server(server: Server, purpose: str) -> ConnectionSettings:
    """The server's settings, or ClientError: `purpose` needs a server that keeps running."""
    if server.settings is None:
        raise ClientError(
            f"{purpose} needs a Temporal server that keeps running: start the local service "
            "with `beet djset --serve` (and keep it running), or configure "
            "djset.temporal.address or TEMPORAL_ADDRESS"
        )
    return server.settings


async def run_set(
    server: Server,
    request: SetRequest,
    *,
    worker_wait: float,
    later: str = "",
    wait: bool = True,
    on_started: Callable[[str], None] | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    memory_limit: int | None = None,
) -> SetResult | None:
    """Start the run (on an embedded server when `server` has no settings) and return its
    set; None with wait=False (the run goes on; the id went to `on_started`). No worker
    taking it within `worker_wait` seconds is a NoWorkerTookRun whose message ends with
    `later` (client.wait_for_pickup). `memory_limit`: the embedded worker's budget for
    heavy steps (memory_gate.py; None: its default)."""
    from djcurator_core.pipeline.workers.worker import embedded_runtime

    async def submit(client) -> SetResult | None:
        handle = await start_set(
            client, request, task_queue=server.task_queue, worker_wait=worker_wait, later=later
        )
        if on_started is not None:
            on_started(handle.id)
        if not wait:
            return None
        return await wait_for_result(handle, on_progress)

    if server.settings is None:
        if not wait:
            raise ClientError(
                "--no-wait needs a configured Temporal server (djset.temporal.address or "
                "TEMPORAL_ADDRESS) or a running `beet djset --serve`: the embedded server "
                "stops when beet exits"
            )
        async with embedded_runtime(
            task_queue=server.task_queue, memory_limit=memory_limit
        ) as client:
            return await submit(client)
    return await submit(await connect(server.settings))
