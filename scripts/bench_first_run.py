"""First run and warm runs of `python -m djcurator_core sequence`, beside LKH-3 (`make
bench-first-run`).

Instances: the draws of bench_djgrade.py (real BPM/key pairs from
../shared/bench/giantsteps_mtg_bpm_key.tsv, drawn by bench_sequencing.draw_tracks, seed 1,
synthetic artists on 4 tracks each), at --sizes tracks (default 20, 200, 1,000).

Every time is one whole process timed by /usr/bin/time -v (process_timing.run_timed):
interpreter start, imports, compiling the solver where it has to, reading the file,
matrices, search, justification, JSON out.

- cold: `sequence FILE --json` with an empty solver cache (NUMBA_CACHE_DIR set to a new
  folder: the folder the C library and numba's machine code are kept in), i.e. the first
  run of a fresh install; then warm: the same command again, --repeats times (median),
  in turns with LKH-3's runs.
- kernel "c": the default (search_kernel.c, built by the system C compiler on the cold
  run); kernel "numba" (--numba): DJSET_SOLVER_KERNEL=numba, what a machine without a C
  compiler runs (and what every run did before the C kernel).
- LKH-3 (--lkh-python: an interpreter with the optional `bench-lkh` extra, elkai):
  a process that loads the instance's cost matrix (scoring.cost_matrix, saved by this
  script as .npy) and solves it with RUNS=1 (bench_sequencing.lkh_path): numpy + elkai
  import and the solve, no JSON, no justification. LKH gets the plain transition costs,
  without our DJ rules (tempo limit, artist gap as large costs), whose large values break
  its integer precision; its order is graded by the same yardstick.

--grade-sizes / --grade-seeds (default 50,100,200 and 1,2,3: the instances of the DJ-grade
table, bench_djgrade.py) also print, per instance, our order's unmixable transitions,
largest tempo jump and same-artist neighbours from a warm run, to hold beside the proven
optima recorded in docs/benchmarks.md (`make bench` computes them; CP-SAT takes minutes).

"unmixable" counts transitions that are not mixable by the standard rule (standard Camelot
move and a jump within 6 %, bench_djgrade.unmixable_matrix) in each order; "same artist"
counts neighbours by the same artist. "cpu s" is user + system time of the process.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))
LKH_CHILD = "--lkh-child"

if __name__ == "__main__" and sys.argv[1:2] == [LKH_CHILD]:
    # the LKH process: numpy, elkai and the product's models only (bench_sequencing)
    from bench_sequencing import lkh_path

    print(json.dumps(lkh_path(np.load(sys.argv[2]))))
    sys.exit(0)

from bench_djgrade import same_artist_neighbours, unmixable_matrix, with_artists  # noqa: E402
from bench_sequencing import DATA, draw_tracks, load_rows  # noqa: E402
from process_timing import run_timed  # noqa: E402

from djcurator_core.core.models import dump_tracks  # noqa: E402
from djcurator_core.core.rules.mixability import largest_jump  # noqa: E402
from djcurator_core.core.rules.scoring import cost_matrix  # noqa: E402
from djcurator_core.core.solver.native_search import KERNEL_ENV  # noqa: E402
from djcurator_core.core.solver.sequencing import path_cost  # noqa: E402


def environment(cache: Path, kernel: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NUMBA_", KERNEL_ENV))}
    env["NUMBA_CACHE_DIR"] = str(cache)
    if kernel == "numba":
        env[KERNEL_ENV] = "numba"
    return env


def ours(python: str, tracks_file: Path, env: dict[str, str]):
    """(wall s, cpu s, order as track ids) of one `sequence --json` process."""
    run = run_timed(
        [python, "-m", "djcurator_core", "sequence", str(tracks_file), "--json"],
        cwd=ROOT,
        env=env,
    )
    return run.wall_seconds, run.cpu_seconds, json.loads(run.stdout)["order"]


def graded(tracks, order_ids) -> tuple[int, int]:
    index = {t.id: i for i, t in enumerate(tracks)}
    order = [index[i] for i in order_ids]
    bad, _ = unmixable_matrix(tracks)
    return int(path_cost(bad, order)), same_artist_neighbours(tracks, order)


def time_size(args, rows, work: Path, n: int, kernels: list[str]) -> None:
    """The rows of one size: each kernel's cold run, then the warm runs of every solver
    in turns (ours, LKH, ours, LKH, ...), so that the load of the machine, which changes
    from minute to minute, weighs on all of them alike."""
    tracks = with_artists(draw_tracks(rows, n, 1), 1)
    tracks_file = work / f"tracks-{n}.json"
    tracks_file.write_text(dump_tracks(tracks), encoding="utf-8")
    envs = {kernel: environment(work / f"cache-{kernel}-{n}", kernel) for kernel in kernels}
    cold = {kernel: ours(args.product_python, tracks_file, envs[kernel]) for kernel in kernels}
    warm: dict[str, list[tuple[float, float]]] = {name: [] for name in [*kernels, "LKH-3"]}
    lkh_order = None
    matrix_file = work / f"matrix-{n}.npy"
    if args.lkh_python:
        np.save(matrix_file, cost_matrix(tracks))
    for _ in range(args.repeats):
        for kernel in kernels:
            wall, cpu, _ = ours(args.product_python, tracks_file, envs[kernel])
            warm[kernel].append((wall, cpu))
        if args.lkh_python:
            run = run_timed([args.lkh_python, __file__, LKH_CHILD, str(matrix_file)])
            warm["LKH-3"].append((run.wall_seconds, run.cpu_seconds))
            lkh_order = [tracks[i].id for i in json.loads(run.stdout)]
    for name, runs in warm.items():
        if not runs:
            continue
        if name == "LKH-3":
            cold_cells = f"{'':>11} {'':>10}"
            order = lkh_order
        else:
            cold_cells = f"{cold[name][0]:>11.2f} {cold[name][1]:>10.2f}"
            order = cold[name][2]
        unmixable, same = graded(tracks, order)
        label = name if name == "LKH-3" else f"ours {name}"
        print(
            f"{n:>5} {label:>10} {cold_cells} {statistics.median(r[0] for r in runs):>11.2f} "
            f"{statistics.median(r[1] for r in runs):>10.2f} {unmixable:>9} {same:>11}",
            flush=True,
        )


def grade(args, rows, work: Path) -> None:
    """Our order on the DJ-grade instances (bench_djgrade's draws), warm C kernel."""
    sizes = [int(s) for s in args.grade_sizes.split(",") if s]
    if not sizes:
        return
    print(f"\n{'n':>5} {'seed':>4} {'unmixable':>9} {'largest jump %':>14} {'same artist':>11} "
          f"{'wall s':>7} {'cpu s':>6}")  # fmt: skip
    env = environment(work / "cache-grade", "c")
    for n in sizes:
        for seed in [int(s) for s in args.grade_seeds.split(",") if s]:
            tracks = with_artists(draw_tracks(rows, n, seed), seed)
            tracks_file = work / f"grade-{n}-{seed}.json"
            tracks_file.write_text(dump_tracks(tracks), encoding="utf-8")
            wall, cpu, ids = ours(args.product_python, tracks_file, env)
            index = {t.id: i for i, t in enumerate(tracks)}
            order = [index[i] for i in ids]
            bad, jumps = unmixable_matrix(tracks)
            print(
                f"{n:>5} {seed:>4} {int(path_cost(bad, order)):>9} "
                f"{largest_jump(jumps, order):>14.1f} {same_artist_neighbours(tracks, order):>11} "
                f"{wall:>7.2f} {cpu:>6.2f}",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="20,200,1000")
    parser.add_argument("--repeats", type=int, default=3, help="warm runs per size (median)")
    parser.add_argument("--product-python", default=sys.executable, help="runs `sequence`")
    parser.add_argument("--lkh-python", help="an interpreter with elkai (the bench-lkh extra)")
    parser.add_argument("--numba", action="store_true", help="also time the numba kernel")
    parser.add_argument("--grade-sizes", default="50,100,200", help="DJ-grade draws ('' = none)")
    parser.add_argument("--grade-seeds", default="1,2,3")
    args = parser.parse_args()
    rows = load_rows(DATA)
    kernels = ["c", "numba"] if args.numba else ["c"]
    print(
        f"data: {DATA.name}; ours run by {args.product_python}; "
        f"LKH-3: {args.lkh_python or 'not run (no --lkh-python)'}; load average "
        f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}"
    )
    print(
        f"{'n':>5} {'solver':>10} {'cold wall s':>11} {'cold cpu s':>10} {'warm wall s':>11} "
        f"{'warm cpu s':>10} {'unmixable':>9} {'same artist':>11}"
    )
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        for n in [int(s) for s in args.sizes.split(",") if s]:
            time_size(args, rows, work, n, kernels)
        grade(args, rows, work)
    print(f"load average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
