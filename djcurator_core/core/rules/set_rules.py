"""The rules a set must keep, as solver costs: tempo limit, mixability, artist gap, one copy.

The solvers minimise one number per order, so the rules are costs in levels, each level
larger than everything below it can add up to over a whole order (a lexicographic
objective):

    FORBIDDEN   a tempo jump above the smallest largest jump the pool allows
                (`mixability.bottleneck_jump`; only above the `max_bpm_jump` limit)
    CONSTRAINT  a jump above `max_bpm_jump` (only where no order keeps it), the same
                artist back to back (artist gap >= 1)
    UNMIXABLE   a transition the harmonic mode does not allow, or a tempo change above the
                comfortable jump (strict and moderate modes; relaxed has no such level)
    (ordinary)  the transition cost of `scoring` plus the energy arc

So an order breaks a rule only where every order of the tracks would, the largest jump is
the smallest possible, and among the orders that keep the rules the transitions are as
good as they can be. An artist gap K > 1 (no artist twice within K tracks) is not a
property of one transition; `repair_artist_gap` moves tracks after the solve.

Same song twice (same artist and title in two files, e.g. an MP3 and a FLAC of one
track): `drop_duplicates` keeps one copy and says which.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from djcurator_core.core.models import Track
from djcurator_core.core.rules.energy_arc import arc_penalty
from djcurator_core.core.solver import optimizer
from djcurator_core.core.solver.optimizer import PositionPenalty
from djcurator_core.core.solver.sequencing import SequencingError, SolverRequest, greedy, path_cost

_FEATURING = re.compile(r"\s+(feat\.?|ft\.?|featuring|vs\.?|x|&|and)\s+.*$", re.IGNORECASE)


def artist_key(track: Track) -> str | None:
    """The main artist, normalised ("Kaiho feat. X" and "kaiho" are one artist); None
    when the track names no artist (no gap rule applies to it)."""
    artist = " ".join(track.artist.split()).casefold()
    if not artist:
        return None
    return _FEATURING.sub("", artist).strip(" ,;") or artist


def artist_ids(tracks: Sequence[Track]) -> np.ndarray:
    """An integer per track, equal for the same main artist; -1 for no artist."""
    ids: dict[str, int] = {}
    out = np.full(len(tracks), -1, dtype=np.int64)
    for i, track in enumerate(tracks):
        key = artist_key(track)
        if key is not None:
            out[i] = ids.setdefault(key, len(ids))
    return out


def same_artist(artists: np.ndarray) -> np.ndarray:
    """n x n bool: both tracks by the same (known) artist; False on the diagonal."""
    same = (artists[:, None] == artists[None, :]) & (artists[:, None] >= 0)
    np.fill_diagonal(same, False)
    return same


# --- levels ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Levels:
    """Penalty per broken rule; each dominates every lower level summed over an order."""

    unmixable: float
    constraint: float
    forbidden: float

    @classmethod
    def for_orders(cls, n: int, ordinary_bound: float) -> Levels:
        """`ordinary_bound`: more than any order's ordinary cost (transitions + arc)."""
        unmixable = ordinary_bound + 1.0
        constraint = (n + 1) * unmixable + ordinary_bound
        forbidden = (n + 1) * constraint
        return cls(unmixable, constraint, forbidden)

    def with_arc(self, n: int, arc_max_in_unmixable: float) -> Levels:
        """Levels for an arc weighed in units of unmixable transitions (at most
        `arc_max_in_unmixable` of them per track): the constraint levels grow above it."""
        below = (n + 1) * self.unmixable * (1.0 + arc_max_in_unmixable)
        constraint = below + self.unmixable
        return Levels(self.unmixable, constraint, (n + 1) * constraint)


# Strict and moderate sets weigh an energy arc in units of unmixable transitions: with the
# default weight (0.5) a track one energy level off its target costs ARC_UNIT * 0.5 *
# ARC_RULE_SCALE = 1 unmixable transition. An arc asked for is followed even on short sets
# (measured on 16 draws of 8-15 house/techno tracks from the benchmark data: rank
# correlation 0.73-0.98, 0.13-0.85 with the arc weighed like ordinary costs); the tempo
# limit and the artist gap still rank above it.
ARC_RULE_SCALE = 20.0


def arc_rule_penalty(
    tracks: Sequence[Track], options, unmixable: float | None, notes: list[str]
) -> PositionPenalty | None:
    """The energy arc the solver follows for `options` (a `SetOptions`), or None.

    One place for what planning's sets and whole pools both decide: an arc needs two
    distinct energies and the ils solver (otherwise a note says it was ignored), and in
    strict and moderate (`unmixable`: that level's cost, None in relaxed) it is weighed in
    unmixable transitions (ARC_RULE_SCALE) instead of being drowned by them."""
    penalty = arc_penalty(tracks, options.energy_arc, options.arc_weight)
    if options.energy_arc != "none" and penalty is None and options.arc_weight > 0:
        notes.append(
            f"energy arc {options.energy_arc!r} ignored: the tracks have fewer than two "
            "distinct energy values"
        )
    if penalty is not None and options.solver != "ils":
        notes.append(
            f"energy arc {options.energy_arc!r} ignored: only the ils solver follows an arc "
            f"(solver {options.solver!r})"
        )
        return None
    if penalty is not None and unmixable is not None:
        return PositionPenalty(
            table=penalty.table * unmixable * ARC_RULE_SCALE, level=penalty.level
        )
    return penalty


def search_slack(ordinary: np.ndarray) -> float:
    """The optimiser's acceptance slack for a rules matrix: ACCEPT_SLACK times the mean
    transition of a greedy order of the ordinary costs (the penalties must not count: an
    average that counted them would let the search wander far from good orders)."""
    n = len(ordinary)
    if n < 2:
        return 0.0
    sample = np.asarray(ordinary if n <= 400 else ordinary[:400, :400], dtype=np.float64)
    mean = path_cost(sample, greedy(sample, SolverRequest())) / (len(sample) - 1)
    return optimizer.ACCEPT_SLACK * 0.8 * mean


def ordinary_bound(matrix: np.ndarray, arc_max_per_track: float = 0.0) -> float:
    """More than the ordinary cost of any order: every transition at the matrix's maximum
    plus every track at the arc's largest penalty."""
    n = len(matrix)
    top = float(matrix.max(initial=0.0)) if n else 0.0
    return max(top, 0.0) * max(n - 1, 0) + arc_max_per_track * n + 1.0


def rule_penalties(
    jumps: np.ndarray,
    levels: Levels,
    *,
    limit: float | None,
    bottleneck: float | None = None,
    unmixable: np.ndarray | None = None,
    same_artist_pairs: np.ndarray | None = None,
    first_row: int = 0,
) -> np.ndarray:
    """The rules' extra cost of every transition (0 on the diagonal).

    `limit`: max_bpm_jump (None: no limit); `bottleneck`: the smallest largest jump of the
    tracks when it is above the limit (jumps above it are FORBIDDEN, jumps between the
    limit and it are CONSTRAINT); `unmixable`: transitions the harmonic mode rules out.
    The arrays may be a block of rows of the pool's matrices, from row `first_row` on
    (large pools add the rules block by block, whole_pool.py).
    """
    extra = np.zeros(jumps.shape)
    with np.errstate(invalid="ignore"):
        if limit is not None:
            extra += levels.constraint * (jumps > limit + 1e-9)
            if bottleneck is not None and bottleneck > limit:
                extra += levels.forbidden * (jumps > bottleneck + 1e-9)
    if unmixable is not None:
        extra += levels.unmixable * unmixable
    if same_artist_pairs is not None:
        extra += levels.constraint * same_artist_pairs
    rows = np.arange(min(len(extra), extra.shape[1] - first_row))
    extra[rows, first_row + rows] = 0.0
    return extra


# --- artist gap ----------------------------------------------------------------------------


def artist_gap_violations(order: Sequence[int], artists: np.ndarray, gap: int) -> int:
    """Pairs of tracks by the same artist fewer than gap + 1 positions apart (tracks without
    an artist, id < 0, are free). Vectorised by distance: orders of thousands of tracks
    cost a few array comparisons."""
    a = np.asarray(artists)[np.asarray(order, dtype=np.int64)]
    return sum(
        int(((a[:-d] == a[d:]) & (a[d:] >= 0)).sum()) for d in range(1, min(gap, len(a) - 1) + 1)
    )


def smallest_artist_gap(order: Sequence[int], artists: np.ndarray) -> int | None:
    """Fewest tracks between two tracks by the same artist (0 = back to back); None when no
    artist appears twice."""
    last: dict[int, int] = {}
    smallest = None
    for position, track in enumerate(order):
        artist = int(artists[track])
        if artist < 0:
            continue
        if artist in last:
            between = position - last[artist] - 1
            smallest = between if smallest is None else min(smallest, between)
        last[artist] = position
    return smallest


def repair_artist_gap(
    order: Sequence[int],
    cost: np.ndarray,
    artists: np.ndarray,
    gap: int,
    fixed_start: bool = False,
    fixed_end: bool = False,
    max_moves: int | None = None,
) -> list[int]:
    """Move single tracks until no artist repeats within `gap` tracks, or no move helps.

    Each step takes the move (a track of a violating pair moved to another position, or
    swapped with another track) that removes the most violations, the cheapest by `cost`
    among those; pinned ends stay. Used for
    gaps above 1 (a gap of 1 is an arc cost the solver handles itself).
    """
    order = list(order)
    n = len(order)
    if gap <= 0 or n < 3:
        return order
    max_moves = max_moves if max_moves is not None else 4 * n
    lo = 1 if fixed_start else 0
    hi = n - 1 if fixed_end else n  # positions lo..hi-1 may change

    def path(o):
        idx = np.asarray(o)
        return float(cost[idx[:-1], idx[1:]].sum())

    current = artist_gap_violations(order, artists, gap)
    for _ in range(max_moves):
        if current == 0:
            break
        culprits = set()
        for position, track in enumerate(order):
            artist = artists[track]
            if artist < 0:
                continue
            for offset in range(1, gap + 1):
                if position + offset < n and artists[order[position + offset]] == artist:
                    culprits.update((position, position + offset))
        best = None
        for source in sorted(culprits):
            if not lo <= source < hi:
                continue
            track = order[source]
            rest = order[:source] + order[source + 1 :]
            for target in range(lo, hi):
                if target == source:
                    continue
                moved = rest[:target] + [track] + rest[target:]
                swapped = list(order)
                swapped[source], swapped[target] = swapped[target], swapped[source]
                for candidate in (moved, swapped):
                    violations = artist_gap_violations(candidate, artists, gap)
                    if violations >= current:
                        continue
                    key = (violations, path(candidate))
                    if best is None or key < best[0]:
                        best = (key, candidate)
        if best is None:
            break
        order = best[1]
        current = best[0][0]
    return order


def spread_artists(
    order: Sequence[int],
    cost: np.ndarray,
    artists: np.ndarray,
    gap: int,
    fixed_start: bool = False,
    fixed_end: bool = False,
    max_passes: int = 20,
) -> list[int]:
    """`repair_artist_gap` for orders of thousands of tracks (large pools).

    `repair_artist_gap` tries every move of every culprit and prices each by the whole
    path: O(n^2) orders per step, out of reach at 10,000 tracks. Here each track of a
    violating pair is moved, in turn, to the cheapest position with no track of its
    artist within `gap`, or swapped with a track that fits where it stands, priced by the
    transitions that change (O(n) per track, read from `cost`, e.g. the large pool's
    float32 rules matrix). A move is made when it removes more violations than it makes
    (taking a track out closes up its neighbours, which can bring a pair within the gap;
    a swap closes nothing up), and of the candidate moves of a pair's two tracks the one
    that leaves fewest violations, then costs least. Passes over the culprits repeat while
    they find moves; pins stay.
    """
    order = np.asarray(order, dtype=np.int64)
    n = len(order)
    if gap <= 0 or n < 3:
        return order.tolist()
    lo = 1 if fixed_start else 0
    hi = n - 1 if fixed_end else n  # positions lo..hi-1 may change
    for _ in range(max_passes):
        a = artists[order]
        pairs = []
        for d in range(1, gap + 1):
            hits = np.flatnonzero((a[:-d] == a[d:]) & (a[d:] >= 0))
            pairs.extend(zip(order[hits].tolist(), order[hits + d].tolist(), strict=True))
        if not pairs:
            break
        moved = False
        for first, second in pairs:
            where = np.empty(n, dtype=np.int64)
            where[order] = np.arange(n)
            p, q = int(where[first]), int(where[second])
            if abs(p - q) > gap:
                continue  # an earlier move separated them
            best = None
            for source in (p, q):
                if not lo <= source < hi:
                    continue
                for found in (
                    _moved_apart(order, source, cost, artists, gap, lo, hi),
                    _swapped_apart(order, source, cost, artists, gap, lo, hi),
                ):
                    if found is not None and (best is None or found[0] < best[0]):
                        best = found
            if best is not None:
                order = best[1]
                moved = True
        if not moved:
            break
    return order.tolist()


def _moved_apart(order, source, cost, artists, gap, lo, hi):
    """(net violations, cost change, new order) for the track at `source` moved to its
    cheapest position with no track of its artist within `gap`; None when there is none
    or when the move makes as many violations as it removes."""
    n = len(order)
    track = int(order[source])
    artist = artists[track]
    near = order[max(0, source - gap) : source + gap + 1]
    removed = int((artists[near] == artist).sum()) - 1  # pairs with the track itself
    # closing up: pairs exactly gap + 1 apart across the source come within the gap
    made = 0
    for before in range(1, gap + 1):
        after = gap + 1 - before
        i, j = source - before, source + after
        if i >= 0 and j < n and artists[order[i]] >= 0 and artists[order[i]] == artists[order[j]]:
            made += 1
    if made >= removed:
        return None
    rest = np.delete(order, source)
    change = 0.0
    if source > 0:
        change -= float(cost[order[source - 1], track])
    if source < n - 1:
        change -= float(cost[track, order[source + 1]])
    if 0 < source < n - 1:
        change += float(cost[order[source - 1], order[source + 1]])
    # insertion at q puts the track at index q of the new order: q in lo..hi-1
    q = np.arange(lo, hi)
    added = np.zeros(len(q))
    left = q > 0
    right = q < n - 1
    added[left] += cost[rest[q[left] - 1], track]
    added[right] += cost[track, rest[q[right]]]
    both = left & right
    added[both] -= cost[rest[q[both] - 1], rest[q[both]]]
    ok = np.ones(len(q), dtype=bool)
    for s in np.flatnonzero(artists[rest] == artist):
        ok[(q >= s + 1 - gap) & (q <= s + gap)] = False
    if not ok.any():
        return None
    k = int(np.argmin(np.where(ok, added, np.inf)))
    return (made - removed, change + float(added[k])), np.insert(rest, int(q[k]), track)


def _swapped_apart(order, source, cost, artists, gap, lo, hi):
    """(net violations, cost change, new order) for the track at `source` swapped with the
    cheapest track elsewhere such that neither has a track of its artist within `gap`;
    None when no track fits."""
    n = len(order)
    track = int(order[source])
    artist = artists[track]
    near = order[max(0, source - gap) : source + gap + 1]
    removed = int((artists[near] == artist).sum()) - 1
    r = np.arange(lo, hi)
    ok = np.abs(r - source) > gap  # windows apart: the costs and checks stay simple
    a = artists[order]
    for s in np.flatnonzero(a == artist):  # the track's artist near its new place
        ok[np.abs(r - s) <= gap] = False
    others = a[r]
    around = set(a[max(0, source - gap) : source + gap + 1].tolist()) - {-1}
    ok &= (others < 0) | ~np.isin(others, list(around))  # the other's artist near source
    if not ok.any():
        return None
    # the other track's own violations at r vanish too (a bonus, not counted)
    x = order[r]

    def step(left, right, valid):
        out = np.zeros(len(r))
        out[valid] = cost[left[valid], right[valid]]
        return out

    prev_r = order[np.maximum(r - 1, 0)]
    next_r = order[np.minimum(r + 1, n - 1)]
    has_prev, has_next = r > 0, r < n - 1
    track_col = np.full(len(r), track)
    change = (
        step(prev_r, track_col, has_prev)
        + step(track_col, next_r, has_next)
        - step(prev_r, x, has_prev)
        - step(x, next_r, has_next)
    )
    if source > 0:
        before = order[source - 1]
        change += cost[before, x] - cost[before, track]
    if source < n - 1:
        after = order[source + 1]
        change += cost[x, after] - cost[track, after]
    k = int(np.argmin(np.where(ok, change, np.inf)))
    swapped = order.copy()
    swapped[source], swapped[r[k]] = swapped[r[k]], track
    return (-removed, float(change[k])), swapped


# --- one copy of each song -------------------------------------------------------------------


def _song_key(track: Track) -> tuple[str, str] | None:
    artist = " ".join(track.artist.split()).casefold()
    title = " ".join(track.title.split()).casefold()
    return (artist, title) if artist and title else None


def _completeness(track: Track) -> int:
    return sum(value is not None for value in (track.bpm, track.key, track.energy, track.duration))


def song_copies(tracks: Sequence[Track], protected: Sequence[int] = ()) -> dict[int, list[int]]:
    """{kept copy: the other copies} for every song found more than once.

    Of the copies of one song (same artist and title, case and spacing ignored) the set
    keeps a protected one (pinned or included) if any, else the one with the most DJ data
    (BPM, key, energy, duration), else the first. Two protected copies are an error."""
    protected_set = set(protected)
    groups: dict[tuple[str, str], list[int]] = {}
    for index, track in enumerate(tracks):
        key = _song_key(track)
        if key is not None:
            groups.setdefault(key, []).append(index)
    out = {}
    for copies in groups.values():
        if len(copies) < 2:
            continue
        keep = min(copies, key=lambda i: (i not in protected_set, -_completeness(tracks[i]), i))
        others = [i for i in copies if i != keep]
        if protected_set.intersection(others):
            names = ", ".join(repr(tracks[i].id) for i in [keep, *others] if i in protected_set)
            raise_duplicate_pins(tracks[keep], names)
        out[keep] = others
    return out


def copies_note(tracks: Sequence[Track], keep: int, others: Sequence[int]) -> str:
    where = ", ".join(_where(tracks[i]) for i in others)
    return f"same song twice: {tracks[keep].label!r}: kept {_where(tracks[keep])}, left out {where}"


def drop_duplicates(
    tracks: Sequence[Track], protected: Sequence[int] = ()
) -> tuple[list[int], list[str]]:
    """(indices of the tracks to keep, one note per song found twice): `song_copies`; the
    note names the kept and the dropped files."""
    copies = song_copies(tracks, protected)
    dropped = {i for others in copies.values() for i in others}
    notes = [copies_note(tracks, keep, others) for keep, others in copies.items()]
    return [i for i in range(len(tracks)) if i not in dropped], notes


def _where(track: Track) -> str:
    return f"{track.id} ({track.path})" if track.path else track.id


class DuplicateSongError(SequencingError):
    """Two copies of one song are both pinned or included."""


def raise_duplicate_pins(track: Track, names: str) -> None:
    raise DuplicateSongError(
        f"tracks {names} are the same song ({track.label}): pin or include only one of them"
    )
