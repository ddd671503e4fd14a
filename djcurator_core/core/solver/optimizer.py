"""The default solver: exact for small sets, iterated local search beyond.

The open path with pinned ends is solved as an asymmetric TSP tour over the tracks plus a
dummy node (index n): the dummy's edges cost 0, except that a pinned start makes every
dummy -> j edge but dummy -> start prohibitively expensive (likewise for the end).

- n <= EXACT_MAX: Held-Karp dynamic programming (numpy), the proven optimum.
- larger: iterated local search (ILS), compiled: in C (search_kernel.c, built in under a
  second by the system C compiler, native_search.py), or with numba where no C compiler
  is found (compiled_search.py; the same search, the same order for a seed). Costs are
  asymmetric (energy direction, +1 vs -1 on the wheel), so the main moves keep every
  segment's direction:
  or-3opt "segment exchange" (a->a'..b->b'..c->c' becomes a->b'..c->a'..b->c', i.e. two
  neighbouring segments swap places) and Or-opt (a segment of 1-3 tracks moves
  elsewhere); reversing moves (Or-opt with the segment reversed, 2-opt of at most
  REVERSE_MAX tracks) price the reversed edges exactly. All are driven by neighbour
  candidate lists (the K cheapest successors / predecessors of each track) and a queue
  of "dirty" nodes. The perturbation is a local double bridge (two short adjacent
  segments swap) or, one time in four, a short reversal; the repaired order is kept
  while it is within ACCEPT_SLACK average transitions of the best (record-to-record
  travel; the best order is stored apart), otherwise undone from a journal.
- An optional position-dependent penalty (energy arc: `W[level, position]`) is added to the
  objective; with it, every move also pays for the positions it shifts.

The search runs in chunks between which Python checks the clock (time budget) and calls
`request.report` (activity heartbeat); its last report says why it stopped (time limit,
kick limit or no new best) and after how many kicks. Randomness comes from a xorshift
generator seeded by `request.seed`, so the result is deterministic for a seed unless the
time budget stops the search first (or the Effort's time cap, when the request has no
budget).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from djcurator_core.core.solver import native_search
from djcurator_core.core.solver.sequencing import (
    SolverRequest,
    check_pins,
    greedy,
    place_pins,
    register,
)

EXACT_MAX = 15  # Held-Karp inside the solver up to this many tracks (~20 ms)
NEIGHBOURS = 8  # candidate list length
KICK_SEGMENT = 30  # longest segment a perturbation moves
_JOURNAL_ENTRIES = 64
RESTARTS = 3  # independent runs for small sets (cheap insurance for the optimum)
RESTART_MAX = 40
ACCEPT_SLACK = 0.6  # keep a kicked order up to this many average transitions above the best
REVERSE_MAX = 50  # longest segment the 2-opt move reverses (both kernels have it too)


@dataclass(frozen=True)
class Effort:
    """How long the ILS searches when no time budget stops it first (deterministic)."""

    kicks_per_node: float = 100.0
    min_kicks: int = 2_000
    max_kicks: int = 450_000
    stall_per_node: float = 150.0  # stop after this many kicks per node without improvement
    min_stall: int = 8_000
    time_cap: float = 50.0  # seconds, when the request sets no time budget (n=5000 needs ~40)

    def kicks(self, n: int) -> int:
        # superlinear like the problem's difficulty: 20k kicks at n=200, 333k at n=1000
        wanted = self.kicks_per_node * n * max(1.0, n / 300)
        return int(min(self.max_kicks, max(self.min_kicks, wanted)))

    def stall(self, n: int) -> int:
        return int(max(self.min_stall, self.stall_per_node * n))


DEFAULT_EFFORT = Effort()


@dataclass(frozen=True)
class PositionPenalty:
    """Cost of putting a track at a path position: `table[level[track], position]`.

    `level` has one entry per track (an index into the rows of `table`; give unknown
    energies a row of zeros).
    """

    table: np.ndarray  # (levels, n) float64
    level: np.ndarray  # (n,) int64

    def cost(self, order: list[int] | np.ndarray) -> float:
        order = np.asarray(order, dtype=np.int64)
        return float(self.table[self.level[order], np.arange(len(order))].sum())


# --- problem set-up -------------------------------------------------------------------


def penalty_scale(n: int, penalty: PositionPenalty | None = None) -> float:
    """A cost larger than any complete order's ordinary cost (transitions are <= 1)."""
    extra = 0.0 if penalty is None else float(np.abs(penalty.table).max()) * n
    return float(n + 1) + extra


def tour_workspace(n: int, dtype=np.float32) -> np.ndarray:
    """An (n+1) x (n+1) array whose top-left n x n block a caller fills with the costs
    (scoring.cost_matrix(out=...)) and passes to `optimise`: the tour matrix is then
    completed in place instead of copied (10,000 tracks: one 400 MB array, not three of
    800 MB). float32 holds the costs; the search adds them up in float64."""
    return np.zeros((n + 1, n + 1), dtype=dtype)


def _workspace_of(matrix: np.ndarray) -> np.ndarray | None:
    """The tour workspace whose top-left block `matrix` is, or None."""
    base = matrix.base
    n = len(matrix)
    if (
        isinstance(base, np.ndarray)
        and base.shape == (n + 1, n + 1)
        and base.dtype == matrix.dtype
        and base.flags.c_contiguous
        and matrix.__array_interface__["data"][0] == base.__array_interface__["data"][0]
        and matrix.strides == base.strides
    ):
        return base
    return None


def tour_matrix(matrix: np.ndarray, request: SolverRequest, big: float) -> np.ndarray:
    """(n+1) x (n+1) matrix with the dummy node n and the pins as `big` costs: float64, or
    the matrix's own tour workspace (`tour_workspace`), completed in place."""
    n = len(matrix)
    full = _workspace_of(matrix)
    if full is None:
        full = np.zeros((n + 1, n + 1), dtype=np.float64)
        full[:n, :n] = matrix
    else:
        full[n, :] = 0.0
        full[:, n] = 0.0
    if request.start is not None:
        full[n, :n] = big
        full[n, request.start] = 0.0
    if request.end is not None:
        full[:n, n] = big
        full[request.end, n] = 0.0
    return full


def neighbour_lists(full: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """K cheapest successors (out) and predecessors (in) of every node, cheapest first."""
    m = len(full)
    k = min(k, m - 1)
    out_nb = np.empty((m, k), dtype=np.int64)
    in_nb = np.empty((m, k), dtype=np.int64)
    block = 512
    for lists, source in ((out_nb, full), (in_nb, full.T)):
        for lo in range(0, m, block):
            rows = np.array(source[lo : lo + block], dtype=np.float64)
            idx = np.arange(lo, lo + len(rows))
            rows[np.arange(len(rows)), idx] = np.inf
            part = np.argpartition(rows, k - 1, axis=1)[:, :k]
            vals = np.take_along_axis(rows, part, axis=1)
            order = np.lexsort((part, vals), axis=1)
            lists[lo : lo + len(rows)] = np.take_along_axis(part, order, axis=1)
    return out_nb, in_nb


# --- exact: Held-Karp -------------------------------------------------------------------


def exact_path(
    matrix: np.ndarray,
    start: int | None = None,
    end: int | None = None,
    penalty: PositionPenalty | None = None,
) -> list[int]:
    """Optimal open path by Held-Karp DP, vectorised over subsets (O(2^n n^2)).

    Fast below ~13 tracks; usable as a test reference up to ~20 (seconds, ~200 MB).
    The position penalty is exact too: a subset of size k ends at position k - 1.
    """
    n = len(matrix)
    if n == 0:
        return []
    if n == 1:
        return [0]
    if n > 22:
        raise ValueError("exact_path is for small sets (n <= 22)")
    cost = np.asarray(matrix, dtype=np.float64)
    pos_cost = None
    if penalty is not None:
        pos_cost = penalty.table[penalty.level[:n]][:, :n]  # (n nodes, n positions)
    size = 1 << n
    masks = np.arange(size, dtype=np.int64)
    popcount = np.zeros(size, dtype=np.int64)
    for bit in range(n):
        popcount += (masks >> bit) & 1
    dp = np.full((size, n), np.inf)
    parent = np.full((size, n), -1, dtype=np.int8)
    firsts = range(n) if start is None else [start]
    for j in firsts:
        if j == end and n > 1:
            continue
        dp[1 << j, j] = 0.0 if pos_cost is None else pos_cost[j, 0]
    order_by_count = np.argsort(popcount, kind="stable")
    bounds = np.searchsorted(popcount[order_by_count], np.arange(n + 2))
    for count in range(2, n + 1):
        layer = order_by_count[bounds[count] : bounds[count + 1]]
        for j in range(n):
            if j == start:
                continue
            if j == end and count < n:
                continue
            sel = layer[(layer >> j) & 1 == 1]
            if len(sel) == 0:
                continue
            prev = sel ^ (1 << j)
            vals = dp[prev] + cost[:, j][None, :]
            best = np.argmin(vals, axis=1)
            dp[sel, j] = vals[np.arange(len(sel)), best]
            if pos_cost is not None:
                dp[sel, j] += pos_cost[j, count - 1]
            parent[sel, j] = best
    full = size - 1
    last = end if end is not None else int(np.argmin(dp[full]))
    path = [last]
    mask = full
    while len(path) < n:
        prev = int(parent[mask, last])
        mask ^= 1 << last
        last = prev
        path.append(last)
    return path[::-1]


# --- driver ---------------------------------------------------------------------------------


def _ideal_positions(penalty: PositionPenalty, n: int, per_level: int = 5) -> np.ndarray:
    """For each penalty row, up to `per_level` path positions (+1) where it is cheapest."""
    rows = penalty.table.shape[0]
    ideal = np.full((rows, per_level), -1, dtype=np.int64)
    for row in range(rows):
        values = penalty.table[row, :n]
        best = np.flatnonzero(values <= values.min() + 1e-12)
        if len(best) == len(values):
            continue  # indifferent (unknown energy)
        picks = best[np.linspace(0, len(best) - 1, min(per_level, len(best))).round().astype(int)]
        ideal[row, : len(picks)] = picks + 1
    return ideal


def search_kernel(name: str | None = None):
    """The compiled search: the C kernel (native_search) where a C compiler builds it,
    else numba's (compiled_search, imported only then: numba's import alone takes longer
    than a DJ set's search). `name` ("native" or "numba") asks for one."""
    if name != "numba":
        native = native_search.kernel()
        if native is not None:
            return native
        if name == "native":
            raise RuntimeError("the C search kernel cannot be built here (no C compiler?)")
    from djcurator_core.core.solver import compiled_search

    return compiled_search


class _Search:
    """Arrays of one ILS run over the tour matrix."""

    def __init__(
        self,
        full: np.ndarray,
        tour: np.ndarray,
        penalty: PositionPenalty | None,
        seed: int,
        out_nb: np.ndarray,
        in_nb: np.ndarray,
        request: SolverRequest | None = None,
        kernel=None,
    ):
        m = len(full)
        self.kernel = kernel if kernel is not None else search_kernel()
        self.m = m
        self.dummy = m - 1
        # float64, or a float32 tour workspace as it is (the search reads it through _c)
        dtype = np.float32 if full.dtype == np.float32 else np.float64
        self.C = np.ascontiguousarray(full, dtype=dtype)
        self.t = np.ascontiguousarray(tour, dtype=np.int64)
        self.p = np.empty(m, dtype=np.int64)
        self.p[self.t] = np.arange(m)
        self.out_nb, self.in_nb = out_nb, in_nb
        self.use_arc = penalty is not None
        if penalty is not None:
            n = m - 1
            # one row per penalty level, and a zero row for the dummy (no cost anywhere)
            self.W = np.zeros((penalty.table.shape[0] + 1, m + 1), dtype=np.float64)
            self.W[:-1, :n] = penalty.table[:, :n]
            self.el = np.append(penalty.level[:n], 0).astype(np.int64)
            self.el[self.dummy] = len(self.W) - 1
            self.ideal = np.vstack([_ideal_positions(penalty, n), np.full((1, 5), -1)])
        else:
            self.W = np.zeros((1, 1))
            self.el = np.zeros(m, dtype=np.int64)
            self.ideal = np.full((1, 1), -1, dtype=np.int64)
        self.rng = np.array(
            [((seed * 0x9E3779B97F4A7C15) ^ 0x2545F4914F6CDD1D) & 0xFFFFFFFFFFFFFFFF],
            dtype=np.uint64,
        )
        if self.rng[0] == 0:
            self.rng[0] = np.uint64(88172645463325252)
        self.queue = np.zeros(m, dtype=np.int64)
        self.inq = np.zeros(m, dtype=np.int8)
        self.qs = np.zeros(2, dtype=np.int64)
        self.tmp = np.zeros(m, dtype=np.int64)
        self.jmeta = np.zeros((_JOURNAL_ENTRIES, 3), dtype=np.int64)
        self.jbuf = np.zeros(4 * m + 64, dtype=np.int64)
        self.js = np.zeros(3, dtype=np.int64)
        # the arrays the compiled search takes, in the groups it takes them
        self.nb = (self.out_nb, self.in_nb)
        self.arc = (self.use_arc, self.dummy, self.W, self.el, self.ideal)
        self.work = (self.queue, self.inq, self.qs, self.tmp, self.jmeta, self.jbuf, self.js)
        self.best_t = self.t.copy()
        self.state = np.zeros(2)
        self.counters = np.zeros(2, dtype=np.int64)
        self.slack = 0.0
        request = request or SolverRequest()
        self.pinned_start = request.start is not None
        self.pinned_end = -1 if request.end is None else int(request.end)
        self.max_seg = KICK_SEGMENT

    def cost(self, tour: np.ndarray | None = None) -> float:
        t = self.t if tour is None else tour
        p = np.empty(self.m, dtype=np.int64)
        p[t] = np.arange(self.m)
        return self.kernel.tour_cost(self, t, p)

    def descend(self) -> None:
        self.kernel.initial_search(self)
        self.state[:] = self.cost()
        self.best_t[:] = self.t

    def kick(self, kicks: int) -> None:
        self.kernel.ils_chunk(self, kicks)
        # refresh the running cost against drift
        self.state[0] = self.cost()

    def path(self) -> list[int]:
        t = self.best_t
        cut = int(np.flatnonzero(t == self.dummy)[0])
        return [int(v) for v in np.concatenate([t[cut + 1 :], t[:cut]])]


def _tour_from_path(order: list[int], n: int) -> np.ndarray:
    return np.array([n, *order], dtype=np.int64)


def optimise(
    matrix: np.ndarray,
    request: SolverRequest | None = None,
    penalty: PositionPenalty | None = None,
    effort: Effort = DEFAULT_EFFORT,
    initial: list[int] | None = None,
    slack: float | None = None,
    kernel: str | None = None,
) -> list[int]:
    """Best open path found through all tracks, honouring the pins of `request`.

    `penalty` adds a position-dependent cost (energy arc). Exact below EXACT_MAX + 1 tracks.
    `slack`: how much worse than the best a kicked order may be and still be kept; by
    default ACCEPT_SLACK average transitions of the first local optimum. A matrix with rule
    penalties (set_rules) passes the slack of its ordinary costs: an average that counts
    the penalties would let the search wander far from good orders.
    `kernel`: "native" or "numba" to ask for one compiled search (search_kernel).
    """
    request = request or SolverRequest()
    matrix = np.asarray(matrix)
    n = len(matrix)
    check_pins(n, request)
    if n <= EXACT_MAX:
        return exact_path(matrix, request.start, request.end, penalty)
    started = time.perf_counter()
    budget = effort.time_cap if request.time_budget is None else request.time_budget
    deadline = started + budget
    # a pinned end's alternatives must cost more than everything else, BPM penalties included
    big = 4.0 * (n + 2) * max(penalty_scale(n, penalty), float(matrix.max(initial=0.0)))
    full = tour_matrix(matrix, request, big)
    out_nb, in_nb = neighbour_lists(full, NEIGHBOURS)
    runs = RESTARTS if n <= RESTART_MAX else 1
    kicks = max(1, effort.kicks(n) // runs)
    stall = effort.stall(n)
    best_path, best_cost = None, np.inf
    compiled = search_kernel(kernel)
    for run in range(runs):
        seed = request.seed * 7919 + run
        if run == 0:
            start_path = initial if initial is not None else greedy(matrix, request)
        else:
            start_path = _random_path(n, request, seed)
        search = _Search(
            full, _tour_from_path(start_path, n), penalty, seed, out_nb, in_nb, request, compiled
        )
        search.descend()
        if penalty is not None and run == 0:
            # also start from the tracks sorted by where the arc wants them; keep the better
            alt = _arc_start(request, penalty, n)
            alt_tour = _tour_from_path(alt, n)
            other = _Search(full, alt_tour, penalty, seed, out_nb, in_nb, request, compiled)
            other.descend()
            if other.state[1] < search.state[1]:
                search = other
        search.slack = ACCEPT_SLACK * float(search.state[1]) / n if slack is None else slack
        _drive(search, kicks, stall, deadline, request)
        if search.state[1] < best_cost - 1e-12:
            best_path, best_cost = search.path(), float(search.state[1])
        if deadline is not None and time.perf_counter() >= deadline:
            break
    return best_path


def _random_path(n: int, request: SolverRequest, seed: int) -> list[int]:
    return place_pins(np.random.default_rng(seed).permutation(n).tolist(), request)


def _drive(
    search: _Search, kicks: int, stall: int, deadline: float | None, request: SolverRequest
) -> None:
    """Kick in chunks of ~0.2 s until done, stalled or out of time; report progress, and
    at the end why the search stopped ("search stopped (time limit): ...")."""
    chunk = 200
    last_report = time.perf_counter()
    while True:
        if search.counters[0] >= kicks:
            reason = "kick limit"
            break
        if search.counters[0] - search.counters[1] >= stall:
            reason = "no new best"
            break
        if deadline is not None and time.perf_counter() >= deadline:
            reason = "time limit"
            break
        todo = min(chunk, kicks - int(search.counters[0]))
        tick = time.perf_counter()
        search.kick(todo)
        now = time.perf_counter()
        target = 0.2
        if deadline is not None:
            target = min(target, max(0.005, (deadline - now) / 2))
        rate = todo / max(now - tick, 1e-6)
        chunk = int(max(20, min(rate * target, 4 * todo + 50)))
        if now - last_report >= 0.5:
            request.report(
                f"searching: {int(search.counters[0])} kicks, best cost {search.state[1]:.4f}"
            )
            last_report = now
    request.report(
        f"search stopped ({reason}): {search.dummy} tracks, {int(search.counters[0])} of "
        f"{kicks} kicks, best cost {search.state[1]:.4f}"
    )


def _arc_start(request: SolverRequest, penalty: PositionPenalty, n: int) -> list[int]:
    """Tracks sorted onto the positions whose arc target matches their energy, pins kept.

    Rows of the penalty table are energy levels in ascending order; positions are ranked
    by the level they prefer, tracks by their level, and matched rank for rank.
    """
    free = [i for i in range(n) if i not in (request.start, request.end)]
    positions = list(range(n))
    if request.start is not None:
        positions.remove(0)
    if request.end is not None:
        positions.remove(n - 1)
    rows = penalty.table.shape[0]
    preferred = np.argmin(penalty.table[:, positions] + np.arange(rows)[:, None] * 1e-9, axis=0)
    track_rank = np.argsort(penalty.level[free], kind="stable")
    pos_rank = np.argsort(preferred, kind="stable")
    order = [0] * n
    for track, position in zip(track_rank, pos_rank, strict=True):
        order[positions[position]] = free[track]
    if request.start is not None:
        order[0] = request.start
    if request.end is not None:
        order[n - 1] = request.end
    return order


@register("ils")
def ils(matrix: np.ndarray, request: SolverRequest) -> list[int]:
    """Exact (Held-Karp) up to 15 tracks, iterated local search beyond."""
    return optimise(matrix, request)
