"""Large sets through the real server: no payload in a run's history (workflow input,
activity inputs and results, the workflow's result) exceeds the codec's OFFLOAD_ABOVE
(256 KiB, under the server's 512 KiB warning and far under 1 MiB), whatever the pool size:
large track lists go to the payload store by reference (track_sets.py), and any other
payload still too large after gzip is stored by the codec (claim-check)."""

from __future__ import annotations

import uuid

import pytest
from temporal_helpers import history_payloads, synthetic_tracks

from djcurator_core.core.models import dump_tracks
from djcurator_core.core.planning.planning import SetOptions
from djcurator_core.pipeline.codec import CLAIM_ENCODING, OFFLOAD_ABOVE, GzipPayloadCodec
from djcurator_core.pipeline.contracts import SetRequest
from djcurator_core.pipeline.payload_store import default_store
from djcurator_core.pipeline.sets.client import start_set, wait_for_result

pytestmark = pytest.mark.temporal

ONE_MIB = 1024 * 1024


async def payload_sizes(handle) -> tuple[int, int, bool]:
    """(largest payload as sent, largest once decoded, whether any went to the store)."""
    payloads = history_payloads(await handle.fetch_history())
    largest = max(p.ByteSize() for p in payloads)
    claimed = any(p.metadata.get("encoding") == CLAIM_ENCODING for p in payloads)
    decoded = await GzipPayloadCodec(store=default_store()).decode(payloads)
    return largest, max(p.ByteSize() for p in decoded), claimed


async def test_10000_track_full_order_keeps_every_payload_small(
    temporal_client, task_queue, djset_worker, tmp_path
):
    n = 10_000
    path = tmp_path / "tracks.json"
    path.write_text(dump_tracks(synthetic_tracks(n, seed=7)))
    # The baseline solver keeps this test's run time predictable (the default solver's
    # speed at this size is the benchmarks' business).
    request = SetRequest(
        name=f"ten-thousand-{uuid.uuid4().hex[:8]}",
        tracks_path=str(path),
        options=SetOptions(solver="greedy"),
    )
    handle = await start_set(temporal_client, request, task_queue=task_queue)
    progress = []
    result = await wait_for_result(handle, on_progress=progress.append, poll_interval=1.0)

    assert len(result.order) == n and len(set(result.order)) == n
    assert len(result.transitions) == n - 1
    assert progress[-1].status == "completed" and progress[-1].tracks_loaded == n
    largest, plain, claimed = await payload_sizes(handle)
    assert largest <= OFFLOAD_ABOVE < ONE_MIB
    assert claimed and plain > 2 * ONE_MIB  # the result went by reference: it had to
    print(f"largest payload {largest} bytes; largest value {plain} bytes")


async def test_a_30000_track_pool_sent_inline_goes_by_reference(
    temporal_client, task_queue, djset_worker
):
    n = 30_000
    tracks = synthetic_tracks(n, seed=11)
    request = SetRequest(
        name=f"thirty-thousand-{uuid.uuid4().hex[:8]}",
        tracks=tracks,
        options=SetOptions(count=25, time_budget=10),
    )
    handle = await start_set(temporal_client, request, task_queue=task_queue)
    result = await wait_for_result(handle)
    assert len(result.order) == 25 and len(set(result.order)) == 25
    assert set(result.order) <= {t.id for t in tracks}

    history = await handle.fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    [sent] = await temporal_client.data_converter.decode(started.input.payloads, [SetRequest])
    assert sent.tracks is None and sent.stored_tracks.count == n
    assert sent.stored_tracks.ref is not None and sent.stored_tracks.tracks is None
    largest, _, _ = await payload_sizes(handle)
    assert largest <= 64 * 1024  # only references and the 25-track result
