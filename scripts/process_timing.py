"""One whole process timed by /usr/bin/time -v: its wall clock time, peak RSS and CPU time.

The benchmarks time whole processes (start-up, imports and exit included), as a user
waits for them, not a function inside this interpreter. GNU time's verbose report is
read for "Elapsed (wall clock) time" and "Maximum resident set size". Imported by the
bench_*.py scripts beside it (they put this folder on sys.path).
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from beets_helpers import BEET, clean_env  # noqa: E402


@dataclass(frozen=True)
class TimedRun:
    wall_seconds: float
    peak_mb: float  # peak resident set size
    stdout: str
    stderr: str  # the command's own stderr, GNU time's report left in
    cpu_seconds: float = 0.0  # user + system time of the process and its children


def run_timed(command: list[str], **run_kwargs) -> TimedRun:
    """Run `command` under /usr/bin/time -v; a failure ends the benchmark with its stderr."""
    done = subprocess.run(
        ["/usr/bin/time", "-v", *command], capture_output=True, text=True, **run_kwargs
    )
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command[:4])} ... failed: {done.stderr[-3000:]}")
    wall = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", done.stderr)
    hours, minutes, seconds = (float(g) if g else 0.0 for g in wall.groups())
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr).group(1))
    cpu = sum(
        float(re.search(rf"{kind} time \(seconds\): ([\d.]+)", done.stderr).group(1))
        for kind in ("User", "System")
    )
    wall_seconds = hours * 3600 + minutes * 60 + seconds
    return TimedRun(wall_seconds, rss / 1024, done.stdout, done.stderr, cpu)


def timed_beet(library: Path, *args: str) -> TimedRun:
    """`beet ARGS` on the library in `library` (its BEETSDIR and HOME), timed."""
    return run_timed([BEET, *args], env=clean_env(library))
