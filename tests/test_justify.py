"""Justifications: per-transition explanations and the set summary."""

from __future__ import annotations

from pathlib import Path

import pytest

from djcurator_core.core.models import Track, load_tracks
from djcurator_core.core.options.set_options import SetOptions
from djcurator_core.core.report.justify import justify, justify_for_options
from djcurator_core.core.rules.scoring import ScoringConfig, cost_matrix
from djcurator_core.core.solver.sequencing import SolverRequest, greedy, path_cost

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "tracks_enriched.json"


@pytest.fixture(scope="module")
def tracks():
    return load_tracks(FIXTURE)


def test_transition_fields_and_sentence():
    a = Track(id="a", title="One", artist="X", key="Am", bpm=122, energy=4, duration=300)
    b = Track(id="b", title="Two", artist="Y", key="Em", bpm=124, energy=5, duration=200)
    result = justify([a, b], [0, 1])
    (t,) = result.transitions
    assert (t.from_id, t.to_id, t.position) == ("a", "b", 1)
    assert t.key_move == "8A -> 9A, +1"
    assert t.move == "+1" and t.compatible
    assert t.bpm_change_pct == pytest.approx(2 / 122 * 100)
    assert t.energy_change == 1
    assert t.sentence == (
        "Harmony steps up the wheel (8A -> 9A); tempo rises 1.6% "
        "(122 -> 124 BPM); energy lifts 4 -> 5."
    )
    assert 0 <= t.harmonic <= 1 and 0 <= t.score <= 1
    assert result.summary.total_duration == 500
    assert result.order == ["a", "b"]


def test_a_clash_is_named_once():
    a = Track(id="a", key="8A", bpm=124, energy=5)
    b = Track(id="b", key="2A", bpm=124, energy=5)
    (t,) = justify([a, b], [0, 1]).transitions
    assert t.move == "clash" and not t.compatible
    assert t.sentence.startswith("Harmony clashes (8A -> 2A, +6); ")
    assert "harmonically" not in t.sentence


def test_sentences_cover_missing_data_and_half_time():
    a = Track(id="a", key="8A", bpm=128, energy=6)
    b = Track(id="b", bpm=64)
    (t,) = justify([a, b], [0, 1]).transitions
    assert t.missing == ["key", "energy"]
    assert "Key unknown" in t.sentence and "half/double time" in t.sentence
    assert "energy unknown" in t.sentence and not t.compatible
    assert t.key_move == "8A -> ?, key unknown"


def test_summary_on_the_fixture_greedy_beats_naive(tracks):
    config = ScoringConfig()
    matrix = cost_matrix(tracks, config)
    order = greedy(matrix, SolverRequest())
    result = justify(tracks, order, config, solver="greedy")
    s = result.summary
    assert s.track_count == 20 and len(result.transitions) == 19
    assert s.naive_cost == pytest.approx(path_cost(matrix, list(range(20))))
    assert s.greedy_cost == pytest.approx(path_cost(matrix, order))
    assert s.cost == pytest.approx(s.greedy_cost)
    assert s.improvement_over_naive_pct > 20  # measured: 50.8 %
    assert s.improvement_over_greedy_pct == pytest.approx(0, abs=1e-9)
    assert s.mean_score == pytest.approx(1 - s.cost / 19)
    assert s.compatible_share == pytest.approx(sum(t.compatible for t in result.transitions) / 19)
    assert s.largest_bpm_jump_pct == max(abs(t.bpm_change_pct) for t in result.transitions)
    assert s.total_duration == sum(t.duration for t in tracks)


def test_naive_order_scores_zero_improvement_over_naive(tracks):
    result = justify(tracks, list(range(20)))
    assert result.summary.improvement_over_naive_pct == pytest.approx(0, abs=1e-9)
    assert result.summary.improvement_over_greedy_pct < 0


def test_baselines_use_only_the_chosen_tracks_with_the_same_pins(tracks):
    order = [5, 2, 9, 0]
    result = justify(tracks, order, pinned_start=True, pinned_end=True)
    chosen = [tracks[i] for i in sorted(order)]  # 0, 2, 5, 9 in input order
    matrix = cost_matrix(chosen)
    # naive with pins: 5 first, 0 last, the rest in input order -> 5, 2, 9, 0
    assert result.summary.naive_cost == pytest.approx(path_cost(matrix, [2, 1, 3, 0]))
    assert result.summary.naive_cost == pytest.approx(result.summary.cost)


def test_single_track_set():
    result = justify([Track(id="solo", bpm=120)], [0])
    assert result.transitions == [] and result.summary.mean_score == 1.0


def test_justify_for_options_takes_scoring_solver_and_pins(tracks):
    options = SetOptions(
        solver="greedy", start="t03", end="t01", scoring=ScoringConfig(energy_weight=0)
    )
    order = [2, 5, 9, 0]
    result = justify_for_options(tracks, order, options, notes=["a note"])
    expected = justify(
        tracks, order, options.scoring, solver="greedy", notes=["a note"],
        pinned_start=True, pinned_end=True,
    )  # fmt: skip
    assert result == expected
    assert result.solver == "greedy" and result.notes == ["a note"]
    assert all(t.score == pytest.approx((0.5 * t.harmonic + 0.3 * t.tempo) / 0.8)
               for t in result.transitions)  # fmt: skip
