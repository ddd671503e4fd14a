"""`djset.worker.memory_limit` and `djset.payload_store` in a real beets config reach the
worker `beet djset --serve` runs: its memory gate holds heavy steps to that budget, and
large track sets are read from that store. A bad size is one error line."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import textwrap
import uuid

import pytest
from beets_helpers import BEET, LIBRARY, Library, beet, build_library, clean_env
from temporal_helpers import OutputLines, synthetic_tracks

from djcurator_core.core.options.set_options import SetOptions
from djcurator_core.pipeline.contracts import SetRequest
from djcurator_core.pipeline.payload_store import STORE_ENV
from djcurator_core.pipeline.sets.client import (
    ConnectionSettings,
    connect,
    describe_progress,
    start_set,
)
from djcurator_core.pipeline.sets.set_activities import SEQUENCE_DELAY_ENV
from djcurator_core.pipeline.sets.track_sets import INLINE_TRACKS

pytestmark = pytest.mark.temporal


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Library:
    names = ["04 Lattice.mp3", "05 Ünïcode Dub.flac", "06 Red Channel.m4a"]
    return build_library(tmp_path_factory.mktemp("worker-config"), {n: LIBRARY[n] for n in names})


class Serve(OutputLines):
    """`beet -c OVERLAY djset --serve`, each sequencing step held `delay` seconds; `env`
    added to the library's environment."""

    label = "--serve"
    line_timeout = 60.0

    def __init__(
        self, library: Library, overlay: str, delay: float = 0.0, env: dict | None = None
    ) -> None:
        path = library.root / f"serve-{uuid.uuid4().hex[:8]}.yaml"
        path.write_text(overlay, encoding="utf-8")
        env = {**clean_env(library), SEQUENCE_DELAY_ENV: str(delay), **(env or {})}
        env.pop(STORE_ENV, None)  # the store comes from the config alone
        super().__init__(
            subprocess.Popen(
                [BEET, "-c", str(path), "djset", "--serve"],
                env=env,
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


async def follow(handle) -> list[str]:
    """Every heartbeat message of the run until it ends, then its result."""
    seen: list[str] = []
    result = asyncio.ensure_future(handle.result())
    while not result.done():
        progress = await describe_progress(handle)
        if progress is not None and progress.detail and progress.detail not in seen:
            seen.append(progress.detail)
        await asyncio.sleep(0.2)
    assert len(result.result().order) == 10
    return seen


async def test_serve_holds_heavy_steps_to_the_configured_memory_and_store(
    library, temporal_server, task_queue, tmp_path, monkeypatch
):
    store = tmp_path / "shared-payloads"
    overlay = textwrap.dedent(
        f"""\
        djset:
          playlist_dir: {tmp_path / "lists"}
          temporal:
            address: {temporal_server.address}
            task_queue: {task_queue}
          serve:
            state_dir: {tmp_path / "state"}
          worker:
            memory_limit: 1M
          payload_store: {store}
        """
    )
    serve = Serve(library, overlay, delay=3.0)
    try:
        serve.wait_for_line("worker polling task queue")
        line = serve.wait_for_line("heavy steps may hold")
        assert f"heavy steps may hold 1 MB at once; payload store {store}" in line
        # This test's client shares the worker's store, as clients on several machines would.
        monkeypatch.setenv(STORE_ENV, str(store))
        client = await connect(ConnectionSettings(address=temporal_server.address))
        tracks = synthetic_tracks(INLINE_TRACKS + 1, seed=8)  # passed by reference
        options = SetOptions(solver="greedy", count=10)
        handles = [
            await start_set(
                client,
                SetRequest(name=f"cfg-{uuid.uuid4().hex[:8]}", tracks=tracks, options=options),
                task_queue=task_queue,
            )
            for _ in range(2)
        ]
        seen = await asyncio.wait_for(asyncio.gather(*(follow(h) for h in handles)), 120)
    finally:
        assert serve.stop() == 0, "".join(serve.output)
    # Both steps need more than the 1 MB budget: one ran, the other waited for it.
    waits = [m for messages in seen for m in messages if m.startswith("waiting for memory")]
    assert waits and all(m.endswith("of 1 MB free") for m in waits), seen
    assert any(path.is_file() for path in store.rglob("*")), "nothing in the configured store"


async def test_a_bad_memory_limit_is_one_error_line(library):
    run = await beet(
        library, "djset", "--print", "genres:Techno",
        config="djset:\n  worker:\n    memory_limit: lots\n",
    )  # fmt: skip
    assert run.code == 1 and "Traceback" not in run.stderr, run.stderr
    assert run.errors == [
        "error: djset.worker.memory_limit: not a memory size: 'lots' (try 4G or 512M)"
    ]


async def test_the_embedded_worker_gets_the_memory_limit(fixture_tracks_path):
    """`beet djset` without a server passes djset.worker.memory_limit to run_set, whose
    embedded worker's gate then has that budget."""
    from djcurator_core.core.models import load_tracks
    from djcurator_core.pipeline.sets.set_runs import Server, run_set
    from djcurator_core.pipeline.workers.memory_gate import worker_gate

    request = SetRequest(name="embedded", tracks=load_tracks(fixture_tracks_path))
    server = Server(settings=None, task_queue=f"embedded-{uuid.uuid4().hex[:8]}")
    result = await run_set(server, request, worker_wait=5, memory_limit=3 * 2**30)
    assert result is not None and len(result.order) == len(request.tracks)
    assert worker_gate().limit == 3 * 2**30
