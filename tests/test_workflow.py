"""DJSetWorkflow end to end on the session's real Temporal dev server (in-process workers)."""

from __future__ import annotations

import asyncio
import errno
import json
import threading
import time
import uuid
from datetime import timedelta

import pytest
from temporal_helpers import TEST_SCOPE, activity_records, read_log
from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.service import RPCError, RPCStatusCode

import djcurator_core.pipeline.sets.set_activities as activities_module
from djcurator_core.core.models import load_tracks
from djcurator_core.core.options.set_options import SetOptions
from djcurator_core.core.planning.planning import plan_order
from djcurator_core.core.report.justify import justify
from djcurator_core.core.solver.sequencing import SOLVERS
from djcurator_core.pipeline.contracts import STEPS, SetRequest
from djcurator_core.pipeline.sets.client import (
    ClientError,
    InvalidSetRequest,
    NoWorkerPolling,
    SetWorkflowFailed,
    WorkflowAlreadyRunning,
    describe_progress,
    fetch_result,
    query_progress,
    start_set,
    wait_for_result,
    workflow_id_for,
)
from djcurator_core.pipeline.sets.set_activities import SET_ACTIVITIES
from djcurator_core.pipeline.sets.workflows import DJSetWorkflow
from djcurator_core.pipeline.workers.worker import run_worker

pytestmark = pytest.mark.temporal

ORDERED_STATES = ["initializing"] + [status for status, _ in STEPS] + ["completed"]


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def _exists(client, workflow_id: str) -> bool:
    try:
        await client.get_workflow_handle(workflow_id).describe()
    except RPCError as exc:
        assert exc.status == RPCStatusCode.NOT_FOUND
        return False
    return True


def slowed(activity_fn, seconds: float):
    """The same activity (same name) that first sleeps: makes every step observable."""
    name = activity_fn.__temporal_activity_definition.name

    def wrapper(request):
        time.sleep(seconds)
        return activity_fn(request)

    # Same signature and type hints (resolved in the activities module) as the original.
    wrapper.__wrapped__ = activity_fn
    wrapper.__annotations__ = dict(activity_fn.__annotations__)
    return activity.defn(name=name)(wrapper)


def slow_activities(seconds: float) -> list:
    return [slowed(fn, seconds) for fn in SET_ACTIVITIES]


async def test_fixture_set_equals_core_functions(
    temporal_client, task_queue, djset_worker, fixture_tracks_path
):
    options = SetOptions(solver="greedy", energy_arc="rise", start="t05")
    request = SetRequest(name=_name("happy"), tracks_path=str(fixture_tracks_path), options=options)
    handle = await start_set(temporal_client, request, task_queue=task_queue)
    seen = []
    result = await wait_for_result(handle, on_progress=seen.append)

    tracks = load_tracks(fixture_tracks_path)
    plan = plan_order(tracks, options)
    expected = justify(
        tracks,
        plan.order,
        options.scoring,
        solver="greedy",
        notes=plan.notes,
        pinned_start=True,
        energy_arc="rise",
    )
    assert result == expected
    assert result.order[0] == "t05" and sorted(result.order) == sorted(t.id for t in tracks)

    final = seen[-1]
    assert final.status == "completed" and final.step_number == 3 and final.total_steps == 3
    assert final.tracks_loaded == 20
    assert final.attempts == {name: 1 for _, name in STEPS}
    assert set(final.timings) == {name for _, name in STEPS}
    assert await handle.query(DJSetWorkflow.get_status) == "completed"

    records = await activity_records(handle)
    assert {name: (r.scheduled, r.last_attempt) for name, r in records.items()} == {
        name: (1, 1) for _, name in STEPS
    }
    assert await fetch_result(temporal_client, handle.id) == result


async def test_inline_tracks_give_the_same_set(
    temporal_client, task_queue, djset_worker, fixture_tracks_path
):
    tracks = load_tracks(fixture_tracks_path)
    options = SetOptions(solver="greedy")
    by_file = await wait_for_result(
        await start_set(
            temporal_client,
            SetRequest(name=_name("file"), tracks_path=str(fixture_tracks_path), options=options),
            task_queue=task_queue,
        )
    )
    inline = await wait_for_result(
        await start_set(
            temporal_client,
            SetRequest(name=_name("inline"), tracks=tracks, options=options),
            task_queue=task_queue,
        )
    )
    assert inline == by_file


async def test_activity_options_are_the_designs(
    temporal_client, task_queue, djset_worker, fixture_tracks_path
):
    request = SetRequest(name=_name("options"), tracks_path=str(fixture_tracks_path))
    handle = await start_set(temporal_client, request, task_queue=task_queue)
    await wait_for_result(handle)
    history = await handle.fetch_history()
    seen = {}
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            attrs = event.activity_task_scheduled_event_attributes
            policy = attrs.retry_policy
            seen[attrs.activity_type.name] = (
                attrs.start_to_close_timeout.ToTimedelta(),
                attrs.heartbeat_timeout.ToTimedelta(),
                policy.initial_interval.ToTimedelta(),
                policy.backoff_coefficient,
                policy.maximum_attempts,
            )
    second = timedelta(seconds=1)
    assert seen == {
        "load_tracks_activity": (30 * second, timedelta(0), second, 2.0, 3),
        "sequence_tracks_activity": (60 * second, 4 * second, second, 2.0, 3),
        "generate_justifications_activity": (60 * second, 4 * second, second, 2.0, 3),
    }


async def test_progress_passes_through_the_states_in_order(
    temporal_client, task_queue, fixture_tracks_path
):
    async with run_worker(
        temporal_client, task_queue, activities=slow_activities(0.8), scope=TEST_SCOPE
    ):
        request = SetRequest(name=_name("progress"), tracks_path=str(fixture_tracks_path))
        handle = await start_set(temporal_client, request, task_queue=task_queue)
        seen = []
        await wait_for_result(handle, on_progress=seen.append, poll_interval=0.1)
    statuses = [p.status for p in seen]
    distinct = [s for i, s in enumerate(statuses) if i == 0 or s != statuses[i - 1]]
    # Every step was observed while it ran, in the design's order, ending completed.
    assert distinct[-4:] == ORDERED_STATES[1:]
    assert distinct == ORDERED_STATES[-len(distinct) :]
    mid = next(p for p in seen if p.status == "sequencing_tracks")
    assert (mid.step, mid.step_number, mid.tracks_loaded) == ("sequence_tracks_activity", 2, 20)
    assert set(mid.timings) == {"load_tracks_activity"}
    assert seen[-1].timings["sequence_tracks_activity"] >= 0.8


async def test_transient_fault_is_retried_after_about_a_second(
    temporal_client, task_queue, djset_worker, fixture_tracks_path, monkeypatch
):
    calls: list[float] = []
    seen_by_client = threading.Event()
    real_load = activities_module.load_tracks

    def flaky_load(path):
        calls.append(time.monotonic())
        if len(calls) == 1:  # e.g. a network share that hiccups once
            raise OSError(errno.EIO, "Input/output error", str(path))
        # Attempt 2 holds on until the client has seen it (below), within the step's 30 s.
        seen_by_client.wait(timeout=20)
        return real_load(path)

    monkeypatch.setattr(activities_module, "load_tracks", flaky_load)
    request = SetRequest(name=_name("transient"), tracks_path=str(fixture_tracks_path))
    handle = await start_set(temporal_client, request, task_queue=task_queue)
    # The client sees the step's next attempt (from the server) while it is pending.
    progress = await describe_progress(handle)
    while len(calls) < 2 or progress is None or progress.attempt != 2:
        # Attempt 2 cannot finish unseen (it waits for us); a third call would be a bug.
        assert len(calls) <= 2 and (progress is None or progress.status != "completed")
        await asyncio.sleep(0.1)
        progress = await describe_progress(handle)
    seen_by_client.set()
    assert (progress.step, progress.attempt) == ("load_tracks_activity", 2)
    assert "attempt 2" in progress.line()
    result = await wait_for_result(handle)

    assert len(result.order) == 20
    assert len(calls) == 2
    assert calls[1] - calls[0] >= 0.9  # not before the retry policy's first interval, 1 s
    # The history shows the attempt numbers: one scheduling of the step, started the second
    # time after attempt 1 failed with the I/O error; the next step ran once.
    records = await activity_records(handle)
    load = records["load_tracks_activity"]
    assert (load.scheduled, load.last_attempt) == (1, 2)
    assert load.previous_failure.startswith("TrackFileUnavailable: ")
    assert "Input/output error" in load.previous_failure
    assert records["sequence_tracks_activity"].last_attempt == 1
    assert records["sequence_tracks_activity"].previous_failure == ""
    final = await query_progress(handle)
    assert final.status == "completed" and final.attempts["load_tracks_activity"] == 2


async def test_persistent_fault_gives_up_after_three_attempts_with_backoff(
    temporal_client, task_queue, djset_worker, fixture_tracks_path, monkeypatch
):
    calls: list[float] = []

    def broken_load(path):
        calls.append(time.monotonic())
        raise OSError(errno.EIO, "Input/output error", str(path))

    monkeypatch.setattr(activities_module, "load_tracks", broken_load)
    request = SetRequest(name=_name("persistent"), tracks_path=str(fixture_tracks_path))
    handle = await start_set(temporal_client, request, task_queue=task_queue)
    with pytest.raises(SetWorkflowFailed) as failure:
        await wait_for_result(handle)
    assert len(calls) == 3
    assert calls[1] - calls[0] >= 0.9 and calls[2] - calls[1] >= 1.9  # 1 s, then x2.0
    assert failure.value.error_type == "TrackFileUnavailable"
    assert "Input/output error" in failure.value.message
    assert (await activity_records(handle))["load_tracks_activity"].last_attempt == 3


def _write(path, content) -> str:
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return str(path)


BAD_INPUTS = {
    "missing file": (None, "TrackFileError", "No such file or directory"),
    "a directory": ("DIR", "TrackFileError", "Is a directory"),
    "invalid JSON": ('{"tracks": [', "TrackFormatError", "invalid JSON at line 1"),
    "schema error": (
        [{"id": "a1", "bpm": 128, "key": "8A"}, {"id": "a2", "bpm": -5}],
        "TrackFormatError",
        "track 1 (id 'a2'): field 'bpm'",
    ),
    "unknown key": ([{"id": "k1", "key": "H#"}], "TrackFormatError", "field 'key'"),
    "no tracks": (
        {"format": "tracks_enriched", "version": 1, "tracks": []},
        "TrackFormatError",
        "empty",
    ),
    "duplicate ids": ([{"id": "x"}, {"id": "x"}], "TrackFormatError", "duplicate"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
async def test_bad_input_fails_after_one_attempt(
    case, temporal_client, task_queue, djset_worker, tmp_path, monkeypatch
):
    content, error_type, text = BAD_INPUTS[case]
    log = tmp_path / "activity.log"
    monkeypatch.setenv("DJSET_ACTIVITY_LOG", str(log))
    if content is None:
        path = str(tmp_path / "nowhere.json")
    elif content == "DIR":
        path = str(tmp_path)
    else:
        path = _write(tmp_path / "tracks.json", content)
    handle = await start_set(
        temporal_client, SetRequest(name=_name("bad"), tracks_path=path), task_queue=task_queue
    )
    with pytest.raises(SetWorkflowFailed) as failure:
        await wait_for_result(handle)
    error = failure.value
    assert (error.error_type, error.step) == (error_type, "load_tracks_activity")
    assert text in error.message
    assert "\n" not in str(error) and error_type in str(error)
    assert [r["activity"] for r in read_log(log)] == ["load_tracks_activity"]
    assert (await activity_records(handle))["load_tracks_activity"].last_attempt == 1
    progress = await query_progress(handle)
    assert (progress.status, progress.error_type) == ("failed", error_type)
    assert await handle.query(DJSetWorkflow.get_status) == "failed"


@pytest.mark.parametrize(
    ("options", "text"),
    [
        (SetOptions(solver="no-such-solver"), "unknown solver 'no-such-solver'"),
        (SetOptions(start="t99"), "start track id 't99' is not among the tracks"),
    ],
)
async def test_bad_options_fail_in_sequencing_after_one_attempt(
    options, text, temporal_client, task_queue, djset_worker, fixture_tracks_path
):
    request = SetRequest(name=_name("opts"), tracks_path=str(fixture_tracks_path), options=options)
    handle = await start_set(temporal_client, request, task_queue=task_queue)
    with pytest.raises(SetWorkflowFailed) as failure:
        await wait_for_result(handle)
    assert failure.value.error_type == "SequencingError"
    assert failure.value.step == "sequence_tracks_activity"
    assert text in failure.value.message
    assert (await activity_records(handle))["sequence_tracks_activity"].last_attempt == 1


async def test_invalid_requests_are_refused_before_starting(
    temporal_client, task_queue, djset_worker, fixture_tracks_path
):
    tracks = load_tracks(fixture_tracks_path)
    duplicate = [tracks[0], tracks[1], tracks[0]]
    cases = [
        (SetRequest.model_construct(name="x", tracks_path=None, tracks=None), "exactly one"),
        (SetRequest(name="dup", tracks=duplicate), "duplicate of track 0"),
        (SetRequest(name="pin", tracks=tracks, options=SetOptions(end="nope")), "'nope'"),
        ({"name": "", "tracks_path": "x.json"}, "^set request field 'name': String should"),
    ]
    for request, text in cases:
        with pytest.raises(InvalidSetRequest, match=text):
            await start_set(temporal_client, request, task_queue=task_queue)
    # Nothing was started for any of them.
    for name in ("x", "dup", "pin"):
        assert not await _exists(temporal_client, workflow_id_for(name))


async def test_second_start_while_running_is_refused_or_attached(
    temporal_client, task_queue, fixture_tracks_path
):
    name = _name("twice")
    request = SetRequest(name=name, tracks_path=str(fixture_tracks_path))
    async with run_worker(
        temporal_client, task_queue, activities=slow_activities(0.7), scope=TEST_SCOPE
    ):
        first = await start_set(temporal_client, request, task_queue=task_queue)
        assert first.id == workflow_id_for(name)
        with pytest.raises(WorkflowAlreadyRunning) as refused:
            await start_set(temporal_client, request, task_queue=task_queue)
        assert first.id in str(refused.value) and "\n" not in str(refused.value)
        attached = await start_set(
            temporal_client, request, task_queue=task_queue, if_running="attach"
        )
        assert attached.result_run_id == first.result_run_id
        result = await wait_for_result(attached)
        # Once the run is closed, the same name starts a new run.
        again = await start_set(temporal_client, request, task_queue=task_queue)
        assert again.result_run_id != first.result_run_id
        assert await wait_for_result(again) == result


async def test_no_worker_polling_says_how_to_start_one(
    temporal_client, task_queue, fixture_tracks_path
):
    request = SetRequest(name=_name("lonely"), tracks_path=str(fixture_tracks_path))
    began = time.monotonic()
    with pytest.raises(NoWorkerPolling) as error:
        await start_set(temporal_client, request, task_queue=task_queue, worker_wait=1.0)
    assert time.monotonic() - began >= 1.0
    message = str(error.value)
    assert task_queue in message and "djset-worker" in message and "\n" not in message
    assert not await _exists(temporal_client, workflow_id_for(request.name))


async def test_fetch_result_of_unknown_workflow_is_one_line(temporal_client):
    with pytest.raises(ClientError, match="no set workflow with id 'djset-never-started'"):
        await fetch_result(temporal_client, "djset-never-started")


def test_workflow_ids_are_stable_and_distinct():
    assert workflow_id_for("friday-warmup") == "djset-friday-warmup"
    assert workflow_id_for("Friday Warmup!") == workflow_id_for("Friday Warmup!")
    assert workflow_id_for("Friday Warmup!") != workflow_id_for("friday warmup")
    assert workflow_id_for("Friday Warmup!").startswith("djset-friday-warmup-")
    assert workflow_id_for("日本").startswith("djset-") and len(workflow_id_for("日本")) > 8
    assert len(workflow_id_for("x" * 500)) < 80


async def test_relative_tracks_path_is_the_clients(
    temporal_client, task_queue, djset_worker, fixture_tracks_path, monkeypatch
):
    monkeypatch.chdir(fixture_tracks_path.parent.parent)
    request = SetRequest(name=_name("relative"), tracks_path="fixtures/tracks_enriched.json")
    handle = await start_set(temporal_client, request, task_queue=task_queue)
    assert len((await wait_for_result(handle)).order) == 20
    # The worker (maybe elsewhere, with another cwd) was given an absolute path.
    history = await handle.fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    [stored] = await temporal_client.data_converter.decode(started.input.payloads, [SetRequest])
    assert stored.tracks_path == str(fixture_tracks_path)


async def test_a_long_step_lives_on_heartbeats_and_gets_a_search_budget(
    temporal_client, task_queue, djset_worker, fixture_tracks_path, monkeypatch
):
    budgets: list[float | None] = []
    seen_by_client = threading.Event()

    def probe(matrix, request):
        budgets.append(request.time_budget)
        if request.time_budget and request.time_budget > 10:
            time.sleep(5.5)  # longer than the 4 s heartbeat timeout, reporting nothing
            seen_by_client.wait(timeout=20)  # and until the client has looked at it
        return list(range(len(matrix)))

    monkeypatch.setitem(SOLVERS, "test-probe", probe)
    for options in (
        SetOptions(solver="test-probe"),
        SetOptions(solver="test-probe", time_budget=2.5),
    ):
        request = SetRequest(
            name=_name("probe"), tracks_path=str(fixture_tracks_path), options=options
        )
        handle = await start_set(temporal_client, request, task_queue=task_queue)
        if options.time_budget is None:  # the long one: look at it from the client meanwhile
            progress = await describe_progress(handle)
            while progress is None or progress.detail is None:
                assert progress is None or progress.status != "completed"
                await asyncio.sleep(0.1)
                progress = await describe_progress(handle)
            seen_by_client.set()
            assert (progress.status, progress.attempt) == ("sequencing_tracks", 1)
            assert progress.detail == "ordering 20 tracks"  # the heartbeat details
        result = await wait_for_result(handle)
        assert result.order == [t.id for t in load_tracks(fixture_tracks_path)]
        assert (await activity_records(handle))["sequence_tracks_activity"].last_attempt == 1
    # No budget given: half of the step's 60 s timeout; a given budget is kept. The solver
    # gets what building the cost matrix left of it (milliseconds for 20 tracks).
    assert budgets[0] == pytest.approx(30.0, abs=1.0) and budgets[0] <= 30.0
    assert budgets[1] == pytest.approx(2.5, abs=1.0) and budgets[1] <= 2.5
    assert len(budgets) == 2


async def test_input_that_skipped_client_validation_fails_the_workflow(
    temporal_client, task_queue, djset_worker
):
    """E.g. `temporal workflow start --input '{"name": "x"}'`: the workflow fails (it does
    not sit retrying its first task)."""
    handle = await temporal_client.start_workflow(
        "DJSetWorkflow", {"name": "x"}, id=_name("raw"), task_queue=task_queue
    )
    with pytest.raises(SetWorkflowFailed) as failure:
        await wait_for_result(handle)
    assert failure.value.error_type == "ValidationError"
    assert "give exactly one of tracks_path, tracks" in failure.value.message
    assert "\n" not in str(failure.value)
