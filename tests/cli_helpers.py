"""Run `python -m djcurator_core` as a process from the repository root, or its command
function in this process (`run_cli_here`)."""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "djcurator_core", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def run_cli_here(*args: str) -> subprocess.CompletedProcess:
    """`djcurator_core.cli.run(args)` in this process, its output and exit status as a
    CompletedProcess: what `python -m djcurator_core` runs (its `main` is
    `sys.exit(run())`) without starting an interpreter and importing numpy, pydantic
    and the engine again, which costs a second or more per case on a busy machine. An
    exception that escapes `run` (the traceback a user would see) fails the test. The
    process itself (status, one line, no traceback at exit) is checked by the tests that
    use `run_cli`."""
    from djcurator_core import cli

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = cli.run(list(args))
        except SystemExit as stop:  # argparse's errors (OneLineParser.error)
            status = stop.code if isinstance(stop.code, int) else 1
    return subprocess.CompletedProcess(list(args), status, out.getvalue(), err.getvalue())
