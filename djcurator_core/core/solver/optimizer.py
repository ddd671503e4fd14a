"""The default solver: exact for small sets, iterated local search beyond.

The open path with pinned ends is solved as an asymmetric TSP tour over the tracks plus a
dummy node (index n): the dummy's edges cost 0, except that a pinned start makes every
dummy -> j edge but dummy -> start prohibitively expensive (likewise for the end).

- n <= EXACT_MAX: Held-Karp dynamic programming (numpy), the proven optimum.
- larger: iterated local search (ILS) compiled with numba. Costs are asymmetric (energy
  direction, +1 vs -1 on the wheel), so the main moves keep every segment's direction:
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
from numba import njit

from djcurator_core.core.solver import solver_cache
from djcurator_core.core.solver.sequencing import (
    SolverRequest,
    check_pins,
    greedy,
    place_pins,
    register,
)

# A writable cache folder for numba, or compile in memory: never "no locator available".
_CACHE = solver_cache.can_cache()

EXACT_MAX = 15  # Held-Karp inside the solver up to this many tracks (~20 ms)
NEIGHBOURS = 8  # candidate list length
KICK_SEGMENT = 30  # longest segment a perturbation moves
_EPS = 1e-10
_JOURNAL_ENTRIES = 64
RESTARTS = 3  # independent runs for small sets (cheap insurance for the optimum)
RESTART_MAX = 40
ACCEPT_SLACK = 0.6  # keep a kicked order up to this many average transitions above the best
REVERSE_MAX = 50  # longest segment the 2-opt move reverses
_SLACK2 = 0.0  # how far the partial gain of or-3opt may dip below zero (0: LK rule)


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


# --- compiled local search ---------------------------------------------------------------


@njit(cache=_CACHE, inline="always")
def _c(C, i, j):
    """A cost as float64: a float32 matrix (large pools) is stored compactly, but sums of
    its entries in float32 would round gains of ~1e-7 into phantom improvements."""
    return np.float64(C[i, j])


@njit(cache=_CACHE)
def _rand(rng, bound):
    x = rng[0]
    x ^= x << np.uint64(13)
    x ^= x >> np.uint64(7)
    x ^= x << np.uint64(17)
    rng[0] = x
    return np.int64(x % np.uint64(bound))


@njit(cache=_CACHE)
def _rel(p, v, a, m):
    d = p[v] - p[a]
    if d < 0:
        d += m
    return d


@njit(cache=_CACHE)
def _succ(t, p, v, m):
    i = p[v] + 1
    if i == m:
        i = 0
    return t[i]


@njit(cache=_CACHE)
def _pred(t, p, v, m):
    i = p[v] - 1
    if i < 0:
        i = m - 1
    return t[i]


@njit(cache=_CACHE)
def _exchange_gain(C, t, p, a, b, c, m):
    """Gain of a->a'..b->b'..c->c'  =>  a->b'..c->a'..b->c' (positive = cheaper)."""
    a1 = _succ(t, p, a, m)
    b1 = _succ(t, p, b, m)
    c1 = _succ(t, p, c, m)
    return _c(C, a, a1) + _c(C, b, b1) + _c(C, c, c1) - _c(C, a, b1) - _c(C, c, a1) - _c(C, b, c1)


@njit(cache=_CACHE)
def _plus_reversal_gain(C, t, start, length, m, g):
    """`g` plus what reversing the `length` tracks from array position `start` saves on
    their inner edges (u -> w becomes w -> u; negative: dearer). Costs are asymmetric,
    so every reversing move prices this; added pair by pair onto `g`."""
    for i in range(length - 1):
        u = t[(start + i) % m]
        w = t[(start + i + 1) % m]
        g += _c(C, u, w) - _c(C, w, u)
    return g


@njit(cache=_CACHE)
def _normalise(p, a, b, c, dummy, m):
    """The same exchange written with the dummy in the untouched third segment (c, a]."""
    rb = _rel(p, b, a, m)
    rc = _rel(p, c, a, m)
    rd = _rel(p, dummy, a, m)
    if rd == 0 or rd > rc:
        return a, b, c
    if rd <= rb:  # dummy in (a, b]
        return b, c, a
    return c, a, b  # dummy in (b, c]


@njit(cache=_CACHE)
def _arc_delta(t, p, a, b, c, dummy, m, W, el):
    """Change of the position penalty by exchange(a, b, c); the dummy must be in (c, a]."""
    la = _rel(p, b, a, m)
    lb = _rel(p, c, b, m)
    start = p[a] + 1
    base = _rel(p, a, dummy, m)  # path position of the first node of A
    delta = 0.0
    for i in range(la):
        k = t[(start + i) % m]
        row = el[k]
        delta += W[row, base + i + lb] - W[row, base + i]
    startb = start + la
    for i in range(lb):
        k = t[(startb + i) % m]
        row = el[k]
        delta += W[row, base + i] - W[row, base + la + i]
    return delta


@njit(cache=_CACHE)
def _move_gain(C, t, p, a, b, c, m, use_arc, dummy, W, el):
    g = _exchange_gain(C, t, p, a, b, c, m)
    if use_arc:
        na, nb, nc = _normalise(p, a, b, c, dummy, m)
        g -= _arc_delta(t, p, na, nb, nc, dummy, m, W, el)
    return g


@njit(cache=_CACHE)
def _apply(t, p, a, b, c, m, tmp, jmeta, jbuf, js):
    """Perform exchange(a, b, c), rewriting the shortest of three equivalent array regions.

    With journaling on (js[2] == 1) the overwritten values are saved for `_undo`; returns
    False, changing nothing, when the journal is full.
    """
    pa = p[a]
    pb = p[b]
    pc = p[c]
    la = pb - pa
    if la < 0:
        la += m
    lb = pc - pb
    if lb < 0:
        lb += m
    lc = m - la - lb
    if la + lb <= lb + lc and la + lb <= lc + la:
        start, s1, n1, s2, n2 = pa + 1, pb + 1, lb, pa + 1, la
    elif lb + lc <= lc + la:
        start, s1, n1, s2, n2 = pb + 1, pc + 1, lc, pb + 1, lb
    else:
        start, s1, n1, s2, n2 = pc + 1, pa + 1, la, pc + 1, lc
    total = n1 + n2
    if js[2] == 1:
        if js[0] >= jmeta.shape[0] or js[1] + total > jbuf.shape[0]:
            return False
        e = js[0]
        jmeta[e, 0] = start
        jmeta[e, 1] = total
        jmeta[e, 2] = js[1]
        off = js[1]
        for i in range(total):
            jbuf[off + i] = t[(start + i) % m]
        js[0] = e + 1
        js[1] = off + total
    for i in range(n1):
        tmp[i] = t[(s1 + i) % m]
    for i in range(n2):
        tmp[n1 + i] = t[(s2 + i) % m]
    for i in range(total):
        idx = (start + i) % m
        v = tmp[i]
        t[idx] = v
        p[v] = idx
    return True


@njit(cache=_CACHE)
def _undo(t, p, m, jmeta, jbuf, js):
    for e in range(js[0] - 1, -1, -1):
        start = jmeta[e, 0]
        total = jmeta[e, 1]
        off = jmeta[e, 2]
        for i in range(total):
            idx = (start + i) % m
            v = jbuf[off + i]
            t[idx] = v
            p[v] = idx
    js[0] = 0
    js[1] = 0


@njit(cache=_CACHE)
def _push(queue, inq, qs, v, m):
    if inq[v] == 0:
        inq[v] = 1
        queue[(qs[0] + qs[1]) % m] = v
        qs[1] += 1


@njit(cache=_CACHE)
def _push_move(t, p, a, b, c, m, queue, inq, qs):
    """Queue the endpoints of the edges an exchange changed (call after applying it)."""
    for v in (a, b, c):
        _push(queue, inq, qs, v, m)
        _push(queue, inq, qs, _succ(t, p, v, m), m)
        _push(queue, inq, qs, _pred(t, p, v, m), m)


@njit(cache=_CACHE)
def _best_move(C, t, p, a, m, out_nb, in_nb, use_arc, dummy, W, el, ideal):
    """Best improving move touching the edge a -> a'; returns (gain, a, b, c, reversed).

    Not reversed: exchange(a, b, c). Reversed: the segment a'..b (2-3 tracks) is moved
    between c and succ(c) backwards (c == a: reversed in place); only without an arc.
    """
    k = out_nb.shape[1]
    a1 = _succ(t, p, a, m)
    d_aa1 = _c(C, a, a1)
    best = _EPS
    ba = -1
    bb = -1
    bc = -1
    brev = 0
    # or-3opt: new edge a -> b' (b' from a's successor list), closed via a' or b.
    for i in range(k):
        b1 = out_nb[a, i]
        g1 = d_aa1 - _c(C, a, b1)
        if g1 <= _EPS:
            break
        if b1 == a1 or b1 == a:  # noqa: SIM109 (numba)
            continue
        b = _pred(t, p, b1, m)
        rb1 = _rel(p, b1, a, m)
        g1b = g1 + _c(C, b, b1)
        for j in range(k):
            c = in_nb[a1, j]
            g2 = g1b - _c(C, c, a1)
            if g2 <= -_SLACK2:
                break
            if c == a:
                continue
            if _rel(p, c, a, m) < rb1:
                continue
            g = _move_gain(C, t, p, a, b, c, m, use_arc, dummy, W, el)
            if g > best:
                best, ba, bb, bc, brev = g, a, b, c, 0
        for j in range(k):
            c1 = out_nb[b, j]
            g2 = g1b - _c(C, b, c1)
            if g2 <= -_SLACK2:
                break
            c = _pred(t, p, c1, m)
            if c == a or _rel(p, c, a, m) < rb1:
                continue
            g = _move_gain(C, t, p, a, b, c, m, use_arc, dummy, W, el)
            if g > best:
                best, ba, bb, bc, brev = g, a, b, c, 0
    # Or-opt: the segment a'..e of 1-3 nodes moves between x and succ(x).
    for seg in range(1, 4):
        e = t[(p[a] + seg) % m]
        q = _succ(t, p, e, m)
        if q == a or e == a:
            break
        g0 = d_aa1 + _c(C, e, q) - _c(C, a, q)
        if g0 <= _EPS:
            continue
        for j in range(k):
            x = in_nb[a1, j]
            if g0 - _c(C, x, a1) <= _EPS:
                break
            if _rel(p, x, a, m) <= seg:
                continue
            g = _move_gain(C, t, p, a, e, x, m, use_arc, dummy, W, el)
            if g > best:
                best, ba, bb, bc, brev = g, a, e, x, 0
        for j in range(k):
            y = out_nb[e, j]
            if g0 - _c(C, e, y) <= _EPS:
                break
            x = _pred(t, p, y, m)
            if _rel(p, x, a, m) <= seg:
                continue
            g = _move_gain(C, t, p, a, e, x, m, use_arc, dummy, W, el)
            if g > best:
                best, ba, bb, bc, brev = g, a, e, x, 0
        if use_arc and a1 != dummy:
            # positions where the segment's first track fits the arc best
            for j in range(ideal.shape[1]):
                r = ideal[el[a1], j]
                if r < 0:
                    continue
                x = t[(p[dummy] + r) % m]  # the node at path position r - 1
                if _rel(p, x, a, m) <= seg:
                    continue
                g = _move_gain(C, t, p, a, e, x, m, use_arc, dummy, W, el)
                if g > best:
                    best, ba, bb, bc, brev = g, a, e, x, 0
        if use_arc or seg < 2:
            continue
        # the same segment reversed: x -> e .. a' -> y (x == a: reversed in place)
        inner = _plus_reversal_gain(C, t, p[a] + 1, seg, m, 0.0)
        gr = d_aa1 + _c(C, e, q) + inner
        for side in range(2):
            for j in range(k):
                if side == 0:
                    x = in_nb[e, j]
                    y = _succ(t, p, x, m)
                else:
                    y = out_nb[a1, j]
                    x = _pred(t, p, y, m)
                if x == a:
                    g = gr - _c(C, a, e) - _c(C, a1, q)
                elif _rel(p, x, a, m) > seg:
                    g = gr - _c(C, a, q) + _c(C, x, y) - _c(C, x, e) - _c(C, a1, y)
                else:
                    continue
                if g > best:
                    best, ba, bb, bc, brev = g, a, e, x, 1
    if not use_arc:
        # 2-opt: reverse a'..c in place (c at most REVERSE_MAX tracks on), via a -> c or a' -> c'
        for side in range(2):
            for j in range(k):
                if side == 0:
                    c = out_nb[a, j]
                    if d_aa1 - _c(C, a, c) <= _EPS:
                        break
                else:
                    c1 = out_nb[a1, j]
                    c = _pred(t, p, c1, m)
                length = _rel(p, c, a, m)
                if length < 2 or length > REVERSE_MAX:
                    continue
                c1 = _succ(t, p, c, m)
                g = d_aa1 + _c(C, c, c1) - _c(C, a, c) - _c(C, a1, c1)
                g = _plus_reversal_gain(C, t, p[a1], length, m, g)
                if g > best:
                    best, ba, bb, bc, brev = g, a, c, a, 1
    return best, ba, bb, bc, brev


@njit(cache=_CACHE)
def _reverse_range(t, p, start, length, m, jmeta, jbuf, js):
    """Reverse the `length` tracks from array position `start` (journaled if on)."""
    if js[2] == 1:
        e = js[0]
        jmeta[e, 0] = start
        jmeta[e, 1] = length
        jmeta[e, 2] = js[1]
        for i in range(length):
            jbuf[js[1] + i] = t[(start + i) % m]
        js[0] = e + 1
        js[1] += length
    for i in range(length // 2):
        i1 = (start + i) % m
        i2 = (start + length - 1 - i) % m
        u = t[i1]
        w = t[i2]
        t[i1] = w
        p[w] = i1
        t[i2] = u
        p[u] = i2


@njit(cache=_CACHE)
def _local_search(C, t, p, m, nb, arc, work):
    """Improve until the queue of dirty nodes is empty; returns the total gain.

    `nb`, `arc` and `work` are the search's arrays in groups (_Search.nb/.arc/.work):
    numba unpacks tuples for free, and every caller passes the same three."""
    out_nb, in_nb = nb
    use_arc, dummy, W, el, ideal = arc
    queue, inq, qs, tmp, jmeta, jbuf, js = work
    total = 0.0
    while qs[1] > 0:
        v = queue[qs[0]]
        qs[0] = (qs[0] + 1) % m
        qs[1] -= 1
        inq[v] = 0
        improved = True
        while improved:
            improved = False
            for side in range(2):
                a = v if side == 0 else _pred(t, p, v, m)
                g, ma, mb, mc, rev = _best_move(
                    C, t, p, a, m, out_nb, in_nb, use_arc, dummy, W, el, ideal
                )
                if ma < 0:
                    continue
                if rev == 1:
                    room = js[0] + 2 <= jmeta.shape[0] and js[1] + m + REVERSE_MAX <= jbuf.shape[0]
                    if js[2] == 1 and not room:
                        continue
                    first = _succ(t, p, ma, m)
                    if mc != ma:
                        _apply(t, p, ma, mb, mc, m, tmp, jmeta, jbuf, js)
                    length = _rel(p, mb, first, m) + 1
                    _reverse_range(t, p, p[first], length, m, jmeta, jbuf, js)
                    _push(queue, inq, qs, first, m)
                elif not _apply(t, p, ma, mb, mc, m, tmp, jmeta, jbuf, js):
                    continue
                total += g
                _push_move(t, p, ma, mb, mc, m, queue, inq, qs)
                improved = True
                break
    return total


@njit(cache=_CACHE)
def _tour_cost(C, t, m, use_arc, dummy, p, W, el):
    total = 0.0
    for i in range(m):
        total += _c(C, t[i], t[(i + 1) % m])
    if use_arc:
        start = p[dummy] + 1
        for r in range(m - 1):
            k = t[(start + r) % m]
            total += W[el[k], r]
    return total


@njit(cache=_CACHE)
def _reverse_kick(C, t, p, m, rng, seg_cap, use_arc, dummy, W, el, jmeta, jbuf, js, queue, inq, qs):
    """Reverse a short random segment that neither holds nor touches the dummy; returns the
    gain (negative = dearer). Gives the search orientations that exchanges never try."""
    length = 2 + _rand(rng, max(1, seg_cap * 2 - 1))
    if length > m - 3:
        length = m - 3
    while True:
        r = 1 + _rand(rng, m - length - 1)  # offset from the dummy of the node before
        base = p[dummy]
        ok = True
        for i in range(length + 2):
            if t[(base + r + i) % m] == dummy:
                ok = False
        if ok:
            break
    start = (base + r + 1) % m
    a = t[(start - 1 + m) % m]
    d = t[(start + length) % m]
    first = t[start]
    last = t[(start + length - 1) % m]
    g = _c(C, a, first) + _c(C, last, d) - _c(C, a, last) - _c(C, first, d)
    g = _plus_reversal_gain(C, t, start, length, m, g)
    if use_arc:
        q0 = r  # path position of the first node of the segment
        for i in range(length):
            x = t[(start + i) % m]
            g -= W[el[x], q0 + length - 1 - i] - W[el[x], q0 + i]
    _reverse_range(t, p, start, length, m, jmeta, jbuf, js)  # journaled: a kick is undoable
    for i in range(length):
        _push(queue, inq, qs, t[(start + i) % m], m)
    _push(queue, inq, qs, a, m)
    _push(queue, inq, qs, d, m)
    return g


@njit(cache=_CACHE)
def _ils_chunk(
    C,
    t,
    p,
    best_t,
    state,
    counters,
    nb,
    arc,
    work,
    rng,
    kicks,
    max_seg,
    slack,
    pinned_start,
    pinned_end,
):
    """`kicks` perturbation + repair rounds. state = [current cost, best cost];
    counters = [kicks done, kick of the last improvement of the best]."""
    use_arc, dummy, W, el, _ = arc
    queue, inq, qs, tmp, jmeta, jbuf, js = work
    m = t.shape[0]  # tour length: the tracks and the dummy
    n = m - 1  # tracks
    seg_cap = min(max_seg, (n - 2) // 3)
    if seg_cap < 1:
        return
    for _ in range(kicks):
        js[0] = 0
        js[1] = 0
        js[2] = 1
        if _rand(rng, 4) == 0:
            g = _reverse_kick(
                C, t, p, m, rng, seg_cap, use_arc, dummy, W, el, jmeta, jbuf, js, queue, inq, qs
            )
        else:
            l1 = 1 + _rand(rng, seg_cap)
            l2 = 1 + _rand(rng, seg_cap)
            # a local double bridge anywhere on the cycle, never removing a pinned edge
            # (pinned_end is the track whose edge to the dummy must stay, or -1)
            while True:
                r = _rand(rng, m)
                a = t[r]
                b = t[(r + l1) % m]
                c = t[(r + l1 + l2) % m]
                if pinned_start and (a == dummy or b == dummy or c == dummy):
                    continue
                if a == pinned_end or b == pinned_end or c == pinned_end:
                    continue
                break
            g = _move_gain(C, t, p, a, b, c, m, use_arc, dummy, W, el)
            _apply(t, p, a, b, c, m, tmp, jmeta, jbuf, js)
            _push_move(t, p, a, b, c, m, queue, inq, qs)
        gain = _local_search(C, t, p, m, nb, arc, work)
        new = state[0] - g - gain
        counters[0] += 1
        if new <= state[0] + 1e-12 or new <= state[1] + slack:
            state[0] = new
            if new < state[1] - 1e-9:
                state[1] = new
                counters[1] = counters[0]
                for i in range(m):
                    best_t[i] = t[i]
        else:
            _undo(t, p, m, jmeta, jbuf, js)
        js[2] = 0


@njit(cache=_CACHE)
def _initial_search(C, t, p, m, nb, arc, work):
    """The first descent: every node is dirty."""
    queue, inq, qs, js = work[0], work[1], work[2], work[6]
    js[2] = 0
    for v in range(m):
        _push(queue, inq, qs, t[v], m)
    return _local_search(C, t, p, m, nb, arc, work)


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
    ):
        m = len(full)
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
        return float(_tour_cost(self.C, t, self.m, self.use_arc, self.dummy, p, self.W, self.el))

    def descend(self) -> None:
        _initial_search(self.C, self.t, self.p, self.m, self.nb, self.arc, self.work)
        self.state[:] = self.cost()
        self.best_t[:] = self.t

    def kick(self, kicks: int) -> None:
        _ils_chunk(
            self.C,
            self.t,
            self.p,
            self.best_t,
            self.state,
            self.counters,
            self.nb,
            self.arc,
            self.work,
            self.rng,
            kicks,
            self.max_seg,
            self.slack,
            self.pinned_start,
            self.pinned_end,
        )
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
) -> list[int]:
    """Best open path found through all tracks, honouring the pins of `request`.

    `penalty` adds a position-dependent cost (energy arc). Exact below EXACT_MAX + 1 tracks.
    `slack`: how much worse than the best a kicked order may be and still be kept; by
    default ACCEPT_SLACK average transitions of the first local optimum. A matrix with rule
    penalties (set_rules) passes the slack of its ordinary costs: an average that counts
    the penalties would let the search wander far from good orders.
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
    for run in range(runs):
        seed = request.seed * 7919 + run
        if run == 0:
            start_path = initial if initial is not None else greedy(matrix, request)
        else:
            start_path = _random_path(n, request, seed)
        search = _Search(
            full, _tour_from_path(start_path, n), penalty, seed, out_nb, in_nb, request
        )
        search.descend()
        if penalty is not None and run == 0:
            # also start from the tracks sorted by where the arc wants them; keep the better
            alt = _arc_start(request, penalty, n)
            other = _Search(full, _tour_from_path(alt, n), penalty, seed, out_nb, in_nb, request)
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
