"""A 10,000-track set through the real server: it completes and every payload stays under
the server's 2 MiB blob limit thanks to the gzip codec (uncompressed, the result would not)."""

from __future__ import annotations

import uuid

import pytest
from temporal_helpers import history_payloads, synthetic_tracks

from djcurator_core.core.models import dump_tracks
from djcurator_core.core.set_options import SetOptions
from djcurator_core.pipeline.client import start_set, wait_for_result
from djcurator_core.pipeline.codec import GzipPayloadCodec
from djcurator_core.pipeline.contracts import SetRequest

pytestmark = pytest.mark.temporal

TWO_MIB = 2 * 1024 * 1024
N = 10_000


async def test_10000_tracks_complete_within_the_blob_limit(
    temporal_client, task_queue, djset_worker, tmp_path
):
    tracks = synthetic_tracks(N, seed=7)
    path = tmp_path / "tracks.json"
    path.write_text(dump_tracks(tracks))
    # The baseline solver keeps this test's run time predictable (the default solver's
    # speed at this size is the sequencing benchmark's business).
    request = SetRequest(
        name=f"ten-thousand-{uuid.uuid4().hex[:8]}",
        tracks_path=str(path),
        options=SetOptions(solver="greedy"),
    )
    handle = await start_set(temporal_client, request, task_queue=task_queue)
    progress = []
    result = await wait_for_result(handle, on_progress=progress.append, poll_interval=1.0)

    assert len(result.order) == N and len(set(result.order)) == N
    assert len(result.transitions) == N - 1
    assert progress[-1].status == "completed" and progress[-1].tracks_loaded == N

    payloads = history_payloads(await handle.fetch_history())
    largest = max(p.ByteSize() for p in payloads)
    assert largest < TWO_MIB
    decoded = await GzipPayloadCodec().decode(payloads)
    assert max(p.ByteSize() for p in decoded) > TWO_MIB  # it needs the codec
    print(
        f"largest payload: {largest} bytes compressed, {max(p.ByteSize() for p in decoded)} plain"
    )
