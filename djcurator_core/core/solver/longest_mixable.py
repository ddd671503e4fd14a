"""`--count auto`: the longest set in which every transition is allowed by the set's rules.

Finding the longest path in the "mixable" graph is NP-hard; this finds a long one in
seconds, in three steps:

1. Order the whole pool with the rules matrix (set_rules: every transition the rules do
   not allow costs more than all ordinary costs together), so that the order has as few
   breaks as the search can find.
2. Take the longest run of consecutive allowed transitions in that order.
3. Grow it: insert a pool track wherever both new transitions are allowed (between two
   set tracks, or before the first / after the last), cheapest first, until no track fits.
   The caller (planning) orders the set once more, starting from the grown order: the
   result can only be better, so it stays all-allowed.

Pinned tracks go to their ends and included tracks are inserted where they cost least,
even when that breaks the all-allowed property; a note then says how many transitions
are not mixable.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from djcurator_core.core.planning.selection import _insert_cheapest
from djcurator_core.core.solver.optimizer import Effort, optimise
from djcurator_core.core.solver.sequencing import SolverRequest

POOL_EFFORT = Effort(kicks_per_node=30, min_kicks=2_000, stall_per_node=10, min_stall=1_000)


def longest_run(allowed: np.ndarray, order: Sequence[int]) -> tuple[int, int]:
    """(i, j): order[i:j] is the longest run whose consecutive transitions are all allowed."""
    if not order:
        return 0, 0
    idx = np.asarray(order)
    ok = allowed[idx[:-1], idx[1:]]
    best, best_range, start = 1, (0, 1), 0
    for position, good in enumerate(ok, start=1):
        if not good:
            start = position
        if position + 1 - start > best:
            best, best_range = position + 1 - start, (start, position + 1)
    return best_range


def grow(
    order: list[int],
    allowed: np.ndarray,
    cost: np.ndarray,
    fixed_start: bool = False,
    fixed_end: bool = False,
) -> list[int]:
    """Insert outside tracks wherever both new transitions are allowed, cheapest first."""
    order = list(order)
    n = len(allowed)
    outside = np.ones(n, dtype=bool)
    outside[order] = False
    while outside.any():
        best = None
        idx = np.asarray(order)
        # between neighbours x -> u -> y
        if len(order) > 1:
            fits = allowed[idx[:-1]] & allowed[:, idx[1:]].T & outside[None, :]
            rows, cols = np.nonzero(fits)
            if len(rows):
                x, y = idx[rows], idx[rows + 1]
                added = cost[x, cols] + cost[cols, y] - cost[x, y]
                k = int(np.argmin(added))
                best = (float(added[k]), int(rows[k]) + 1, int(cols[k]))
        if not fixed_start:  # before the first track
            cols = np.nonzero(allowed[:, idx[0]] & outside)[0]
            if len(cols):
                k = int(np.argmin(cost[cols, idx[0]]))
                if best is None or cost[cols[k], idx[0]] < best[0]:
                    best = (float(cost[cols[k], idx[0]]), 0, int(cols[k]))
        if not fixed_end:  # after the last track
            cols = np.nonzero(allowed[idx[-1]] & outside)[0]
            if len(cols):
                k = int(np.argmin(cost[idx[-1], cols]))
                if best is None or cost[idx[-1], cols[k]] < best[0]:
                    best = (float(cost[idx[-1], cols[k]]), len(order), int(cols[k]))
        if best is None:
            break
        _, position, track = best
        order.insert(position, track)
        outside[track] = False
    return order


def longest_mixable(
    matrix: np.ndarray,
    allowed: np.ndarray,
    request: SolverRequest,
    keep: Sequence[int] = (),
    slack: float | None = None,
    progress: Callable[[str], None] | None = None,
) -> tuple[list[int], list[str]]:
    """(the set in order, notes). `matrix`: the rules matrix of the pool; `allowed`: the
    transitions the rules allow (n x n bool)."""
    n = len(matrix)
    pool_request = SolverRequest(seed=request.seed, time_budget=request.time_budget)
    pool_order = optimise(matrix, pool_request, effort=POOL_EFFORT, slack=slack)
    if progress:
        progress("count auto: pool ordered")
    ends = [p for p in (request.start, request.end) if p is not None]
    i, j = longest_run(allowed, pool_order)
    window = [t for t in pool_order[i:j] if t not in ends]
    head = [request.start] if request.start is not None else []
    tail = [request.end] if request.end is not None else []
    order = head + window + tail
    pinned = SolverRequest(
        start=0 if head else None, end=len(order) - 1 if tail else None, seed=request.seed
    )
    for track in keep:
        if track not in order:
            order = _insert_cheapest(matrix, order, track, pinned)
    order = grow(order, allowed, matrix, bool(head), bool(tail))
    notes = []
    sub = np.asarray(order)
    broken = int((~allowed[sub[:-1], sub[1:]]).sum()) if len(order) > 1 else 0
    if broken:
        notes.append(
            f"count auto: {broken} transition(s) are not mixable: the pinned and included "
            "tracks could not all be joined by mixable transitions"
        )
    notes.insert(0, f"count auto: {len(order)} of {n} tracks in one mixable run")
    return order, notes
