"""pytest's exit status reflects the results although the SDK may crash at interpreter exit
(sdk-python #300): conftest leaves with os._exit(<pytest's status>) after the report."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from temporal_helpers import ROOT

# the inner session starts a real Temporal dev server and worker (conftest's fixtures)
pytestmark = pytest.mark.temporal

INNER_TEST = """
from temporal_helpers import TEST_SCOPE

from djcurator_core.pipeline.sets.client import start_set, wait_for_result
from djcurator_core.pipeline.workers.worker import run_worker
from djcurator_core.pipeline.sets.workflows import SetRequest


async def test_uses_temporal(temporal_client, task_queue, fixture_tracks_path):
    async with run_worker(temporal_client, task_queue, scope=TEST_SCOPE):
        request = SetRequest(name="inner", tracks_path=str(fixture_tracks_path))
        handle = await start_set(temporal_client, request, task_queue=task_queue)
        result = await wait_for_result(handle)
    assert len(result.order) == {expected}
"""


@pytest.mark.parametrize(
    ("expected", "status", "summary"), [(20, 0, "1 passed"), (21, 1, "1 failed")]
)
def test_inner_session_status(expected, status, summary, tmp_path):
    test_file = tmp_path / "test_inner.py"
    test_file.write_text(INNER_TEST.format(expected=expected))
    env = {k: v for k, v in os.environ.items() if k != "DJSET_PYTEST_NO_FORCE_EXIT"}
    env["PYTHONPATH"] = str(ROOT / "tests")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "conftest",  # the project's conftest, as a plugin: fixtures and exit hook
            "-c",
            str(ROOT / "pyproject.toml"),
            "-p",
            "no:cacheprovider",
            str(test_file),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == status, done.stdout + done.stderr
    assert summary in done.stdout  # the report was complete before the deliberate exit
