"""The local service (run_service, behind `beet djset --serve`) keeps its state private,
serves the Web UI a loopback codec endpoint, and its worker writes only where its
configuration allows. Real dev server, Web UI and worker, in this process."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import stat
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from google.protobuf import json_format
from temporal_helpers import synthetic_tracks
from temporalio.api.common.v1 import Payload

from djcurator_core.core.options.set_options import SetOptions
from djcurator_core.pipeline.codec import ENCODING, GzipPayloadCodec
from djcurator_core.pipeline.contracts import PlaylistTarget, SetRequest
from djcurator_core.pipeline.server.dev_server import free_port
from djcurator_core.pipeline.server.local_service import (
    ServiceConfig,
    ServiceError,
    run_service,
    running_service,
)
from djcurator_core.pipeline.sets.client import (
    SetWorkflowFailed,
    connect,
    start_set,
    wait_for_result,
)
from djcurator_core.pipeline.workers.worker_scope import WorkerScope

pytestmark = pytest.mark.temporal


@contextlib.asynccontextmanager
async def service(state_dir: Path, scope: WorkerScope):
    """run_service in a task until the block ends; yields the ServiceInfo."""
    config = ServiceConfig(
        state_dir=state_dir, port=free_port(), ui_port=free_port(), task_queue="svc", scope=scope
    )
    stop = asyncio.Event()
    task = asyncio.create_task(run_service(config, say=lambda line: None, stop=stop))
    try:
        info = None
        for _ in range(300):
            with contextlib.suppress(ServiceError):  # starting: lock held, no state yet
                info = await asyncio.to_thread(running_service, state_dir, 0)
            if info is not None or task.done():
                break
            await asyncio.sleep(0.1)
        assert info is not None, task.exception() if task.done() else "service not ready"
        yield info
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


def http(url: str, body: bytes | None = None, headers: dict | None = None, method: str = "GET"):
    request = urllib.request.Request(url, data=body, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


async def test_service_state_is_private_and_the_ui_decodes_payloads(tmp_path):
    state_dir = tmp_path / "djset"
    state_dir.mkdir(mode=0o755)  # as an older version left it
    (state_dir / "temporal.log").write_text("old log\n")
    os.chmod(state_dir / "temporal.log", 0o644)
    allowed, outside = tmp_path / "playlists", tmp_path / "outside"
    async with service(state_dir, WorkerScope(playlist_dirs=(str(allowed),))) as info:
        assert stat.S_IMODE(state_dir.stat().st_mode) == 0o700
        files = {entry.name: stat.S_IMODE(entry.stat().st_mode) for entry in state_dir.iterdir()}
        assert {"temporal.db", "temporal.log", "service.json", "service.lock"} <= set(files)
        assert files == dict.fromkeys(files, 0o600), files

        # the Web UI is told where the codec endpoint is
        status, _, body = await asyncio.to_thread(http, f"{info.ui_url}/api/v1/settings")
        assert status == 200
        endpoint = json.loads(body)["Codec"]["Endpoint"]
        assert endpoint.startswith("http://127.0.0.1:")

        # a gzip payload, as large inputs are stored, comes back decoded
        codec = GzipPayloadCodec(threshold=0)
        original = Payload(metadata={"encoding": b"json/plain"}, data=b'{"name": "x"}' * 50)
        (encoded,) = await codec.encode([original])
        assert encoded.metadata["encoding"] == ENCODING
        body = json.dumps({"payloads": [json_format.MessageToDict(encoded)]}).encode()
        origin = info.ui_url
        headers = {"Content-Type": "application/json", "Origin": origin, "X-Namespace": "default"}
        status, reply_headers, answer = await asyncio.to_thread(
            http, f"{endpoint}/decode", body, headers, "POST"
        )
        assert status == 200
        assert reply_headers["Access-Control-Allow-Origin"] == origin
        (decoded,) = json.loads(answer)["payloads"]
        assert json_format.ParseDict(decoded, Payload()) == original
        status, reply_headers, _ = await asyncio.to_thread(
            http, f"{endpoint}/decode", None, {"Origin": origin}, "OPTIONS"
        )
        assert status == 204 and "POST" in reply_headers["Access-Control-Allow-Methods"]
        assert "X-Namespace" in reply_headers["Access-Control-Allow-Headers"]
        # loopback only: another Host (DNS rebinding) or another site's page is refused
        for bad in ({"Host": "evil.example"}, {"Origin": "http://evil.example"}):
            status, reply_headers, _ = await asyncio.to_thread(
                http, f"{endpoint}/decode", body, {**headers, **bad}, "POST"
            )
            assert status == 403 and "Access-Control-Allow-Origin" not in reply_headers

        # the service's worker writes only where its configuration allows
        client = await connect(info.connection_settings())
        options = SetOptions(solver="greedy")
        for target in (allowed / "ok.m3u8", outside / "evil.m3u8"):
            request = SetRequest(
                name=target.stem,
                tracks=synthetic_tracks(6),
                options=options,
                playlist=PlaylistTarget(path=str(target)),
            )
            handle = await start_set(client, request, task_queue="svc")
            if target.parent == allowed:
                await wait_for_result(handle)
            else:
                with pytest.raises(SetWorkflowFailed, match="NotAllowed"):
                    await wait_for_result(handle)
    assert (allowed / "ok.m3u8").is_file() and not outside.exists()
