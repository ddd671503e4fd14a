"""The embedded dev server: start, answer, stop without leftovers; file DB; Web UI."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from temporal_helpers import TEST_SCOPE
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import WorkflowExecutionStatus

import djcurator_core.pipeline.server.dev_server as server_module
from djcurator_core.pipeline.contracts import SetRequest
from djcurator_core.pipeline.server.dev_server import (
    EmbeddedServer,
    EmbeddedServerError,
    free_port,
    port_open,
    temporal_binary,
)
from djcurator_core.pipeline.sets.client import (
    ClientError,
    ServerUnreachable,
    connect,
    start_set,
    wait_for_result,
)
from djcurator_core.pipeline.workers.worker import embedded_runtime

pytestmark = pytest.mark.temporal

ROOT = Path(__file__).resolve().parent.parent


def _gone(pid: int) -> bool:
    try:
        os.killpg(pid, 0)  # the server leads its own process group
    except ProcessLookupError:
        return True
    return False


def test_temporal_binary_is_the_packaged_cli():
    path = temporal_binary()
    assert os.access(path, os.X_OK)
    version = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30)
    assert version.returncode == 0 and "temporal version" in version.stdout


def test_missing_binary_is_one_clear_line(monkeypatch, tmp_path):
    monkeypatch.setenv("DJSET_TEMPORAL_BIN", str(tmp_path / "no-temporal"))
    with pytest.raises(EmbeddedServerError, match="Temporal CLI not found") as error:
        temporal_binary()
    assert "\n" not in str(error.value)


async def test_start_answers_and_stop_leaves_nothing_behind():
    server = EmbeddedServer()
    server.start()
    try:
        assert re.fullmatch(r"127\.0\.0\.1:\d+", server.address)
        assert server.startup_seconds is not None and server.running
        client = await connect(server.connection_settings())
        info = await client.workflow_service.describe_namespace(
            DescribeNamespaceRequest(namespace="default")
        )
        assert info.namespace_info.name == "default"
        pid, port = server.pid, server.port
    finally:
        server.stop()
    assert not server.running
    assert _gone(pid)
    assert not port_open(port)
    server.stop()  # a second stop is harmless


async def test_given_port_and_context_manager():
    port = free_port()
    with EmbeddedServer(port=port) as server:
        assert server.address == f"127.0.0.1:{port}"
        assert port_open(port)
        pid = server.pid
    assert _gone(pid) and not port_open(port)


def test_port_in_use_fails_at_once_in_one_line(monkeypatch):
    launched = []
    monkeypatch.setattr(server_module.subprocess, "Popen", lambda *a, **k: launched.append(a))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(EmbeddedServerError, match=f"port {port} is in use") as error:
            EmbeddedServer(port=port).start()
    assert "\n" not in str(error.value)
    assert launched == []  # refused before any server process (and its start-up wait)


async def test_sqlite_file_keeps_workflows_across_restarts(tmp_path):
    db = tmp_path / "temporal.db"
    request = SetRequest(name="kept", tracks_path=str(tmp_path / "tracks.json"))
    with EmbeddedServer(db_filename=str(db)) as server:
        client = await connect(server.connection_settings())
        # No worker: the workflow just waits in the database.
        await client.start_workflow("DJSetWorkflow", request, id="kept", task_queue="nobody")
    assert db.stat().st_size > 0
    with EmbeddedServer(db_filename=str(db)) as server:
        client = await connect(server.connection_settings())
        description = await client.get_workflow_handle("kept").describe()
        assert description.status == WorkflowExecutionStatus.RUNNING
        assert description.workflow_type == "DJSetWorkflow"
    with EmbeddedServer() as server:  # in-memory: a fresh server knows nothing of it
        client = await connect(server.connection_settings())
        assert [w async for w in client.list_workflows()] == []


def test_web_ui_is_served_when_asked_for():
    ui_port = free_port()
    with EmbeddedServer(ui_port=ui_port) as server:
        assert server.ui_url == f"http://127.0.0.1:{ui_port}"
        deadline = time.monotonic() + 15
        while True:
            try:
                with urllib.request.urlopen(server.ui_url, timeout=2) as response:
                    assert response.status == 200
                    assert b"<html" in response.read(4096).lower()
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
    assert not port_open(ui_port)
    with EmbeddedServer() as headless:
        assert headless.ui_url is None


async def test_extra_namespace():
    with EmbeddedServer(namespace="djset-test") as server:
        client = await connect(server.connection_settings())
        assert client.namespace == "djset-test"
        info = await client.workflow_service.describe_namespace(
            DescribeNamespaceRequest(namespace="djset-test")
        )
        assert info.namespace_info.name == "djset-test"


async def test_embedded_runtime_runs_a_set_and_shuts_everything_down(fixture_tracks_path):
    async with embedded_runtime(task_queue="embedded", scope=TEST_SCOPE) as client:
        server = client.djset_server
        handle = await start_set(
            client,
            SetRequest(name="embedded", tracks_path=str(fixture_tracks_path)),
            task_queue="embedded",
        )
        result = await wait_for_result(handle)
        pid, port = server.pid, server.port
    assert len(result.order) == 20
    assert _gone(pid) and not port_open(port)


async def test_embedded_runtime_that_cannot_start_is_a_client_error():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ClientError, match=f"embedded Temporal server: .*port {port}"):
            async with embedded_runtime(task_queue="never", port=port):
                pass


async def test_a_server_that_went_away_is_one_line(fixture_tracks_path):
    with EmbeddedServer() as server:
        client = await connect(server.connection_settings())
    request = SetRequest(name="gone", tracks_path=str(fixture_tracks_path))
    with pytest.raises(ServerUnreachable) as error:
        await start_set(client, request, task_queue="gone")
    message = str(error.value)
    assert message.startswith(f"cannot reach the Temporal server at {server.address}")
    assert "\n" not in message


def _dead(pid: int) -> bool:
    """Gone, or a zombie waiting for a reaper (nothing runs any more)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1].startswith("Z")
    except FileNotFoundError:
        return True


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signal is Linux")
def test_a_parent_killed_with_sigkill_takes_its_server_along():
    script = (
        "import ctypes, time\n"
        "from djcurator_core.pipeline.server.dev_server import EmbeddedServer\n"
        # Between fork and exec the child may only call what the parent looked up: with
        # library lookups broken from here on, a lookup in the child would fail the start.
        "ctypes.CDLL = None\n"
        "server = EmbeddedServer()\n"
        "server.start()\n"
        "print(server.pid, server.port, flush=True)\n"
        "time.sleep(120)\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    try:
        pid, port = map(int, parent.stdout.readline().split())
        assert not _dead(pid) and port_open(port)
    finally:
        parent.kill()
        parent.wait(timeout=10)
    deadline = time.monotonic() + 15
    while not _dead(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _dead(pid)
    assert not port_open(port)


def _group_leader(shell: str) -> subprocess.Popen:
    """`sh -c shell` leading its own process group (as the server does), stdout piped."""
    return subprocess.Popen(
        ["sh", "-c", shell], stdout=subprocess.PIPE, text=True, start_new_session=True
    )


def test_stop_ends_group_members_that_outlive_the_leader():
    # A member that ignores SIGTERM survives the leader; stop sweeps it with SIGKILL while
    # the (unreaped) leader still holds the group id.
    leader = _group_leader("(trap '' TERM; exec sleep 120) & echo $!; exec sleep 120")
    member = int(leader.stdout.readline())
    try:
        assert not _dead(member)
        server_module._stop_process(leader, timeout=10)
        assert leader.returncode == -signal.SIGTERM
        deadline = time.monotonic() + 10  # the sweep is a SIGKILL: only its delivery waits
        while not _dead(member) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _dead(member)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(member, signal.SIGKILL)
        leader.stdout.close()


def test_stop_sends_no_signal_once_the_server_was_reaped(monkeypatch):
    leader = _group_leader("exec sleep 120")
    leader.kill()
    leader.wait()  # reaped: its pid, the group id, may be another process's by now
    sent = []
    monkeypatch.setattr(server_module.os, "killpg", lambda *args: sent.append(args))
    monkeypatch.setattr(server_module.os, "kill", lambda *args: sent.append(args))
    server_module._stop_process(leader)
    leader.stdout.close()
    assert sent == []
