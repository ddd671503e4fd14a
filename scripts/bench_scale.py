"""Benchmark large pools through the real command line (`python scripts/bench_scale.py`).

Every row is one whole `python -m djcurator_core sequence FILE ... --json` process, timed
and measured by /usr/bin/time -v (wall time, peak RSS): loading the JSON, choosing the
set, ordering and justifying it, as a user runs it.

- `--count 30` and `--duration 2h` on a pool of --pool tracks (default 100,000), against
  the same asks on random 2,000-track subsets of that pool (--baseline-seeds of them):
  the large-pool set must be as good or better (mean transition cost, mixable %).
- the full order of --full tracks (default 10,000): peak memory.

Pools are drawn from ../shared/bench/giantsteps_mtg_bpm_key.tsv exactly as in
bench_sequencing.py (real BPM/key pairs; repeats get their BPM moved by -2..+2 %).

Mixable: a standard Camelot move (same key, relative major/minor, +-1 on the wheel) and a
tempo change of at most 6 % (half/double time read as the same tempo).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from bench_sequencing import DATA, draw_tracks, load_rows  # noqa: E402

from djcurator_core.core.models import Track, dump_tracks  # noqa: E402
from djcurator_core.core.scoring import ScoringConfig, score_transition  # noqa: E402

STANDARD_MOVES = {"same key", "relative", "+1", "-1"}
MIXABLE_TEMPO_PCT = 6.0


def set_quality(tracks: dict[str, Track], order: list[str]) -> tuple[float, float]:
    """(mean transition cost, mixable share in %) of a set given by track ids."""
    config = ScoringConfig()
    costs, mixable = [], 0
    for a, b in zip(order, order[1:], strict=False):
        s = score_transition(tracks[a], tracks[b], config)
        costs.append(s.cost)
        tempo_ok = s.bpm_change_pct is not None and abs(s.bpm_change_pct) <= MIXABLE_TEMPO_PCT
        mixable += s.move in STANDARD_MOVES and tempo_ok
    return float(np.mean(costs)), 100.0 * mixable / max(1, len(costs))


def run_sequence(path: Path, args: list[str]) -> dict:
    """One whole CLI process; its result, wall seconds and peak RSS (MB)."""
    command = ["/usr/bin/time", "-v", sys.executable, "-m", "djcurator_core", "sequence"]
    done = subprocess.run(
        [*command, str(path), *args, "--json"], capture_output=True, text=True, cwd=ROOT
    )
    if done.returncode != 0:
        raise SystemExit(f"sequence {path.name} {' '.join(args)} failed: {done.stderr[-2000:]}")
    wall = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", done.stderr)
    hours, minutes, seconds = (float(g) if g else 0.0 for g in wall.groups())
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr).group(1))
    result = json.loads(done.stdout)
    return {
        "order": result["order"],
        "seconds": hours * 3600 + minutes * 60 + seconds,
        "rss_mb": rss / 1024,
        "minutes": result["summary"]["total_duration"] / 60,
    }


def row(label: str, run: dict, tracks: dict[str, Track]) -> None:
    cost, mixable = set_quality(tracks, run["order"])
    print(
        f"{label:<36} {len(run['order']):>6} {run['minutes']:>7.1f} {cost:>9.4f} "
        f"{mixable:>8.1f} {run['seconds']:>7.1f} {run['rss_mb']:>8.0f}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pool", type=int, default=100_000)
    parser.add_argument("--full", type=int, default=10_000, help="tracks of the full order")
    parser.add_argument("--baseline-seeds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--skip-full", action="store_true")
    args = parser.parse_args()
    rows = load_rows(DATA)
    workdir = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    pool = draw_tracks(rows, args.pool, args.seed)
    by_id = {t.id: t for t in pool}
    pool_file = workdir / "pool.json"
    pool_file.write_text(dump_tracks(pool))
    # warm the numba cache: no row should pay the solver's one-time compilation
    warm_file = workdir / "warm.json"
    warm_file.write_text(dump_tracks(pool[:300]))
    run_sequence(warm_file, ["--count", "20"])
    print(f"data: {DATA.name}; pool {args.pool} tracks (seed {args.seed}); {os.cpu_count()} CPUs")
    print(
        f"{'run':<36} {'tracks':>6} {'min':>7} {'mean cost':>9} {'mixable%':>8} "
        f"{'wall s':>7} {'peak MB':>8}"
    )
    for ask in (["--count", "30"], ["--duration", "2h"]):
        row(f"{args.pool} pool {' '.join(ask)}", run_sequence(pool_file, ask), by_id)
        rng = np.random.default_rng(args.seed)
        for seed in range(args.baseline_seeds):
            picks = rng.choice(len(pool), size=min(2000, len(pool)), replace=False)
            subset_file = workdir / f"subset{seed}.json"
            subset_file.write_text(dump_tracks([pool[int(i)] for i in sorted(picks)]))
            row(f"  random 2000 subset #{seed + 1}", run_sequence(subset_file, ask), by_id)
    if not args.skip_full:
        full = draw_tracks(rows, args.full, args.seed + 1)
        full_file = workdir / "full.json"
        full_file.write_text(dump_tracks(full))
        row(f"{args.full} tracks, full order", run_sequence(full_file, []), {t.id: t for t in full})


if __name__ == "__main__":
    main()
