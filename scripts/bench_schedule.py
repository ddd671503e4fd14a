"""Time nightly sets: `beet djset --serve`, then a schedule triggered on libraries of growing
size, and print a table.

For each size N: generate N short tagged files and import them (as bench_plugin.py does),
start the local service (embedded server with SQLite, no Web UI, worker) in that
library's beets folder, create a schedule with `beet djset --schedule`, and trigger it
`--runs` times with `beet djset --schedule-trigger` (which waits for the playlist).
Columns: service start (process start -> "worker polling"), schedule creation and
trigger (whole `beet` processes, median), and the median per-step times of the runs
from the workflow's own progress (export, sequence, justify, write playlist); stop =
SIGTERM -> exit of the service.

Usage: python scripts/bench_schedule.py [--sizes 20 200 1000] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "tests"))

from beets_helpers import BEET, clean_env  # noqa: E402
from bench_plugin import build  # noqa: E402

from djcurator_core.pipeline.server.dev_server import free_port  # noqa: E402
from djcurator_core.pipeline.server.local_service import running_service  # noqa: E402
from djcurator_core.pipeline.sets.client import connect, query_progress  # noqa: E402
from djcurator_core.pipeline.sets.workflows import DJSetWorkflow  # noqa: E402

STEPS = [
    ("export", "export_tracks_activity"),
    ("sequence", "sequence_tracks_activity"),
    ("justify", "generate_justifications_activity"),
    ("write", "write_playlist_activity"),
]


def beet(folder: Path, *args: str) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(
        [BEET, *args], env=clean_env(folder), check=True, capture_output=True, text=True
    )
    return time.perf_counter() - started, done.stdout


async def step_times(folder: Path, workflow_ids: list[str]) -> dict[str, float]:
    service = running_service(folder / "djset")
    assert service is not None, "the service is not running"
    client = await connect(service.connection_settings())
    timings: dict[str, list[float]] = {name: [] for name, _ in STEPS}
    for workflow_id in workflow_ids:
        handle = client.get_workflow_handle_for(DJSetWorkflow.run, workflow_id)
        progress = await query_progress(handle)
        assert progress is not None and progress.status == "completed", progress
        for name, activity in STEPS:
            timings[name].append(progress.timings[activity])
    return {name: statistics.median(values) for name, values in timings.items()}


def bench(folder: Path, size: int, runs: int) -> dict[str, float]:
    build(folder, size)
    overlay = folder / "serve.yaml"
    overlay.write_text(f"djset: {{serve: {{port: {free_port()}, ui_port: null}}}}\n")
    started = time.perf_counter()
    service = subprocess.Popen(
        [BEET, "-c", str(overlay), "djset", "--serve"],
        env={**clean_env(folder), "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        for line in service.stdout:
            if "worker polling" in line:
                break
        else:
            raise SystemExit(f"the service did not start (exit {service.wait()})")
        ready = time.perf_counter() - started
        create, _ = beet(folder, "djset", "--schedule", "0 3 * * *", "-n", "bench")
        triggers, ids = [], []
        for _ in range(runs):
            seconds, out = beet(folder, "djset", "--schedule-trigger", "bench")
            triggers.append(seconds)
            ids.append(out.splitlines()[0].removeprefix("started "))
        steps = asyncio.run(step_times(folder, ids))
        stopping = time.perf_counter()
        service.send_signal(signal.SIGTERM)
        service.wait(timeout=60)
        stop = time.perf_counter() - stopping
    finally:
        if service.poll() is None:
            service.kill()
    return {
        "ready": ready,
        "create": create,
        "trigger": statistics.median(triggers),
        **steps,
        "stop": stop,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20, 200, 1000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=ROOT / "build" / "bench-schedule")
    args = parser.parse_args()
    columns = ["ready", "create", "trigger", *(name for name, _ in STEPS), "stop"]
    print("| tracks | " + " | ".join(columns) + " |")
    print("|---:|" + "---:|" * len(columns))
    for size in args.sizes:
        folder = args.dir / str(size)
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        row = bench(folder, size, args.runs)
        print(f"| {size:,} | " + " | ".join(f"{row[c]:.2f} s" for c in columns) + " |", flush=True)


if __name__ == "__main__":
    main()
