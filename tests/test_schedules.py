"""Nightly sets end to end: `beet djset --schedule ...` on a real Temporal server, runs
triggered now, the worker of `beet djset --serve` exporting a real beets library (temp
dir, generated audio) and writing the playlist; and the local service itself.

Most tests use the session's dev server with a `beet djset --serve` worker pointed at it
(configured address: the service runs only the worker). `test_local_service` runs the
whole service (its own embedded server with SQLite and Web UI) as `beet` would at home.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import socket
import subprocess
import textwrap
import threading
import time
import urllib.request
import uuid
from dataclasses import asdict
from pathlib import Path

import pytest
from audiofiles import DJTagSpec, make_audio_file
from beets_helpers import (
    BEET,
    Library,
    Run,
    assert_one_line_error,
    beet,
    build_library,
    clean_env,
    entries,
    read_only,
)
from format_readers import all_exist, nml_path, nml_playlist, rekordbox_path, rekordbox_playlist
from temporal_helpers import TEST_SCOPE, OutputLines, WorkerProcess, synthetic_tracks
from temporalio import activity
from temporalio.client import ScheduleOverlapPolicy, WorkflowExecutionStatus
from temporalio.exceptions import ApplicationError

from djcurator_core.files.dj_formats.playlist import render_m3u8
from djcurator_core.pipeline.contracts import (
    STEPS,
    LibrarySource,
    PlaylistTarget,
    SetRequest,
    WritePlaylistRequest,
    WrittenPlaylist,
    steps_for,
)
from djcurator_core.pipeline.schedules import DEFAULT_CATCHUP_WINDOW
from djcurator_core.pipeline.server.dev_server import free_port, port_open
from djcurator_core.pipeline.server.local_service import (
    ServiceError,
    ServiceInfo,
    ServiceLock,
    running_service,
)
from djcurator_core.pipeline.sets.client import start_set, wait_for_result
from djcurator_core.pipeline.sets.library_activities import (
    export_tracks_activity,
    write_playlist_activity,
)
from djcurator_core.pipeline.sets.set_activities import SET_ACTIVITIES
from djcurator_core.pipeline.sets.workflows import DJSetWorkflow
from djcurator_core.pipeline.workers.worker import run_worker

pytestmark = pytest.mark.temporal

TECHNO = {
    "01 Lattice.mp3": DJTagSpec(
        title="Lattice", artist="Tessellate", genre="Techno", bpm="126", key="12A", energy="6"
    ),
    "02 Dub.flac": DJTagSpec(
        title="Dub", artist="Kaiho", genre="Techno", bpm="124", key="8A", energy="4"
    ),
    "03 Red Channel.m4a": DJTagSpec(
        title="Red Channel", artist="Varga", genre="Techno", bpm="128", key="9A", energy="8"
    ),
    "04 Warm.mp3": DJTagSpec(
        title="Warm", artist="Halden", genre="House", bpm="122", key="5B", energy="3"
    ),
}
LATE_ARRIVAL = DJTagSpec(
    title="Late Arrival", artist="Okabe", genre="Techno", bpm="127", key="11A", energy="7"
)


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Library:
    return build_library(tmp_path_factory.mktemp("nightly"), TECHNO)


class Service(OutputLines):
    """`beet djset --serve` in a subprocess; its output lines are collected as they come."""

    label = "--serve"
    line_timeout = 60.0

    def __init__(self, library: Library, overlay: str) -> None:
        path = library.root / f"serve-{uuid.uuid4().hex[:8]}.yaml"
        path.write_text(overlay, encoding="utf-8")
        super().__init__(
            subprocess.Popen(
                [BEET, "-c", str(path), "djset", "--serve"],
                env=clean_env(library),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        )

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
                raise
        return self.process.returncode


def worker_overlay(server, task_queue: str, state_dir: Path, playlists: Path) -> str:
    return textwrap.dedent(
        f"""\
        djset:
          playlist_dir: {playlists}
          temporal:
            address: {server.address}
            task_queue: {task_queue}
            worker_wait: 2
          serve:
            state_dir: {state_dir}
        """
    )


@pytest.fixture
def worker(library, temporal_server, task_queue, tmp_path):
    """A `beet djset --serve` worker on the session's server; yields the config overlay
    every `beet` call of the test uses (same server, queue and playlist folder)."""
    playlists = tmp_path / "lists"
    overlay = worker_overlay(temporal_server, task_queue, tmp_path / "state", playlists)
    service = Service(library, overlay)
    service.wait_for_line("worker polling task queue")
    yield overlay
    assert service.stop() == 0, "".join(service.output)


def unique_name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


async def schedule(library: Library, overlay: str, name: str, *query: str) -> Run:
    return await beet(
        library, "djset", "--schedule", "0 3 * * *", "--timezone", "Europe/Berlin", "-n", name,
        *query, config=overlay,
    )  # fmt: skip


async def trigger(library: Library, overlay: str, name: str) -> Run:
    return await beet(library, "djset", "--schedule-trigger", name, config=overlay)


def add_track(library: Library, name: str, spec: DJTagSpec) -> Path:
    """A new file imported into the library (outside `beet(...)`, which forbids changes)."""
    path = make_audio_file(library.music / name, spec)
    subprocess.run(
        [BEET, "import", "-A", "-C", "-q", str(path)], env=clean_env(library), check=True,
        capture_output=True,
    )  # fmt: skip
    return path


@pytest.fixture
def late_track(library):
    """Adds LATE_ARRIVAL to the module's library when called; removes it afterwards, also
    when the test fails, so that the other tests see the library as built."""
    added: list[Path] = []

    def add() -> Path:
        added.append(add_track(library, "05 Late Arrival.mp3", LATE_ARRIVAL))
        return added[-1]

    yield add
    for path in added:
        path.unlink(missing_ok=True)
        subprocess.run(
            [BEET, "remove", "-f", "title:Late Arrival"], env=clean_env(library), check=True,
            capture_output=True,
        )  # fmt: skip


async def test_schedule_trigger_add_track_pause_delete(
    library, worker, temporal_client, tmp_path, late_track
):
    name = unique_name("nightly")
    playlist = tmp_path / "lists" / f"{name}.m3u8"
    run = await schedule(library, worker, name, "genre:Techno")
    assert run.code == 0, run.stderr
    assert f"created schedule djset-{name}: '0 3 * * *' (Europe/Berlin)" in run.stdout
    assert "(3 tracks now)" in run.stdout
    assert " 03:00 CET" in run.stdout or " 03:00 CEST" in run.stdout  # in the schedule's zone
    assert not playlist.exists()  # nothing runs before 03:00 or a trigger

    # The schedule as the server keeps it: the full request, times, policy.
    description = await temporal_client.get_schedule_handle(f"djset-{name}").describe()
    policy, spec = description.schedule.policy, description.schedule.spec
    assert policy.overlap == ScheduleOverlapPolicy.SKIP
    assert policy.catchup_window == DEFAULT_CATCHUP_WINDOW
    assert spec.time_zone_name == "Europe/Berlin"
    next_run = description.info.next_action_times[0]
    assert (next_run.hour, next_run.minute) in ((2, 0), (1, 0))  # 03:00 Berlin (CET/CEST)

    run = await trigger(library, worker, name)
    assert run.code == 0, run.stderr
    assert run.stdout.splitlines()[-1] == f"wrote {playlist} (3 tracks)"
    first_id = run.stdout.splitlines()[0].removeprefix("started ")
    assert first_id.startswith(f"djset-{name}-")
    text = playlist.read_text(encoding="utf-8")
    assert text.startswith(f"#EXTM3U\n#PLAYLIST:{name}\n# query: genre:Techno\n")
    assert f"# workflow: {first_id}" in text
    techno = sorted(library.path_of(n) for n, s in TECHNO.items() if s.genre == "Techno")
    assert sorted(entries(text)) == techno

    # The run went through the library steps, visible in its progress.
    handle = temporal_client.get_workflow_handle_for(DJSetWorkflow.run, first_id)
    progress = await handle.query(DJSetWorkflow.get_progress)
    assert (progress.status, progress.step_number, progress.total_steps) == ("completed", 4, 4)
    assert list(progress.timings) == [
        "export_tracks_activity",
        "sequence_tracks_activity",
        "generate_justifications_activity",
        "write_playlist_activity",
    ]
    assert progress.playlist == str(playlist) and progress.tracks_loaded == 3

    # Tonight's run sees the track added today.
    late = late_track()
    run = await trigger(library, worker, name)
    assert run.code == 0, run.stderr
    assert run.stdout.splitlines()[-1] == f"wrote {playlist} (4 tracks)"
    assert sorted(entries(playlist.read_text(encoding="utf-8"))) == sorted([*techno, str(late)])

    run = await beet(library, "djset", "--schedule-show", name, config=worker)
    assert run.code == 0, run.stderr
    shown = run.stdout
    assert f"schedule djset-{name}: active" in shown
    assert "when: 0 3 * * *  time zone Europe/Berlin" in shown
    assert "query: genre:Techno" in shown and f"playlist: {playlist} (m3u8)" in shown
    assert "runs started: 2" in shown
    assert shown.count(" completed  djset-") == 2 and first_id in shown

    # The list may lag a moment behind a new schedule (the server's visibility store).
    for _ in range(30):
        run = await beet(library, "djset", "--schedules", config=worker)
        if name in run.stdout:
            break
        await asyncio.sleep(0.3)
    listed = next(line for line in run.stdout.splitlines() if line.startswith(name))
    assert "[active]  0 3 * * * (Europe/Berlin)  next " in listed and "last completed" in listed

    # Updating keeps the id; pausing stops the timer but not a manual trigger.
    run = await beet(
        library, "djset", "--schedule", "30 4 * * 1-5", "-n", name, "genre:Techno",
        "--timezone", "UTC", config=worker,
    )  # fmt: skip
    assert run.code == 0 and f"updated schedule djset-{name}" in run.stdout, run.stderr
    run = await beet(library, "djset", "--schedule-pause", name, config=worker)
    assert (run.code, run.stdout.strip()) == (0, f"paused schedule djset-{name}"), run.stderr
    description = await temporal_client.get_schedule_handle(f"djset-{name}").describe()
    assert description.schedule.state.paused
    run = await beet(library, "djset", "--schedule-show", name, config=worker)
    assert f"schedule djset-{name}: paused" in run.stdout
    assert "when: 30 4 * * 1-5  time zone UTC" in run.stdout
    assert "next runs: none while paused" in run.stdout
    run = await beet(library, "djset", "--schedule-unpause", name, config=worker)
    assert run.code == 0 and "resumed" in run.stdout, run.stderr
    assert not (
        await temporal_client.get_schedule_handle(f"djset-{name}").describe()
    ).schedule.state.paused

    run = await beet(library, "djset", "--schedule-delete", name, config=worker)
    assert (run.code, run.stdout.strip()) == (0, f"deleted schedule djset-{name}"), run.stderr
    run = await beet(library, "djset", "--schedule-show", name, config=worker)
    assert_one_line_error(run, f"no schedule named '{name}'")


async def test_scheduled_run_writes_every_format(library, worker, tmp_path):
    """`--format` on a schedule: each run's worker writes every format of the set."""
    name = unique_name("formats")
    run = await beet(
        library, "djset", "--schedule", "0 3 * * *", "--timezone", "UTC", "-n", name,
        "--format", "m3u8,rekordbox,nml", "genre:Techno", config=worker,
    )  # fmt: skip
    assert run.code == 0, run.stderr
    files = [tmp_path / "lists" / f"{name}.{suffix}" for suffix in ("m3u8", "xml", "nml")]
    assert f"playlist {', '.join(map(str, files))}" in run.stdout
    run = await trigger(library, worker, name)
    assert run.code == 0, run.stderr
    assert run.stdout.splitlines()[-1] == f"wrote {', '.join(map(str, files))} (3 tracks)"
    paths = entries(files[0].read_text(encoding="utf-8"))
    assert len(paths) == 3 and all_exist(paths)
    assert [rekordbox_path(track) for track in rekordbox_playlist(files[1], name)] == paths
    assert [nml_path(entry.location) for entry in nml_playlist(files[2], name)] == paths
    run = await beet(library, "djset", "--schedule-show", name, config=worker)
    assert f"playlist: {files[0]} (m3u8), {files[1]} (rekordbox), {files[2]} (nml)" in run.stdout
    await beet(library, "djset", "--schedule-delete", name, config=worker)


async def test_failed_run_keeps_the_old_playlist(library, worker, temporal_client, tmp_path):
    name = unique_name("readonly")
    playlists = tmp_path / "lists"
    assert (await schedule(library, worker, name, "genre:Techno")).code == 0
    run = await trigger(library, worker, name)
    assert run.code == 0, run.stderr
    playlist = playlists / f"{name}.m3u8"
    before = hashlib.sha256(playlist.read_bytes()).hexdigest()

    with read_only(playlists):
        run = await trigger(library, worker, name)
    assert_one_line_error(
        run,
        f"failed in write_playlist_activity: PlaylistError: cannot write playlist {playlist}",
    )
    failed_id = run.stdout.splitlines()[0].removeprefix("started ")
    assert hashlib.sha256(playlist.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in playlists.iterdir()) == [playlist.name]  # no temp file

    # Failed on the server (the Web UI shows the same), after one attempt (not retryable).
    description = await temporal_client.get_workflow_handle(failed_id).describe()
    assert description.status == WorkflowExecutionStatus.FAILED
    progress = await temporal_client.get_workflow_handle_for(DJSetWorkflow.run, failed_id).query(
        DJSetWorkflow.get_progress
    )
    assert (progress.status, progress.step, progress.error_type) == (
        "failed", "write_playlist_activity", "PlaylistError",
    )  # fmt: skip

    run = await beet(library, "djset", "--schedule-show", name, config=worker)
    lines = run.stdout.splitlines()
    failed_line = next(i for i, line in enumerate(lines) if f"failed     {failed_id}" in line)
    assert (
        "failed in write_playlist_activity: PlaylistError: cannot write playlist"
        in (lines[failed_line + 1])
    )
    assert "completed  djset-" in run.stdout
    await beet(library, "djset", "--schedule-delete", name, config=worker)

    # A query that matches nothing (yet) may be scheduled; its run fails in the export.
    empty = unique_name("empty")
    run = await schedule(library, worker, empty, "title:nothing-like-this")
    assert run.code == 0 and "(0 tracks now)" in run.stdout, run.stderr
    run = await trigger(library, worker, empty)
    assert_one_line_error(
        run,
        "failed in export_tracks_activity: NoTracks: no tracks match the query "
        f"title:nothing-like-this in {library.db}",
    )
    assert not (playlists / f"{empty}.m3u8").exists()
    await beet(library, "djset", "--schedule-delete", empty, config=worker)


async def test_playlist_step_is_retried_safely(temporal_client, task_queue, tmp_path):
    """A transient failure of the playlist step (here: attempt 1 fails after the folder
    already holds an old playlist) is retried; the file ends up as the set, written once
    in full. A tracks request with a playlist target takes the write step as well."""
    attempts: list[int] = []

    @activity.defn(name="write_playlist_activity")
    def flaky_write(request: WritePlaylistRequest) -> WrittenPlaylist:
        attempts.append(activity.info().attempt)
        if activity.info().attempt == 1:
            raise ApplicationError("disk briefly unavailable", type="Transient")
        return write_playlist_activity(request)

    target = tmp_path / "retried.m3u8"
    target.write_text("#EXTM3U\n/old/entry.mp3\n", encoding="utf-8")
    request = SetRequest(
        name="retried",
        tracks=synthetic_tracks(12, seed=4),
        playlist=PlaylistTarget(path=str(target)),
    )
    activities = [*SET_ACTIVITIES, export_tracks_activity, flaky_write]
    async with run_worker(temporal_client, task_queue, activities=activities, scope=TEST_SCOPE):
        handle = await start_set(temporal_client, request, task_queue=task_queue)
        result = await wait_for_result(handle)
        progress = await handle.query(DJSetWorkflow.get_progress)
    assert attempts == [1, 2]
    assert progress.attempts["write_playlist_activity"] == 2
    assert (progress.step_number, progress.total_steps) == (4, 4)
    assert target.read_text(encoding="utf-8") == render_m3u8(
        result, "retried", workflow_id=handle.id
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["retried.m3u8"]


async def test_bad_schedules_are_one_line_errors(library, worker, tmp_path):
    run = await beet(
        library, "djset", "--schedule", "0 3 * * *", "--timezone", "Mars/Olympus", "genre:Techno",
        config=worker,
    )  # fmt: skip
    assert_one_line_error(run, "unknown time zone 'Mars/Olympus'")
    run = await beet(library, "djset", "--schedule", "every night", "genre:Techno", config=worker)
    assert_one_line_error(run, "schedule 'every night' refused by the server")
    run = await beet(library, "djset", "--schedule-trigger", "never-made", config=worker)
    assert_one_line_error(run, "no schedule named 'never-made'")
    run = await beet(library, "djset", "--schedule", "0 3 * * *", "--start", "title:Dub",
                     "genre:Techno", config=worker)  # fmt: skip
    assert_one_line_error(run, "--start/--end pin tracks of today's library")
    run = await beet(library, "djset", "--serve", "genre:Techno", config=worker)
    assert_one_line_error(run, "--serve takes no query")
    run = await beet(library, "djset", "--schedule-pause", "a", "--schedule-delete", "b")
    assert_one_line_error(run, "--schedule-pause and --schedule-delete cannot be combined")
    # A port taken by another program: one line naming the setting, nothing left running.
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        state = tmp_path / "busy"
        config = f"djset:\n  serve:\n    port: {busy}\n    state_dir: {state}\n"
        run = await beet(library, "djset", "--serve", config=config)
    assert_one_line_error(
        run, f"Temporal port {busy} on 127.0.0.1 is in use by another program; choose "
        "another with djset.serve.port",
    )  # fmt: skip
    assert not (state / "service.json").exists()
    # No server configured and no service running: schedules have nowhere to live.
    config = f"djset:\n  serve:\n    state_dir: {tmp_path / 'nothing'}\n"
    run = await beet(library, "djset", "--schedule", "0 3 * * *", "genre:Techno", config=config)
    assert_one_line_error(run, "start the local service with `beet djset --serve`")
    run = await beet(library, "djset", "--schedules", config=config)
    assert_one_line_error(run, "or configure djset.temporal.address or TEMPORAL_ADDRESS")


def test_steps_follow_the_request():
    """Library and playlist steps only when the request asks for them; the original
    three-step path is unchanged."""
    library = LibrarySource(db="/music/library.db", query=["genre:Techno"])
    target = PlaylistTarget(path="/lists/nightly.m3u8")
    assert steps_for(SetRequest(name="a", tracks_path="/t.json")) == STEPS
    assert [status for status, _ in steps_for(SetRequest(name="b", library=library))] == [
        "exporting_tracks", "sequencing_tracks", "generating_justifications",
    ]  # fmt: skip
    full = steps_for(SetRequest(name="c", library=library, playlist=target))
    assert [activity for _, activity in full] == [
        "export_tracks_activity", "sequence_tracks_activity",
        "generate_justifications_activity", "write_playlist_activity",
    ]  # fmt: skip
    with pytest.raises(
        ValueError, match="exactly one of tracks_path, tracks, stored_tracks and lib"
    ):
        SetRequest(name="d", tracks_path="/t.json", library=library)


async def test_plain_worker_serves_library_runs(library, temporal_server, task_queue, tmp_path):
    """`python worker.py` outside beet: it reads beets' config (BEETSDIR) and loads the
    plugins, so a range query on the plugin's `energy` field works in the export."""
    env = clean_env(library)
    subprocess.run(
        [BEET, "modify", "-y", "-W", "title:Dub", "energy=4.5"], env=env, check=True,
        capture_output=True,
    )  # fmt: skip
    overlay = worker_overlay(temporal_server, task_queue, tmp_path / "state", tmp_path)
    name = unique_name("energy")
    run = await schedule(library, overlay, name, "energy:4..5")
    assert run.code == 0, run.stderr
    assert "(1 tracks now)" in run.stdout
    assert f"no worker polls task queue {task_queue} now" in run.stderr  # none started yet
    with WorkerProcess(temporal_server.address, task_queue, env={"BEETSDIR": env["BEETSDIR"]}) as w:
        w.wait_ready()
        run = await trigger(library, overlay, name)
    assert run.code == 0, run.stderr
    assert entries((tmp_path / f"{name}.m3u8").read_text(encoding="utf-8")) == [
        library.path_of("02 Dub.flac")
    ]
    await beet(library, "djset", "--schedule-delete", name, config=overlay)


def descendants(pid: int) -> set[int]:
    """Every process below `pid` (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def listening_addresses(port: int) -> set[str]:
    """Local IPv4/IPv6 addresses (hex, as in /proc/net/tcp*) listening on `port`."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            local, state = row.split()[1], row.split()[3]
            address, hex_port = local.rsplit(":", 1)
            if state == "0A" and int(hex_port, 16) == port:  # 0A = LISTEN
                found.add(address)
    return found


def _info(pid: int = 4242) -> ServiceInfo:
    return ServiceInfo(
        pid=pid, address="127.0.0.1:1", namespace="default", task_queue="djset",
        ui_url=None, embedded=True,
    )  # fmt: skip


def test_a_starting_service_is_waited_for(tmp_path):
    """Between taking the lock and writing its state the service is starting: a command
    waits for the state instead of concluding that no service runs (and starting an
    embedded server of its own). A state file left by a crashed service is not used."""
    state = tmp_path / "state"
    state.mkdir()
    (state / "service.json").write_text(json.dumps(asdict(_info(pid=1))), encoding="utf-8")
    lock = ServiceLock(state)
    lock.acquire()
    try:
        assert not (state / "service.json").exists()  # the crashed service's state is gone
        found: list = []
        looking = threading.Thread(target=lambda: found.append(running_service(state)))
        looking.start()
        time.sleep(0.5)
        assert looking.is_alive() and not found  # still waiting for the state
        lock.write_state(_info())
        looking.join(timeout=10)
        assert found == [_info()]
        assert running_service(state) == _info()
    finally:
        lock.release()
    assert running_service(state) is None


def test_a_service_that_never_gets_ready(tmp_path):
    lock = ServiceLock(tmp_path)
    lock.acquire()
    try:
        with pytest.raises(ServiceError, match="beet djset --serve is starting .* not ready"):
            running_service(tmp_path, wait=0.3)
    finally:
        lock.release()
    assert running_service(tmp_path, wait=0.3) is None  # gone: no service


async def test_local_service(tmp_path_factory):
    """`beet djset --serve` with nothing configured: its own server (SQLite in the beets
    config folder) and Web UI on loopback, a worker; a second start says it is running;
    schedules use it; SIGTERM stops everything; a restart finds the schedule again."""
    library = build_library(tmp_path_factory.mktemp("home"), dict(list(TECHNO.items())[:3]))
    port, ui_port = free_port(), free_port()
    playlists = library.root / "lists"
    overlay = (
        f"djset:\n  playlist_dir: {playlists}\n  serve:\n    port: {port}\n    ui_port: {ui_port}\n"
    )
    started = time.monotonic()
    service = Service(library, overlay)
    try:
        service.wait_for_line("worker polling task queue 'djset'")
        ready = time.monotonic() - started
        assert f"Temporal server on 127.0.0.1:{port}" in "".join(service.output)
        assert f"(database {library.root / 'djset' / 'temporal.db'})" in "".join(service.output)
        assert f"Web UI: http://127.0.0.1:{ui_port}" in "".join(service.output)
        with urllib.request.urlopen(f"http://127.0.0.1:{ui_port}/", timeout=10) as page:
            assert page.status == 200
        for listening in (port, ui_port):  # loopback only (127.0.0.1 in /proc's hex)
            assert listening_addresses(listening) == {"0100007F"}, listening

        run = await beet(library, "djset", "--serve", config=overlay)
        assert_one_line_error(
            run,
            f"beet djset --serve is already running (pid {service.process.pid}, Temporal at "
            f"127.0.0.1:{port}, Web UI http://127.0.0.1:{ui_port})",
        )

        assert (await schedule(library, overlay, "home", "genre:Techno")).code == 0
        run = await trigger(library, overlay, "home")
        assert run.code == 0, run.stderr
        assert len(entries((playlists / "home.m3u8").read_text(encoding="utf-8"))) == 3

        # A one-off run uses the service too (no embedded server of its own): its
        # result stays on the service's server, where --collect finds it.
        run = await beet(library, "djset", "-n", "oneoff", "genre:Techno", config=overlay)
        assert run.code == 0, run.stderr
        assert f"using the local service (pid {service.process.pid}" in run.stderr
        assert "starting an embedded one" not in run.stderr
        run = await beet(library, "djset", "--collect", "djset-oneoff", "-n", "again",
                         config=overlay)  # fmt: skip
        assert run.code == 0, run.stderr
        assert len(entries((playlists / "again.m3u8").read_text(encoding="utf-8"))) == 3

        processes = descendants(service.process.pid)
        assert processes, "the Temporal server should be a child of the service"
        stopping = time.monotonic()
        assert service.stop() == 0, "".join(service.output)
        stop_seconds = time.monotonic() - stopping
    finally:
        if service.process.poll() is None:
            service.process.kill()
    assert not [pid for pid in processes if alive(pid)], "a child outlived the service"
    assert not port_open(port) and not port_open(ui_port)
    assert not (library.root / "djset" / "service.json").exists()
    print(f"service ready in {ready:.2f} s, stopped in {stop_seconds:.2f} s")

    run = await beet(library, "djset", "--schedules", config=overlay)
    assert_one_line_error(run, "start the local service with `beet djset --serve`")

    # The schedule and its run history live in the SQLite file: a restart finds them.
    service = Service(library, overlay)
    try:
        service.wait_for_line("worker polling task queue")
        run = await beet(library, "djset", "--schedule-show", "home", config=overlay)
        assert run.code == 0, run.stderr
        assert "when: 0 3 * * *  time zone Europe/Berlin" in run.stdout
        assert " completed  djset-home-" in run.stdout
    finally:
        assert service.stop() == 0, "".join(service.output)
