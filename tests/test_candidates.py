"""Large pools: candidate reduction in front of the selection (--count / --duration)."""

from __future__ import annotations

import numpy as np
import pytest

from djcurator_core.core import candidates, planning
from djcurator_core.core.candidates import group, reduce_pool
from djcurator_core.core.keys import ALL_KEYS
from djcurator_core.core.models import Track
from djcurator_core.core.planning import plan_order
from djcurator_core.core.scoring import ScoringConfig, score_transition, tempo_change
from djcurator_core.core.set_options import SetOptions

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
