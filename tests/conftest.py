"""Shared pytest set-up.

Temporal fixtures (reuse them; one real dev server per test session):
- `temporal_server`: the session's EmbeddedServer (loopback, in-memory, headless).
- `temporal_client`: a session client with the project's data converter (pydantic + gzip).
- `task_queue`: a fresh task queue name per test (so tests never share workers).
- `djset_worker`: an in-process worker on `task_queue` for the duration of the test,
  allowed what `temporal_helpers.TEST_SCOPE` allows (fixtures and the temp folder).
- `djcurator_core.pipeline.workers.worker.run_worker(client, task_queue, **kwargs)`: the
  same as an async context manager, for tests that need their own worker settings
  (e.g. `activities=`).
- `fixture_tracks_path`: the 20-track fixture file.
- tests/temporal_helpers.py: `WorkerProcess` (`python worker.py` as a subprocess),
  `activity_records` / `history_payloads` (what a run's history shows), `read_log`
  (the DJSET_ACTIVITY_LOG execution log), `synthetic_tracks(n)`.

Hypothesis runs without its per-example deadline (200 ms): on a machine busy with other
jobs one example can take longer, and a test must not fail for that ("Unreliable test
timings"); speed is measured by the benchmarks.

Exit status: the Temporal SDK can crash at interpreter exit after a client was used
(sdk-python #300: PyGILState_Release / segfault, exit 134/139 after every test passed).
`pytest_unconfigure` below flushes and leaves with os._exit(<pytest's own status>) so
the status reflects the results. Set DJSET_PYTEST_NO_FORCE_EXIT=1 to turn that off.
"""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from pathlib import Path

import pytest
from hypothesis import settings
from temporal_helpers import TEST_SCOPE

from djcurator_core.core.solver import solver_cache
from djcurator_core.pipeline.server.dev_server import EmbeddedServer
from djcurator_core.pipeline.sets.client import connect
from djcurator_core.pipeline.workers.worker import run_worker
from djcurator_core.process import exit_now

ROOT = Path(__file__).resolve().parent.parent
FIXTURE_TRACKS = ROOT / "fixtures" / "tracks_enriched.json"

_session_status: dict[str, int] = {}

settings.register_profile("shared-machine", deadline=None)
settings.load_profile("shared-machine")


@pytest.fixture(scope="session")
def temporal_server():
    with EmbeddedServer() as server:
        yield server


@pytest.fixture(scope="session")
async def temporal_client(temporal_server):
    # Whatever TEMPORAL_* variables the machine has set, talk to the session's server.
    return await connect(temporal_server.connection_settings())


@pytest.fixture
def task_queue(request) -> str:
    name = re.sub(r"[^A-Za-z0-9]+", "-", request.node.name)[:40].strip("-")
    return f"test-{name}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def djset_worker(temporal_client, task_queue):
    async with run_worker(temporal_client, task_queue, scope=TEST_SCOPE) as worker:
        # A cold solver cache (a changed optimizer.py) compiles in the background: wait
        # here, so that no test's own timeouts pay for it (test_first_run.py tests that).
        await asyncio.to_thread(solver_cache.wait_for_compile)
        yield worker


@pytest.fixture
def fixture_tracks_path() -> Path:
    return FIXTURE_TRACKS


TEMPORAL_FIXTURES = {"temporal_server", "temporal_client", "djset_worker"}


def pytest_collection_modifyitems(config, items):
    """Mark every test that uses a Temporal fixture as `temporal`, so that
    `pytest -m "not temporal"` runs the pure tests in seconds. Modules whose tests start
    servers themselves (subprocess workers, `beet djset`) set `pytestmark` instead."""
    for item in items:
        if TEMPORAL_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.temporal)


@pytest.hookimpl(hookwrapper=True)
def pytest_sessionfinish(session, exitstatus):
    yield
    _session_status["status"] = int(session.exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    if os.environ.get("DJSET_PYTEST_NO_FORCE_EXIT") or "status" not in _session_status:
        return
    exit_now(_session_status["status"])
