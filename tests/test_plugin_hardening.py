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
import sqlite3
import time

import pytest
from audiofiles import DJTagSpec, make_audio_file
from beets_helpers import (
    LIBRARY,
    USABLE,
    Library,
    beet,
    entries,
    import_music,
    server_config,
    write_music,
)
from temporal_helpers import WorkerProcess

from djcurator_core.core.planning import SetOptions
from djcurator_core.pipeline.client import start_set, wait_for_result
from djcurator_core.pipeline.library_activities import (
    ExportedTracks,
    LibrarySource,
    PlaylistTarget,
)
from djcurator_core.pipeline.workflows import SetRequest

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
