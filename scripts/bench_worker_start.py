"""How soon a fresh worker serves: `djset-worker` start -> first poll -> first set.

    python scripts/bench_worker_start.py [--repeats 3] [--tracks N] [--worker PATH ...]

Whole processes, as a user meets them: on an embedded dev server, each run starts
`python worker.py` (what `djset-worker` runs) in a new process on a new task queue and,
in the same instant, a client that starts a set of N fixture-like tracks (default solver)
with a generous worker wait. Measured from the worker's process start:
- first poll: the server lists the worker as a poller of the queue (DescribeTaskQueue,
  asked every 50 ms), i.e. when a client's `worker_wait` is answered;
- "polling" line: the worker prints that it polls;
- first set: the client has the set's result.
"cold" runs give the worker an empty NUMBA_CACHE_DIR (the solver compiles: a fresh
install), "warm" ones the folder a cold run filled. Prints a table (medians of the
repeats, and the range); nothing is asserted. `--worker` starts other clones' worker.py
(an older version, for a before/after table); several are taken in turns within each
repeat, so that they share the machine's load alike.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from temporal_helpers import TEST_SCOPE_ARGS, synthetic_tracks  # noqa: E402

from djcurator_core.pipeline.contracts import SetRequest  # noqa: E402
from djcurator_core.pipeline.server.dev_server import EmbeddedServer  # noqa: E402
from djcurator_core.pipeline.sets.client import (  # noqa: E402
    connect,
    pollers,
    start_set,
    wait_for_result,
)
from djcurator_core.process import exit_now  # noqa: E402

CLIENT_WAIT = 900.0  # seconds the client waits for a poller: long enough for any start


def _worker(script: Path, address: str, task_queue: str, cache: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEMPORAL_")}
    env.update({"TEMPORAL_ADDRESS": address, "NUMBA_CACHE_DIR": str(cache)})
    env["PYTHONUNBUFFERED"] = "1"
    argv = [sys.executable, str(script), "--task-queue", task_queue]
    return subprocess.Popen(
        [*argv, *TEST_SCOPE_ARGS],
        cwd=script.parent,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _watch_output(process: subprocess.Popen, started: float, seen: dict[str, float]) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        if "polling task queue" in line:
            seen.setdefault("polling", time.monotonic() - started)


async def one_run(client, script: Path, address: str, cache: Path, tracks: int) -> dict[str, float]:
    task_queue = f"bench-start-{uuid.uuid4().hex[:8]}"
    request = SetRequest(name=task_queue, tracks=synthetic_tracks(tracks, seed=1))
    seen: dict[str, float] = {}
    started = time.monotonic()
    process = _worker(script, address, task_queue, cache)
    threading.Thread(target=_watch_output, args=(process, started, seen), daemon=True).start()

    async def first_poll() -> None:
        while not await pollers(client, task_queue):
            await asyncio.sleep(0.05)
        seen["poll"] = time.monotonic() - started

    async def first_set() -> None:
        handle = await start_set(client, request, task_queue=task_queue, worker_wait=CLIENT_WAIT)
        await wait_for_result(handle)
        seen["set"] = time.monotonic() - started

    try:
        await asyncio.gather(first_poll(), first_set())
    finally:
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:  # an older worker compiling before it polls
            process.kill()
            process.wait()
    return seen


def _cell(values: list[float]) -> str:
    if not values:
        return "-"
    median = statistics.median(values)
    if len(values) == 1:
        return f"{median:.1f}"
    return f"{median:.1f} ({min(values):.1f}-{max(values):.1f})"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tracks", type=int, default=20)
    parser.add_argument(
        "--worker", type=Path, nargs="+", default=[ROOT / "worker.py"], help="worker scripts"
    )
    args = parser.parse_args()
    rows: dict[tuple[Path, str], list[dict[str, float]]] = {}
    with EmbeddedServer() as server, tempfile.TemporaryDirectory() as scratch:
        client = await connect(server.connection_settings())
        for repeat in range(args.repeats):
            for number, script in enumerate(args.worker):
                cache = Path(scratch) / f"numba-{repeat}-{number}"  # empty: numba compiles
                for kind in ("cold", "warm"):  # the cold run fills the folder
                    run = await one_run(client, script, server.address, cache, args.tracks)
                    rows.setdefault((script, kind), []).append(run)
                    print(f"repeat {repeat + 1} {script} {kind}: {run}", file=sys.stderr)
    print(f"\nworker start -> ... (s), {args.tracks} tracks, median (range) of {args.repeats}\n")
    print("| worker | numba cache | first poll | 'polling' line | first set done |")
    print("|---|---|---:|---:|---:|")
    for (script, kind), runs in rows.items():
        keys = ("poll", "polling", "set")
        cells = [_cell([run[key] for run in runs if key in run]) for key in keys]
        print(f"| {script} | {kind} | {' | '.join(cells)} |")


if __name__ == "__main__":
    asyncio.run(main())
    exit_now(0)
