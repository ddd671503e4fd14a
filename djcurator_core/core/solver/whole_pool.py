"""Ordering a whole large pool under the DJ rules, in one float32 matrix.

A pool above COMPACT_ABOVE tracks ordered whole (no count or duration) cannot hold the
matrices `planning` builds the rules from (ordinary costs, tempo jumps, key classes, three
masks, the rules matrix and the solver's own copy: about 5 GB at 10,000 tracks, issue 13
allows 1 GB). Here the rules are the same costs in the same levels (`set_rules.Levels`),
added in place, a block of rows at a time, to the one float32 matrix that is also the
solver's tour matrix (`optimizer.tour_workspace`). They are computed from per-track
columns (BPM, key index, artist id), so no other n x n array exists:

- the tempo limit: a jump above `max_bpm_jump` costs a constraint; when no order can keep
  the limit, a jump above the smallest largest jump is forbidden. That jump is the
  circle bound of `mixability.bottleneck_jump`, reached by the descending tempo order
  (exact within about an octave and a half; beyond, the descending order's largest jump
  is used, which an order is known to reach);
- the harmonic mode: strict and moderate make every key move the mode does not allow, and
  every tempo change above the comfortable 6 %, an unmixable transition; in moderate a
  boost costs almost an unmixable transition from the start (planning makes boosts dearer
  only when a set uses more than `max_boosts`, and orders again: each search is long at
  this size, and thousands of tracks would use far more than a few boosts);
- the artist gap: the same artist back to back is a constraint cost; larger gaps are
  kept by moving single tracks afterwards (`set_rules.spread_artists`, O(n) per move);
- the same song twice: one copy (`set_rules.drop_duplicates`, as for every pool);
- the energy arc: as in planning (in strict and moderate weighed in unmixable units).
- after the search, `relocate_breaks` moves the segments next to a broken rule to their
  best place anywhere in the order (the search looks only among near neighbours).

float32 holds about 7 significant digits: a transition with a rule cost (up to 1e8 at
10,000 tracks) loses its ordinary cost's decimals, which only matters between two
transitions that both break a rule. The search adds the costs up in float64.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from djcurator_core.core.models import Track
from djcurator_core.core.options.set_options import SetOptions
from djcurator_core.core.rules.energy_arc import ARC_UNIT
from djcurator_core.core.rules.mixability import (
    BOOST,
    CLASS_TABLE,
    allowed_keys,
    bottleneck_jump,
    descending_tempo_order,
    tempo_mixable,
)
from djcurator_core.core.rules.scoring import (
    ScoringConfig,
    cost_matrix,
    key_indices,
    part_table,
    tempo_change,
)
from djcurator_core.core.rules.set_rules import (
    ARC_RULE_SCALE,
    Levels,
    arc_rule_penalty,
    artist_gap_violations,
    artist_ids,
    drop_duplicates,
    ordinary_bound,
    rule_penalties,
    search_slack,
    spread_artists,
)
from djcurator_core.core.solver import optimizer
from djcurator_core.core.solver.sequencing import SolverRequest, place_pins, solve

COMPACT_ABOVE = 3_000  # whole pools above this many tracks are ordered here
RELOCATE_BREAKS = 32  # breaks whose segments relocate_breaks tries per move
BLOCK = 256  # rows of rule costs computed at once (256 x 10,000 float64: 20 MB)


@dataclass(frozen=True)
class Columns:
    """What the rules read of each track."""

    bpm: np.ndarray  # float, NaN when unknown
    key: np.ndarray  # index into the key table, 24 when unknown
    artist: np.ndarray  # set_rules.artist_ids: -1 for no artist

    @classmethod
    def of(cls, tracks: Sequence[Track]) -> Columns:
        bpm = np.array([np.nan if t.bpm is None else t.bpm for t in tracks], dtype=float)
        return cls(bpm, key_indices(tracks), artist_ids(tracks))


def _symmetric_pct(a, b, config: ScoringConfig) -> np.ndarray:
    """Percent tempo jump from the slower to the faster (as planning.bpm_jumps)."""
    forward = tempo_change(a, b, config.half_double_time)[0]
    backward = tempo_change(b, a, config.half_double_time)[0]
    return np.maximum(forward, backward)


class _Jumps:
    """Rows of the pool's tempo jumps, gathered from the table of distinct BPM values (or
    computed pair by pair when there are too many)."""

    def __init__(self, bpm: np.ndarray, scoring: ScoringConfig):
        self.bpm, self.scoring = bpm, scoring
        self.tabled = part_table(bpm, _symmetric_pct, scoring)

    def rows(self, rows: slice) -> np.ndarray:
        if self.tabled is None:
            return _symmetric_pct(self.bpm[rows, None], self.bpm[None, :], self.scoring)
        table, index = self.tabled
        return table[index[rows, None], index[None, :]]

    def along(self, order: Sequence[int]) -> np.ndarray:
        idx = np.asarray(order, dtype=np.int64)
        return _symmetric_pct(self.bpm[idx[:-1]], self.bpm[idx[1:]], self.scoring)


@dataclass(frozen=True)
class _Bottleneck:
    jump: float | None  # the smallest largest jump (None: the limit can be kept)
    witness: list[int] | None  # an order with it
    bound: float  # no order has a smaller largest jump (mixability.bottleneck_jump)

    @property
    def exact(self) -> bool:
        return self.jump is not None and self.jump <= self.bound + 1e-6


def _bottleneck(tracks, jumps: _Jumps, options: SetOptions) -> _Bottleneck:
    limit = options.max_bpm_jump
    if limit is None:
        return _Bottleneck(None, None, 0.0)
    half_double = options.scoring.half_double_time
    bound = bottleneck_jump([t.bpm for t in tracks], half_double)
    witness = descending_tempo_order(tracks, half_double)
    steps = jumps.along(witness) if len(witness) > 1 else np.zeros(0)
    steps = steps[np.isfinite(steps)]
    reached = float(steps.max()) if len(steps) else 0.0
    if reached <= limit + 1e-9:
        return _Bottleneck(None, None, bound)  # an order keeps the limit
    return _Bottleneck(reached, witness, bound)


def add_rule_costs(
    matrix: np.ndarray,
    columns: Columns,
    jumps: _Jumps,
    options: SetOptions,
    levels: Levels,
    bottleneck: float | None,
) -> None:
    """Add the rules' costs (`set_rules.rule_penalties`) to `matrix` in place, a block of
    rows at a time."""
    n = len(matrix)
    strict = options.harmonic != "relaxed"
    artist = columns.artist
    for lo in range(0, n, BLOCK):
        rows = slice(lo, min(lo + BLOCK, n))
        block_jumps = jumps.rows(rows)
        unmixable = None
        if strict:
            classes = CLASS_TABLE[columns.key[rows, None], columns.key[None, :]]
            keys_ok = allowed_keys(classes, options.harmonic)
            unmixable = ~(keys_ok & tempo_mixable(block_jumps, options.scoring))
        same = None
        if options.artist_gap >= 1:
            same = (artist[rows, None] == artist[None, :]) & (artist[rows, None] >= 0)
        extra = rule_penalties(
            block_jumps,
            levels,
            limit=options.max_bpm_jump,
            bottleneck=bottleneck,
            unmixable=unmixable,
            same_artist_pairs=same,
            first_row=lo,
        )
        matrix[rows] += extra.astype(matrix.dtype)


def _add_boost_cost(matrix: np.ndarray, key: np.ndarray, cost: float) -> None:
    n = len(matrix)
    for lo in range(0, n, BLOCK):
        rows = slice(lo, min(lo + BLOCK, n))
        boosts = CLASS_TABLE[key[rows, None], key[None, :]] == BOOST
        matrix[rows] += (boosts * cost).astype(matrix.dtype)


def _boosts_along(key: np.ndarray, order: Sequence[int]) -> int:
    idx = np.asarray(order, dtype=np.int64)
    return int((CLASS_TABLE[key[idx[:-1]], key[idx[1:]]] == BOOST).sum())


def order_whole_pool(
    tracks: Sequence[Track],
    options: SetOptions,
    start: int | None,
    end: int | None,
    budget: Callable[[], float | None],
    progress: Callable[[str], None] | None = None,
) -> tuple[list[int], list[str]]:
    """(the order of every track but left-out copies of a song, notes). `budget()`: the
    seconds the search may still take (None: no limit)."""
    kept, notes = drop_duplicates(tracks, [p for p in (start, end) if p is not None])
    if len(kept) < len(tracks):
        position = {t: p for p, t in enumerate(kept)}
        order, more = _order(
            [tracks[i] for i in kept],
            options,
            None if start is None else position[start],
            None if end is None else position[end],
            budget,
            progress,
        )
        return [kept[i] for i in order], notes + more
    order, more = _order(tracks, options, start, end, budget, progress)
    return order, notes + more


def _order(tracks, options, start, end, budget, progress) -> tuple[list[int], list[str]]:
    notes: list[str] = []
    n = len(tracks)
    strict = options.harmonic != "relaxed"
    workspace = optimizer.tour_workspace(n)
    matrix = cost_matrix(tracks, options.scoring, out=workspace[:n, :n])
    slack = search_slack(matrix) if strict else None
    arc_max = options.arc_weight * ARC_UNIT * 9 if options.energy_arc != "none" else 0.0
    levels = Levels.for_orders(n, ordinary_bound(matrix, arc_max))
    if arc_max and strict:
        levels = levels.with_arc(n, arc_max * ARC_RULE_SCALE)
    columns = Columns.of(tracks)
    jumps = _Jumps(columns.bpm, options.scoring)
    bottleneck = _bottleneck(tracks, jumps, options)
    add_rule_costs(matrix, columns, jumps, options, levels, bottleneck.jump)
    if options.harmonic == "moderate":
        # boosts beyond the budget: planning makes them dearer step by step and orders the
        # set again; here each search is long, and a pool of thousands would use far more
        # than a few boosts, so they cost almost an unmixable transition from the start
        _add_boost_cost(matrix, columns.key, 0.99 * levels.unmixable)
    if progress:
        progress(f"rules added to the cost matrix of {n} tracks")
    penalty = arc_rule_penalty(tracks, options, levels.unmixable if strict else None, notes)

    def request() -> SolverRequest:
        return SolverRequest(
            start=start, end=end, seed=options.seed, time_budget=budget(), progress=progress
        )

    if penalty is None and options.solver != "ils":
        order = solve(matrix, options.solver, request())
    else:
        initial = None
        if bottleneck.witness is not None:  # starts at the smallest largest jump
            initial = place_pins(bottleneck.witness, request())
        order = optimizer.optimise(matrix, request(), penalty=penalty, initial=initial, slack=slack)
    if options.solver == "ils":
        order = relocate_breaks(order, matrix, levels.unmixable, start is not None, end is not None)
    if options.harmonic == "moderate":
        used = _boosts_along(columns.key, order)
        if used > options.max_boosts:
            notes.append(
                f"max boosts {options.max_boosts}: the set uses {used}; the solver found no "
                "order with fewer that is not worse (clashes instead of boosts)"
            )
    if options.artist_gap > 1:
        order = spread_artists(
            order, matrix, columns.artist, options.artist_gap, start is not None, end is not None
        )
    if options.artist_gap >= 1:
        left = artist_gap_violations(order, columns.artist, options.artist_gap)
        if left:
            notes.append(
                f"artist gap {options.artist_gap}: {left} pair(s) of tracks by the same "
                "artist are closer: too few other artists in the set, or none found"
            )
    if options.max_bpm_jump is not None:
        notes.extend(_jump_notes(tracks, order, jumps, options.max_bpm_jump, bottleneck))
    return order, notes


def relocate_breaks(
    order: Sequence[int],
    matrix: np.ndarray,
    level: float,
    fixed_start: bool = False,
    fixed_end: bool = False,
    max_moves: int = 100,
) -> list[int]:
    """Move segments next to a broken rule to their best place anywhere in the order.

    The search's moves draw from each track's 8 cheapest neighbours; at thousands of
    tracks a few rule breaks are left where the fix moves tracks far: a run of one key
    joined to a run of another by a clash, whose right place is thousands of tracks
    away. For each transition that costs at least `level` (a rule broken), the segments
    on either side (1-3 tracks, or the whole run up to the next break) are tried at every
    position, priced from the matrix in O(n) each; the best move that lowers the order's
    cost is made, until none does (at most `max_moves`, looking at the first
    RELOCATE_BREAKS breaks each time: a pool with hundreds of unavoidable breaks stays
    within seconds)."""
    order = np.asarray(order, dtype=np.int64)
    n = len(order)
    if n < 4:
        return order.tolist()
    lo = 1 if fixed_start else 0
    hi = n - 1 if fixed_end else n  # positions lo..hi-1 may move
    for _ in range(max_moves):
        steps = matrix[order[:-1], order[1:]]
        breaks = np.flatnonzero(steps >= level).tolist()
        if not breaks:
            break
        bounds = [-1, *breaks, n - 1]  # runs: bounds[k] + 1 .. bounds[k + 1]
        segments = set()
        for k, b in list(enumerate(breaks, start=1))[:RELOCATE_BREAKS]:
            run_start, run_end = bounds[k - 1] + 1, bounds[k + 1]
            for length in (1, 2, 3):
                segments.add((max(run_start, b - length + 1), b))  # ends at the break
                segments.add((b + 1, min(run_end, b + length)))  # starts after it
            segments.add((run_start, b))
            segments.add((b + 1, run_end))
        best = None
        for i, j in segments:
            if i < lo or j >= hi or j - i + 1 >= n - 1:
                continue
            found = _best_place(order, i, j, matrix, lo, hi)
            if found is not None and (best is None or found[0] < best[0]):
                best = found
        if best is None:
            break
        order = best[1]
    return order.tolist()


def _best_place(order, i, j, matrix, lo, hi):
    """(cost change, new order) for order[i..j] moved to its cheapest gap elsewhere, or
    None when no gap lowers the order's cost."""
    n = len(order)
    first, last = int(order[i]), int(order[j])
    gain = 0.0
    if i > 0:
        gain += float(matrix[order[i - 1], first])
    if j < n - 1:
        gain += float(matrix[last, order[j + 1]])
    if i > 0 and j < n - 1:
        gain -= float(matrix[order[i - 1], order[j + 1]])
    segment = order[i : j + 1]
    rest = np.concatenate([order[:i], order[j + 1 :]])
    m = len(rest)
    # gap q: the segment goes before rest[q] (q = m: at the end)
    q = np.arange(lo, min(hi - (n - m) + 1, m + 1) if hi < n else m + 1)
    q = q[q != i]  # where it was
    if not len(q):
        return None
    added = np.zeros(len(q))
    left, right = q > 0, q < m
    added[left] += matrix[rest[q[left] - 1], first]
    added[right] += matrix[last, rest[q[right]]]
    both = left & right
    added[both] -= matrix[rest[q[both] - 1], rest[q[both]]]
    k = int(np.argmin(added))
    change = float(added[k]) - gain
    if change >= -1e-6 * max(1.0, abs(gain)):
        return None
    spot = int(q[k])
    return change, np.concatenate([rest[:spot], segment, rest[spot:]])


def _jump_notes(tracks, order, jumps: _Jumps, limit: float, bottleneck: _Bottleneck):
    steps = jumps.along(order) if len(order) > 1 else np.zeros(0)
    with np.errstate(invalid="ignore"):
        over_at = np.flatnonzero(np.isfinite(steps) & (steps > limit + 1e-9))
    if not len(over_at):
        return []
    over = sorted(((float(steps[p]), order[p], order[p + 1]) for p in over_at), reverse=True)
    named = ", ".join(f"{tracks[a].id} -> {tracks[b].id} ({jump:.1f}%)" for jump, a, b in over[:5])
    more = f" and {len(over) - 5} more" if len(over) > 5 else ""
    exceed = f"{len(over)} transition(s) exceed it: {named}{more}"
    if bottleneck.jump is None:
        return [
            f"max BPM jump {limit:g}%: {exceed}; the solver found no order that avoids them "
            "(the tempos allow one)"
        ]
    if bottleneck.exact:
        return [
            f"max BPM jump {limit:g}%: no order of these tracks keeps it; the smallest "
            f"possible largest jump is {bottleneck.jump:.1f}%; {exceed}"
        ]
    proven = "no order of these tracks keeps it" if bottleneck.bound > limit + 1e-9 else ""
    return [
        f"max BPM jump {limit:g}%: {proven or 'the solver found no order that keeps it'}; "
        f"the smallest largest jump found is {bottleneck.jump:.1f}%; {exceed}"
    ]
