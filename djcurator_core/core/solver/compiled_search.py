"""The solver's iterated local search compiled by numba: the fallback kernel.

The search itself (moves, perturbation, acceptance; see optimizer.py) is written twice:
in C (search_kernel.c, compiled with the system C compiler in under a second and loaded
by native_search.py) and here, for numba, where no C compiler is found. Both take the
same arrays and give the same order for the same seed and number of kicks
(tests/test_optimizer.py checks it). numba compiles these functions on first use
(10-30 s) and caches the machine code (solver_cache.py says when it compiles).

optimizer.py calls three entry points: `initial_search`, `ils_chunk` and `tour_cost`;
`compile_all` runs them on each matrix type once, so that numba compiles (or loads) every
specialisation ahead of a real set.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from djcurator_core.core.solver.cache_folder import can_cache

# A writable cache folder for numba, or compile in memory: never "no locator available".
_CACHE = can_cache()

_EPS = 1e-10
REVERSE_MAX = 50  # longest segment the 2-opt move reverses
_SLACK2 = 0.0  # how far the partial gain of or-3opt may dip below zero (0: LK rule)


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


# --- entry points (the same in native_search.py) ---------------------------------------


def initial_search(search) -> float:
    """The first descent of `search` (optimizer._Search); returns its gain."""
    return _initial_search(
        search.C, search.t, search.p, search.m, search.nb, search.arc, search.work
    )


def ils_chunk(search, kicks: int) -> None:
    """`kicks` perturbation + repair rounds on `search` (optimizer._Search)."""
    _ils_chunk(
        search.C,
        search.t,
        search.p,
        search.best_t,
        search.state,
        search.counters,
        search.nb,
        search.arc,
        search.work,
        search.rng,
        kicks,
        search.max_seg,
        search.slack,
        search.pinned_start,
        search.pinned_end,
    )


def tour_cost(search, tour: np.ndarray, positions: np.ndarray) -> float:
    """The cost of `tour` (its inverse: `positions`) with `search`'s matrix and penalty."""
    return float(
        _tour_cost(
            search.C, tour, search.m, search.use_arc, search.dummy, positions, search.W, search.el
        )
    )
