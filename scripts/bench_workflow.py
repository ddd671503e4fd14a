"""End-to-end latency of DJSetWorkflow on the real Temporal dev server.

    python scripts/bench_workflow.py [--sizes 20,200,2000,10000] [--repeats 3]
                                     [--solver NAME] [--time-budget SECONDS]

Measures, on a warm embedded dev server with one warm `python worker.py` process:
- end-to-end latency (start_set -> result in the client) per input size,
- per-step time from the workflow history (activity Started -> Completed), and the rest
  (scheduling, workflow tasks, payload encoding, polling) as overhead,
- the largest payload in the history (gzip-compressed, as stored),
- the embedded server's cold start (process start -> namespace answers).
Runs are --pause seconds apart: back to back, small runs on the dev server took ~0.25 s
longer (task dispatch slowed to ~40 ms per step; not investigated further).

Tracks are drawn from the GiantSteps MTG key/tempo data (../shared/bench/, CC BY-SA 4.0):
rows sampled with replacement by seed; copies beyond the first get a tempo jitter of up to
+-0.5 BPM. The data has no energy, so energy is derived from tempo by a fixed rule:
energy = clamp(round((bpm - 85) / 7), 1, 10). Prints a table; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from temporalio.api.enums.v1 import EventType  # noqa: E402

from djcurator_core.core.models import Track, TrackFormatError, dump_tracks  # noqa: E402
from djcurator_core.core.options.set_option_flags import DEFAULT_SOLVER  # noqa: E402
from djcurator_core.core.options.set_options import SetOptions  # noqa: E402
from djcurator_core.pipeline.contracts import STEPS, SetRequest  # noqa: E402
from djcurator_core.pipeline.server.dev_server import EmbeddedServer  # noqa: E402
from djcurator_core.pipeline.sets.client import connect, start_set, wait_for_result  # noqa: E402
from djcurator_core.process import exit_now  # noqa: E402

DEFAULT_TSV = ROOT.parent / "shared" / "bench" / "giantsteps_mtg_bpm_key.tsv"
STEP_NAMES = [name for _, name in STEPS]
SHORT = {
    "load_tracks_activity": "load",
    "sequence_tracks_activity": "sequence",
    "generate_justifications_activity": "justify",
}


def read_pool(tsv: Path) -> list[tuple[str, float | None, str, str]]:
    rows = []
    for line in tsv.read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) < 4:
            continue
        beatport_id, bpm, key, genre = parts[:4]
        rows.append((beatport_id, float(bpm) or None, key, genre))
    return rows


def energy_from_bpm(bpm: float | None) -> float | None:
    return None if bpm is None else float(min(10, max(1, round((bpm - 85) / 7))))


def draw_tracks(pool, n: int, seed: int) -> list[Track]:
    rng = random.Random(seed)
    tracks, copies = [], {}
    for i in range(n):
        beatport_id, bpm, key, genre = pool[rng.randrange(len(pool))]
        copy = copies[beatport_id] = copies.get(beatport_id, -1) + 1
        if bpm is not None and copy:
            bpm = round(bpm + rng.uniform(-0.5, 0.5), 2)
        try:
            track = Track(
                id=f"gs{beatport_id}-{copy}",
                path=f"/music/giantsteps/{genre}/{beatport_id}.mp3",
                title=f"Beatport {beatport_id}",
                artist=f"{genre} artist {int(beatport_id) % 97}",
                genre=genre,
                duration=round(rng.uniform(240, 480), 1),
                bpm=bpm,
                key=key or None,
                energy=energy_from_bpm(bpm),
            )
        except (ValueError, TrackFormatError):
            track = Track(id=f"gs{beatport_id}-{copy}-{i}", genre=genre, bpm=bpm)
        tracks.append(track)
    return tracks


async def step_times(handle) -> tuple[dict[str, float], int]:
    """Seconds each activity's last attempt ran (Started -> Completed), largest payload."""
    history = await handle.fetch_history()
    names, started, seconds, largest = {}, {}, {}, 0
    for event in history.events:
        kind = event.event_type
        if kind == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            attrs = event.activity_task_scheduled_event_attributes
            names[event.event_id] = attrs.activity_type.name
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            attrs = event.activity_task_started_event_attributes
            started[attrs.scheduled_event_id] = event.event_time.ToDatetime()
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            attrs = event.activity_task_completed_event_attributes
            begun = started[attrs.scheduled_event_id]
            name = names[attrs.scheduled_event_id]
            seconds[name] = (event.event_time.ToDatetime() - begun).total_seconds()
        attrs = getattr(event, event.WhichOneof("attributes"))
        for field in ("input", "result"):
            if attrs.DESCRIPTOR.fields_by_name.get(field) and attrs.HasField(field):
                largest = max(largest, getattr(attrs, field).ByteSize())
    return seconds, largest


def cold_starts(count: int) -> list[float]:
    times = []
    for _ in range(count):
        began = time.monotonic()
        with EmbeddedServer():
            times.append(time.monotonic() - began)
    return times


@contextlib.contextmanager
def running_worker(address: str, log_dir: Path) -> Iterator[subprocess.Popen]:
    """One `python worker.py` on the "bench" queue for the block; stopped (and its log file
    closed) on every way out, a failed start and Ctrl-C included."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEMPORAL_")}
    env["TEMPORAL_ADDRESS"] = address
    log_path = log_dir / "worker.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            # it reads the benchmark's tracks files, which live in log_dir
            [
                *(sys.executable, str(ROOT / "worker.py"), "--task-queue", "bench"),
                *("--tracks-dir", str(log_dir)),
            ],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        try:
            line = process.stdout.readline()
            if "polling" not in line:
                log.flush()
                logged = log_path.read_text(errors="replace").strip().splitlines()
                said = line.strip() or (logged[-1] if logged else "no output")
                raise SystemExit(f"worker did not start: {said}")
            yield process
        finally:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            process.stdout.close()


async def bench(args: argparse.Namespace) -> None:
    pool = read_pool(Path(args.tsv))
    sizes = [int(s) for s in args.sizes.split(",")]
    solver = args.solver or DEFAULT_SOLVER
    options = SetOptions(solver=solver, time_budget=args.time_budget, seed=args.seed)
    print(f"solver {solver}, time budget {args.time_budget} s, pool {len(pool)} GiantSteps rows")

    colds = cold_starts(args.cold_starts)
    print(
        f"embedded server cold start (process start -> namespace answers), {len(colds)} runs: "
        f"median {statistics.median(colds):.2f} s, min {min(colds):.2f} s, max {max(colds):.2f} s"
    )

    rows = []
    with tempfile.TemporaryDirectory() as workdir, EmbeddedServer() as server:
        workdir = Path(workdir)
        with running_worker(server.address, workdir):
            client = await connect(server.connection_settings())
            warm = workdir / "warm.json"
            warm.write_text(dump_tracks(draw_tracks(pool, 20, 999)))
            for i in range(2):  # warm the worker (imports, JIT, caches)
                request = SetRequest(name=f"warm{i}", tracks_path=str(warm), options=options)
                await wait_for_result(await start_set(client, request, task_queue="bench"))
            for n in sizes:
                path = workdir / f"tracks{n}.json"
                path.write_text(dump_tracks(draw_tracks(pool, n, args.seed + n)))
                repeats = args.repeats if n < 10_000 else max(1, args.repeats_large)
                runs = []
                for r in range(repeats):
                    request = SetRequest(
                        name=f"bench-{n}-{r}", tracks_path=str(path), options=options
                    )
                    began = time.monotonic()
                    handle = await start_set(client, request, task_queue="bench")
                    result = await wait_for_result(handle)
                    e2e = time.monotonic() - began
                    steps, largest = await step_times(handle)
                    runs.append((e2e, steps, largest, result.summary.cost))
                    await asyncio.sleep(args.pause)
                    print(f"  n={n} run {r + 1}/{repeats}: {e2e:.2f} s", flush=True)
                rows.append((n, runs))

    header = (
        f"{'tracks':>7} {'runs':>4} {'e2e s':>8} "
        + " ".join(f"{SHORT[s] + ' s':>10}" for s in STEP_NAMES)
        + f" {'overhead s':>10} {'largest payload':>16}"
    )
    print()
    print(header)
    for n, runs in rows:
        e2e = statistics.median(r[0] for r in runs)
        steps = {s: statistics.median(r[1].get(s, float("nan")) for r in runs) for s in STEP_NAMES}
        overhead = e2e - sum(steps.values())
        largest = max(r[2] for r in runs)
        print(
            f"{n:>7} {len(runs):>4} {e2e:>8.2f} "
            + " ".join(f"{steps[s]:>10.2f}" for s in STEP_NAMES)
            + f" {overhead:>10.2f} {largest / 1024:>13.0f} KiB"
        )
    print("(medians; per-step = activity Started -> Completed in the history)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="20,200,2000,10000")
    parser.add_argument("--repeats", type=int, default=3, help="runs per size below 10,000")
    parser.add_argument("--repeats-large", type=int, default=1, help="runs at 10,000+")
    parser.add_argument("--solver", help="default: the project's default solver")
    parser.add_argument("--time-budget", type=float, default=2.0, help="solver search budget")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--pause", type=float, default=1.0, help="seconds between runs (0 = back to back)"
    )
    parser.add_argument("--cold-starts", type=int, default=3)
    parser.add_argument("--tsv", default=str(DEFAULT_TSV))
    args = parser.parse_args()
    if not Path(args.tsv).is_file():
        raise SystemExit(f"benchmark data not found: {args.tsv} (pass --tsv)")
    asyncio.run(bench(args))
    exit_now(0)  # the SDK can crash at interpreter exit (sdk-python #300)


if __name__ == "__main__":
    main()
