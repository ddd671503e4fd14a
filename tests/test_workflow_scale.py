"""A 10,000-track set through the real server: it completes and every payload stays under
the server's 2 MiB blob limit thanks to the gzip codec (uncompressed, the result would not)."""

from __future__ import annotations

from temporal_helpers import synthetic_tracks
from temporalio.api.common.v1 import Payload

from djcurator_core.client import start_set, wait_for_result
from djcurator_core.codec import GzipPayloadCodec
from djcurator_core.models import dump_tracks
from djcurator_core.planning import SetOptions
from djcurator_core.workflows import SetRequest

TWO_MIB = 2 * 1024 * 1024
N = 10_000


def _payloads(history) -> list[tuple[str, Payload]]:
    found = []
    for event in history.events:
        attrs = getattr(event, event.WhichOneof("attributes"))
        for field in ("input", "result"):
            if attrs.DESCRIPTOR.fields_by_name.get(field) and attrs.HasField(field):
                found += [(field, p) for p in getattr(attrs, field).payloads]
    return found


async def test_10000_tracks_complete_within_the_blob_limit(
    temporal_client, task_queue, djset_worker, tmp_path
):
    tracks = synthetic_tracks(N, seed=7)
    path = tmp_path / "tracks.json"
    path.write_text(dump_tracks(tracks))
    # The baseline solver keeps this test's run time predictable (the default solver's
    # speed at this size is the sequencing benchmark's business).
    request = SetRequest(
        name="ten-thousand", tracks_path=str(path), options=SetOptions(solver="greedy")
    )
    handle = await start_set(temporal_client, request, task_queue=task_queue)
    progress = []
    result = await wait_for_result(handle, on_progress=progress.append, poll_interval=1.0)

    assert len(result.order) == N and len(set(result.order)) == N
    assert len(result.transitions) == N - 1
    assert progress[-1].status == "completed" and progress[-1].tracks_loaded == N

    payloads = _payloads(await handle.fetch_history())
    largest = max(p.ByteSize() for _, p in payloads)
    assert largest < TWO_MIB
    decoded = await GzipPayloadCodec().decode([p for _, p in payloads])
    assert max(p.ByteSize() for p in decoded) > TWO_MIB  # it needs the codec
    print(
        f"largest payload: {largest} bytes compressed, {max(p.ByteSize() for p in decoded)} plain"
    )
