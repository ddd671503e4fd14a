"""Baseline solvers and the solver interface."""

from __future__ import annotations

import numpy as np
import pytest

from djcurator_core.core.solver.sequencing import (
    SequencingError,
    SolverRequest,
    check_pins,
    path_cost,
    pinned_ends,
    place_pins,
    solve,
)


@pytest.fixture
def matrix():
    return np.random.default_rng(3).random((8, 8))


def test_naive_is_input_order_with_pins_moved(matrix):
    assert solve(matrix, "naive") == list(range(8))
    assert solve(matrix, "naive", SolverRequest(start=5, end=1)) == [5, 0, 2, 3, 4, 6, 7, 1]


def test_greedy_takes_the_cheapest_next_track():
    m = np.array([[0, 5, 1, 9], [1, 0, 9, 9], [9, 2, 0, 1], [9, 9, 9, 0]], dtype=float)
    assert solve(m, "greedy") == [0, 2, 3, 1]
    assert solve(m, "greedy", SolverRequest(start=1)) == [1, 0, 2, 3]
    assert solve(m, "greedy", SolverRequest(end=3)) == [0, 2, 1, 3]
    assert solve(m, "greedy", SolverRequest(end=0)) == [1, 2, 3, 0]


def test_greedy_is_deterministic_and_a_permutation(matrix):
    order = solve(matrix, "greedy", SolverRequest(start=4, end=6))
    assert order == solve(matrix, "greedy", SolverRequest(start=4, end=6))
    assert sorted(order) == list(range(8)) and order[0] == 4 and order[-1] == 6


def test_path_cost():
    m = np.arange(9, dtype=float).reshape(3, 3)
    assert path_cost(m, [0, 1, 2]) == 1 + 5
    assert path_cost(m, [2]) == 0


@pytest.mark.parametrize(
    ("solver", "request_", "message"),
    [
        ("nope", SolverRequest(), "unknown solver 'nope'"),
        ("greedy", SolverRequest(start=9), "pinned index 9 is outside 0..7"),
        ("naive", SolverRequest(start=2, end=2), "same track cannot be pinned"),
    ],
)
def test_bad_requests(matrix, solver, request_, message):
    with pytest.raises(SequencingError, match=message):
        solve(matrix, solver, request_)


def test_tiny_inputs():
    assert solve(np.zeros((0, 0)), "greedy") == []
    assert solve(np.zeros((1, 1)), "greedy", SolverRequest(start=0)) == [0]


def test_pin_helpers_shared_by_every_solver():
    request = SolverRequest(start=3, end=0)
    assert pinned_ends(request) == ([3], [0])
    assert pinned_ends(SolverRequest()) == ([], [])
    assert place_pins([0, 1, 2, 3, 4], request) == [3, 1, 2, 4, 0]
    assert place_pins([], SolverRequest(end=2)) == [2]
    check_pins(5, request)  # valid pins pass
    check_pins(1, SolverRequest(start=0, end=0))  # a single track may be both ends
    with pytest.raises(SequencingError, match=r"^track 'c' cannot be pinned both first and last$"):
        check_pins(3, SolverRequest(start=2, end=2), ["a", "b", "c"])
    with pytest.raises(SequencingError, match="pinned index -1 is outside 0..2"):
        check_pins(3, SolverRequest(end=-1))
