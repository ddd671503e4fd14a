"""The default solver: exact DP, iterated local search, pins, determinism, time budget."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest

from djcurator_core.core.keys import ALL_KEYS
from djcurator_core.core.models import Track
from djcurator_core.core.rules.scoring import cost_matrix
from djcurator_core.core.solver import optimizer
from djcurator_core.core.solver.optimizer import PositionPenalty, exact_path, optimise
from djcurator_core.core.solver.sequencing import (
    SOLVERS,
    SequencingError,
    SolverRequest,
    greedy,
    path_cost,
)


def random_tracks(n: int, seed: int) -> list[Track]:
    """Tracks like a real pool: any key, house/techno tempos, energy 1-10."""
    rng = np.random.default_rng(seed)
    return [
        Track(
            id=f"t{i}",
            key=ALL_KEYS[int(rng.integers(24))].camelot,
            bpm=float(rng.uniform(118, 134)),
            energy=float(rng.integers(1, 11)),
            duration=float(rng.uniform(240, 480)),
        )
        for i in range(n)
    ]


def track_matrix(n: int, seed: int) -> np.ndarray:
    return cost_matrix(random_tracks(n, seed))


def brute_force(matrix, start=None, end=None, penalty=None) -> float:
    n = len(matrix)
    best = np.inf
    for perm in itertools.permutations(range(n)):
        if start is not None and perm[0] != start:
            continue
        if end is not None and perm[-1] != end:
            continue
        cost = path_cost(matrix, list(perm))
        if penalty is not None:
            cost += penalty.cost(perm)
        best = min(best, cost)
    return best


def objective(matrix, order, penalty=None) -> float:
    return path_cost(matrix, order) + (0.0 if penalty is None else penalty.cost(order))


def check_order(order, n, start=None, end=None):
    assert sorted(order) == list(range(n))
    if start is not None:
        assert order[0] == start
    if end is not None:
        assert order[-1] == end


def test_registered_as_ils():
    assert SOLVERS["ils"] is optimizer.ils


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize(("start", "end"), [(None, None), (2, None), (None, 5), (3, 0)])
def test_exact_dp_matches_brute_force(seed, start, end):
    matrix = np.random.default_rng(seed).random((7, 7))
    order = exact_path(matrix, start, end)
    check_order(order, 7, start, end)
    assert path_cost(matrix, order) == pytest.approx(brute_force(matrix, start, end))


def test_exact_dp_with_a_position_penalty_matches_brute_force():
    rng = np.random.default_rng(11)
    matrix = rng.random((7, 7))
    penalty = PositionPenalty(table=rng.random((3, 7)), level=rng.integers(0, 3, 7))
    order = exact_path(matrix, penalty=penalty)
    assert objective(matrix, order, penalty) == pytest.approx(brute_force(matrix, penalty=penalty))


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize(("start", "end"), [(None, None), (1, 6)])
def test_local_search_alone_finds_the_brute_force_optimum(monkeypatch, seed, start, end):
    # switch the exact DP off so that n = 8 exercises the compiled ILS
    monkeypatch.setattr(optimizer, "EXACT_MAX", 0)
    matrix = track_matrix(8, seed)
    order = optimise(matrix, SolverRequest(start=start, end=end, seed=seed))
    check_order(order, 8, start, end)
    assert path_cost(matrix, order) == pytest.approx(brute_force(matrix, start, end))


def test_local_search_with_arc_penalty_matches_brute_force(monkeypatch):
    monkeypatch.setattr(optimizer, "EXACT_MAX", 0)
    rng = np.random.default_rng(5)
    matrix = track_matrix(8, 5)
    penalty = PositionPenalty(table=0.1 * rng.random((4, 8)), level=rng.integers(0, 4, 8))
    order = optimise(matrix, SolverRequest(seed=1), penalty=penalty)
    check_order(order, 8)
    assert objective(matrix, order, penalty) == pytest.approx(brute_force(matrix, penalty=penalty))


@pytest.mark.parametrize(
    ("n", "seed", "start", "end"),
    [(16, 0, None, None), (17, 1, 4, None), (18, 2, None, 9), (20, 3, None, None)],
)
def test_ils_reaches_the_held_karp_optimum_up_to_20(n, seed, start, end):
    matrix = track_matrix(n, seed)
    assert n > optimizer.EXACT_MAX  # the ILS, not the DP, answers
    order = optimise(matrix, SolverRequest(start=start, end=end, seed=seed))
    check_order(order, n, start, end)
    optimum = path_cost(matrix, exact_path(matrix, start, end))
    assert path_cost(matrix, order) == pytest.approx(optimum, abs=1e-9)


def test_pins_hold_on_larger_sets_and_search_beats_greedy():
    matrix = track_matrix(150, 7)
    request = SolverRequest(start=10, end=20, seed=3)
    order = optimise(matrix, request)
    check_order(order, 150, 10, 20)
    assert path_cost(matrix, order) < 0.95 * path_cost(matrix, greedy(matrix, request))


def test_deterministic_for_a_seed():
    matrix = track_matrix(120, 9)
    first = optimise(matrix, SolverRequest(seed=4))
    assert first == optimise(matrix, SolverRequest(seed=4))
    check_order(first, 120)


def _stop_report(messages: list[str]) -> tuple[str, int, int, float]:
    """(reason, kicks done, kick limit, best cost) of the one "search stopped" message."""
    stops = [m for m in messages if m.startswith("search stopped")]
    assert len(stops) == 1, messages
    found = re.fullmatch(
        r"search stopped \((.+)\): \d+ tracks, (\d+) of (\d+) kicks, best cost ([\d.]+)",
        stops[0],
    )
    assert found, stops[0]
    reason, done, limit, best = found.groups()
    return reason, int(done), int(limit), float(best)


def test_time_budget_stops_the_search_before_its_effort_with_the_best_order():
    # an effort that would take ~450,000 kicks (measured ~17 s at n = 600 on the 2-core
    # machine) and no time cap of its own: only the request's budget can stop it early
    matrix = track_matrix(600, 2)
    messages: list[str] = []
    request = SolverRequest(seed=1, time_budget=1.2, progress=messages.append)
    endless = optimizer.Effort(kicks_per_node=10_000, stall_per_node=10_000, time_cap=3600)
    order = optimise(matrix, request, effort=endless)
    check_order(order, 600)
    reason, done, limit, best = _stop_report(messages)
    assert reason == "time limit"
    assert limit == endless.kicks(600) == 450_000
    assert 0 < done < limit
    # the order returned is the best one found, as reported
    assert path_cost(matrix, order) == pytest.approx(best, abs=1e-4)
    assert all("best cost" in m for m in messages)
    assert path_cost(matrix, order) < path_cost(matrix, greedy(matrix, SolverRequest()))


def test_without_a_budget_the_effort_ends_the_search():
    matrix = track_matrix(120, 4)
    messages: list[str] = []
    effort = optimizer.Effort(kicks_per_node=5, min_kicks=300, stall_per_node=10_000)
    optimise(matrix, SolverRequest(progress=messages.append), effort=effort)
    assert _stop_report(messages)[:3] == ("kick limit", 600, 600)
    messages.clear()
    stalled = optimizer.Effort(kicks_per_node=10_000, min_stall=50, stall_per_node=0)
    optimise(matrix, SolverRequest(progress=messages.append), effort=stalled)
    reason, done, limit, _ = _stop_report(messages)
    assert reason == "no new best" and done < limit


def test_prohibitive_edges_are_avoided_when_an_order_avoids_them():
    # a chain 0 -> 1 -> ... -> 39 is the only cheap way; every other edge is "forbidden"
    n = 40
    rng = np.random.default_rng(0)
    matrix = rng.uniform(0.0, 1.0, (n, n)) + 100.0
    for i in range(n - 1):
        matrix[i, i + 1] = 0.5
    perm = rng.permutation(n)  # hide the chain behind a shuffled numbering
    shuffled = matrix[np.ix_(perm, perm)]
    order = optimise(shuffled, SolverRequest(seed=2))
    assert path_cost(shuffled, order) == pytest.approx(0.5 * (n - 1))


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (SolverRequest(start=30), "pinned index 30 is outside"),
        (SolverRequest(start=3, end=3), "same track cannot be pinned"),
    ],
)
def test_bad_pins(request_, message):
    with pytest.raises(SequencingError, match=message):
        optimise(track_matrix(20, 0), request_)


def test_tiny_sets():
    assert optimise(np.zeros((0, 0))) == []
    assert optimise(np.zeros((1, 1))) == [0]
    m = np.array([[0, 1.0], [0.2, 0]])
    assert optimise(m) == [1, 0]
    assert optimise(m, SolverRequest(start=0)) == [0, 1]


NEEDS_CC = pytest.mark.skipif(
    optimizer.native_search.compiler() is None, reason="no C compiler: numba only"
)


FIXED_KICKS = optimizer.Effort(kicks_per_node=10, min_kicks=300, min_stall=10**9, time_cap=600)


@NEEDS_CC
@pytest.mark.parametrize(
    ("n", "arc", "start", "end", "seed"),
    [(60, False, None, None, 0), (70, True, 3, None, 2), (50, False, 5, 2, 4)],
)
def test_the_c_and_the_numba_kernel_give_the_same_order(n, arc, start, end, seed):
    """search_kernel.c is compiled_search.py function for function: with a fixed number
    of kicks (no stall or clock stop) both return the very same order, with and without
    an energy arc and pins. (float64 only: each matrix type is one more numba compile;
    the C kernel's float32 path is checked against its float64 path below.)"""
    rng = np.random.default_rng(seed)
    matrix = track_matrix(n, seed)
    penalty = None
    if arc:
        penalty = PositionPenalty(table=0.2 * rng.random((5, n)), level=rng.integers(0, 5, n))
    request = SolverRequest(start=start, end=end, seed=seed)
    native = optimise(matrix, request, penalty=penalty, effort=FIXED_KICKS, kernel="native")
    numba = optimise(matrix, request, penalty=penalty, effort=FIXED_KICKS, kernel="numba")
    check_order(native, n, start, end)
    assert native == numba


@NEEDS_CC
@pytest.mark.parametrize(("arc", "start", "end"), [(False, 0, None), (True, 3, 7)])
def test_the_c_kernel_reads_a_float32_workspace_as_its_float64_values(arc, start, end):
    """A large pool's float32 tour workspace gives the order the same costs give as
    float64 (the kernel adds them up in float64 either way)."""
    n = 45
    rng = np.random.default_rng(n)
    workspace = optimizer.tour_workspace(n)
    workspace[:n, :n] = cost_matrix(random_tracks(n, 1))
    as64 = workspace[:n, :n].astype(np.float64)
    penalty = None
    if arc:
        penalty = PositionPenalty(table=0.2 * rng.random((5, n)), level=rng.integers(0, 5, n))
    request = SolverRequest(start=start, end=end, seed=1)
    got32 = optimise(workspace[:n, :n], request, penalty, FIXED_KICKS, kernel="native")
    got64 = optimise(as64, request, penalty, FIXED_KICKS, kernel="native")
    check_order(got32, n, start, end)
    assert got32 == got64
