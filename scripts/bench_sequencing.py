"""Benchmark the sequencing solvers on real BPM/key data (`make bench`).

Instances of n tracks are drawn by seed from ../shared/bench/giantsteps_mtg_bpm_key.tsv
(GiantSteps MTG Key: beatport_id, bpm, key, genre, no header; 1,159 rows, two with BPM 0). Sizes
above the file's size draw with replacement, and every repeat of a row gets its BPM
moved by a random -2..+2 % so that no two tracks are identical.

Energy is not in the data; it is derived by a fixed rule (see also docs/benchmarks.md):
    energy = clip(round(GENRE_ENERGY[genre] + (bpm - 125) / 15 + jitter), 1, 10)
with jitter in {-1, 0, +1} from the beatport id (missing BPM: no tempo term). Durations
(for the --duration comparison) are 4-8 min, also from the id.

For every size: greedy, the default solver (ils) and, when the optional `bench-lkh` extra
(elkai = LKH-3, non-commercial licence) is installed, LKH-3 with RUNS=1 on the same matrix
(dummy-node ATSP, costs scaled by 1e5 to integers; above 1,000 tracks also TIME_LIMIT=300,
MAX_TRIALS=100, and only with --lkh-max raised: it takes ~4 min at 5,000). "Best known" is
the lowest cost any of them found (n <= 20: the Held-Karp optimum; above --lkh-max, where
LKH-3 is not run, a 3x longer run of our own solver with another seed, labelled
"ils 3x (ref)"). Peak memory is tracemalloc's peak (numpy arrays included) during the
solver call.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import os
import resource
import sys
import time
import tracemalloc
import zlib
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from djcurator_core.core.models import Track  # noqa: E402
from djcurator_core.core.options.set_options import SetOptions  # noqa: E402
from djcurator_core.core.planning.planning import plan_order  # noqa: E402
from djcurator_core.core.rules.scoring import cost_matrix  # noqa: E402
from djcurator_core.core.solver.optimizer import Effort, exact_path, optimise  # noqa: E402
from djcurator_core.core.solver.sequencing import SolverRequest, greedy, path_cost  # noqa: E402

DATA = ROOT.parent / "shared" / "bench" / "giantsteps_mtg_bpm_key.tsv"
GENRE_ENERGY = {
    "Chill Out": 2,
    "Electronica": 4,
    "Hip-Hop": 4,
    "Deep House": 5,
    "Minimal": 5,
    "House": 6,
    "Tech House": 6,
    "Progressive House": 6,
    "Breaks": 6,
    "Dubstep": 7,
    "Techno": 7,
    "Electro House": 7,
    "Trance": 7,
    "Drum & Bass": 8,
    "Psy-Trance": 8,
    "Hard Dance": 9,
}


def add_tsv_option(parser: argparse.ArgumentParser) -> None:
    """`--tsv FILE`: the benchmark data, as in bench_workflow.py (default: DATA)."""
    parser.add_argument(
        "--tsv",
        type=Path,
        default=DATA,
        help="GiantSteps BPM/key file (default: shared/bench/ beside the clone)",
    )


def rows_of(tsv: Path) -> list[dict[str, str]]:
    """The data file's rows; a missing file ends the benchmark with one line."""
    if not tsv.is_file():
        raise SystemExit(f"benchmark data not found: {tsv} (pass --tsv)")
    return load_rows(tsv)


def load_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        fields = ["beatport_id", "bpm", "key", "genre"]  # the file has no header line
        return list(csv.DictReader(handle, fieldnames=fields, delimiter="\t"))


def derived_energy(row: dict[str, str], bpm: float | None) -> float:
    jitter = zlib.crc32(row["beatport_id"].encode()) % 3 - 1
    tempo = 0.0 if bpm is None else (bpm - 125.0) / 15.0
    return float(np.clip(round(GENRE_ENERGY.get(row["genre"], 5) + tempo + jitter), 1, 10))


def draw_tracks(rows: list[dict[str, str]], n: int, seed: int) -> list[Track]:
    rng = np.random.default_rng(seed * 100_003 + n)
    picks = rng.choice(len(rows), size=n, replace=n > len(rows))
    seen: set[int] = set()
    tracks = []
    for i, row_index in enumerate(picks):
        row = rows[int(row_index)]
        bpm = float(row["bpm"]) or None
        if int(row_index) in seen and bpm is not None:
            bpm *= 1 + rng.uniform(-0.02, 0.02)
        seen.add(int(row_index))
        duration = 240.0 + zlib.crc32(("d" + row["beatport_id"]).encode()) % 240
        tracks.append(
            Track(
                id=f"{row['beatport_id']}-{i}",
                genre=row["genre"],
                bpm=bpm,
                key=row["key"],
                energy=derived_energy(row, bpm),
                duration=duration,
            )
        )
    return tracks


@contextlib.contextmanager
def quiet_stdout():
    """LKH prints its progress on the C-level stdout: silence fd 1 meanwhile."""
    sys.stdout.flush()
    saved = os.dup(1)
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 1)
        try:
            yield
        finally:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)


def lkh_path(matrix: np.ndarray, runs: int = 1) -> list[int]:
    from elkai import _elkai  # optional extra: pip install -e '.[bench-lkh]'

    n = len(matrix)
    full = np.zeros((n + 1, n + 1))
    full[:n, :n] = matrix
    weights = np.rint(full * 100_000).astype(np.int64)
    params = f"RUNS = {runs}\nPROBLEM_FILE = :stdin:\n"
    if n > 1000:  # a full run takes far too long at 5,000 tracks (10,000 nodes as TSP)
        params += "TIME_LIMIT = 300\nMAX_TRIALS = 100\n"
    problem = (
        f"TYPE : ATSP\nDIMENSION : {n + 1}\nEDGE_WEIGHT_TYPE : EXPLICIT\n"
        "EDGE_WEIGHT_FORMAT : FULL_MATRIX\nEDGE_WEIGHT_SECTION\n"
        + "\n".join(" ".join(map(str, row)) for row in weights.tolist())
        + "\n"
    )
    with quiet_stdout():
        tour = [i - 1 for i in _elkai.solve_problem(params, problem)]
    cut = tour.index(n)
    return tour[cut + 1 :] + tour[:cut]


def measure(function):
    tracemalloc.start()
    started = time.perf_counter()
    result = function()
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return result, elapsed, peak / 2**20


def have_lkh() -> bool:
    try:
        import elkai  # noqa: F401
    except ImportError:
        return False
    return True


def bench_sizes(rows, sizes, seed, use_lkh, lkh_max, long_ref):
    print(
        f"{'n':>5} {'solver':<14} {'cost':>10} {'gap %':>7} {'time s':>8} "
        f"{'vs greedy %':>11} {'peak MB':>8}"
    )
    for n in sizes:
        tracks = draw_tracks(rows, n, seed)
        matrix = cost_matrix(tracks)
        results = {}
        results["greedy"] = measure(lambda m=matrix: greedy(m, SolverRequest()))
        results["ils"] = measure(lambda m=matrix: optimise(m, SolverRequest(seed=seed)))
        if n <= 20:
            results["exact (DP)"] = measure(lambda m=matrix: exact_path(m))
        if use_lkh and n <= lkh_max:
            results["LKH-3 RUNS=1"] = measure(lambda m=matrix: lkh_path(m))
        elif long_ref and n > 20:
            # no LKH here: a 3x longer run of our own solver (other seed) as reference
            longer = Effort(300, max_kicks=1_350_000, stall_per_node=200, time_cap=900)
            results["ils 3x (ref)"] = measure(
                lambda m=matrix, e=longer: optimise(m, SolverRequest(seed=seed + 1), effort=e)
            )
        costs = {name: path_cost(matrix, r[0]) for name, r in results.items()}
        best = min(costs.values())
        greedy_cost = costs["greedy"]
        for name, (order, elapsed, peak) in results.items():
            assert sorted(order) == list(range(n))
            cost = costs[name]
            print(
                f"{n:>5} {name:<14} {cost:>10.4f} {100 * (cost / best - 1):>7.2f} "
                f"{elapsed:>8.2f} {100 * (1 - cost / greedy_cost):>11.1f} {peak:>8.0f}",
                flush=True,
            )


def mean_cost(matrix, order) -> float:
    return path_cost(matrix, order) / max(1, len(order) - 1)


def bench_selection(rows, pool_size, count, duration, seed):
    tracks = draw_tracks(rows, pool_size, seed + 7)
    matrix = cost_matrix(tracks)
    print(f"\nset length from a pool of {pool_size} tracks (mean transition cost, lower is better)")
    print(
        f"{'ask':<12} {'method':<28} {'tracks':>6} {'minutes':>8} {'mean cost':>10} {'time s':>7}"
    )
    for label, options, head in (
        (f"count {count}", SetOptions(count=count, seed=seed), None),
        (f"{duration / 60:.0f} min", SetOptions(duration=duration, seed=seed), None),
    ):
        plan, elapsed, _ = measure(lambda o=options: plan_order(tracks, o))
        chosen = plan.order
        if options.count is not None:
            head = list(range(count))
        else:
            total, head = 0.0, []
            for i, t in enumerate(tracks):
                if total + t.duration > duration:
                    break
                head.append(i)
                total += t.duration
        sub = np.asarray(head)
        first_order = [head[i] for i in optimise(matrix[np.ix_(sub, sub)], SolverRequest())]
        for name, order, secs in (
            ("first tracks, ordered (ils)", first_order, None),
            ("selection + ils", chosen, elapsed),
        ):
            minutes = sum(tracks[i].duration for i in order) / 60
            print(
                f"{label:<12} {name:<28} {len(order):>6} {minutes:>8.1f} "
                f"{mean_cost(matrix, order):>10.4f} "
                f"{'' if secs is None else f'{secs:.2f}':>7}",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="20,200,1000,5000")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-lkh", action="store_true", help="skip LKH-3 even if installed")
    parser.add_argument("--lkh-max", type=int, default=1000, help="largest n to give LKH-3")
    parser.add_argument("--pool", type=int, default=1000, help="pool size for set length")
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--duration", type=float, default=90 * 60, help="seconds")
    parser.add_argument("--no-selection", action="store_true")
    parser.add_argument(
        "--no-long-ref", action="store_true", help="skip the 3x ils reference above --lkh-max"
    )
    add_tsv_option(parser)
    args = parser.parse_args()
    rows = rows_of(args.tsv)
    use_lkh = not args.no_lkh and have_lkh()
    print(
        f"data: {args.tsv.name}, {len(rows)} rows; seed {args.seed}; LKH-3: "
        f"{'yes (elkai)' if use_lkh else 'not installed / skipped'}"
    )
    # warm the numba cache so the first size does not pay compilation
    warm = cost_matrix(draw_tracks(rows, 30, 0))
    optimise(warm, SolverRequest(), effort=Effort(min_kicks=10, kicks_per_node=1))
    sizes = [int(s) for s in args.sizes.split(",") if s]
    bench_sizes(rows, sizes, args.seed, use_lkh, args.lkh_max, not args.no_long_ref)
    if not args.no_selection:
        bench_selection(rows, args.pool, args.count, args.duration, args.seed)
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nprocess peak RSS: {peak_rss:.0f} MB")


if __name__ == "__main__":
    main()
