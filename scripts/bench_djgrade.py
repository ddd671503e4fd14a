"""DJ-grade sets benchmark (`make bench`): our default order against the DJ rules.

Instances: random draws of n tracks (by seed) from ../shared/bench/giantsteps_mtg_bpm_key.tsv,
drawn and given an energy as in bench_sequencing.py. The data has no artists: each draw
gets synthetic ones, every artist on exactly ARTIST_TRACKS (4) tracks of the draw (a
random permutation of the tracks cut into groups of 4), so that "no same artist back to
back" is a real constraint.

For every instance:
- ours: `python -m djcurator_core sequence FILE --json` with the default options, run as a
  process and timed whole (start-up, numba cache load, matrix, search, justification);
- reference: the best order a general solver finds for "fewest unmixable transitions"
  (mixable = standard Camelot move and a symmetric tempo jump <= 6 %): our ILS on the 0/1
  matrix of that objective with a 3x effort, and LKH-3 (elkai, the optional `bench-lkh`
  extra) on the same matrix when installed; the better of the two. It ignores artists.

Checks printed per row: unmixable(ours) <= unmixable(ref) + 2 % of the transitions,
largest jump(ours) <= largest jump(ref) + 0.5 points, no same-artist neighbours.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from bench_sequencing import DATA, draw_tracks, have_lkh, lkh_path, load_rows  # noqa: E402

from djcurator_core.core.mixability import allowed_keys, largest_jump, move_classes  # noqa: E402
from djcurator_core.core.models import Track, dump_tracks  # noqa: E402
from djcurator_core.core.optimizer import Effort, optimise  # noqa: E402
from djcurator_core.core.planning import bpm_jumps  # noqa: E402
from djcurator_core.core.scoring import ScoringConfig  # noqa: E402
from djcurator_core.core.sequencing import SolverRequest, path_cost  # noqa: E402

ARTIST_TRACKS = 4


def with_artists(tracks: list[Track], seed: int) -> list[Track]:
    rng = np.random.default_rng(seed + 7)
    perm = rng.permutation(len(tracks))
    artist_of = {int(track): position // ARTIST_TRACKS for position, track in enumerate(perm)}
    return [
        t.model_copy(update={"artist": f"Artist {artist_of[i]:03d}", "title": f"Track {i}"})
        for i, t in enumerate(tracks)
    ]


def unmixable_matrix(tracks: list[Track]) -> tuple[np.ndarray, np.ndarray]:
    """(0/1 float matrix: 1 = not mixable by the standard rule, symmetric jumps)."""
    scoring = ScoringConfig()
    jumps = bpm_jumps(tracks, scoring)
    keys_ok = allowed_keys(move_classes(tracks), "strict")
    with np.errstate(invalid="ignore"):
        ok = keys_ok & (jumps <= scoring.max_bpm_jump + 1e-9)
    bad = (~ok).astype(float)
    np.fill_diagonal(bad, 0.0)
    return bad, jumps


def reference(bad: np.ndarray, seed: int, use_lkh: bool) -> tuple[list[int], str]:
    n = len(bad)
    effort = Effort(kicks_per_node=300, max_kicks=1_350_000, stall_per_node=450, time_cap=300)
    best = optimise(bad, SolverRequest(seed=seed + 1), effort=effort)
    name = "ils 3x on 0/1"
    if use_lkh:
        order = lkh_path(bad)
        if path_cost(bad, order) < path_cost(bad, best):
            best, name = order, "LKH-3 on 0/1"
    assert sorted(best) == list(range(n))
    return best, name


def run_ours(tracks: list[Track]) -> tuple[dict, float]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "tracks.json"
        path.write_text(dump_tracks(tracks), encoding="utf-8")
        started = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "djcurator_core", "sequence", str(path), "--json"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        elapsed = time.perf_counter() - started
    return json.loads(proc.stdout), elapsed


def same_artist_neighbours(tracks: list[Track], order: list[int]) -> int:
    return sum(
        tracks[a].artist == tracks[b].artist for a, b in zip(order[:-1], order[1:], strict=True)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="50,100,200")
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--timing-sizes", default="200,1000", help="whole-process time only")
    parser.add_argument("--no-lkh", action="store_true")
    args = parser.parse_args()
    rows = load_rows(DATA)
    use_lkh = not args.no_lkh and have_lkh()
    print(f"data: {DATA.name}; reference: ILS 3x{' and LKH-3' if use_lkh else ''} on 0/1")
    # warm the numba cache in this process and in the CLI's
    warm = with_artists(draw_tracks(rows, 30, 0), 0)
    run_ours(warm)
    header = (
        f"{'n':>5} {'seed':>4} {'unmix ours':>10} {'unmix ref':>9} {'bound':>6} "
        f"{'jump ours':>9} {'jump ref':>8} {'same art':>8} {'mixable %':>9} {'time s':>7}  ok"
    )
    print(header)
    failures = 0
    for n in [int(s) for s in args.sizes.split(",") if s]:
        for seed in [int(s) for s in args.seeds.split(",") if s]:
            tracks = with_artists(draw_tracks(rows, n, seed), seed)
            result, elapsed = run_ours(tracks)
            index = {t.id: i for i, t in enumerate(tracks)}
            order = [index[i] for i in result["order"]]
            bad, jumps = unmixable_matrix(tracks)
            ref, _ = reference(bad, seed, use_lkh)
            ours_bad, ref_bad = path_cost(bad, order), path_cost(bad, ref)
            bound = ref_bad + 0.02 * (n - 1)
            ours_jump, ref_jump = largest_jump(jumps, order), largest_jump(jumps, ref)
            same = same_artist_neighbours(tracks, order)
            ok = ours_bad <= bound and ours_jump <= ref_jump + 0.5 and same == 0
            failures += not ok
            print(
                f"{n:>5} {seed:>4} {ours_bad:>10.0f} {ref_bad:>9.0f} {bound:>6.1f} "
                f"{ours_jump:>9.1f} {ref_jump:>8.1f} {same:>8} "
                f"{100 * result['summary']['mixable_share']:>9.1f} {elapsed:>7.2f}  "
                f"{'yes' if ok else 'NO'}",
                flush=True,
            )
    print("\nwhole-process time of `python -m djcurator_core sequence` (default options)")
    for n in [int(s) for s in args.timing_sizes.split(",") if s]:
        tracks = with_artists(draw_tracks(rows, n, 1), 1)
        _, elapsed = run_ours(tracks)
        print(f"{n:>5} tracks: {elapsed:.2f} s", flush=True)
    print(f"\n{failures} row(s) failing a check")


if __name__ == "__main__":
    main()
