"""Nightly sets: Temporal Schedules that start DJSetWorkflow with a library request.

A schedule's action starts DJSetWorkflow with a `SetRequest` that names a beets library
and query (exported when the run runs) and a playlist target (written by the worker), so
every run sees the library as it is then and replaces the playlist atomically; a failed
run leaves the previous playlist as it was.

Schedule id = `client.workflow_id_for(name)` ("djset-<slug>"); each run's workflow id is
that id plus the scheduled time (Temporal appends it). Overlap policy SKIP (a run still
going when the next is due means the next is skipped), a catch-up window (runs missed
while the server was down are made up if the server is back within it). The server
keeps a cron expression only as calendars, so the cron text and time zone also go into
the action's memo, for `describe_schedule` to show.

Every error is a `ScheduleError` (a `ClientError`) with a one-line message.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleDescription,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
    WorkflowExecutionStatus,
    WorkflowFailureError,
)
from temporalio.service import RPCError, RPCStatusCode

from djcurator_core.pipeline.contracts import (
    DEFAULT_FRESH_SETS,
    DEFAULT_TASK_QUEUE,
    WORKFLOW_NAME,
    SetRequest,
)
from djcurator_core.pipeline.sets.client import (
    ClientError,
    _failure,
    _rpc_error,
    validate_request,
    workflow_id_for,
)
from djcurator_core.pipeline.sets.set_history import (
    MEMO_RECENT,
    MEMO_SCHEDULE,
    history_memo,
)
from djcurator_core.pipeline.sets.workflows import DJSetWorkflow

DEFAULT_CATCHUP_WINDOW = timedelta(hours=12)
MEMO_CRON = "djset_cron"
MEMO_TIMEZONE = "djset_timezone"
RPC_TIMEOUT = timedelta(seconds=10)


class ScheduleError(ClientError):
    """A schedule cannot be created, found or changed; str() is one line."""


def schedule_id_for(name: str) -> str:
    return workflow_id_for(name)


def check_timezone(name: str) -> str:
    """The IANA time zone name as given, or ScheduleError when Python does not know it."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(
            f"unknown time zone {name!r} (an IANA name such as Europe/Berlin or UTC)"
        ) from None
    return name


def local_timezone() -> str:
    """This machine's IANA time zone name ($TZ, else /etc/localtime's link), else UTC."""
    candidates = [os.environ.get("TZ", "").lstrip(":")]
    try:
        link = os.readlink("/etc/localtime")
        candidates.append(link.split("zoneinfo/", 1)[1] if "zoneinfo/" in link else "")
    except OSError:
        pass
    for candidate in candidates:
        if candidate:
            try:
                ZoneInfo(candidate)
                return candidate
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return "UTC"


# --- creating ----------------------------------------------------------------------------


def build_schedule(
    request: SetRequest,
    cron: str,
    timezone: str,
    task_queue: str = DEFAULT_TASK_QUEUE,
    catchup_window: timedelta = DEFAULT_CATCHUP_WINDOW,
) -> Schedule:
    schedule_id = schedule_id_for(request.name)
    return Schedule(
        action=ScheduleActionStartWorkflow(
            DJSetWorkflow.run,
            request,
            id=schedule_id,
            task_queue=task_queue,
            # the history of the schedule's sets lives here too (set_history.py)
            memo={MEMO_CRON: cron, MEMO_TIMEZONE: timezone, MEMO_SCHEDULE: schedule_id},
            static_summary=f"nightly set {request.name!r}: {cron} ({timezone})",
        ),
        spec=ScheduleSpec(cron_expressions=[cron], time_zone_name=timezone),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=catchup_window),
    )


async def upsert_schedule(
    client: Client,
    request: SetRequest,
    cron: str,
    timezone: str,
    task_queue: str = DEFAULT_TASK_QUEUE,
    catchup_window: timedelta = DEFAULT_CATCHUP_WINDOW,
    fresh_sets: int | None = None,
) -> tuple[str, bool]:
    """Create the schedule for `request.name`, or replace its action, times and policy
    (keeping it paused if it was, and the history of its sets). Returns (schedule id,
    created).

    `fresh_sets`: runs hold back the tracks of this many last sets (set_history.py); None
    keeps the request's own value, or DEFAULT_FRESH_SETS when the request does not set it."""
    if fresh_sets is not None:
        request = request.model_copy(update={"fresh_sets": fresh_sets})
    elif "fresh_sets" not in request.model_fields_set:
        request = request.model_copy(update={"fresh_sets": DEFAULT_FRESH_SETS})
    request = validate_request(request)
    if request.library is None or request.playlist is None:
        raise ScheduleError("a scheduled set needs a library source and a playlist target")
    if not cron.strip():
        raise ScheduleError("empty cron expression (e.g. '0 3 * * *': every day at 03:00)")
    check_timezone(timezone)
    schedule = build_schedule(request, cron.strip(), timezone, task_queue, catchup_window)
    schedule_id = schedule_id_for(request.name)
    try:
        await client.create_schedule(schedule_id, schedule, rpc_timeout=RPC_TIMEOUT)
        return schedule_id, True
    except ScheduleAlreadyRunningError:
        pass
    except RPCError as exc:
        raise _schedule_rpc_error(client, exc, cron) from None

    def keep_state(previous: ScheduleUpdateInput) -> ScheduleUpdate:
        old = previous.description.schedule
        schedule.state = old.state
        old_memo = getattr(old.action, "memo", None) or {}
        if MEMO_RECENT in old_memo:  # the raw payload, kept as it is
            schedule.action.memo = {
                **(schedule.action.memo or {}),
                MEMO_RECENT: old_memo[MEMO_RECENT],
            }
        return ScheduleUpdate(schedule=schedule)

    try:
        await client.get_schedule_handle(schedule_id).update(keep_state, rpc_timeout=RPC_TIMEOUT)
    except RPCError as exc:
        raise _schedule_rpc_error(client, exc, cron) from None
    return schedule_id, False


def _schedule_rpc_error(client: Client, exc: RPCError, cron: str | None = None) -> ClientError:
    if exc.status == RPCStatusCode.INVALID_ARGUMENT:
        what = f"schedule {cron!r}" if cron else "schedule"
        return ScheduleError(f"{what} refused by the server: {exc.message}")
    return _rpc_error(client, exc)


# --- looking at schedules ----------------------------------------------------------------


def local_time(moment: datetime, timezone: str | None) -> str:
    """ "2026-11-29 03:00 CET": a server time shown in the schedule's time zone."""
    try:
        zone = ZoneInfo(timezone) if timezone else None
    except (ZoneInfoNotFoundError, ValueError):
        zone = None
    if zone is None:
        return f"{moment:%Y-%m-%d %H:%M} UTC"
    return f"{moment.astimezone(zone):%Y-%m-%d %H:%M %Z}"


@dataclass(frozen=True)
class RunSummary:
    workflow_id: str
    run_id: str
    scheduled_at: datetime
    started_at: datetime
    status: str  # running, completed, failed, terminated, ...
    error: str | None = None  # "failed in <step>: <type>: <message>" of a failed run

    def line(self, timezone: str | None = None) -> str:
        text = f"{local_time(self.started_at, timezone)}  {self.status:<10} {self.workflow_id}"
        return f"{text}\n    {self.error}" if self.error else text


@dataclass(frozen=True)
class ScheduleSummary:
    id: str
    request: SetRequest | None
    cron: str | None
    timezone: str | None
    paused: bool
    note: str | None
    next_runs: list[datetime]
    recent: list[RunSummary] = field(default_factory=list)  # newest first
    actions: int = 0
    skipped_overlap: int = 0
    missed_catchup: int = 0
    task_queue: str | None = None  # where the runs go
    remembered_sets: int = 0  # sets in the schedule's history (set_history.py)

    @property
    def name(self) -> str:
        return self.request.name if self.request else self.id

    def line(self) -> str:
        """One line for the list: name, state, times, next run, last run's status."""
        state = "paused" if self.paused else "active"
        when = f"{self.cron} ({self.timezone})" if self.cron else "?"
        text = f"{self.name}  [{state}]  {when}"
        if self.next_runs and not self.paused:
            text += f"  next {local_time(self.next_runs[0], self.timezone)}"
        if self.recent:
            text += f"  last {self.recent[0].status}"
        return text

    def lines(self) -> list[str]:
        """The full description for `show`."""
        request = self.request
        lines = [
            f"schedule {self.id}: {'paused' if self.paused else 'active'}"
            + (f" ({self.note})" if self.note else ""),
            f"  when: {self.cron or '?'}  time zone {self.timezone or '?'}",
        ]
        if request is not None and request.library is not None:
            lines.append(f"  query: {request.library.shown_query()}")
            lines.append(f"  library: {request.library.db}")
        if request is not None and request.playlist is not None:
            lines.append(f"  playlist: {request.playlist.shown()}")
        if request is not None:
            options = request.options.model_dump(exclude_defaults=True, exclude={"scoring"})
            if options:
                shown = ", ".join(f"{key}={value}" for key, value in options.items())
                lines.append(f"  options: {shown}")
            if request.fresh_sets:
                lines.append(
                    f"  fresh sets: holds back the tracks of the last {request.fresh_sets} "
                    f"set(s); {self.remembered_sets} remembered"
                )
        if self.paused:
            lines.append("  next runs: none while paused")
        else:
            times = ", ".join(local_time(t, self.timezone) for t in self.next_runs[:3])
            lines.append(f"  next runs: {times or 'none'}")
        lines.append(
            f"  runs started: {self.actions}; skipped (still running): {self.skipped_overlap};"
            f" missed (outside the catch-up window): {self.missed_catchup}"
        )
        if self.recent:
            lines.append("  recent runs (newest first):")
            lines.extend(
                f"    {line}" for run in self.recent for line in run.line(self.timezone).split("\n")
            )
        else:
            lines.append("  recent runs: none yet")
        return lines


async def _decode_request(client: Client, description: ScheduleDescription) -> SetRequest | None:
    action = description.schedule.action
    if not isinstance(action, ScheduleActionStartWorkflow) or not action.args:
        return None
    try:
        values = await client.data_converter.decode(list(action.args), [SetRequest])
    except Exception:  # a schedule written by another version: show what we can
        return None
    return values[0] if values else None


async def _decode_memo(client: Client, description: ScheduleDescription) -> dict[str, str]:
    action = description.schedule.action
    memo = getattr(action, "memo", None) or {}
    decoded: dict[str, str] = {}
    for key in (MEMO_CRON, MEMO_TIMEZONE):
        if key in memo:
            try:
                decoded[key] = str((await client.data_converter.decode([memo[key]]))[0])
            except Exception:
                continue
    return decoded


async def run_summary(
    client: Client, workflow_id: str, run_id: str, scheduled: datetime, started: datetime
) -> RunSummary:
    """Status of one scheduled run; for a failed one, where and why (one line)."""
    handle = client.get_workflow_handle(workflow_id, run_id=run_id)
    status, error = "unknown", None
    try:
        description = await handle.describe(rpc_timeout=RPC_TIMEOUT)
        status = description.status.name.lower() if description.status else "unknown"
        if description.status == WorkflowExecutionStatus.FAILED:
            try:
                await handle.result(follow_runs=False)
            except WorkflowFailureError as exc:
                failure = _failure(workflow_id, exc)
                where = f"in {failure.step}: " if failure.step else ""
                error = f"failed {where}{failure.error_type}: {failure.message}"
    except RPCError:
        pass
    return RunSummary(workflow_id, run_id, scheduled, started, status, error)


async def _describe(client: Client, schedule_id: str) -> ScheduleDescription:
    return await _call(client, schedule_id, "describe")


async def describe_schedule(client: Client, schedule_id: str, recent: int = 5) -> ScheduleSummary:
    description = await _describe(client, schedule_id)
    info = description.info
    memo = await _decode_memo(client, description)
    actions = sorted(info.recent_actions, key=lambda a: a.started_at, reverse=True)[:recent]
    runs = await asyncio.gather(
        *(
            run_summary(
                client,
                action.action.workflow_id,
                action.action.first_execution_run_id,
                action.scheduled_at,
                action.started_at,
            )
            for action in actions
        )
    )
    state = description.schedule.state
    return ScheduleSummary(
        id=description.id,
        request=await _decode_request(client, description),
        cron=memo.get(MEMO_CRON),
        timezone=memo.get(MEMO_TIMEZONE) or description.schedule.spec.time_zone_name,
        paused=state.paused,
        note=state.note or None,
        next_runs=list(info.next_action_times),
        recent=list(runs),
        actions=info.num_actions,
        skipped_overlap=info.num_actions_skipped_overlap,
        missed_catchup=info.num_actions_missed_catchup_window,
        task_queue=getattr(description.schedule.action, "task_queue", None),
        remembered_sets=len(
            await history_memo(client, getattr(description.schedule.action, "memo", None))
        ),
    )


async def list_schedules(client: Client) -> list[ScheduleSummary]:
    """Every schedule that starts DJSetWorkflow, by name. (The list comes from the
    server's visibility store, which can lag a second behind a new schedule.)"""
    ids = []
    try:
        async for entry in await client.list_schedules(rpc_timeout=RPC_TIMEOUT):
            workflow = getattr(getattr(entry.schedule, "action", None), "workflow", None)
            if workflow == WORKFLOW_NAME:
                ids.append(entry.id)
    except RPCError as exc:
        raise _rpc_error(client, exc) from None
    described = await asyncio.gather(
        *(describe_schedule(client, schedule_id, recent=1) for schedule_id in ids),
        return_exceptions=True,
    )
    summaries = []
    for summary in described:
        if isinstance(summary, ScheduleError):  # deleted meanwhile
            continue
        if isinstance(summary, BaseException):
            raise summary
        summaries.append(summary)
    return sorted(summaries, key=lambda s: s.name)


async def resolve(client: Client, name: str) -> str:
    """The id of the schedule for set name `name` (or `name` itself when it is an id)."""
    candidates = [schedule_id_for(name)]
    if name not in candidates:
        candidates.append(name)
    for candidate in candidates:
        try:
            await _describe(client, candidate)
            return candidate
        except ScheduleError:  # not found: try the next
            continue
    raise ScheduleError(f"no schedule named {name!r} (`beet djset --schedules` lists them)")


# --- changing schedules ------------------------------------------------------------------


async def _call(client: Client, schedule_id: str, operation: str, **kwargs) -> Any:
    """`operation` of the schedule's handle; a missing schedule is a ScheduleError."""
    handle = client.get_schedule_handle(schedule_id)
    try:
        return await getattr(handle, operation)(rpc_timeout=RPC_TIMEOUT, **kwargs)
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise ScheduleError(f"no schedule {schedule_id!r}") from None
        raise _rpc_error(client, exc) from None


async def pause_schedule(client: Client, schedule_id: str, note: str = "paused by beet djset"):
    await _call(client, schedule_id, "pause", note=note)


async def unpause_schedule(client: Client, schedule_id: str) -> None:
    await _call(client, schedule_id, "unpause", note="")


async def delete_schedule(client: Client, schedule_id: str) -> None:
    """Delete the schedule; its past runs stay in the server's history."""
    await _call(client, schedule_id, "delete")


@dataclass(frozen=True)
class Triggered:
    workflow_id: str | None  # the run started, None when it was skipped
    run_id: str | None = None
    skipped_because_running: Sequence[str] = ()


async def trigger_schedule(client: Client, schedule_id: str, wait: float = 15.0) -> Triggered:
    """Start a run now (even when paused) and return its workflow id once the server has
    started it; a run still going means this one is skipped (overlap policy SKIP)."""
    before = (await _describe(client, schedule_id)).info  # only its two counters matter
    await _call(client, schedule_id, "trigger")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    while loop.time() < deadline:
        info = (await _describe(client, schedule_id)).info
        if info.num_actions > before.num_actions:
            newest = max(info.recent_actions, key=lambda a: a.started_at)
            return Triggered(newest.action.workflow_id, newest.action.first_execution_run_id)
        if info.num_actions_skipped_overlap > before.num_actions_skipped_overlap:
            running = [a.workflow_id for a in info.running_actions]
            return Triggered(None, None, running)
        await asyncio.sleep(0.2)
    raise ScheduleError(f"schedule {schedule_id!r} did not start a run within {wait:g} s")
