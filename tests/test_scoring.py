"""Transition scores: named key moves, tempo (half/double aware), energy, cost matrix."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from djcurator_core.core.keys import ALL_KEYS, parse_key
from djcurator_core.core.models import Track
from djcurator_core.core.options.set_options import SetOptions
from djcurator_core.core.rules import scoring
from djcurator_core.core.rules.scoring import (
    ZERO_WEIGHTS,
    HarmonicValues,
    ScoringConfig,
    cost_matrix,
    key_move,
    move_value,
    score_transition,
)
from djcurator_core.errors import validation_error_line


def T(id="a", key=None, bpm=None, energy=None):  # noqa: N802 - reads like a table row
    return Track(id=id, key=key, bpm=bpm, energy=energy)


@pytest.mark.parametrize(
    ("a", "b", "move", "step"),
    [
        ("8A", "8A", "same key", "0"),
        ("8A", "8B", "relative", "0"),
        ("8A", "9A", "+1", "+1"),
        ("8A", "7A", "-1", "-1"),
        ("12B", "1B", "+1", "+1"),
        ("8B", "9A", "diagonal", "+1"),
        ("8A", "7B", "diagonal", "-1"),
        ("8A", "10A", "boost +2", "+2"),
        ("8A", "3A", "boost +7", "-5"),
        ("8A", "9B", "clash", "+1"),
        ("8A", "2A", "clash", "+6"),
        ("8A", "6A", "clash", "-2"),
    ],
)
def test_named_moves(a, b, move, step):
    assert key_move(parse_key(a), parse_key(b)) == (move, step)


def test_move_values_follow_the_documented_order():
    moves = HarmonicValues()
    v = {
        m: move_value(parse_key("8A"), parse_key(b), moves)
        for m, b in [
            ("same", "8A"),
            ("relative", "8B"),
            ("+1", "9A"),
            ("-1", "7A"),
            ("diagonal", "7B"),
            ("boost2", "10A"),
            ("boost7", "3A"),
            ("clash1", "9B"),
            ("clash6", "2A"),
            ("clash7", "2B"),
        ]
    }
    assert v["same"] > v["relative"] == v["+1"] > v["-1"] > v["diagonal"]
    assert v["diagonal"] > v["boost2"] > v["boost7"] > v["clash1"] > v["clash6"] > v["clash7"] == 0


@given(st.sampled_from(ALL_KEYS), st.sampled_from(ALL_KEYS))
def test_harmonic_score_in_range(a, b):
    assert 0.0 <= move_value(a, b, HarmonicValues()) <= 1.0


def test_tempo_percent_and_half_time():
    s = score_transition(T(bpm=124, key="8A"), T(bpm=130.2, key="8A"))
    assert s.bpm_change_pct == pytest.approx(5.0)
    assert not s.half_double
    half = score_transition(T(bpm=128), T(bpm=64))
    assert half.half_double and half.bpm_change_pct == pytest.approx(0.0)
    assert half.tempo == pytest.approx(1 - ScoringConfig().half_double_penalty)
    no_hd = score_transition(T(bpm=128), T(bpm=64), ScoringConfig(half_double_time=False))
    assert no_hd.tempo == 0.0 and not no_hd.half_double


def test_tempo_score_is_half_at_the_comfortable_limit():
    config = ScoringConfig(max_bpm_jump=6)
    assert score_transition(T(bpm=100), T(bpm=106), config).tempo == pytest.approx(0.5)
    assert score_transition(T(bpm=100), T(bpm=112), config).tempo == pytest.approx(0.0)
    assert score_transition(T(bpm=100), T(bpm=94), config).bpm_change_pct == pytest.approx(-6)


def test_energy_lift_by_one_is_ideal_and_drops_cost():
    up1 = score_transition(T(energy=5), T(energy=6)).energy
    same = score_transition(T(energy=5), T(energy=5)).energy
    up3 = score_transition(T(energy=5), T(energy=8)).energy
    down2 = score_transition(T(energy=5), T(energy=3)).energy
    assert up1 == same == 1.0 > up3 and down2 < 1.0
    assert up3 == pytest.approx(0.6) and down2 == pytest.approx(0.6)


def test_missing_data_is_neutral_and_flagged():
    s = score_transition(T(key="8A"), T(), ScoringConfig(neutral=0.5))
    assert s.missing == ("key", "bpm", "energy")
    assert (s.harmonic, s.tempo, s.energy, s.total) == (0.5, 0.5, 0.5, 0.5)


def test_total_is_the_weighted_mean_of_the_parts():
    config = ScoringConfig(harmonic_weight=2, tempo_weight=1, energy_weight=1)
    s = score_transition(T(key="8A", bpm=120, energy=5), T(key="10A", bpm=125, energy=3), config)
    assert s.total == pytest.approx((2 * s.harmonic + s.tempo + s.energy) / 4)


ZEROS = {"harmonic_weight": 0, "tempo_weight": 0, "energy_weight": 0}


def test_all_zero_weights_are_refused_when_the_config_is_built():
    with pytest.raises(ValidationError) as info:
        ScoringConfig(**ZEROS)
    assert validation_error_line(info.value) == f"field 'value': {ZERO_WEIGHTS}"
    # the same line when the weights arrive inside the set options (plugin config, request)
    with pytest.raises(ValidationError) as info:
        SetOptions.model_validate({"scoring": ZEROS})
    assert validation_error_line(info.value) == f"field 'scoring': {ZERO_WEIGHTS}"
    # weights() still normalises any valid config, even one with a single positive weight
    assert ScoringConfig(**{**ZEROS, "tempo_weight": 0.1}).weights() == (0.0, 1.0, 0.0)
    assert ScoringConfig().weights() == pytest.approx((0.5, 0.3, 0.2))
    with pytest.raises(ValueError, match="at least one of"):
        ScoringConfig.model_construct(**ZEROS).weights()  # validation bypassed


tracks_strategy = st.lists(
    st.builds(
        Track,
        id=st.just("x"),
        key=st.none() | st.sampled_from([k.camelot for k in ALL_KEYS]),
        bpm=st.none() | st.floats(60, 180),
        energy=st.none() | st.floats(1, 10),
    ),
    min_size=1,
    max_size=12,
)


@given(tracks_strategy)
def test_cost_matrix_equals_pairwise_scores(tracks):
    matrix = cost_matrix(tracks)
    n = len(tracks)
    assert matrix.shape == (n, n)
    assert np.all(np.diag(matrix) == 0)
    for i in range(n):
        for j in range(n):
            if i != j:
                assert matrix[i, j] == pytest.approx(score_transition(tracks[i], tracks[j]).cost)
    assert np.all(matrix >= 0)
    # above 1 only through the tempo overflow (beyond twice the comfortable jump)
    config = ScoringConfig()
    top = 1 + config.weights()[1] * (60 / (2 * config.max_bpm_jump) - 1)
    assert np.all(matrix <= top)


def test_tempo_cost_keeps_rising_past_the_comfortable_range():
    # the tempo score is 0 from 12 % on, but the cost has no plateau: 30 % costs more than
    # 20 %, which costs more than 12 %
    costs = [score_transition(T(bpm=100), T(bpm=100 + jump)).cost for jump in (6, 12, 20, 30)]
    assert costs == sorted(costs) and len(set(costs)) == 4
    assert score_transition(T(bpm=100), T(bpm=130)).tempo == 0.0  # the score stays 0..1
    matrix = cost_matrix([T(id="a", bpm=100), T(id="b", bpm=130)])
    assert matrix[0, 1] == pytest.approx(score_transition(T(bpm=100), T(bpm=130)).cost)


def test_cost_matrix_blocks_agree():
    tracks = [
        T(id=str(i), key=ALL_KEYS[i % 24].camelot, bpm=100 + i, energy=1 + i % 10)
        for i in range(50)
    ]
    assert np.allclose(cost_matrix(tracks, block=7), cost_matrix(tracks))
    assert cost_matrix(tracks, dtype=np.float32).dtype == np.float32


def test_cost_matrix_tables_of_distinct_values_equal_pair_by_pair(monkeypatch):
    rng = np.random.default_rng(5)
    tracks = [
        T(
            id=str(i),
            key=ALL_KEYS[i % 24].camelot if i % 7 else None,
            bpm=None if i % 11 == 0 else float(rng.choice([64, 120, 122.5, 124, 128, 174])),
            energy=None if i % 13 == 0 else float(rng.integers(1, 11)),
        )
        for i in range(120)
    ]
    tabled = cost_matrix(tracks)
    monkeypatch.setattr(scoring, "TABLE_MAX", 1)  # forces the pair-by-pair path
    assert np.array_equal(cost_matrix(tracks), tabled)
