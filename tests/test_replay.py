"""Replay safety: recorded histories of real runs replay against today's DJSetWorkflow.

A workflow change that would break runs already on a server (a step added, removed or
reordered, another activity input) fails here instead of in production. The histories
in tests/histories/ were recorded by scripts/record_histories.py; re-record them only
when the workflow changes on purpose (docs/hardening.md). No server needed: the
Replayer runs the workflow code against the stored events.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer
from temporalio.workflow import NondeterminismError

with workflow.unsafe.imports_passed_through():
    from djcurator_core.pipeline.codec import data_converter
    from djcurator_core.pipeline.contracts import (
        WORKFLOW_NAME,
        LoadRequest,
        SequenceRequest,
        SetRequest,
    )
    from djcurator_core.pipeline.sets.set_activities import (
        load_tracks_activity,
        sequence_tracks_activity,
    )
    from djcurator_core.pipeline.sets.workflows import DJSetWorkflow

HISTORIES = Path(__file__).parent / "histories"
KINDS = ("three_steps", "library_export", "playlist_write", "failed", "scheduled_run")


def history(name: str) -> WorkflowHistory:
    return WorkflowHistory.from_json(f"replay-{name}", (HISTORIES / f"{name}.json").read_text())


def test_every_kind_of_run_is_recorded():
    assert sorted(path.stem for path in HISTORIES.glob("*.json")) == sorted(KINDS)


@pytest.mark.parametrize("name", KINDS)
async def test_recorded_run_replays_on_the_current_workflow(name):
    replayer = Replayer(workflows=[DJSetWorkflow], data_converter=data_converter())
    result = await replayer.replay_workflow(history(name), raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{name}: {result.replay_failure}"


@workflow.defn(name=WORKFLOW_NAME)
class SkipsJustification:
    """DJSetWorkflow with its third step dropped: what a careless change looks like."""

    @workflow.run
    async def run(self, request: SetRequest) -> None:
        loaded = await workflow.execute_activity(
            load_tracks_activity,
            LoadRequest(path=request.tracks_path, tracks=request.tracks),
            start_to_close_timeout=timedelta(seconds=30),
        )
        await workflow.execute_activity(
            sequence_tracks_activity,
            SequenceRequest(tracks=loaded.tracks, options=request.options),
            start_to_close_timeout=timedelta(seconds=60),
        )


async def test_a_changed_workflow_fails_the_replay():
    """The check can fail: a workflow that schedules other commands does not replay."""
    replayer = Replayer(workflows=[SkipsJustification], data_converter=data_converter())
    with pytest.raises(NondeterminismError):
        await replayer.replay_workflow(history("three_steps"))
