"""The benchmark's exact reference (scripts/exact_order.py) against brute force.

CP-SAT comes with the optional `bench` extra (ortools, via djkr8), which pins protobuf 6
while the product's .venv has protobuf 7: these tests run in the bench environment,
`make bench` runs them before the benchmark (and they are skipped where ortools is not
installed). `rule_arcs` is plain numpy and tested everywhere.
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

from exact_order import fewest_unmixable, have_cpsat, rule_arcs  # noqa: E402

needs_cpsat = pytest.mark.skipif(not have_cpsat(), reason="ortools: the bench extra")


def brute_force(bad, forbidden, level):
    """(fewest level transitions, then fewest unmixable) over all orders; None if none."""
    n = len(bad)
    best = None
    for order in itertools.permutations(range(n)):
        steps = list(zip(order[:-1], order[1:], strict=True))
        if any(forbidden[a, b] for a, b in steps):
            continue
        key = (sum(level[a, b] for a, b in steps), sum(bad[a, b] for a, b in steps))
        best = key if best is None or key < best else best
    return best


def symmetric_bits(rng, n, p):
    upper = np.triu(rng.random((n, n)) < p, 1)
    return upper | upper.T


@needs_cpsat
@pytest.mark.parametrize("seed", range(6))
def test_the_optimum_of_brute_force_with_forbidden_and_level_arcs(seed):
    rng = np.random.default_rng(seed)
    n = 7
    bad = symmetric_bits(rng, n, 0.6)
    forbidden = symmetric_bits(rng, n, 0.25)
    level = symmetric_bits(rng, n, 0.2) & ~forbidden
    expected = brute_force(bad, forbidden, level)
    result = fewest_unmixable(bad, forbidden, level, time_limit=20, workers=2)
    if expected is None:
        assert result.status == "infeasible" and result.order is None
        return
    assert result.status == "optimal" and result.proven
    assert sorted(result.order) == list(range(n))
    steps = list(zip(result.order[:-1], result.order[1:], strict=True))
    assert not any(forbidden[a, b] for a, b in steps)
    assert (result.level, result.unmixable) == expected
    assert result.unmixable == sum(bad[a, b] for a, b in steps)
    assert result.bound == result.unmixable


@needs_cpsat
def test_no_rules_is_the_plain_minimum_and_a_hint_changes_nothing():
    rng = np.random.default_rng(11)
    bad = symmetric_bits(rng, 8, 0.7)
    none = np.zeros_like(bad)
    expected = brute_force(bad, none, none)[1]
    plain = fewest_unmixable(bad, time_limit=20, workers=2)
    hinted = fewest_unmixable(bad, time_limit=20, workers=2, hint=list(range(8))[::-1])
    assert plain.unmixable == hinted.unmixable == expected
    assert plain.proven and hinted.proven


@needs_cpsat
def test_a_track_every_other_track_is_forbidden_next_to_is_infeasible():
    bad = np.zeros((4, 4), dtype=bool)
    forbidden = np.zeros((4, 4), dtype=bool)
    forbidden[0, 1:] = forbidden[1:, 0] = True  # track 0 may neighbour nobody
    result = fewest_unmixable(bad, forbidden, time_limit=10, workers=2)
    assert result.status == "infeasible" and result.unmixable is None


def test_rule_arcs_limit_kept_forbids_every_jump_above_it():
    jumps = np.array([[0.0, 5.0, 9.0], [5.0, 0.0, np.nan], [9.0, np.nan, 0.0]])
    rules = rule_arcs(jumps, ["A", "A", None], limit=8.0, bottleneck=5.0)
    assert rules.threshold == 8.0
    assert rules.over_bottleneck.tolist() == [
        [False, False, True],
        [False, False, False],  # an unknown tempo is never over a limit
        [True, False, False],
    ]
    assert not rules.over_limit.any()
    assert rules.same_artist.tolist() == [
        [False, True, False],
        [True, False, False],
        [False, False, False],  # a track without an artist is free
    ]


def test_rule_arcs_limit_not_kept_levels_the_jumps_up_to_the_bottleneck():
    jumps = np.array([[0.0, 9.0, 12.0], [9.0, 0.0, 10.5], [12.0, 10.5, 0.0]])
    rules = rule_arcs(jumps, [None, None, None], limit=8.0, bottleneck=10.5)
    assert rules.threshold == 10.5
    assert rules.over_bottleneck[0, 2] and rules.over_bottleneck[2, 0]
    assert rules.over_bottleneck.sum() == 2
    assert rules.over_limit[0, 1] and rules.over_limit[1, 2] and rules.over_limit.sum() == 4
    assert not rules.same_artist.any()
