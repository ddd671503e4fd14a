"""Fresh nightly sets: a schedule remembers the tracks of its last sets in its own memo.

A nightly set should not be the same set every night. Each run of a schedule holds back
the tracks of the schedule's last K sets (`SetRequest.fresh_sets`, the plugin's
`djset.schedule.fresh_sets`, default 3) while the pool has enough other tracks
(`planning.held_back`), and the playlist header says how many were held back.

Where the history lives, and why there:

- In the memo of the schedule's action (key `djset_recent_sets`: a list of track-id lists,
  newest first, at most K). Temporal copies an action's memo into every run it starts,
  so a run reads the history from its own memo (`recent_sets`): deterministic workflow
  code, no extra read, and nothing that only one machine sees. Any worker of a Temporal
  cluster, on any machine, finds it; `temporal schedule describe` and the Web UI show it
  beside the schedule; deleting the schedule deletes its history.
- A run that wrote its playlist appends its set (`remember_set_activity`, an async
  activity with the worker's client): it updates the schedule through the server, which
  serialises updates with a conflict token, so two workers never lose each other's
  entries. Overlap policy SKIP means the next run starts after this one finished, so it
  sees the new entry.
- Re-running `beet djset --schedule` for the same name replaces the schedule's action
  but keeps the history (`schedules.upsert_schedule`).

Not a local file (one machine's worker would not see another's), not the visibility
store (eventually consistent: a run started right after the previous one might miss it,
and listing runs needs advanced visibility on some clusters).
"""

from __future__ import annotations

from typing import Any

from temporalio import activity, workflow
from temporalio.client import (
    ScheduleActionStartWorkflow,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.service import RPCError

from djcurator_core.pipeline.contracts import RememberSet

MEMO_RECENT = "djset_recent_sets"
MEMO_SCHEDULE = "djset_schedule_id"


def recent_sets(limit: int) -> list[list[str]]:
    """In workflow code: the newest `limit` sets of this run's schedule (from the memo the
    schedule gave the run; empty for a run no schedule started)."""
    if limit <= 0:
        return []
    try:
        value = workflow.memo_value(MEMO_RECENT, [], type_hint=list[list[str]])
    except Exception:  # a memo written by another version: start afresh
        return []
    return [list(s) for s in value[:limit]]


def schedule_of_run() -> str | None:
    """In workflow code: the id of the schedule that started this run, else None."""
    try:
        return workflow.memo_value(MEMO_SCHEDULE, None, type_hint=str)
    except Exception:
        return None


async def _decoded(client, payload: Any) -> list[list[str]]:
    if isinstance(payload, list):
        return payload
    try:
        value = (await client.data_converter.decode([payload], [list[list[str]]]))[0]
    except Exception:
        return []
    return [list(s) for s in value] if isinstance(value, list) else []


async def history_memo(client, memo: Any) -> list[list[str]]:
    """The history kept in an action memo read from the server (raw payloads)."""
    if not memo or MEMO_RECENT not in memo:
        return []
    return await _decoded(client, memo[MEMO_RECENT])


@activity.defn
async def remember_set_activity(request: RememberSet) -> int:
    """Put the set first in its schedule's history (keeping `keep` sets); returns the
    number of sets now remembered. A schedule deleted meanwhile is not an error: there
    is nothing left to keep fresh."""
    client = activity.client()
    handle = client.get_schedule_handle(request.schedule_id)
    remembered = 0

    async def add(update: ScheduleUpdateInput) -> ScheduleUpdate | None:
        nonlocal remembered
        schedule = update.description.schedule
        action = schedule.action
        if not isinstance(action, ScheduleActionStartWorkflow):
            return None
        memo = dict(action.memo or {})
        history = await history_memo(client, memo)
        history = [request.track_ids, *history][: request.keep]
        remembered = len(history)
        memo[MEMO_RECENT] = history
        action.memo = memo
        return ScheduleUpdate(schedule=schedule)

    try:
        await handle.update(add)
    except RPCError as exc:
        if "not found" in str(exc).lower():
            return 0
        raise
    return remembered


HISTORY_ACTIVITIES = [remember_set_activity]
