"""Ordering tracks: one solver interface over the cost matrix, and the baseline solvers.

A solver takes the n x n cost matrix and a `SolverRequest` (pinned ends, seed, time
budget, progress callback) and returns an order: a permutation of range(n) as a list.
`SOLVERS` maps solver names to functions; better solvers register themselves there.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from djcurator_core.errors import DJSetError


class SequencingError(DJSetError, ValueError):
    """Options that no order can satisfy (unknown solver, bad pin...)."""


@dataclass(frozen=True)
class SolverRequest:
    start: int | None = None  # index pinned first
    end: int | None = None  # index pinned last
    seed: int = 0
    time_budget: float | None = None  # seconds; None = the solver's own default
    progress: Callable[[str], None] | None = None  # called now and then by long solvers

    def report(self, message: str) -> None:
        if self.progress is not None:
            self.progress(message)


Solver = Callable[[np.ndarray, SolverRequest], list[int]]
SOLVERS: dict[str, Solver] = {}


def register(name: str) -> Callable[[Solver], Solver]:
    def decorate(solver: Solver) -> Solver:
        SOLVERS[name] = solver
        return solver

    return decorate


def path_cost(matrix: np.ndarray, order: list[int]) -> float:
    """Sum of the matrix entries along an open path."""
    if len(order) < 2:
        return 0.0
    idx = np.asarray(order)
    return float(matrix[idx[:-1], idx[1:]].sum())


def check_pins(n: int, request: SolverRequest, ids: Sequence[str] | None = None) -> None:
    """Refuse pins outside the n tracks and one track pinned both first and last.

    With `ids` (the tracks' ids) the same-pin message names the track."""
    for pin in (request.start, request.end):
        if pin is not None and not 0 <= pin < n:
            raise SequencingError(f"pinned index {pin} is outside 0..{n - 1}")
    if n > 1 and request.start is not None and request.start == request.end:
        which = f"track {ids[request.start]!r}" if ids is not None else "the same track"
        raise SequencingError(f"{which} cannot be pinned both first and last")


def pinned_ends(request: SolverRequest) -> tuple[list[int], list[int]]:
    """([start] or [], [end] or []): the pinned tracks that open and close every order."""
    head = [request.start] if request.start is not None else []
    tail = [request.end] if request.end is not None else []
    return head, tail


def place_pins(order: Sequence[int], request: SolverRequest) -> list[int]:
    """Move pinned tracks to their ends, keeping the rest in the given order."""
    head, tail = pinned_ends(request)
    middle = [i for i in order if i not in (request.start, request.end)]
    return head + middle + tail


@register("naive")
def naive(matrix: np.ndarray, request: SolverRequest) -> list[int]:
    """Input order (pins moved to their ends): the baseline every report compares with."""
    check_pins(len(matrix), request)
    return place_pins(list(range(len(matrix))), request)


@register("greedy")
def greedy(matrix: np.ndarray, request: SolverRequest) -> list[int]:
    """The original design's nearest neighbour: from the first track (or the pinned start),
    always take the cheapest next track; ties go to the earliest in input order. O(n^2)."""
    n = len(matrix)
    check_pins(n, request)
    if n == 0:
        return []
    current = request.start if request.start is not None else 0
    if current == request.end and n > 1:
        current = 1 if request.end == 0 else 0
    visited = np.zeros(n, dtype=bool)
    visited[current] = True
    if request.end is not None:
        visited[request.end] = True
    order = [current]
    for _ in range(n - int(visited.sum())):
        row = np.where(visited, np.inf, matrix[current])
        current = int(np.argmin(row))
        visited[current] = True
        order.append(current)
    if request.end is not None and request.end not in order:
        order.append(request.end)
    return order


def solver_named(name: str) -> Solver:
    """The registered solver `name`; an unknown name is a SequencingError listing them."""
    try:
        return SOLVERS[name]
    except KeyError:
        raise SequencingError(
            f"unknown solver {name!r} (choose from {', '.join(sorted(SOLVERS))})"
        ) from None


def solve(
    matrix: np.ndarray, solver: str = "greedy", request: SolverRequest | None = None
) -> list[int]:
    """Run a named solver and check that it returned a permutation honouring the pins."""
    request = request or SolverRequest()
    function = solver_named(solver)
    order = [int(i) for i in function(matrix, request)]
    n = len(matrix)
    if sorted(order) != list(range(n)):
        raise AssertionError(f"solver {solver!r} returned an order that is not a permutation")
    if n and request.start is not None and order[0] != request.start:
        raise AssertionError(f"solver {solver!r} ignored the pinned start")
    if n and request.end is not None and order[-1] != request.end:
        raise AssertionError(f"solver {solver!r} ignored the pinned end")
    return order
