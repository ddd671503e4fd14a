"""Whole pools above COMPACT_ABOVE tracks (core/solver/whole_pool.py): the DJ rules of issue 11
hold in the memory-lean path of issue 13 (one float32 matrix, rules added in row blocks).

Each pool is just above the threshold; the searches get a time budget (a few seconds), so
the assertions leave the margin a busy machine needs while still failing on the old path
(which kept only the tempo limit)."""

from __future__ import annotations

import numpy as np
import pytest

from djcurator_core.core.keys import ALL_KEYS
from djcurator_core.core.models import Track
from djcurator_core.core.options.set_options import SetOptions
from djcurator_core.core.planning import planning
from djcurator_core.core.planning.planning import plan_order
from djcurator_core.core.rules.scoring import ScoringConfig, score_transition, tempo_change
from djcurator_core.core.rules.set_rules import (
    artist_gap_violations,
    artist_ids,
    spread_artists,
)
from djcurator_core.core.solver import whole_pool
from djcurator_core.core.solver.whole_pool import relocate_breaks

N = whole_pool.COMPACT_ABOVE + 100
STANDARD = {"same key", "relative", "+1", "-1"}
BUDGET = 4.0


def artists_with_a_sound(n: int, seed: int, per_artist: int = 10) -> list[Track]:
    """Each artist's tracks share a key and a tempo: the cheapest neighbour of a track is
    another track by its artist, so only the artist rule keeps them apart."""
    rng = np.random.default_rng(seed)
    tracks = []
    for i in range(n):
        artist = i // per_artist
        own = np.random.default_rng(seed * 1000 + artist)
        key = ALL_KEYS[int(own.integers(24))].camelot
        bpm = float(own.uniform(120, 130)) * (1 + rng.uniform(-0.004, 0.004))
        tracks.append(
            Track(
                id=f"t{i:05d}",
                artist=f"Artist {artist}",
                title=f"Title {i}",
                key=key,
                bpm=round(bpm, 2),
                energy=float(rng.integers(4, 9)),
                duration=300.0,
            )
        )
    return tracks


def diagonal_energies(n: int, seed: int) -> list[Track]:
    """Keys at random, one tempo range; a key's energy is 1 or 9 so that every standard
    move between two keys jumps 8 energy levels while a diagonal keeps it: scored alone,
    diagonals win, though an order of standard moves obviously exists (1A..12A, 12B..1B)."""
    rng = np.random.default_rng(seed)
    tracks = []
    for i in range(n):
        camelot = ALL_KEYS[int(rng.integers(24))].camelot
        number, letter = int(camelot[:-1]), camelot[-1]
        base = number if letter == "A" else number % 12 + 1
        tracks.append(
            Track(
                id=f"t{i:05d}",
                artist=f"Artist {i // 4}",
                title=f"Title {i}",
                key=camelot,
                bpm=round(float(rng.uniform(124, 127)), 1),
                energy=1.0 if base % 2 else 9.0,
                duration=300.0,
            )
        )
    return tracks


def non_standard_moves(tracks, order) -> int:
    config = ScoringConfig()
    return sum(
        score_transition(tracks[a], tracks[b], config).move not in STANDARD
        for a, b in zip(order, order[1:], strict=False)
    )


def same_artist_neighbours(tracks, order) -> int:
    return sum(tracks[a].artist == tracks[b].artist for a, b in zip(order, order[1:], strict=False))


def test_whole_large_pools_take_the_lean_path(monkeypatch):
    """No rules matrices of planning (n x n float64) for a pool above the threshold."""

    def refuse(*args, **kwargs):
        raise AssertionError("planning._rules built n x n matrices for a large whole pool")

    monkeypatch.setattr(planning, "_rules", refuse)
    tracks = artists_with_a_sound(N, 1)
    plan = plan_order(tracks, SetOptions(time_budget=1))
    assert sorted(plan.order) == list(range(N))


def test_no_same_artist_neighbours_when_avoidable():
    tracks = artists_with_a_sound(N, 1)
    off = plan_order(tracks, SetOptions(artist_gap=0, time_budget=BUDGET))
    kept = plan_order(tracks, SetOptions(time_budget=BUDGET))
    assert sorted(kept.order) == list(range(N))
    assert same_artist_neighbours(tracks, off.order) > 100  # the rule has work to do
    assert same_artist_neighbours(tracks, kept.order) == 0
    assert not any("artist gap" in note for note in kept.notes)


def test_an_artist_gap_above_one_holds_on_a_large_pool():
    tracks = artists_with_a_sound(N, 2)
    plan = plan_order(tracks, SetOptions(artist_gap=3, time_budget=BUDGET))
    assert sorted(plan.order) == list(range(N))
    assert artist_gap_violations(plan.order, artist_ids(tracks), 3) == 0
    assert not any("artist gap" in note for note in plan.notes)


def test_strict_mode_avoids_non_standard_moves_that_relaxed_takes():
    tracks = diagonal_energies(N, 3)
    relaxed = plan_order(tracks, SetOptions(harmonic="relaxed", time_budget=BUDGET))
    strict = plan_order(tracks, SetOptions(harmonic="strict", time_budget=BUDGET))
    moderate = plan_order(tracks, SetOptions(harmonic="moderate", time_budget=BUDGET))
    loose = non_standard_moves(tracks, relaxed.order)
    assert loose >= 15  # scored alone, diagonals win
    assert non_standard_moves(tracks, strict.order) <= 1
    # moderate may use diagonals freely, boosts only within max_boosts (3)
    classes = [
        score_transition(tracks[a], tracks[b], ScoringConfig()).move
        for a, b in zip(moderate.order, moderate.order[1:], strict=False)
    ]
    boosts = sum(move.startswith("boost") for move in classes)
    assert boosts <= 3 or any("max boosts" in note for note in moderate.notes)
    assert sum(move == "clash" for move in classes) <= 5


def test_the_tempo_limit_and_the_smallest_largest_jump_on_a_large_pool():
    tracks = artists_with_a_sound(N, 4)
    tracks[10] = tracks[10].model_copy(update={"bpm": 150.0})
    tracks[20] = tracks[20].model_copy(update={"bpm": 150.5})
    plan = plan_order(tracks, SetOptions(time_budget=BUDGET))
    bpm = [tracks[i].bpm for i in plan.order]
    jumps = [
        max(float(tempo_change(a, b)[0]), float(tempo_change(b, a)[0]))
        for a, b in zip(bpm, bpm[1:], strict=False)
    ]
    assert sum(j > 8.0 for j in jumps) == 1  # the two outliers side by side, at one end
    top = max(bpm[bpm.index(150.0) - 1 : bpm.index(150.0) + 2])
    assert top >= 150.0
    (note,) = [n for n in plan.notes if n.startswith("max BPM jump")]
    assert "no order of these tracks keeps it; the smallest possible largest jump is" in note
    assert f"{max(jumps):.1f}%" in note


def test_one_copy_of_a_song_on_a_large_pool():
    tracks = artists_with_a_sound(N, 5)
    copy = tracks[7].model_copy(update={"id": "copy", "path": "/music/copy.flac"})
    tracks.append(copy)
    plan = plan_order(tracks, SetOptions(time_budget=1))
    assert len(plan.order) == N and len(set(plan.order)) == N
    assert (N in plan.order) != (7 in plan.order)
    assert any(note.startswith("same song twice") and "copy" in note for note in plan.notes)


def violations_by_loop(order, artists, gap):
    """The plain definition artist_gap_violations vectorises: each track against the next
    `gap` tracks."""
    count = 0
    for position, track in enumerate(order):
        if artists[track] >= 0:
            count += sum(
                artists[o] == artists[track] for o in order[position + 1 : position + 1 + gap]
            )
    return count


@pytest.mark.parametrize("pins", [(False, False), (True, True)])
def test_spreading_artists_removes_violations_and_keeps_pins(pins):
    """set_rules.spread_artists, the O(n) repair behind large pools' artist gaps."""
    rng = np.random.default_rng(9)
    n, gap = 300, 3
    artists = rng.integers(0, 40, size=n)
    artists[::17] = -1  # tracks without an artist are free
    order = rng.permutation(n).tolist()
    cost = rng.uniform(0, 1, size=(n, n))
    before = artist_gap_violations(order, artists, gap)
    assert before == violations_by_loop(order, artists, gap) and before > 10
    spread = spread_artists(order, cost, artists, gap, *pins)
    assert sorted(spread) == list(range(n))
    assert artist_gap_violations(spread, artists, gap) == 0
    if pins[0]:
        assert spread[0] == order[0] and spread[-1] == order[-1]


def test_the_command_line_keeps_the_rules_on_a_large_pool(tmp_path):
    """The same through `python -m djcurator_core sequence` (the shells all call
    plan_order): the summary grades the order by the rules."""
    import json

    from cli_helpers import run_cli

    from djcurator_core.core.models import dump_tracks

    tracks = artists_with_a_sound(N, 6)
    pool_file = tmp_path / "pool.json"
    pool_file.write_text(dump_tracks(tracks))
    done = run_cli("sequence", str(pool_file), "--json", "--time-budget", str(BUDGET))
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout)["summary"]
    assert summary["same_artist_back_to_back"] == 0
    assert summary["smallest_artist_gap"] >= 1
    assert summary["largest_bpm_jump_pct"] <= 8.0


@pytest.mark.parametrize("pinned", [False, True])
def test_relocating_segments_joins_runs_the_search_left_apart(pinned):
    """whole_pool.relocate_breaks: runs of two groups interleaved (three breaks); moving
    the runs to their place leaves none (cross-group transitions break a rule, except
    the one bridge 19 -> 20)."""
    n = 40
    group = np.arange(n) >= 20
    matrix = np.where(group[:, None] == group[None, :], 0.1, 10.0)
    matrix[19, 20] = 0.1
    np.fill_diagonal(matrix, 0.0)
    order = [*range(0, 10), *range(20, 30), *range(10, 20), *range(30, 40)]
    steps = lambda o: [matrix[a, b] for a, b in zip(o, o[1:], strict=False)]  # noqa: E731
    assert sum(c >= 5 for c in steps(order)) == 3
    fixed = relocate_breaks(order, matrix, 5.0, pinned, pinned)
    assert sorted(fixed) == list(range(n))
    assert sum(c >= 5 for c in steps(fixed)) == 0
    if pinned:
        assert fixed[0] == order[0] and fixed[-1] == order[-1]
