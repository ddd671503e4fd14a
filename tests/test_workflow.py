"""DJSetWorkflow end to end on the session's real Temporal dev server."""

from __future__ import annotations

import uuid

from djcurator_core.client import start_set, wait_for_result
from djcurator_core.justify import justify
from djcurator_core.models import load_tracks
from djcurator_core.planning import SetOptions, plan_order
from djcurator_core.workflows import SetRequest


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def test_fixture_set_equals_core_functions(
    temporal_client, task_queue, djset_worker, fixture_tracks_path
):
    options = SetOptions(solver="greedy", energy_arc="rise")
    request = SetRequest(name=_name("happy"), tracks_path=str(fixture_tracks_path), options=options)
    handle = await start_set(temporal_client, request, task_queue=task_queue)
    seen = []
    result = await wait_for_result(handle, on_progress=seen.append)

    tracks = load_tracks(fixture_tracks_path)
    plan = plan_order(tracks, options)
    expected = justify(tracks, plan.order, options.scoring, solver="greedy", notes=plan.notes)
    assert result == expected
    assert len(result.order) == 20
    assert seen[-1].status == "completed"
    assert seen[-1].tracks_loaded == 20
    assert set(seen[-1].attempts.values()) == {1}
