"""Cost-matrix build time by pool size (tracks drawn like the other benchmarks' pools).

    python scripts/bench_matrix.py [--sizes 1000,5000,10000]

Prints one row per size: seconds to build the n x n float64 matrix (best of 3) and its size.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from temporal_helpers import synthetic_tracks  # noqa: E402

from djcurator_core.core.rules.scoring import cost_matrix  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1000,5000,10000")
    args = parser.parse_args()
    print("| tracks | build s (best of 3) | matrix MB |")
    print("|---:|---:|---:|")
    for n in (int(s) for s in args.sizes.split(",")):
        tracks = synthetic_tracks(n, seed=7)
        best = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            matrix = cost_matrix(tracks)
            best = min(best, time.perf_counter() - started)
        print(f"| {n:,} | {best:.2f} | {matrix.nbytes / 2**20:.0f} |")
        del matrix


if __name__ == "__main__":
    main()
