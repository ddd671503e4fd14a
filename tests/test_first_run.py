"""First run: a long-running worker compiles the solver when it starts, before it takes
work, says so, and does it once. `python worker.py` and `beet djset --serve` start with an
empty numba cache folder (NUMBA_CACHE_DIR in a temp folder), so they really compile (tens
of seconds each); a second start with the same folder compiles nothing."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from beets_helpers import LIBRARY, build_library
from temporal_helpers import WorkerProcess
from test_worker_config import Serve

from djcurator_core.core.solver.solver_cache import PREPARING

pytestmark = pytest.mark.temporal
COMPILE_TIMEOUT = 300.0  # a busy 2-core machine takes up to a minute or two


def compiled_in(cache: Path) -> bool:
    """numba's index files and the solver's ready marker are in the folder."""
    return bool(list(cache.rglob("*.nbi"))) and bool(list(cache.glob("djset-solver-*.ready")))


def line_index(output: list[str], text: str) -> int:
    return next(index for index, line in enumerate(output) if text in line)


def test_worker_py_compiles_at_start_once(temporal_server, task_queue, tmp_path: Path):
    env = {"NUMBA_CACHE_DIR": str(tmp_path / "numba")}
    with WorkerProcess(temporal_server.address, task_queue, env=env) as worker:
        worker.wait_for_line("polling task queue", COMPILE_TIMEOUT)
        output = list(worker.output)
    assert line_index(output, PREPARING) < line_index(output, "polling task queue"), output
    assert compiled_in(tmp_path / "numba")
    with WorkerProcess(temporal_server.address, task_queue, env=env) as again:
        again.wait_for_line("polling task queue", 60)
        assert not any(PREPARING in line for line in again.output), again.output


def test_serve_compiles_at_start_once(temporal_server, task_queue, tmp_path_factory):
    root = tmp_path_factory.mktemp("first-run")
    library = build_library(root, {"04 Lattice.mp3": LIBRARY["04 Lattice.mp3"]})
    overlay = textwrap.dedent(
        f"""\
        djset:
          playlist_dir: {root / "lists"}
          temporal:
            address: {temporal_server.address}
            task_queue: {task_queue}
          serve:
            state_dir: {root / "state"}
        """
    )
    env = {"NUMBA_CACHE_DIR": str(root / "numba")}
    for first in (True, False):
        serve = Serve(library, overlay, env=env)
        try:
            serve.wait_for_line("worker polling task queue", COMPILE_TIMEOUT)
        finally:
            assert serve.stop() == 0, "".join(serve.output)
        said = [line for line in serve.output if PREPARING in line]
        if first:
            assert said and line_index(serve.output, PREPARING) < line_index(
                serve.output, "worker polling task queue"
            ), serve.output
            assert compiled_in(root / "numba")
        else:
            assert said == [], serve.output
