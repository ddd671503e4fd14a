"""`beet djset` with hostile files, names and workers (docs/hardening.md): the real `beet`
command on a real library, the session's Temporal server with real workers.

- a library item whose file became a FIFO, and a file whose name is not UTF-8: the track
  is left out with a warning naming it, in `beet djset`, `--export` and scheduled runs;
- a long multi-byte `-n` name; `--relative-to` a folder that does not exist;
- every worker stopped: `beet djset` and `--schedule-trigger` end with one line within
  worker_wait + a few seconds.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import time
from pathlib import Path

import pytest
from audiofiles import DJTagSpec, make_audio_file
from beets_helpers import (
    LIBRARY,
    USABLE,
    Library,
    assert_one_line_error,
    beet,
    entries,
    import_music,
    server_config,
    write_music,
)
from temporal_helpers import WorkerProcess, synthetic_tracks
from test_schedules import Service, worker_overlay

from djcurator_core.core.options.set_options import SetOptions
from djcurator_core.pipeline.contracts import (
    ExportedTracks,
    LibrarySource,
    PlaylistTarget,
    SetRequest,
)
from djcurator_core.pipeline.server.dev_server import free_port
from djcurator_core.pipeline.server.local_service import running_service
from djcurator_core.pipeline.sets.client import (
    SetWorkflowFailed,
    connect,
    start_set,
    wait_for_result,
    wait_for_worker,
)

pytestmark = pytest.mark.temporal

ODD_NAME = b"10 Caf\xe9 Latin-1.mp3"  # "Café" in Latin-1: not UTF-8
ODD_TAGS = DJTagSpec(title="Cafe", artist="Old Rip", album="Set", bpm="124", key="8A")


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Library:
    """The usual test library plus a file with a non-UTF-8 name, and one item whose file
    is replaced by a FIFO outside the music folder (the folder is snapshot by `beet`)."""
    root = tmp_path_factory.mktemp("hostile")
    write_music(root, LIBRARY)
    music = os.fsencode(root / "music")
    shutil.copyfile(make_audio_file(root / "odd.mp3", ODD_TAGS), music + b"/" + ODD_NAME)
    (root / "odd.mp3").unlink()
    lib = import_music(root)
    pipes = root / "pipes"
    pipes.mkdir()
    fifo = pipes / "07 Drift.mp3"
    os.mkfifo(fifo)
    with sqlite3.connect(lib.db) as db:  # the file was swapped for a FIFO since the import
        # beets 2.14 stores paths inside the music folder relative to it
        changed = db.execute(
            "UPDATE items SET path = ? WHERE path IN (?, ?)",
            (os.fsencode(fifo), b"07 Drift.mp3", os.fsencode(lib.path_of("07 Drift.mp3"))),
        ).rowcount
    assert changed == 1
    return lib


def _odd_shown(lib: Library) -> str:
    return f"{lib.music}/10 Caf\\xe9 Latin-1.mp3"


async def test_fifo_and_non_utf8_names_are_left_out_with_warnings(
    library, temporal_server, task_queue, djset_worker, tmp_path
):
    config = server_config(temporal_server, task_queue, tmp_path)
    started = time.monotonic()
    run = await beet(library, "djset", "-n", "odd", "album:Set", config=config)
    assert time.monotonic() - started < 120
    assert run.code == 0, run.stderr
    assert "Traceback" not in run.stderr
    fifo = library.root / "pipes" / "07 Drift.mp3"
    assert f"left out Halden - Drift ({fifo}): not a regular file (a FIFO)" in run.stderr
    assert f"left out Old Rip - Cafe ({_odd_shown(library)}): file name with a byte 0xE9" in (
        run.stderr
    )
    kept = entries((tmp_path / "odd.m3u8").read_text(encoding="utf-8"))
    assert len(kept) == len(USABLE) - 1  # Drift is a FIFO now
    assert all(os.path.isfile(path) for path in kept)

    export = await beet(library, "djset", "--export", "-", "album:Set")
    assert export.code == 0, export.stderr
    assert "not a regular file (a FIFO)" in export.stderr and "0xE9" in export.stderr
    tracks = json.loads(export.stdout)["tracks"]
    assert "Cafe" not in {t["title"] for t in tracks} and len(tracks) == len(USABLE) - 1


async def test_long_multibyte_names_are_cut_to_fit_a_file_name(
    library, temporal_server, task_queue, djset_worker, tmp_path
):
    config = server_config(temporal_server, task_queue, tmp_path)
    name = "Nachtschwärmer–Ümlaut–" * 20  # 460 characters, about 500 bytes
    run = await beet(library, "djset", "-n", name, "genre:House", config=config)
    assert run.code == 0, run.stderr
    (playlist,) = tmp_path.glob("*.m3u8")
    assert len(os.fsencode(playlist.name)) <= 255
    assert f"#PLAYLIST:{name}" in playlist.read_text(encoding="utf-8")


async def test_a_scheduled_run_leaves_the_same_files_out_and_names_them(
    library, temporal_server, temporal_client, task_queue, tmp_path
):
    """The worker's export (what scheduled runs do) on the same library: the run
    completes instead of failing three times, and its export result names both files."""
    target = tmp_path / "nightly.m3u8"
    request = SetRequest(
        name="nightly",
        library=LibrarySource(
            db=str(library.db), directory=str(library.music), query=["album:Set"]
        ),
        options=SetOptions(solver="greedy"),
        playlist=PlaylistTarget(path=str(target)),
    )
    with WorkerProcess(
        temporal_server.address, task_queue, env={"BEETSDIR": str(library.root)}
    ) as worker:
        worker.wait_ready()
        handle = await start_set(temporal_client, request, task_queue=task_queue)
        result = await wait_for_result(handle)
    assert len(result.tracks) == len(entries(target.read_text(encoding="utf-8"))) == len(USABLE) - 1
    converter = temporal_client.data_converter
    history = await handle.fetch_history()
    exported = next(
        event.activity_task_completed_event_attributes.result
        for event in history.events
        if event.HasField("activity_task_completed_event_attributes")
    )
    (export,) = await converter.decode(exported.payloads, [ExportedTracks])
    assert any("file name with a byte 0xE9" in line for line in export.skipped), export.skipped
    assert any("not a regular file (a FIFO)" in line for line in export.skipped), export.skipped


async def test_relative_to_a_missing_folder_is_refused_before_any_work(library, tmp_path):
    run = await beet(
        library, "djset", "--playlist-dir", str(tmp_path), "--relative-to",
        str(tmp_path / "playlsit"), "genre:House",
    )  # fmt: skip
    assert_one_line_error(run, f"relative_to folder {tmp_path / 'playlsit'} does not exist")
    assert list(tmp_path.iterdir()) == []


async def _stopped_worker(server, client, task_queue: str, signum: int) -> None:
    worker = WorkerProcess(server.address, task_queue)
    worker.wait_ready()
    await wait_for_worker(client, task_queue, 10)  # the server has seen it poll
    worker.signal(signum)
    worker.wait()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL])
async def test_beet_djset_without_a_live_worker_ends_with_one_line(
    signum, library, temporal_server, temporal_client, task_queue, tmp_path
):
    await _stopped_worker(temporal_server, temporal_client, task_queue, signum)
    config = server_config(temporal_server, task_queue, tmp_path)  # worker_wait: 2
    started = time.monotonic()
    run = await beet(library, "djset", "-n", f"orphan {task_queue}", "genre:House", config=config)
    elapsed = time.monotonic() - started
    assert_one_line_error(run, "no worker took run djset-orphan-")
    line = run.errors[0]
    workflow_id = line.split("no worker took run ")[1].split()[0]
    assert f"{workflow_id} within 2 s" in line
    assert f"task queue {task_queue!r}" in line and "beet djset --serve" in line
    assert f"`beet djset --collect {workflow_id} -n " in line
    assert elapsed < 2 + 15, elapsed  # worker_wait, plus beet's and Python's start
    assert list(tmp_path.glob("*.m3u8")) == []


def _service_config(tmp_path: Path, port: int, playlists: Path) -> str:
    return (
        "djset:\n"
        f"  playlist_dir: {playlists}\n"
        "  temporal:\n"
        "    worker_wait: 2\n"
        "  serve:\n"
        f"    port: {port}\n"
        "    ui_port: null\n"
        f"    state_dir: {tmp_path / 'state'}\n"
    )


async def test_schedule_trigger_without_a_live_worker_ends_with_one_line(
    library, temporal_server, temporal_client, task_queue, tmp_path
):
    overlay = worker_overlay(temporal_server, task_queue, tmp_path / "state", tmp_path / "lists")
    service = Service(library, overlay)
    service.wait_for_line("worker polling task queue")
    name = f"dead-{task_queue[-8:]}"
    created = await beet(library, "djset", "--schedule", "0 3 * * *", "-n", name, "genre:House",
                         config=overlay)  # fmt: skip
    assert created.code == 0, created.stderr
    try:
        await wait_for_worker(temporal_client, task_queue, 10)
        service.process.kill()  # SIGKILL: the server goes on listing its worker
        service.process.wait(timeout=10)
        started = time.monotonic()
        run = await beet(library, "djset", "--schedule-trigger", name, config=overlay)
        elapsed = time.monotonic() - started
        assert_one_line_error(run, "no worker took run ")
        line = run.errors[0]
        assert f"task queue {task_queue!r}" in line and "beet djset --serve" in line
        assert "it writes its playlist once a worker has run it" in line
        assert elapsed < 2 + 15, elapsed
    finally:
        await beet(library, "djset", "--schedule-delete", name, config=overlay)


def _local_service_overlay(tmp_path: Path, playlists: Path, allowed: Path | None = None) -> str:
    extra = f"  worker:\n    allowed_dirs: [{allowed}]\n" if allowed else ""
    return (
        "djset:\n"
        f"  playlist_dir: {playlists}\n"
        "  temporal:\n"
        "    worker_wait: 5\n"
        "  serve:\n"
        f"    port: {free_port()}\n"
        "    ui_port: null\n"
        f"    state_dir: {tmp_path / 'state'}\n" + extra
    )


async def test_the_local_services_worker_writes_only_where_the_beets_config_allows(
    library, tmp_path
):
    playlists, extra, elsewhere = tmp_path / "lists", tmp_path / "extra", tmp_path / "elsewhere"
    elsewhere.mkdir()
    victim = elsewhere / "victim.m3u8"
    victim.write_text("# mine\n")
    overlay = _local_service_overlay(tmp_path, playlists, allowed=extra)
    service = Service(library, overlay)
    try:
        service.wait_for_line("worker polling task queue")
        # a schedule whose runs the service would refuse is refused when it is made
        refused = await beet(
            library, "djset", "--schedule", "0 3 * * *", "--playlist-dir", str(elsewhere),
            "-n", "away", "genre:House", config=overlay,
        )  # fmt: skip
        assert_one_line_error(refused, "runs of this schedule would fail: playlist ")
        assert "djset.playlist_dir or djset.worker.allowed_dirs" in refused.errors[0]
        # a run started by anyone who reaches the port: only the configured folders
        info = running_service(tmp_path / "state")
        client = await connect(info.connection_settings())
        outcomes = {}
        for target in (playlists / "a.m3u8", extra / "b.m3u8", victim):
            request = SetRequest(
                name=target.stem,
                tracks=synthetic_tracks(6),
                options=SetOptions(solver="greedy"),
                playlist=PlaylistTarget(path=str(target)),
            )
            handle = await start_set(client, request, task_queue=info.task_queue)
            try:
                await wait_for_result(handle)
                outcomes[target] = "written"
            except SetWorkflowFailed as exc:
                outcomes[target] = exc.error_type
    finally:
        assert service.stop() == 0, "".join(service.output)
    assert outcomes == {
        playlists / "a.m3u8": "written",
        extra / "b.m3u8": "written",
        victim: "NotAllowed",
    }
    assert victim.read_text() == "# mine\n"
