"""Benchmark large pools through the real command line (`python scripts/bench_scale.py`).

Every row is one whole `python -m djcurator_core sequence FILE ... --json` process, timed
and measured by /usr/bin/time -v (wall time, peak RSS): loading the JSON, choosing the
set, ordering and justifying it, as a user runs it.

- `--count 30` and `--duration 2h` on a pool of --pool tracks (default 100,000), against
  the same asks on random 2,000-track subsets of that pool (--baseline-seeds of them):
  the large-pool set must be as good or better (mean transition cost, mixable %).
- `--count auto` on the same pool (--auto).
- the full order of --full tracks (default 10,000): peak memory, with the default rules
  and (--full-args) any other options, e.g. `--full-args="--harmonic relaxed"`.

Every track gets a synthetic artist, each artist on --artist-tracks tracks (default 4, as
in bench_djgrade.py; the data has no artists), so that the artist gap has work to do: the
"adj" column counts same-artist neighbours, "gap" the fewest tracks between two tracks of
one artist, "odd keys" the key moves that are not standard (diagonals, boosts, clashes).
"cpu s" is the process's user + system time: on a shared machine the wall time depends
on the other jobs, the CPU time much less.

Pools are drawn from ../shared/bench/giantsteps_mtg_bpm_key.tsv exactly as in
bench_sequencing.py (real BPM/key pairs; repeats get their BPM moved by -2..+2 %).

Mixable: a standard Camelot move (same key, relative major/minor, +-1 on the wheel) and a
tempo change of at most 6 % (half/double time read as the same tempo).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from bench_sequencing import DATA, draw_tracks, load_rows  # noqa: E402
from process_timing import run_timed  # noqa: E402

from djcurator_core.core.models import Track, dump_tracks  # noqa: E402
from djcurator_core.core.rules.scoring import ScoringConfig, score_transition  # noqa: E402

STANDARD_MOVES = {"same key", "relative", "+1", "-1"}
MIXABLE_TEMPO_PCT = 6.0


def with_artists(tracks: list[Track], per_artist: int, seed: int) -> list[Track]:
    """Synthetic artists: a random permutation of the tracks cut into groups of
    `per_artist` (0: no artists)."""
    if per_artist <= 0:
        return tracks
    perm = np.random.default_rng(seed + 7).permutation(len(tracks))
    artist_of = np.empty(len(tracks), dtype=np.int64)
    artist_of[perm] = np.arange(len(tracks)) // per_artist
    return [
        t.model_copy(update={"artist": f"Artist {artist_of[i]:05d}", "title": f"Track {i}"})
        for i, t in enumerate(tracks)
    ]


def set_quality(
    tracks: dict[str, Track], order: list[str]
) -> tuple[float, float, int, int, int | None]:
    """(mean transition cost, mixable share in %, same-artist neighbours, key moves that
    are not standard, fewest tracks between two of one artist: None when no artist comes
    twice) of a set given by track ids."""
    config = ScoringConfig()
    costs, mixable, adjacent, odd = [], 0, 0, 0
    last: dict[str, int] = {}
    gap: int | None = None
    for position, track_id in enumerate(order):
        artist = tracks[track_id].artist
        if artist and artist in last:
            between = position - last[artist] - 1
            gap = between if gap is None else min(gap, between)
        last[artist] = position
    for a, b in zip(order, order[1:], strict=False):
        s = score_transition(tracks[a], tracks[b], config)
        costs.append(s.cost)
        tempo_ok = s.bpm_change_pct is not None and abs(s.bpm_change_pct) <= MIXABLE_TEMPO_PCT
        mixable += s.move in STANDARD_MOVES and tempo_ok
        odd += s.move not in STANDARD_MOVES
        adjacent += bool(tracks[a].artist) and tracks[a].artist == tracks[b].artist
    return float(np.mean(costs)), 100.0 * mixable / max(1, len(costs)), adjacent, odd, gap


def run_sequence(path: Path, args: list[str]) -> dict:
    """One whole CLI process; its result, wall seconds, CPU seconds and peak RSS (MB)."""
    run = run_timed(
        [sys.executable, "-m", "djcurator_core", "sequence", str(path), *args, "--json"],
        cwd=ROOT,
    )
    result = json.loads(run.stdout)
    return {
        "order": result["order"],
        "seconds": run.wall_seconds,
        "rss_mb": run.peak_mb,
        "cpu": run.cpu_seconds,
        "minutes": result["summary"]["total_duration"] / 60,
    }


def row(label: str, run: dict, tracks: dict[str, Track]) -> None:
    cost, mixable, adjacent, odd, gap = set_quality(tracks, run["order"])
    gap_text = "-" if gap is None else str(gap)
    print(
        f"{label:<40} {len(run['order']):>6} {run['minutes']:>7.1f} {cost:>9.4f} "
        f"{mixable:>8.1f} {adjacent:>4} {gap_text:>4} {odd:>8} {run['seconds']:>7.1f} "
        f"{run['cpu']:>6.1f} {run['rss_mb']:>8.0f}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pool", type=int, default=100_000)
    parser.add_argument("--full", type=int, default=10_000, help="tracks of the full order")
    parser.add_argument("--baseline-seeds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--skip-full", action="store_true")
    parser.add_argument("--skip-pool", action="store_true", help="only the full order")
    parser.add_argument("--auto", action="store_true", help="also --count auto on the pool")
    parser.add_argument("--artist-tracks", type=int, default=4, help="tracks per artist")
    parser.add_argument(
        "--full-args", action="append", default=[], help="options of an extra full-order row"
    )
    args = parser.parse_args()
    rows = load_rows(DATA)
    workdir = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    pool = with_artists(draw_tracks(rows, args.pool, args.seed), args.artist_tracks, args.seed)
    by_id = {t.id: t for t in pool}
    pool_file = workdir / "pool.json"
    pool_file.write_text(dump_tracks(pool))
    # warm the numba cache: no row should pay the solver's one-time compilation
    warm_file = workdir / "warm.json"
    warm_file.write_text(dump_tracks(pool[:300]))
    run_sequence(warm_file, ["--count", "20"])
    print(
        f"data: {DATA.name}; pool {args.pool} tracks (seed {args.seed}); "
        f"{args.artist_tracks} tracks per artist; {os.cpu_count()} CPUs; "
        f"load {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    print(
        f"{'run':<40} {'tracks':>6} {'min':>7} {'mean cost':>9} {'mixable%':>8} "
        f"{'adj':>4} {'gap':>4} {'odd keys':>8} {'wall s':>7} {'cpu s':>6} {'peak MB':>8}"
    )
    asks = [] if args.skip_pool else [["--count", "30"], ["--duration", "2h"]]
    if args.auto:
        row(f"{args.pool} pool --count auto", run_sequence(pool_file, ["--count", "auto"]), by_id)
    for ask in asks:
        row(f"{args.pool} pool {' '.join(ask)}", run_sequence(pool_file, ask), by_id)
        rng = np.random.default_rng(args.seed)
        for seed in range(args.baseline_seeds):
            picks = rng.choice(len(pool), size=min(2000, len(pool)), replace=False)
            subset_file = workdir / f"subset{seed}.json"
            subset_file.write_text(dump_tracks([pool[int(i)] for i in sorted(picks)]))
            row(f"  random 2000 subset #{seed + 1}", run_sequence(subset_file, ask), by_id)
    if not args.skip_full:
        full = with_artists(
            draw_tracks(rows, args.full, args.seed + 1), args.artist_tracks, args.seed + 1
        )
        full_file = workdir / "full.json"
        full_file.write_text(dump_tracks(full))
        full_ids = {t.id: t for t in full}
        for extra in [""] + args.full_args:
            label = f"{args.full} tracks, full order {extra}".strip()
            row(label, run_sequence(full_file, extra.split()), full_ids)


if __name__ == "__main__":
    main()
