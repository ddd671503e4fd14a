"""Client side of the pipeline: connect, start a set, follow its progress, get the result.

Every error is a `ClientError` whose str() is one line a command line can print as is.
Connection settings left as None come from Temporal's standard configuration
(TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS*, profiles in
temporal.toml, read by temporalio.envconfig), then default to localhost:7233.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError
from temporalio.api.enums.v1 import TaskQueueKind, TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest, DescribeTaskQueueRequest
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.envconfig import ClientConfig
from temporalio.exceptions import (
    ApplicationError,
    CancelledError,
    TerminatedError,
    WorkflowAlreadyStartedError,
)
from temporalio.exceptions import TimeoutError as TemporalTimeoutError
from temporalio.service import RPCError, RPCStatusCode

from djcurator_core.core.models import TrackFormatError, parse_tracks
from djcurator_core.core.report.justify import SetResult
from djcurator_core.errors import DJSetError, first_line, validation_error_line
from djcurator_core.pipeline.codec import data_converter
from djcurator_core.pipeline.contracts import (
    DEFAULT_TASK_QUEUE,
    SOLVER_COMPILING,
    Progress,
    SetRequest,
)
from djcurator_core.pipeline.payload_store import PayloadStoreError
from djcurator_core.pipeline.sets.track_sets import INLINE_TRACKS, pack
from djcurator_core.pipeline.sets.workflows import DJSetWorkflow

DEFAULT_ADDRESS = "localhost:7233"
DEFAULT_NAMESPACE = "default"
WORKER_HINT = "start one with `djset-worker --task-queue {queue}` (or `beet djset --serve`)"
PICKUP_HINT = (
    "start a worker (`beet djset --serve`, or `djset-worker --task-queue {queue}`); "
    "the run waits on the server{later}"
)


# --- errors ------------------------------------------------------------------------------


class ClientError(DJSetError):
    """A problem talking to Temporal or running the set; str() is one clear line."""


class ServerUnreachable(ClientError):
    pass


class NoWorkerPolling(ClientError):
    pass


class NoWorkerTookRun(NoWorkerPolling):
    """The run was started but no worker took it: the run stays on the server."""

    def __init__(self, workflow_id: str, message: str) -> None:
        self.workflow_id = workflow_id
        super().__init__(message)


class WorkflowAlreadyRunning(ClientError):
    def __init__(self, workflow_id: str) -> None:
        self.workflow_id = workflow_id
        super().__init__(
            f"a set with workflow id {workflow_id!r} is already running; wait for it "
            "(fetch its result) or choose another set name"
        )


class InvalidSetRequest(ClientError):
    """The request was refused before anything was started."""


class SetWorkflowFailed(ClientError):
    def __init__(
        self, workflow_id: str, error_type: str, message: str, step: str | None = None
    ) -> None:
        self.workflow_id = workflow_id
        self.error_type = error_type
        self.message = message = one_line(message)
        self.step = step
        where = f" in {step}" if step else ""
        super().__init__(f"set workflow {workflow_id} failed{where}: {error_type}: {message}")


def one_line(text: str) -> str:
    """Multi-line messages (pydantic's, for one) joined into one line."""
    lines = [line.strip() for line in text.strip().splitlines()]
    return ": ".join(line for line in lines if line and not line.startswith("For further"))


_CONNECT_REASONS = (
    ("Connection refused", "connection refused"),
    ("dns error", "host name not found"),
    ("certificate", "TLS certificate problem"),
    ("Unauthenticated", "not authorised: check the API key or client certificate"),
    ("timed out", "timed out"),
)


def _connect_reason(error: BaseException) -> str:
    """The SDK's connect errors are nested Rust debug strings: name the likely cause."""
    text = str(error)
    for needle, reason in _CONNECT_REASONS:
        if needle.lower() in text.lower():
            return reason
    return first_line(error)[:200]


# --- connecting --------------------------------------------------------------------------


@dataclass(frozen=True)
class ConnectionSettings:
    """Explicit settings; None means "from Temporal's configuration, else the default"."""

    address: str | None = None
    namespace: str | None = None
    api_key: str | None = None
    tls: bool | None = None
    profile: str | None = None
    config_file: str | None = None
    use_environment: bool = True  # False: ignore TEMPORAL_* and temporal.toml (embedded use)

    def connect_config(self, defaults: bool = True) -> dict[str, Any]:
        """Keyword arguments for `Client.connect` (without the data converter);
        defaults=False: only what is configured (no default address or namespace)."""
        config: dict[str, Any] = {}
        if self.use_environment:
            try:
                config = dict(
                    ClientConfig.load_client_connect_config(
                        profile=self.profile, config_file=self.config_file
                    )
                )
            except Exception as exc:  # the Rust loader raises plain errors for bad files
                raise ClientError(f"Temporal configuration: {first_line(exc)}") from None
        if self.address:
            config["target_host"] = self.address
        if self.namespace:
            config["namespace"] = self.namespace
        if self.api_key:
            config["api_key"] = self.api_key
            config.setdefault("tls", True)
        if self.tls is not None:
            config["tls"] = self.tls
        if not defaults:
            return config
        config.setdefault("target_host", DEFAULT_ADDRESS)
        config.setdefault("namespace", DEFAULT_NAMESPACE)
        return config

    def if_configured(self) -> ConnectionSettings | None:
        """These settings when they name a server (here, in TEMPORAL_ADDRESS or in a
        temporal.toml profile), else None: then the local service or an embedded server
        is used. Other settings (API key, namespace, TLS) without an address are an
        error, not silently dropped."""
        configured = self.connect_config(defaults=False)
        if configured.get("target_host"):
            return self
        if configured:
            names = ", ".join(sorted(configured))
            raise ClientError(
                f"Temporal settings ({names}) but no server address: set "
                "djset.temporal.address or TEMPORAL_ADDRESS (the local service and the "
                "embedded server take no such settings)"
            )
        return None


async def connect(settings: ConnectionSettings | None = None, timeout: float = 10.0) -> Client:
    """A client with the pydantic data converter and the gzip codec (see codec.py)."""
    config = (settings or ConnectionSettings()).connect_config()
    address = config["target_host"]
    try:
        return await asyncio.wait_for(
            Client.connect(**config, data_converter=data_converter()), timeout
        )
    except (RuntimeError, RPCError, OSError, TimeoutError) as exc:
        reason = "timed out" if isinstance(exc, TimeoutError) else _connect_reason(exc)
        raise ServerUnreachable(
            f"cannot reach the Temporal server at {address} ({reason}); start one with "
            "`temporal server start-dev` or set TEMPORAL_ADDRESS"
        ) from None


async def check_namespace(client: Client) -> None:
    """ClientError (one line) unless the client's namespace exists on the server."""
    try:
        await client.workflow_service.describe_namespace(
            DescribeNamespaceRequest(namespace=client.namespace), timeout=timedelta(seconds=10)
        )
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            address = client.service_client.config.target_host
            raise ClientError(f"namespace {client.namespace!r} not found on {address}") from None
        raise _rpc_error(client, exc) from None


# --- starting a set ----------------------------------------------------------------------


def workflow_id_for(name: str) -> str:
    """A stable workflow id for a set name: "djset-" + a slug (+ a hash if lossy)."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    lossless = slug == name and len(slug) <= 60
    if not lossless:
        digest = hashlib.sha1(name.encode()).hexdigest()[:8]
        slug = f"{slug[:60]}-{digest}" if slug else digest
    return f"djset-{slug}"


def validate_request(request: SetRequest | dict) -> SetRequest:
    """Check a request before it reaches Temporal: a value that fails validation while the
    workflow decodes its input would make its task retry forever."""
    try:
        data = request.model_dump(mode="json") if isinstance(request, SetRequest) else request
        checked = SetRequest.model_validate(data)
    except ValidationError as exc:
        line = validation_error_line(exc, default_field="request")
        raise InvalidSetRequest(f"set request {line}") from None
    if checked.tracks is not None:
        try:
            tracks = parse_tracks([t.model_dump() for t in checked.tracks], "inline tracks")
        except TrackFormatError as exc:
            raise InvalidSetRequest(str(exc)) from None
        ids = {track.id for track in tracks}
        for which in ("start", "end"):
            pinned = getattr(checked.options, which)
            if pinned is not None and pinned not in ids:
                raise InvalidSetRequest(f"{which} track id {pinned!r} is not among the tracks")
    if checked.tracks_path is not None:
        # The worker reads the file: give it a path that does not depend on its cwd.
        checked = checked.model_copy(
            update={"tracks_path": str(Path(checked.tracks_path).expanduser().absolute())}
        )
    return checked


def by_reference(request: SetRequest) -> SetRequest:
    """A request whose inline tracks are more than track_sets.INLINE_TRACKS, with the tracks
    put in the payload store (only their digest goes to Temporal; see track_sets.py)."""
    if request.tracks is None or len(request.tracks) <= INLINE_TRACKS:
        return request
    try:
        stored = pack(request.tracks)
    except PayloadStoreError as exc:
        raise InvalidSetRequest(str(exc)) from None
    return request.model_copy(update={"tracks": None, "stored_tracks": stored})


async def pollers(client: Client, task_queue: str) -> list[str]:
    """Identities of the workers the server has seen polling the queue for workflow tasks
    (the server forgets a dead worker only after a few minutes)."""
    response = await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=client.namespace,
            task_queue=TaskQueue(name=task_queue, kind=TaskQueueKind.TASK_QUEUE_KIND_NORMAL),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        ),
        timeout=timedelta(seconds=5),
    )
    return [poller.identity for poller in response.pollers]


async def wait_for_worker(client: Client, task_queue: str, wait: float = 5.0) -> None:
    """Return once a worker polls `task_queue`; NoWorkerPolling after `wait` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    while True:
        try:
            if await pollers(client, task_queue):
                return
        except RPCError as exc:
            raise _rpc_error(client, exc) from None
        if loop.time() >= deadline:
            address = client.service_client.config.target_host
            raise NoWorkerPolling(
                f"no worker polls task queue {task_queue!r} on {address}"
                f" (waited {wait:g} s); {WORKER_HINT.format(queue=task_queue)}"
            )
        await asyncio.sleep(0.2)


async def picked_up(handle: WorkflowHandle) -> bool:
    """Whether a worker has taken the run: a workflow task was completed (no workflow
    task pending, or an activity scheduled), or the run already ended. Asked from the
    server's view of the run (describe).

    A task merely "started" does not count: the server hands a task to a poll that a
    frozen or killed worker left open, marks it started, and only reschedules it when
    the workflow task times out (10 s)."""
    description = await handle.describe(rpc_timeout=timedelta(seconds=5))
    if description.status != WorkflowExecutionStatus.RUNNING:
        return True
    raw = description.raw_description
    return not raw.HasField("pending_workflow_task") or len(raw.pending_activities) > 0


async def wait_for_pickup(
    client: Client, handle: WorkflowHandle, task_queue: str, wait: float = 5.0, later: str = ""
) -> None:
    """Return once a worker has taken the run; NoWorkerTookRun after `wait` seconds.

    The server can keep listing a worker that stopped or froze as a poller for minutes,
    so `wait_for_worker` alone can pass while nobody is there; this watches the run
    itself. `later` ends the message (how to get the result later; "{workflow_id}" in it
    is replaced by the run's workflow id)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    while True:
        try:
            if await picked_up(handle):
                return
        except RPCError as exc:
            raise _rpc_error(client, exc) from None
        if loop.time() >= deadline:
            address = client.service_client.config.target_host
            hint = PICKUP_HINT.format(queue=task_queue, later=later.format(workflow_id=handle.id))
            raise NoWorkerTookRun(
                handle.id,
                f"no worker took run {handle.id} within {wait:g} s on task queue "
                f"{task_queue!r} at {address}; {hint}",
            )
        await asyncio.sleep(0.2)


def _rpc_error(client: Client | None, exc: RPCError) -> ClientError:
    """One line for a failed call; `client` names the server (None: a handle's call,
    which does not expose its client publicly)."""
    at = f" at {client.service_client.config.target_host}" if client else ""
    if exc.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED):
        return ServerUnreachable(f"cannot reach the Temporal server{at} ({exc.message})")
    if exc.status == RPCStatusCode.NOT_FOUND:
        return ClientError(f"not found on the Temporal server{at}: {exc.message}")
    return ClientError(f"Temporal server{at}: {exc.message}")


async def start_set(
    client: Client,
    request: SetRequest,
    workflow_id: str | None = None,
    task_queue: str = DEFAULT_TASK_QUEUE,
    *,
    worker_wait: float = 5.0,
    if_running: Literal["fail", "attach"] = "fail",
    later: str = "",
) -> WorkflowHandle[Any, SetResult]:
    """Validate the request, check that a worker polls the queue, start DJSetWorkflow,
    and check that a worker takes it within `worker_wait` seconds (`wait_for_pickup`;
    NoWorkerTookRun, whose message ends with `later`, when none does).

    Workflow id: `workflow_id_for(request.name)` unless given. A finished run with the same
    id is no obstacle (a new run starts); a running one raises WorkflowAlreadyRunning, or
    with if_running="attach" returns a handle to that run (its own request, not this one).
    """
    request = by_reference(validate_request(request))
    workflow_id = workflow_id or workflow_id_for(request.name)
    await wait_for_worker(client, task_queue, worker_wait)
    try:
        handle = await client.start_workflow(
            DJSetWorkflow.run,
            request,
            id=workflow_id,
            task_queue=task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            id_conflict_policy=(
                WorkflowIDConflictPolicy.USE_EXISTING
                if if_running == "attach"
                else WorkflowIDConflictPolicy.FAIL
            ),
        )
    except WorkflowAlreadyStartedError:
        raise WorkflowAlreadyRunning(workflow_id) from None
    except RPCError as exc:
        raise _rpc_error(client, exc) from None
    await wait_for_pickup(client, handle, task_queue, worker_wait, later)
    return handle


# --- following it ------------------------------------------------------------------------


async def query_progress(handle: WorkflowHandle, timeout: float = 5.0) -> Progress | None:
    """The workflow's progress, or None when it cannot be asked right now."""
    try:
        return await handle.query(
            DJSetWorkflow.get_progress, rpc_timeout=timedelta(seconds=timeout)
        )
    except Exception:  # no worker, busy, gone... (RPCError, TimeoutError, query errors)
        return None


async def describe_progress(handle: WorkflowHandle, timeout: float = 5.0) -> Progress | None:
    """`query_progress` plus the running step's attempt and last heartbeat message, which
    only the server knows (from describe: the pending activity)."""
    progress = await query_progress(handle, timeout)
    if progress is None or progress.status in ("initializing", "completed", "failed"):
        return progress
    try:
        description = await handle.describe(rpc_timeout=timedelta(seconds=timeout))
    except Exception:
        return progress
    for pending in description.raw_description.pending_activities:
        if pending.activity_type.name != progress.step:
            continue
        detail = None
        if pending.heartbeat_details.payloads:
            try:
                # every client uses the project's converter (codec.py), so decode with it
                values = await data_converter().decode(pending.heartbeat_details.payloads)
                detail = str(values[0]) if values else None
            except Exception:
                detail = None
        update = {"attempt": pending.attempt, "detail": detail}
        if detail == SOLVER_COMPILING:
            update["waiting_for"] = starting_worker(pending.last_worker_identity)
        return progress.model_copy(update=update)
    return progress


def starting_worker(identity: str) -> str:
    """What a run waits for while its worker compiles the solver (SOLVER_COMPILING)."""
    return (
        f"worker {identity or '(unnamed)'}, which is starting: it compiles its solver on its "
        "first run (about 10-30 s)"
    )


def _failure(workflow_id: str, error: WorkflowFailureError) -> SetWorkflowFailed:
    cause = error.cause
    if isinstance(cause, ApplicationError):
        step = cause.details[0] if cause.details and isinstance(cause.details[0], str) else None
        return SetWorkflowFailed(workflow_id, cause.type or "ApplicationError", cause.message, step)
    if isinstance(cause, TerminatedError):
        return SetWorkflowFailed(workflow_id, "Terminated", cause.message or "terminated")
    if isinstance(cause, CancelledError):
        return SetWorkflowFailed(workflow_id, "Cancelled", cause.message or "cancelled")
    if isinstance(cause, TemporalTimeoutError):
        return SetWorkflowFailed(workflow_id, "WorkflowTimeout", cause.message or "timed out")
    return SetWorkflowFailed(workflow_id, type(cause).__name__, first_line(cause or error))


def _news(progress: Progress, last: Progress | None, waits: set[str | None]) -> bool:
    """Whether `progress` is worth a line after `last`, `waits` having been said already
    (see wait_for_result)."""
    if last is None:
        return True
    quiet = {"detail": None, "waiting_for": None}
    if progress.model_copy(update=quiet) != last.model_copy(update=quiet):
        return True
    return progress.waiting_for not in waits


async def wait_for_result(
    handle: WorkflowHandle,
    on_progress: Callable[[Progress], None] | None = None,
    poll_interval: float = 0.5,
) -> SetResult:
    """Wait for the set; call `on_progress` with each new progress seen (and the last).

    Progress comes from `describe_progress`; a change of `detail` alone (the solver's
    running commentary) does not count as new, a wait that begins (`waiting_for`: the
    worker is starting) does, once."""
    result = asyncio.ensure_future(handle.result())
    last: Progress | None = None
    waits: set[str | None] = {None}  # what the run waits for, said once each
    try:
        while True:
            done, _ = await asyncio.wait({result}, timeout=poll_interval)
            if on_progress is not None:
                progress = await describe_progress(handle)
                if progress is not None and _news(progress, last, waits):
                    on_progress(progress)
                    waits.add(progress.waiting_for)
                if progress is not None:
                    last = progress
            if done:
                return result.result()
    except WorkflowFailureError as exc:
        raise _failure(handle.id, exc) from None
    except RPCError as exc:
        raise _rpc_error(None, exc) from None
    finally:
        if not result.done():
            result.cancel()


async def fetch_request(client: Client, workflow_id: str) -> SetRequest | None:
    """The request the latest run with this id was started with (the input of its first
    history event), or None when it cannot be read."""
    events = client.get_workflow_handle(workflow_id).fetch_history_events(page_size=1)
    try:
        async for event in events:
            started = event.workflow_execution_started_event_attributes
            values = await client.data_converter.decode(started.input.payloads, [SetRequest])
            return values[0] if values else None
    except Exception:  # not found, another workflow type, unreadable: no name from it
        return None
    return None


async def fetch_result(client: Client, workflow_id: str) -> SetResult:
    """The result of the latest run with this id (waits if it is still running)."""
    handle = client.get_workflow_handle_for(DJSetWorkflow.run, workflow_id)
    try:
        return await handle.result()
    except WorkflowFailureError as exc:
        raise _failure(workflow_id, exc) from None
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise ClientError(f"no set workflow with id {workflow_id!r}") from None
        raise _rpc_error(client, exc) from None
