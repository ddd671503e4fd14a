"""How the energy-arc weight trades the arc against the transitions, and prints a table.

    python scripts/bench_arc.py [--pools 4] [--size 60] [--arc rise]
                                [--weights 0,0.25,0.5,1,2] [--seed 0]

For each of --pools random pools of --size tracks (tests/temporal_helpers.synthetic_tracks:
house/techno tempos, every key, energies 1-10), plan the set with the default solver, once
without an arc and once per weight. Columns, per weight: the Spearman rank correlation of
energy with position in the set (mean over the pools, and the smallest), the transition
cost (the sum of the cost matrix along the order) against the order without an arc, in
percent, and the mean planning time. A `rise` arc wants correlation 1.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from temporal_helpers import synthetic_tracks  # noqa: E402

from djcurator_core.core.options.set_options import SetOptions  # noqa: E402
from djcurator_core.core.planning.planning import plan_order  # noqa: E402
from djcurator_core.core.rules.scoring import cost_matrix  # noqa: E402


def ranks(values: np.ndarray) -> np.ndarray:
    """Ranks from 1, ties sharing their mean rank (as Spearman's coefficient wants)."""
    order = np.argsort(values, kind="stable")
    result = np.empty(len(values))
    result[order] = np.arange(1, len(values) + 1)
    for value in np.unique(values):
        tied = values == value
        result[tied] = result[tied].mean()
    return result


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    return float(np.corrcoef(ranks(x), ranks(y))[0, 1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pools", type=int, default=4)
    parser.add_argument("--size", type=int, default=60)
    parser.add_argument("--arc", default="rise", choices=["rise", "peak", "wave"])
    parser.add_argument("--weights", default="0,0.25,0.5,1,2")
    parser.add_argument("--seed", type=int, default=0, help="first pool's seed")
    args = parser.parse_args()
    weights = [float(w) for w in args.weights.split(",")]

    rows: dict[float, list[tuple[float, float, float]]] = {w: [] for w in weights}
    for pool in range(args.pools):
        tracks = synthetic_tracks(args.size, seed=args.seed + pool)
        energy = np.array([t.energy for t in tracks], dtype=float)
        matrix = cost_matrix(tracks)
        pure = plan_order(tracks, SetOptions()).order
        pure_cost = float(sum(matrix[a, b] for a, b in zip(pure, pure[1:], strict=False)))
        for weight in weights:
            options = SetOptions(energy_arc=args.arc if weight else "none", arc_weight=weight)
            started = time.perf_counter()
            order = plan_order(tracks, options).order
            seconds = time.perf_counter() - started
            cost = float(sum(matrix[a, b] for a, b in zip(order, order[1:], strict=False)))
            correlation = spearman(np.arange(len(order), dtype=float), energy[order])
            rows[weight].append((correlation, 100 * (cost / pure_cost - 1), seconds))

    print(f"{args.pools} pools of {args.size} tracks, arc {args.arc}")
    print("| arc_weight | mean Spearman (min) | transition cost | time s |")
    print("|---:|---:|---:|---:|")
    for weight, results in rows.items():
        correlations = [r[0] for r in results]
        print(
            f"| {weight:g} | {statistics.mean(correlations):.2f} ({min(correlations):.2f}) "
            f"| {statistics.mean(r[1] for r in results):+.0f} % "
            f"| {statistics.mean(r[2] for r in results):.2f} |"
        )


if __name__ == "__main__":
    main()
