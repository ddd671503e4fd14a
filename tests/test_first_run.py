"""First run: a worker serves at once, and a client tells a starting worker from none.

`python worker.py` and `beet djset --serve` start here with an empty numba cache folder
(NUMBA_CACHE_DIR in a temp folder) and the numba kernel (DJSET_SOLVER_KERNEL=numba, as on a
machine without a C compiler, where the C kernel's one-second build is not there), so they
really compile the solver (tens of seconds,
over 100 s on a busy 2-core machine). They poll first and compile in the background: a
`beet djset` started at the same moment as the worker completes, and says (once per
attempt of the step) that it waits for the starting worker (the sequencing step's
heartbeat, SOLVER_COMPILING). A second start with the same folder compiles nothing, and
its sets wait for nothing. With no worker at all, the clear error comes within
worker_wait plus a few seconds."""

from __future__ import annotations

import textwrap
import time
import uuid
from pathlib import Path

import pytest
from beets_helpers import LIBRARY, USABLE, assert_one_line_error, beet, build_library
from beets_helpers import server_config as bounded_config
from temporal_helpers import WorkerProcess, synthetic_tracks
from test_worker_config import Serve

from djcurator_core.core.solver.native_search import KERNEL_ENV
from djcurator_core.core.solver.solver_cache import PREPARING
from djcurator_core.pipeline.contracts import SetRequest
from djcurator_core.pipeline.sets.client import NoWorkerPolling, start_set

pytestmark = pytest.mark.temporal
# A cold compile on a busy 2-core machine took 106 s; the sequencing step waits for it at
# most 51 s per attempt, and the set's three attempts bound the whole run.
COMPILE_TIMEOUT = 600.0
STARTING = "which is starting: it compiles its solver"


def compiled_in(cache: Path) -> bool:
    """numba's index files and the solver's ready marker are in the folder."""
    return bool(list(cache.rglob("*.nbi"))) and bool(list(cache.glob("djset-solver-*.ready")))


def line_index(output: list[str], text: str) -> int:
    return next(index for index, line in enumerate(output) if text in line)


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    return build_library(
        tmp_path_factory.mktemp("first-run"), {name: LIBRARY[name] for name in USABLE}
    )


def patient_config(server, task_queue: str, playlists: Path) -> str:
    """The server and queue, and a worker wait long enough for a worker process that is
    still importing on a busy machine (it polls once it has connected)."""
    return textwrap.dedent(
        f"""\
        djset:
          playlist_dir: {playlists}
          temporal:
            address: {server.address}
            task_queue: {task_queue}
            worker_wait: 60
        """
    )


async def test_a_set_started_with_a_fresh_worker_waits_for_it_and_completes(
    library, temporal_server, task_queue, tmp_path
):
    env = {"NUMBA_CACHE_DIR": str(tmp_path / "numba"), KERNEL_ENV: "numba"}
    config = patient_config(temporal_server, task_queue, tmp_path / "lists")
    with WorkerProcess(temporal_server.address, task_queue, env=env) as worker:
        # the client starts at the same moment as the worker
        run = await beet(library, "djset", "-n", "first", "genre:House", config=config,
                         timeout=COMPILE_TIMEOUT)  # fmt: skip
        worker.wait_for_line("solver ready", COMPILE_TIMEOUT)
        output = list(worker.output)
    assert run.code == 0, run.stderr
    assert (tmp_path / "lists" / "first.m3u8").is_file()
    said = [line for line in run.stderr.splitlines() if STARTING in line]
    # on stderr, naming the worker it waits for; once per attempt (a compile that outlasts
    # an attempt's wait, on a busy machine, makes the step's retry wait again)
    assert said and "attempt" not in said[0], run.stderr
    assert "sequencing_tracks" in said[0] and f"waiting for worker {worker.pid}@" in said[0]
    assert [f"attempt {n}:" in line for n, line in enumerate(said[1:], 2)] == [True] * (
        len(said) - 1
    ), run.stderr
    # it polled (and served the set) before its compile was done
    assert line_index(output, PREPARING) < line_index(output, "polling task queue"), output
    assert line_index(output, "polling task queue") < line_index(output, "solver ready"), output
    assert compiled_in(tmp_path / "numba")

    with WorkerProcess(temporal_server.address, task_queue, env=env) as again:
        again.wait_ready(60)
        run = await beet(library, "djset", "-n", "second", "genre:House", config=config)
        assert not any(PREPARING in line for line in again.output), again.output
    assert run.code == 0, run.stderr
    assert STARTING not in run.stderr
    assert (tmp_path / "lists" / "second.m3u8").is_file()


async def test_no_worker_at_all_is_a_clear_error_within_worker_wait(
    library, temporal_server, temporal_client, tmp_path
):
    queue = f"nobody-{uuid.uuid4().hex[:8]}"
    # the client's own wait, timed in this process (a `beet` process's start alone took
    # over 30 s on a loaded machine): worker_wait, then the error
    request = SetRequest(name=queue, tracks=synthetic_tracks(5))
    started = time.monotonic()
    with pytest.raises(NoWorkerPolling) as refused:
        await start_set(temporal_client, request, task_queue=queue, worker_wait=2)
    waited = time.monotonic() - started
    assert 2 <= waited < 2 + 10, waited
    assert f"no worker polls task queue {queue!r}" in str(refused.value)
    # and `beet djset` says it in one line, naming the wait and the command to start one
    config = bounded_config(temporal_server, queue, tmp_path)  # worker_wait: 2
    run = await beet(library, "djset", "genre:House", config=config)
    assert_one_line_error(run, f"no worker polls task queue {queue!r}")
    assert "(waited 2 s)" in run.errors[0] and "djset-worker" in run.errors[0]
    assert STARTING not in run.stderr
    assert list(tmp_path.iterdir()) == []


def test_serve_polls_before_its_solver_is_compiled(library, temporal_server, task_queue, tmp_path):
    overlay = textwrap.dedent(
        f"""\
        djset:
          playlist_dir: {tmp_path / "lists"}
          temporal:
            address: {temporal_server.address}
            task_queue: {task_queue}
          serve:
            state_dir: {tmp_path / "state"}
        """
    )
    env = {"NUMBA_CACHE_DIR": str(tmp_path / "numba"), KERNEL_ENV: "numba"}
    for first in (True, False):
        serve = Serve(library, overlay, env=env)
        try:
            serve.wait_for_line("worker polling task queue", 60)  # no compile before it
            if first:
                serve.wait_for_line("solver ready", COMPILE_TIMEOUT)
        finally:
            assert serve.stop() == 0, "".join(serve.output)
        said = [line for line in serve.output if PREPARING in line]
        if first:
            polling = line_index(serve.output, "worker polling task queue")
            assert said and polling < line_index(serve.output, "solver ready"), serve.output
            assert compiled_in(tmp_path / "numba")
        else:
            assert said == [], serve.output
