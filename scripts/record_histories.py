"""Record the histories of real DJSetWorkflow runs for the replay test (tests/test_replay.py).

Runs each kind of run once on an embedded dev server with an in-process worker, and
writes its event history as JSON to tests/histories/<name>.json:

- three_steps: a tracks file -> load, sequence, justify;
- library_export: a beets library built in a temp folder (tagged files, `beet import`),
  a query evaluated by the worker -> export, sequence, justify, write the playlist;
- playlist_write: inline tracks with a playlist target -> load, sequence, justify, write;
- failed: a tracks file with a schema error -> the load step fails (TrackFormatError);
- scheduled_run: the library request run by a Temporal Schedule (triggered) -> export,
  sequence, justify, write the playlist, remember the set in the schedule's memo.

Re-record only when the workflow changes ON PURPOSE (a new step, another activity
input, a changed order of commands) and old runs need not replay any more: the replay
test exists to catch changes that would break runs already on a server
(docs/hardening.md, "Replay safety").

Usage: python scripts/record_histories.py [KIND ...]   (default: every kind; histories of
older workflow versions that still replay are worth keeping: record only the new kinds)
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from beets_helpers import build_library  # noqa: E402
from djcurator_core.core.set_options import SetOptions  # noqa: E402
from djcurator_core.pipeline.client import SetWorkflowFailed, start_set, wait_for_result  # noqa: E402
from djcurator_core.pipeline.worker import embedded_runtime  # noqa: E402
from djcurator_core.pipeline.worker_scope import WorkerScope  # noqa: E402
from temporal_helpers import synthetic_tracks  # noqa: E402

from djcurator_core.pipeline.beets_library import configure_beets_on_first_use  # noqa: E402
from djcurator_core.pipeline.contracts import LibrarySource, PlaylistTarget, SetRequest  # noqa: E402

HISTORIES = ROOT / "tests" / "histories"
FIXTURE = ROOT / "fixtures" / "tracks_enriched.json"
OPTIONS = SetOptions(solver="greedy")


def requests(work: Path) -> dict[str, SetRequest]:
    library = build_library(work / "library")
    os.environ["BEETSDIR"] = str(library.root)  # the worker reads beets' config from it
    configure_beets_on_first_use()  # this script owns its process: as djset-worker does
    bad = work / "bad.json"
    bad.write_text(json.dumps([{"id": "a", "bpm": -5}]), encoding="utf-8")
    playlists = work / "playlists"
    return {
        "three_steps": SetRequest(name="replay three steps", tracks_path=str(FIXTURE)),
        "library_export": SetRequest(
            name="replay library",
            library=LibrarySource(
                db=str(library.db), directory=str(library.music), query=["genre:House"]
            ),
            options=OPTIONS,
            playlist=PlaylistTarget(path=str(playlists / "library.m3u8")),
        ),
        "playlist_write": SetRequest(
            name="replay playlist",
            tracks=synthetic_tracks(12, seed=3),
            options=OPTIONS,
            playlist=PlaylistTarget(path=str(playlists / "inline.m3u8")),
        ),
        "failed": SetRequest(name="replay failed", tracks_path=str(bad)),
    }


async def scheduled_handle(client, request: SetRequest):
    """Run `request` the way nightly sets run: from a schedule, triggered now."""
    from djcurator_core.pipeline.workflows import DJSetWorkflow

    from djcurator_core.pipeline import schedules

    scheduled = request.model_copy(update={"name": "replay scheduled"})
    schedule_id, _ = await schedules.upsert_schedule(
        client, scheduled, "0 3 * * *", "UTC", task_queue="record-histories"
    )
    try:
        triggered = await schedules.trigger_schedule(client, schedule_id)
        handle = client.get_workflow_handle_for(
            DJSetWorkflow.run, triggered.workflow_id, run_id=triggered.run_id
        )
        await wait_for_result(handle)
    finally:
        await schedules.delete_schedule(client, schedule_id)
    return handle


async def record(work: Path, kinds: list[str]) -> None:
    scope = WorkerScope(
        playlist_dirs=(str(work),), libraries=(str(work),), tracks_dirs=(str(work), str(ROOT))
    )
    HISTORIES.mkdir(parents=True, exist_ok=True)
    async with embedded_runtime(task_queue="record-histories", scope=scope) as client:
        made = requests(work)
        made["scheduled_run"] = made["library_export"]
        for name, request in made.items():
            if kinds and name not in kinds:
                continue
            if name == "scheduled_run":
                handle = await scheduled_handle(client, request)
            else:
                handle = await start_set(client, request, f"replay-{name}", "record-histories")
            try:
                await wait_for_result(handle)
                outcome = "completed"
            except SetWorkflowFailed as exc:
                outcome = f"failed ({exc.error_type})"
            history = await handle.fetch_history()
            path = HISTORIES / f"{name}.json"
            path.write_text(history.to_json() + "\n", encoding="utf-8")
            print(f"{name}: {outcome}, {len(history.events)} events -> {path.relative_to(ROOT)}")


def main() -> None:
    kinds = sys.argv[1:]
    with tempfile.TemporaryDirectory(prefix="djset-histories-") as work:
        asyncio.run(record(Path(work), kinds))
    sys.stdout.flush()
    os._exit(0)  # the SDK can crash at interpreter exit (sdk-python #300)


if __name__ == "__main__":
    main()
