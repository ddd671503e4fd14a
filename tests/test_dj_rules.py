"""DJ rules (issue 11): mixability, harmonic modes, the smallest largest jump, artist gap,
one copy per song, --include, --count auto, arcs on short sets, and the quality report.

The optimality claims are checked against brute force over every order of small pools.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from cli_helpers import run_cli_here

from djcurator_core.core.keys import ALL_KEYS
from djcurator_core.core.models import Track, dump_tracks
from djcurator_core.core.options.set_options import SetOptions
from djcurator_core.core.planning.planning import bpm_jumps, plan_order
from djcurator_core.core.report.justify import justify_for_options
from djcurator_core.core.rules.energy_arc import spearman
from djcurator_core.core.rules.mixability import (
    bottleneck_jump,
    descending_tempo_order,
    is_mixable,
    largest_jump,
)
from djcurator_core.core.rules.scoring import ScoringConfig
from djcurator_core.core.rules.set_rules import artist_gap_violations, artist_ids, artist_key
from djcurator_core.core.solver.sequencing import SequencingError


def random_pool(n, seed, bpm=(118, 132), keys=None, artists=0, energy=(3, 8)):
    rng = np.random.default_rng(seed)
    keys = keys or [k.camelot for k in ALL_KEYS]
    return [
        Track(
            id=f"t{i:03d}",
            title=f"Song {i}",
            artist=f"Artist {rng.integers(artists)}" if artists else "",
            bpm=float(rng.integers(bpm[0], bpm[1] + 1)),
            key=str(rng.choice(keys)),
            energy=float(rng.integers(energy[0], energy[1] + 1)),
            duration=300.0,
        )
        for i in range(n)
    ]


def unmixable_count(tracks, order):
    return sum(not is_mixable(tracks[a], tracks[b]) for a, b in itertools.pairwise(order))


STRICT_KEYS = ["8A", "9A", "8B", "9B", "10A", "3A"]


def fewest_unmixable(tracks) -> int:
    """The fewest unmixable transitions of any order, by brute force over all orders
    (is_mixable once per pair, the permutations as one numpy array)."""
    n = len(tracks)
    bad = np.array([[a != b and not is_mixable(tracks[a], tracks[b]) for b in range(n)]
                    for a in range(n)])  # fmt: skip
    orders = np.array(list(itertools.permutations(range(n))))
    return int(bad[orders[:, :-1], orders[:, 1:]].sum(axis=1).min())


# --- strict: no unmixable transition when an all-mixable order exists --------------------


@pytest.mark.parametrize("seed", range(12))
def test_strict_never_outputs_an_unmixable_transition_when_a_mixable_order_exists(seed):
    # few keys and a narrow tempo range, so that some pools have an all-mixable order
    tracks = random_pool(7, seed, bpm=(120, 130), keys=STRICT_KEYS)
    fewest = fewest_unmixable(tracks)
    plan = plan_order(tracks, SetOptions(artist_gap=0, seed=seed))
    # never more than the fewest possible (small sets are solved exactly)
    assert unmixable_count(tracks, plan.order) == fewest


def test_strict_pools_cover_both_cases():
    # the brute-force test above means something: some pools mix all the way, some cannot
    fewest = {
        fewest_unmixable(random_pool(7, seed, bpm=(120, 130), keys=STRICT_KEYS))
        for seed in range(12)
    }
    assert 0 in fewest and max(fewest) > 0


def test_relaxed_is_the_grading_before_dj_rules():
    tracks = random_pool(7, 4, keys=["8A", "3B", "11A", "5B"])
    relaxed = plan_order(tracks, SetOptions(harmonic="relaxed", artist_gap=0))
    strict = plan_order(tracks, SetOptions(harmonic="strict", artist_gap=0))
    assert unmixable_count(tracks, strict.order) <= unmixable_count(tracks, relaxed.order)


def test_moderate_keeps_the_boost_budget():
    # 3A -> 5A and 5A -> 12A ... boosts are the only moves between these key groups
    keys = ["3A", "5A", "12A", "7A", "2A"]
    tracks = random_pool(12, 2, bpm=(124, 126), keys=keys)
    plan = plan_order(tracks, SetOptions(harmonic="moderate", max_boosts=1, artist_gap=0))
    result = justify_for_options(tracks, plan.order, SetOptions())
    assert result.summary.boosts <= 1 or any("max boosts 1" in note for note in plan.notes)
    free = plan_order(tracks, SetOptions(harmonic="moderate", max_boosts=10, artist_gap=0))
    assert justify_for_options(tracks, free.order, SetOptions()).summary.boosts > 1


# --- the smallest largest jump ------------------------------------------------------------


def brute_largest_jump(tracks):
    """The smallest largest jump of any order (unknown jumps count as 0, as in
    largest_jump), over all orders as one numpy array."""
    jumps = bpm_jumps(tracks, ScoringConfig())
    known = np.where(np.isfinite(jumps), jumps, 0.0)
    orders = np.array(list(itertools.permutations(range(len(tracks)))))
    return float(known[orders[:, :-1], orders[:, 1:]].max(axis=1).min())


@pytest.mark.parametrize("seed", range(10))
def test_largest_jump_is_the_smallest_possible(seed):
    # wide tempos (70-180 BPM, some pools over 1.5 octaves): the limit cannot be kept
    tracks = random_pool(7, 100 + seed, bpm=(70, 180))
    best = brute_largest_jump(tracks)
    plan = plan_order(tracks, SetOptions(artist_gap=0, seed=seed))
    jumps = bpm_jumps(tracks, ScoringConfig())
    assert largest_jump(jumps, plan.order) == pytest.approx(best, abs=1e-9)
    if best > 8.0:
        note = next(n for n in plan.notes if n.startswith("max BPM jump 8%"))
        assert f"smallest possible largest jump is {best:.1f}%" in note


def test_bottleneck_bound_is_exact_within_an_octave_and_a_half():
    for seed in range(5):
        tracks = random_pool(7, 200 + seed, bpm=(90, 140))
        jumps = bpm_jumps(tracks, ScoringConfig())
        bound = bottleneck_jump([t.bpm for t in tracks])
        assert bound == pytest.approx(brute_largest_jump(tracks), abs=1e-9)
        assert largest_jump(jumps, descending_tempo_order(tracks)) == pytest.approx(bound)


def test_unavoidable_jump_note_names_the_transitions():
    tracks = random_pool(10, 3, bpm=(124, 128)) + [Track(id="odd", bpm=150.0, key="8A")]
    plan = plan_order(tracks, SetOptions(artist_gap=0))
    (note,) = [n for n in plan.notes if n.startswith("max BPM jump")]
    assert "1 transition(s) exceed it" in note and "odd" in note
    assert plan.order.index(10) in (0, 10)  # at an end: one big jump, not two


def test_a_limit_the_pool_allows_is_kept():
    tracks = random_pool(40, 5, bpm=(120, 135))
    plan = plan_order(tracks, SetOptions(max_bpm_jump=3.0))
    assert largest_jump(bpm_jumps(tracks, ScoringConfig()), plan.order) <= 3.0
    assert not any(n.startswith("max BPM jump") for n in plan.notes)


# --- artist gap, duplicates, include ------------------------------------------------------


@pytest.mark.parametrize("gap", [1, 2, 3])
def test_artist_gap_holds(gap):
    tracks = random_pool(40, 7, artists=10)
    artists = artist_ids(tracks)
    plan = plan_order(tracks, SetOptions(artist_gap=gap))
    assert artist_gap_violations(plan.order, artists, gap) == 0
    assert not any("artist gap" in n for n in plan.notes)


def test_artist_gap_zero_is_off_and_impossible_gaps_are_noted():
    tracks = random_pool(6, 8, artists=1)  # one artist only
    plan = plan_order(tracks, SetOptions(artist_gap=1))
    assert any(n.startswith("artist gap 1:") for n in plan.notes)
    assert plan_order(tracks, SetOptions(artist_gap=0)).notes == []


def test_featured_artists_count_as_the_main_artist():
    assert artist_key(Track(id="a", artist="Kaiho feat. Varga")) == "kaiho"
    assert artist_key(Track(id="a", artist="  KAIHO ")) == "kaiho"
    assert artist_key(Track(id="a")) is None


def test_same_song_twice_keeps_one_and_says_which():
    tracks = random_pool(8, 9, artists=3)
    twin = tracks[3].model_copy(update={"id": "t003-flac", "path": "/m/t3.flac", "bpm": None})
    plan = plan_order([*tracks, twin])
    assert 3 in plan.order and 8 not in plan.order  # the copy with more DJ data stays
    (note,) = [n for n in plan.notes if n.startswith("same song twice")]
    assert "kept t003" in note and "left out t003-flac (/m/t3.flac)" in note
    # an included copy is the one kept
    plan = plan_order([*tracks, twin], SetOptions(include=("t003-flac",), count=5))
    assert 8 in plan.order and 3 not in plan.order


@pytest.mark.parametrize("count", [5, 12])
def test_include_is_in_the_set(count):
    tracks = random_pool(40, 10, keys=["8A", "9A"]) + [
        Track(id="odd1", bpm=95.0, key="2B", energy=9.0, duration=300.0),
        Track(id="odd2", bpm=170.0, key="6A", energy=1.0, duration=300.0),
    ]
    plan = plan_order(tracks, SetOptions(count=count, include=("odd1", "odd2")))
    assert len(plan.order) == count and {40, 41} <= set(plan.order)
    plan = plan_order(tracks, SetOptions(duration=1800, include=("odd2",)))
    assert 41 in plan.order and sum(tracks[i].duration for i in plan.order) <= 1800


def test_include_errors_are_one_line():
    tracks = random_pool(10, 11)
    with pytest.raises(SequencingError, match="include track id 'nope' is not among"):
        plan_order(tracks, SetOptions(include=("nope",), count=3))
    with pytest.raises(SequencingError, match="no room for the 3 pinned and included"):
        plan_order(tracks, SetOptions(include=("t001", "t002", "t003"), count=2))


# --- count auto ---------------------------------------------------------------------------


def test_count_auto_finds_a_long_all_mixable_set():
    # a planted chain of 12 mixable tracks (8A, 124 BPM +-1) among 40 that clash with it
    chain = [
        Track(id=f"c{i}", bpm=124.0 + (i % 3) - 1, key="8A", energy=5.0, artist=f"A{i}")
        for i in range(12)
    ]
    noise = random_pool(40, 12, bpm=(140, 175), keys=["2B", "5A", "11B"])
    tracks = noise + chain
    plan = plan_order(tracks, SetOptions(count="auto"))
    assert len(plan.order) >= 12
    assert unmixable_count(tracks, plan.order) == 0
    assert plan.notes[0].startswith(f"count auto: {len(plan.order)} of 52 tracks")


@pytest.mark.parametrize("seed", [18, 21])
def test_count_auto_stays_all_mixable_after_the_final_order(seed):
    # above the exact solver's 15 tracks the final search must start from the grown
    # order (these two pools got one unmixable transition when it started from greedy)
    tracks = random_pool(200, seed, bpm=(90, 150), artists=50)
    plan = plan_order(tracks, SetOptions(count="auto", seed=seed))
    assert len(plan.order) > 15
    assert unmixable_count(tracks, plan.order) == 0
    assert artist_gap_violations(plan.order, artist_ids(tracks), 1) == 0


def test_count_auto_with_duration_is_refused():
    with pytest.raises(ValueError, match="--count auto finds the length itself"):
        SetOptions(count="auto", duration=3600)


# --- energy arcs on short sets ------------------------------------------------------------


@pytest.mark.parametrize("n", range(8, 16))
def test_rise_holds_on_short_sets(n):
    tracks = random_pool(n, 300 + n, bpm=(120, 128), energy=(2, 9))
    plan = plan_order(tracks, SetOptions(energy_arc="rise"))
    assert spearman([tracks[i].energy for i in plan.order]) >= 0.8


# --- the report -----------------------------------------------------------------------------


def test_report_counts_by_the_standard_rule():
    tracks = [
        Track(id="a", bpm=124.0, key="8A", energy=5, artist="X"),
        Track(id="b", bpm=124.0, key="8B", energy=5, artist="Y"),  # relative: standard
        Track(id="c", bpm=124.0, key="10B", energy=6, artist="X"),  # +2: a boost
        Track(id="d", bpm=135.0, key="10B", energy=6, artist="Z"),  # 8.9 % jump
        Track(id="e", bpm=135.0, key="11A", energy=7, artist="Z"),  # diagonal 10B -> 11A
    ]
    result = justify_for_options(tracks, [0, 1, 2, 3, 4], SetOptions(energy_arc="rise"))
    s = result.summary
    assert s.compatible_share == pytest.approx(2 / 4)  # relative, same key
    assert s.mixable_share == pytest.approx(1 / 4)  # only a -> b: same key also jumps 8.9 %
    assert (s.boosts, s.diagonals, s.jumps_over_comfortable) == (1, 1, 1)
    assert s.largest_bpm_jump_pct == pytest.approx((135 / 124 - 1) * 100)
    assert (s.same_artist_back_to_back, s.smallest_artist_gap) == (1, 0)
    assert s.energy_rank_correlation == pytest.approx(spearman([5, 5, 6, 6, 7]))
    from djcurator_core.core.report.report import summary_lines

    text = "\n".join(summary_lines(result))
    assert "mixable 25% (standard key move and tempo within 6%); compatible keys 50%" in text
    assert "boosts 1, diagonals 1; jumps over 6%: 1, largest 8.9%" in text
    assert "same artist back to back 1x" in text and "rank correlation" in text


# --- the CLI --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--artist-gap", "-1"], "field 'artist_gap': Input should be greater than or equal"),
        (["--max-boosts", "x"], "field 'max_boosts': Input should be a valid integer"),
        (["--include", "nope", "--count", "3"], "include track id 'nope' is not among"),
        (["--count", "auto", "--duration", "30m"], "--count auto finds the length itself"),
        (["--harmonic", "loose"], "argument --harmonic: invalid choice: 'loose'"),
        (["--count", "x"], "field 'count': 'x' is not a whole number"),
    ],
)
def test_cli_bad_dj_options_are_one_line_exit_2(tmp_path, args, expected):
    path = tmp_path / "set.json"
    path.write_text(dump_tracks(random_pool(6, 13)))
    proc = run_cli_here("sequence", str(path), *args)
    assert proc.returncode == 2 and proc.stdout == ""
    assert expected in proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


def test_cli_dj_options_reach_the_plan(tmp_path):
    path = tmp_path / "set.json"
    tracks = random_pool(30, 14, artists=8)
    path.write_text(dump_tracks(tracks))
    proc = run_cli_here(
        "sequence", str(path), "--json", "--count", "auto", "--harmonic", "strict",
        "--artist-gap", "2", "--include", "t004",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    result = __import__("json").loads(proc.stdout)
    assert "t004" in result["order"]
    assert result["notes"][0].startswith("count auto:")
    summary = result["summary"]
    for key in ("mixable_share", "compatible_share", "boosts", "jumps_over_comfortable"):
        assert key in summary


# --- fresh sets -----------------------------------------------------------------------------


def test_recent_sets_are_held_back_while_the_pool_allows():
    tracks = random_pool(10, 15, keys=["8A", "9A"])
    recent = [["t000", "t001", "t002"], ["t003", "t004", "t005"], ["t006", "t007"]]
    plan = plan_order(tracks, SetOptions(count=3), recent_sets=recent)
    # 8 tracks of three sets would leave 2, too few: the last two sets are held back
    assert set(plan.order) <= {6, 7, 8, 9}
    assert "held back 6 recently played track(s) (the last 2 set(s))" in plan.notes
    pinned = plan_order(tracks, SetOptions(count=3, start="t000"), recent_sets=recent)
    assert pinned.order[0] == 0  # a pinned track is never held back
    whole = plan_order(tracks, recent_sets=recent)  # no count: the set is the whole pool
    assert sorted(whole.order) == list(range(10))
    assert not any("held back" in n for n in whole.notes)
