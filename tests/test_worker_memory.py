"""Worker memory: heavy steps hold a share of the worker's memory budget while they run.

Pure tests of the gate (threads), then a real server and worker: three sets at once on
one worker whose budget fits one sequencing step never hold more than that budget (their
sequencing steps run one at a time) and all three complete; with a budget that fits them
all, the steps overlap."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid

import pytest
from temporal_helpers import synthetic_tracks

from djcurator_core.core.options.set_options import SetOptions
from djcurator_core.core.planning.planning import memory_estimate
from djcurator_core.pipeline.contracts import SetRequest
from djcurator_core.pipeline.sets.client import start_set, wait_for_result
from djcurator_core.pipeline.sets.set_activities import SEQUENCE_DELAY_ENV
from djcurator_core.pipeline.workers.memory_gate import (
    MemoryGate,
    MemorySizeError,
    default_limit,
    parse_size,
    physical_memory,
    worker_gate,
)
from djcurator_core.pipeline.workers.worker import run_worker


def test_sizes_parse_and_bad_ones_are_one_line_errors():
    assert parse_size("4G") == 4 * 2**30
    assert parse_size("512m") == 512 * 2**20
    assert parse_size("1.5GB") == int(1.5 * 2**30)
    assert parse_size(1000) == 1000
    for bad in ("lots", "-1G", "0", "4X"):
        with pytest.raises(MemorySizeError, match="memory"):
            parse_size(bad)


def test_default_limit_comes_from_the_machine_or_the_environment(monkeypatch):
    monkeypatch.delenv("DJSET_WORKER_MEMORY", raising=False)
    assert 0 < default_limit() < physical_memory()
    monkeypatch.setenv("DJSET_WORKER_MEMORY", "3G")
    assert default_limit() == 3 * 2**30


def run_holds(gate: MemoryGate, sizes: list[int], seconds: float = 0.3) -> list[str]:
    messages: list[str] = []

    def step(size: int) -> None:
        with gate.hold(size, messages.append):
            time.sleep(seconds)

    threads = [threading.Thread(target=step, args=(size,)) for size in sizes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert gate.in_use == 0 and gate.running == 0
    return messages


def test_steps_that_do_not_fit_together_run_one_after_another():
    gate = MemoryGate(100)
    messages = run_holds(gate, [60, 60, 60])
    assert gate.peak_running == 1
    assert any("waiting for memory: needs" in m for m in messages)


def test_steps_that_fit_run_together_and_a_huge_one_runs_alone():
    gate = MemoryGate(100)
    run_holds(gate, [30, 30, 30])
    assert gate.peak_running == 3
    alone = MemoryGate(100)
    run_holds(alone, [500, 10, 10])
    assert alone.peak_running <= 2  # the two small ones may overlap, never with the big one


@pytest.mark.temporal
@pytest.mark.parametrize("fits", [1, 3])
async def test_a_worker_runs_no_more_heavy_steps_than_its_memory_allows(
    temporal_client, task_queue, monkeypatch, fits
):
    tracks = synthetic_tracks(300, seed=3)
    options = SetOptions(solver="greedy")
    one_step = memory_estimate(len(tracks), options)
    monkeypatch.setenv(SEQUENCE_DELAY_ENV, "1.0")  # each sequencing step lasts >= 1 s
    async with run_worker(
        temporal_client, task_queue, memory_limit=one_step * fits + one_step // 10
    ):
        handles = [
            await start_set(
                temporal_client,
                SetRequest(name=f"mem-{uuid.uuid4().hex[:8]}", tracks=tracks, options=options),
                task_queue=task_queue,
            )
            for _ in range(3)
        ]
        results = await asyncio.gather(*(wait_for_result(h) for h in handles))
        gate = worker_gate()
        limit, peak = gate.limit, gate.peak_in_use
    assert all(len(r.order) == 300 for r in results)
    assert peak <= limit
    if fits == 1:
        assert peak < 2 * one_step  # the sequencing steps never overlapped
    else:
        assert peak >= 2 * one_step  # with room, they do
