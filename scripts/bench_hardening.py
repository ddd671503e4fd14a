"""Time the hardening checks (docs/hardening.md) and print a table.

- validation: parsing and validating a 10,000-track tracks_enriched file in process
  (strict JSON, finite numbers, text cleaned and checked), against `json.loads` alone;
- refusals: whole `python -m djcurator_core sequence` processes given a FIFO,
  /dev/zero and JSON nested 100,000 deep, until they exit 2;
- dead worker: a whole `beet djset` process against an embedded dev server whose only
  worker was killed with SIGKILL (still listed as a poller), with worker_wait 2 s, until
  it exits 1 with its one line.

Usage: python scripts/bench_hardening.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from beets_helpers import beet_command, build_library, clean_env, server_config  # noqa: E402
from temporal_helpers import WorkerProcess  # noqa: E402

from djcurator_core.core.models import loads_tracks  # noqa: E402
from djcurator_core.pipeline.server.dev_server import EmbeddedServer  # noqa: E402
from djcurator_core.pipeline.sets.client import connect, wait_for_worker  # noqa: E402


def tracks_text(n: int) -> str:
    rng = random.Random(1)
    tracks = [
        {
            "id": str(i),
            "path": f"/music/Artist {i}/Album/{i:05d} Some Title.mp3",
            "title": f"Title {i} (Extended Mix)",
            "artist": f"Artist Name {i}",
            "album": "Album",
            "genre": "House",
            "duration": 300.0 + i % 60,
            "bpm": 118 + rng.random() * 12,
            "key": f"{1 + i % 12}A",
            "energy": 1 + i % 10,
        }
        for i in range(n)
    ]
    return json.dumps({"format": "tracks_enriched", "version": 1, "tracks": tracks})


def best_of(repeats: int, function) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return min(times)


def process_time(argv: list[str], expected: int, **kwargs) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, **kwargs)
    elapsed = time.perf_counter() - started
    if done.returncode != expected:
        raise SystemExit(f"{argv}: exit {done.returncode}, expected {expected}: {done.stderr}")
    return elapsed


async def dead_worker_times(repeats: int, work: Path) -> list[float]:
    library = build_library(work / "library")
    times = []
    with EmbeddedServer() as server:
        client = await connect(server.connection_settings())
        for run in range(repeats):
            queue = f"bench-dead-{run}"
            worker = WorkerProcess(server.address, queue)
            worker.wait_ready()
            await wait_for_worker(client, queue, 10)
            worker.signal(signal.SIGKILL)
            worker.wait()
            config = server_config(server, queue, work / "lists")  # worker_wait: 2
            argv = [*beet_command(library, config), "djset", "-n", f"dead {run}", "genre:House"]
            times.append(process_time(argv, 1, env=clean_env(library), cwd=library.root))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rows = []
    text = tracks_text(10_000)
    plain = best_of(5, lambda: json.loads(text))
    checked = best_of(5, lambda: loads_tracks(text))
    rows.append(("10,000 tracks: json.loads alone", plain, "in process, best of 5"))
    rows.append(("10,000 tracks: parse + validate", checked, "in process, best of 5"))
    cli = [sys.executable, "-m", "djcurator_core", "sequence"]
    with tempfile.TemporaryDirectory(prefix="djset-bench-") as work:
        work_path = Path(work)
        fifo = work_path / "fifo.json"
        os.mkfifo(fifo)
        deep = work_path / "deep.json"
        deep.write_text("[" * 100_000 + "]" * 100_000)
        for label, path in (("FIFO", fifo), ("/dev/zero", "/dev/zero"), ("100,000 deep", deep)):
            times = [process_time([*cli, str(path)], 2, cwd=ROOT) for _ in range(args.repeats)]
            rows.append((f"CLI refuses {label}", statistics.median(times), "whole process, median"))
        times = asyncio.run(dead_worker_times(args.repeats, work_path))
        rows.append(
            ("beet djset, dead worker, worker_wait 2", statistics.median(times), "whole process")
        )
    print(f"{'case':<42} {'seconds':>8}  how")
    for label, seconds, how in rows:
        print(f"{label:<42} {seconds:>8.3f}  {how}")
    sys.stdout.flush()
    os._exit(0)  # the SDK can crash at interpreter exit (sdk-python #300)


if __name__ == "__main__":
    main()
