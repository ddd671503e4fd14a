"""Set length: choose WHICH tracks of a larger pool make the set (--count / --duration).

A prize-collecting path problem: pick tracks (always including the pinned ones) so that
the set has `count` tracks, or fills at most `duration` seconds (one or the other, never
both), and its transitions are as cheap as possible.

1. Order the whole pool with the optimiser (a short search): neighbours in that order
   mix well.
2. Take the best window of consecutive tracks of that order (pins attached at the ends).
3. Improve the subset by exchange moves against the pool (replace a track in place,
   drop one and insert an outside track elsewhere; with a duration also add or drop a
   track), re-order the subset with the optimiser, and repeat while it gets better.

A time budget is shared: half for ordering the pool, the rest for the rounds.
For a duration the objective also charges the unused time: FILL_COST per average track
length left empty, so the set fills the slot with well-mixing tracks rather than stopping
at the three best transitions. The set never runs longer than the duration.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from djcurator_core.core.solver.optimizer import Effort, neighbour_lists, optimise
from djcurator_core.core.solver.sequencing import (
    SequencingError,
    SolverRequest,
    path_cost,
    pinned_ends,
    place_pins,
)

FILL_COST = 1.0  # cost of leaving one average track length of the slot empty
POOL_EFFORT = Effort(kicks_per_node=30, min_kicks=2_000, stall_per_node=10, min_stall=1_000)
SUBSET_EFFORT = Effort(kicks_per_node=100, min_kicks=5_000, stall_per_node=40, min_stall=2_000)
ROUNDS = 4
CANDIDATES = 12


@dataclass(frozen=True)
class Selection:
    order: list[int]  # pool indices in set order
    cost: float  # transition cost of the order (penalised matrix)
    notes: list[str]


def _objective(matrix, order, durations, duration, mean_dur) -> float:
    cost = path_cost(matrix, order)
    if duration is not None:
        cost += FILL_COST * (duration - float(durations[order].sum())) / mean_dur
    return cost


def select(
    matrix: np.ndarray,
    *,
    count: int | None = None,
    duration: float | None = None,
    durations: Sequence[float | None] | None = None,
    ids: Sequence[str] | None = None,
    request: SolverRequest | None = None,
    progress: Callable[[str], None] | None = None,
    keep: Sequence[int] = (),
) -> Selection:
    """Choose and order the set's tracks. `matrix` may carry penalties (set_rules).

    `keep`: tracks that must be in the set (--include), anywhere in it; like the pins they
    are never exchanged out."""
    request = request or SolverRequest()
    n = len(matrix)
    ids = list(ids) if ids is not None else [str(i) for i in range(n)]
    ends = [p for p in (request.start, request.end) if p is not None]
    keep = sorted(set(keep) - set(ends))
    pins = ends + keep
    if count is not None and duration is not None:
        raise SequencingError("give a count or a duration, not both")
    if count is not None:
        if count > n:
            raise SequencingError(f"count {count} is larger than the {n} tracks available")
        if count < len(pins):
            what = "pinned and included" if keep else "pinned"
            raise SequencingError(f"count {count} leaves no room for the {len(pins)} {what} tracks")
    dur = np.zeros(n)
    mean_dur = 1.0
    if duration is not None:
        if durations is None:
            raise SequencingError("a set duration needs the tracks' durations")
        for i, d in enumerate(durations):
            if d is None or d <= 0:
                raise SequencingError(
                    f"track {ids[i]!r} has no duration: --duration needs every track's length"
                )
        dur = np.asarray(durations, dtype=float)
        mean_dur = float(dur.mean())
        pinned = float(dur[pins].sum()) if pins else 0.0
        if pinned > duration:
            raise SequencingError(
                f"the {'pinned and included' if keep else 'pinned'} tracks last "
                f"{pinned / 60:.1f} min, longer than the set's "
                f"{duration / 60:.1f} min"
            )
    if count is not None and count >= n:
        order = optimise(matrix, request)
        return Selection(order, path_cost(matrix, order), [])
    if duration is not None and dur.sum() <= duration:
        order = optimise(matrix, request)
        notes = [
            f"the whole pool lasts {dur.sum() / 60:.1f} min, not the {duration / 60:.1f} min "
            "asked for: every track is in the set"
        ]
        return Selection(order, path_cost(matrix, order), notes)

    # 1. the pool in a good order (half of a time budget; the rounds share the rest)
    deadline = None
    if request.time_budget is not None:
        deadline = time.perf_counter() + request.time_budget
    pool_request = SolverRequest(
        start=request.start,
        end=request.end,
        seed=request.seed,
        time_budget=None if deadline is None else 0.5 * request.time_budget,
        progress=progress,
    )
    pool_order = optimise(matrix, pool_request, effort=POOL_EFFORT)
    if progress:
        progress("selection: pool ordered")
    # 2. best window
    order = _best_window(matrix, pool_order, request, count, duration, dur, mean_dur, keep)
    if not order:
        raise SequencingError(
            f"a set of {duration / 60:.1f} min is shorter than every track "
            f"(the shortest lasts {dur.min() / 60:.1f} min)"
        )
    # 3. exchanges against the pool, then re-order, while it improves
    out_nb, in_nb = neighbour_lists(matrix, min(CANDIDATES, n - 1))
    best = _objective(matrix, order, dur, duration, mean_dur)
    best_order = order
    for round_no in range(ROUNDS):
        remaining = None if deadline is None else deadline - time.perf_counter()
        if remaining is not None and remaining <= 0:
            break
        order = _exchange_search(
            matrix, order, request, out_nb, in_nb, duration, dur, mean_dur, keep
        )
        sub = np.asarray(order, dtype=np.intp)
        sub_request = SolverRequest(
            start=0 if request.start is not None else None,
            end=len(order) - 1 if request.end is not None else None,
            seed=request.seed + round_no,
            time_budget=None if remaining is None else max(0.05, remaining / 2),
        )
        local = optimise(matrix[np.ix_(sub, sub)], sub_request, effort=SUBSET_EFFORT)
        order = [int(sub[i]) for i in local]
        value = _objective(matrix, order, dur, duration, mean_dur)
        if progress:
            progress(f"selection: round {round_no + 1}, cost {value:.4f}")
        if value >= best - 1e-9:
            break
        best, best_order = value, order
    return Selection(best_order, path_cost(matrix, best_order), [])


def _best_window(matrix, pool_order, request, count, duration, dur, mean_dur, keep=()) -> list[int]:
    """Cheapest run of consecutive tracks of the pool order, with the pins at its ends and
    the kept (included) tracks inserted where they cost least."""
    kept = set(keep)
    free = [i for i in pool_order if i not in (request.start, request.end) and i not in kept]
    head, tail = pinned_ends(request)
    if kept:
        if count is not None:
            count -= len(kept)
        else:
            duration -= float(dur[list(kept)].sum())
    f = np.asarray(free)
    if len(f) == 0:
        return place_pins([], request)
    steps = matrix[f[:-1], f[1:]] if len(f) > 1 else np.zeros(0)
    prefix = np.concatenate([[0.0], np.cumsum(steps)])
    budget = None
    if duration is not None:
        budget = duration - float(dur[head + tail].sum())
        cum = np.concatenate([[0.0], np.cumsum(dur[f])])
    best, best_range = np.inf, (0, 0)
    for i in range(len(f)):
        if count is not None:
            j = i + count - len(head) - len(tail)  # exclusive end
            if j > len(f):
                break
        else:
            j = int(np.searchsorted(cum, cum[i] + budget, side="right")) - 1
            if j <= i:
                continue
        value = prefix[j - 1] - prefix[i] if j > i else 0.0
        if head and j > i:
            value += matrix[head[0], f[i]]
        if tail and j > i:
            value += matrix[f[j - 1], tail[0]]
        if duration is not None:
            value += FILL_COST * (budget - (cum[j] - cum[i])) / mean_dur
        if value < best:
            best, best_range = value, (i, j)
    i, j = best_range
    window = place_pins([int(v) for v in f[i:j]], request) if best < np.inf else []
    if not window and not kept:
        return []
    if not window:
        window = head + tail
    for track in keep:
        window = _insert_cheapest(matrix, window, track, request)
    return window


def _insert_cheapest(matrix, order, track, request) -> list[int]:
    """`order` with `track` where it adds the least cost (never before a pinned start or
    after a pinned end)."""
    lo = 1 if request.start is not None and order else 0
    hi = len(order) - 1 if request.end is not None and order else len(order)
    best, where = np.inf, lo
    for pos in range(lo, hi + 1):
        before = order[pos - 1] if pos > 0 else None
        after = order[pos] if pos < len(order) else None
        added = 0.0
        if before is not None:
            added += matrix[before, track]
        if after is not None:
            added += matrix[track, after]
        if before is not None and after is not None:
            added -= matrix[before, after]
        if added < best:
            best, where = added, pos
    return order[:where] + [track] + order[where:]


def _exchange_search(
    matrix, order, request, out_nb, in_nb, duration, dur, mean_dur, keep=()
) -> list[int]:
    """First-improvement exchanges of set tracks against pool tracks.

    Each round takes the first improving move of: replacing a set track in place,
    inserting an outside track (dropping a set track unless the duration leaves room),
    dropping a set track (duration only). A move is (position, track in, track out)."""
    order = list(order)
    chosen = set(order)
    pinned = {p for p in (request.start, request.end) if p is not None} | set(keep)
    total = float(dur[order].sum())

    def c(a, b):
        return 0.0 if a is None or b is None else float(matrix[a, b])

    def fill(seconds):
        return 0.0 if duration is None else FILL_COST * seconds / mean_dur

    def candidates(before, after):
        """Pool tracks outside the set that are near neighbours of `before` or `after`."""
        cands = set()
        if before is not None:
            cands.update(out_nb[before].tolist())
        if after is not None:
            cands.update(in_nb[after].tolist())
        return sorted(cands - chosen)

    def neighbours(i):
        k = len(order)
        return (order[i - 1] if i > 0 else None), (order[i + 1] if i + 1 < k else None)

    def replacement():
        for i, v in enumerate(order):
            if v in pinned:
                continue
            prev, nxt = neighbours(i)
            for u in candidates(prev, nxt):
                if duration is not None and total - dur[v] + dur[u] > duration:
                    continue
                delta = c(prev, u) + c(u, nxt) - c(prev, v) - c(v, nxt)
                delta += fill(dur[v] - dur[u])
                if delta < -1e-9:
                    return i, u, v
        return None

    def removal_gains():
        """(transition saving, position) of each unpinned set track, largest first."""
        gains = []
        for i, v in enumerate(order):
            prev, nxt = neighbours(i)
            if v not in pinned:
                gains.append((c(prev, v) + c(v, nxt) - c(prev, nxt), i))
        return sorted(gains, reverse=True)

    def insertion(free_removal):
        """An outside track between neighbours x, y (and drop one of the worst set tracks)."""
        k = len(order)
        for pos in range(k + 1):
            x = order[pos - 1] if pos > 0 else None
            y = order[pos] if pos < k else None
            if (pos == 0 and request.start is not None) or (pos == k and request.end is not None):
                continue
            for u in candidates(x, y):
                insert = c(x, u) + c(u, y) - c(x, y)
                # add without dropping (duration only)
                fits = duration is not None and total + dur[u] <= duration
                if fits and insert - fill(dur[u]) < -1e-9:
                    return pos, u, None
                for gain, i in free_removal[:3]:
                    if i in (pos - 1, pos):
                        continue
                    v = order[i]
                    if duration is not None and total - dur[v] + dur[u] > duration:
                        continue
                    if insert - gain + fill(dur[v] - dur[u]) < -1e-9:
                        return pos, u, v
        return None

    def dropping(free_removal):
        """Duration only: drop a track when the saving beats the emptied time."""
        if duration is None:
            return None
        for gain, i in free_removal:
            if len(order) <= len(pinned) + 1:
                break
            v = order[i]
            if -gain + fill(dur[v]) < -1e-9:
                return None, None, v
        return None

    for _ in range(50 * len(order) + 100):
        move = replacement()
        if move is None:
            free_removal = removal_gains()
            move = insertion(free_removal) or dropping(free_removal)
        if move is None:
            break
        pos, u, v = move
        if u is not None:
            order.insert(pos, u)
            chosen.add(u)
        if v is not None:
            order.remove(v)
            chosen.discard(v)
        total += (0.0 if u is None else dur[u]) - (0.0 if v is None else dur[v])
    return order
