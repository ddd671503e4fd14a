"""Large pools: candidate reduction in front of the selection (--count / --duration)."""

from __future__ import annotations

import numpy as np
import pytest

from djcurator_core.core.keys import ALL_KEYS
from djcurator_core.core.models import Track
from djcurator_core.core.options.set_options import SetOptions
from djcurator_core.core.planning import candidates, planning
from djcurator_core.core.planning.candidates import group, reduce_pool
from djcurator_core.core.planning.planning import plan_order
from djcurator_core.core.rules.mixability import CLASS_TABLE
from djcurator_core.core.rules.scoring import ScoringConfig, score_transition, tempo_change

STANDARD = {"same key", "relative", "+1", "-1"}


def pool(n: int, seed: int) -> list[Track]:
    rng = np.random.default_rng(seed)
    return [
        Track(
            id=f"t{i:05d}",
            key=ALL_KEYS[int(rng.integers(24))].camelot,
            bpm=round(float(rng.uniform(110, 140)), 2),
            energy=float(rng.integers(1, 11)),
            duration=float(rng.uniform(240, 480)),
        )
        for i in range(n)
    ]


def quality(tracks: list[Track], order: list[int]) -> tuple[float, float]:
    """(mean transition cost, mixable share)."""
    config = ScoringConfig()
    scores = [
        score_transition(tracks[a], tracks[b], config)
        for a, b in zip(order, order[1:], strict=False)
    ]
    mixable = [
        s.move in STANDARD and s.bpm_change_pct is not None and abs(s.bpm_change_pct) <= 6
        for s in scores
    ]
    return float(np.mean([s.cost for s in scores])), float(np.mean(mixable))


def test_tracks_alike_in_key_bpm_and_energy_share_a_class():
    tracks = [
        Track(id="a", key="8A", bpm=124.2, energy=6),
        Track(id="b", key="Am", bpm=123.9, energy=6),  # same key, BPM rounds to 124
        Track(id="c", key="8A", bpm=124.2, energy=7),
        Track(id="d", key="9A", bpm=124.2, energy=6),
        Track(id="e", key="8A", bpm=126.0, energy=6),
        Track(id="f", key=None, bpm=None, energy=None),
    ]
    classes = group(tracks)
    assert len(classes) == 5
    assert classes.of_track[0] == classes.of_track[1]
    assert len(set(classes.of_track[[0, 2, 3, 4, 5]].tolist())) == 5
    unknown = classes.of_track[5]
    assert classes.key[unknown] == 24 and np.isnan(classes.bpm[unknown])


def test_a_small_pool_is_not_reduced():
    tracks = pool(300, 1)
    assert reduce_pool(tracks, count=30) == list(range(300))


def test_large_pool_set_is_as_good_as_one_from_a_random_subset():
    tracks = pool(6000, 2)
    kept = reduce_pool(tracks, count=20)
    assert len(kept) <= candidates.candidate_limit(20)
    plan = plan_order(tracks, SetOptions(count=20))
    assert len(plan.order) == 20 and len(set(plan.order)) == 20
    cost, mixable = quality(tracks, plan.order)
    rng = np.random.default_rng(5)
    for _ in range(2):
        picks = sorted(rng.choice(len(tracks), size=len(kept), replace=False).tolist())
        subset = [tracks[i] for i in picks]
        base = plan_order(subset, SetOptions(count=20))
        base_cost, base_mixable = quality(subset, base.order)
        assert cost <= base_cost and mixable >= base_mixable


def test_large_pool_never_builds_the_pool_matrix(monkeypatch):
    sizes = []
    real = planning.cost_matrix

    def recording(tracks, *args, **kwargs):
        sizes.append(len(tracks))
        return real(tracks, *args, **kwargs)

    monkeypatch.setattr(planning, "cost_matrix", recording)
    tracks = pool(12_000, 3)
    plan = plan_order(tracks, SetOptions(duration=3600, time_budget=3))
    assert sizes and max(sizes) <= candidates.MAX_CANDIDATES
    assert sum(tracks[i].duration for i in plan.order) <= 3600
    assert sum(tracks[i].duration for i in plan.order) >= 3600 - 480


def test_large_pool_keeps_the_pins_at_the_ends():
    tracks = pool(5000, 4)
    options = SetOptions(count=12, start="t04321", end="t00007", time_budget=3)
    plan = plan_order(tracks, options)
    assert len(plan.order) == 12
    assert tracks[plan.order[0]].id == "t04321" and tracks[plan.order[-1]].id == "t00007"


def test_large_pool_respects_the_bpm_limit():
    tracks = pool(5000, 6)
    plan = plan_order(tracks, SetOptions(count=25, max_bpm_jump=2.0, time_budget=3))
    bpm = [tracks[i].bpm for i in plan.order]
    jumps = [float(tempo_change(a, b)[0]) for a, b in zip(bpm, bpm[1:], strict=False)]
    assert max(jumps) <= 2.0 and plan.notes == []


@pytest.mark.parametrize("arc", ["rise", "wave"])
def test_an_energy_arc_gets_candidates_of_every_energy_level(arc):
    tracks = pool(8000, 7)
    levels = {t.energy for t in tracks}
    flat = {tracks[i].energy for i in reduce_pool(tracks, count=20)}
    spread = {tracks[i].energy for i in reduce_pool(tracks, count=20, energy_arc=arc)}
    assert spread == levels
    assert len(flat) <= len(spread)


# --- the set's rules in the candidate choice (issue 11 on large pools) ----------------------


def with_keys_and_energies(n: int, seed: int) -> list[Track]:
    """Keys at random; a key's energy is 1 or 9 so that standard moves between keys jump 8
    levels while diagonals keep the energy: scored alone, diagonals rank first."""
    rng = np.random.default_rng(seed)
    tracks = []
    for i in range(n):
        camelot = ALL_KEYS[int(rng.integers(24))].camelot
        number, letter = int(camelot[:-1]), camelot[-1]
        base = number if letter == "A" else number % 12 + 1
        tracks.append(
            Track(
                id=f"t{i:05d}",
                artist=f"Artist {i}",
                title=f"Title {i}",
                key=camelot,
                bpm=round(float(rng.uniform(118, 134)), 1),
                energy=1.0 if base % 2 else 9.0,
                duration=300.0,
            )
        )
    return tracks


def test_class_neighbours_rank_the_moves_the_harmonic_mode_allows_first():
    from djcurator_core.core.rules.mixability import STANDARD

    tracks = with_keys_and_energies(1000, 11)
    classes = group(tracks)
    config = ScoringConfig()

    def standard_share(mode: str) -> float:
        nb, _ = candidates.class_neighbours(classes, config, candidates.NEIGHBOURS, harmonic=mode)
        moves = CLASS_TABLE[classes.key[:, None], classes.key[nb]]
        jumps = np.maximum(
            tempo_change(classes.bpm[:, None], classes.bpm[nb])[0],
            tempo_change(classes.bpm[nb], classes.bpm[:, None])[0],
        )
        return float(((moves == STANDARD) & (jumps <= 6.0)).mean())

    relaxed, strict = standard_share("relaxed"), standard_share("strict")
    assert strict == 1.0  # every class has enough mixable neighbour classes
    assert relaxed < 0.6  # scored alone, diagonals (same energy) come before many


@pytest.mark.parametrize("mode", ["strict", "moderate"])
def test_a_large_pool_set_keeps_the_harmonic_mode(mode):
    tracks = with_keys_and_energies(6000, 12)
    plan = plan_order(tracks, SetOptions(count=20, harmonic=mode, time_budget=3))
    config = ScoringConfig()
    moves = [
        score_transition(tracks[a], tracks[b], config)
        for a, b in zip(plan.order, plan.order[1:], strict=False)
    ]
    allowed = STANDARD if mode == "strict" else STANDARD | {"diagonal", "boost +2", "boost +7"}
    assert all(s.move in allowed and abs(s.bpm_change_pct) <= 6 for s in moves)
    if mode == "moderate":
        assert sum(s.move.startswith("boost") for s in moves) <= 3


def one_artist_class(seed: int) -> list[Track]:
    """A pool whose cheapest class (one key, BPM and energy) is mostly one artist's."""
    tracks = pool(3000, seed)
    rng = np.random.default_rng(seed)
    for i in range(400):
        artist = "Solo" if i < 360 else f"Guest {i}"
        tracks.append(
            Track(
                id=f"c{i:03d}",
                artist=artist,
                title=f"Song {i}",
                key="8A",
                bpm=124.0,
                energy=6.0,
                duration=float(rng.uniform(240, 480)),
            )
        )
    return tracks


def test_candidates_of_one_class_spread_over_its_artists():
    tracks = one_artist_class(13)
    solo_class = group(tracks).of_track[-1]
    classes = group(tracks)

    def artists_among(kept):
        members = [i for i in kept if classes.of_track[i] == solo_class]
        return {tracks[i].artist for i in members}, len(members)

    blind, blind_count = artists_among(reduce_pool(tracks, count=20))
    aware, aware_count = artists_among(reduce_pool(tracks, count=20, artist_gap=1))
    assert blind_count == aware_count == 20
    assert len(aware) == 20  # one track per artist before anyone's second
    assert len(blind) < 10


def test_a_large_pool_set_keeps_the_artist_gap():
    tracks = one_artist_class(14)
    plan = plan_order(tracks, SetOptions(count=20, artist_gap=2, time_budget=3))
    artists = [tracks[i].artist for i in plan.order]
    assert all(
        artists[i] != artists[j]
        for i in range(len(artists))
        for j in range(i + 1, min(i + 3, len(artists)))
    )
    assert not any("artist gap" in note for note in plan.notes)


def test_included_tracks_are_candidates_and_in_the_set():
    tracks = pool(5000, 15)
    include = ["t00003", "t04999", "t02500"]
    kept = reduce_pool(tracks, count=12, pins=[3, 4999, 2500])
    assert {3, 4999, 2500} <= set(kept)
    plan = plan_order(tracks, SetOptions(count=12, include=include, time_budget=3))
    assert len(plan.order) == 12
    assert set(include) <= {tracks[i].id for i in plan.order}


def test_one_copy_of_a_song_among_the_candidates():
    tracks = one_artist_class(16)
    # 40 copies of one song in the pool's cheapest class; the included one is kept
    song = {"artist": "Solo", "title": "Song 0"}
    first = len(tracks)
    for i in range(40):
        tracks.append(tracks[-400].model_copy(update={**song, "id": f"dup{i}", "path": f"/m/{i}"}))
    copies = {i for i, t in enumerate(tracks) if (t.artist, t.title) == ("Solo", "Song 0")}
    kept = reduce_pool(tracks, count=20, pins=[first + 5])
    assert copies & set(kept) == {first + 5}
    plan = plan_order(tracks, SetOptions(count=20, include=["dup5"], time_budget=3))
    assert copies & set(plan.order) == {first + 5}
    (note,) = [n for n in plan.notes if n.startswith("same song twice")]
    assert "kept dup5 (/m/5)" in note


def test_count_auto_on_a_large_pool_goes_through_the_candidates(monkeypatch):
    sizes = []
    real = planning.cost_matrix

    def recording(tracks, *args, **kwargs):
        sizes.append(len(tracks))
        return real(tracks, *args, **kwargs)

    monkeypatch.setattr(planning, "cost_matrix", recording)
    tracks = pool(6000, 17)
    plan = plan_order(tracks, SetOptions(count="auto", time_budget=10))
    assert sizes and max(sizes) <= candidates.AUTO_CANDIDATES
    config = ScoringConfig()
    for a, b in zip(plan.order, plan.order[1:], strict=False):
        s = score_transition(tracks[a], tracks[b], config)
        assert s.move in STANDARD and abs(s.bpm_change_pct) <= 6
    assert len(plan.order) >= 100
    assert any(f"candidates of {len(tracks)} tracks" in note for note in plan.notes)
