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
from djcurator_core.core.sequencing import SequencingError

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
) -> np.ndarray:
    """The rules' extra cost of every transition (0 on the diagonal).

    `limit`: max_bpm_jump (None: no limit); `bottleneck`: the smallest largest jump of the
    tracks when it is above the limit (jumps above it are FORBIDDEN, jumps between the
    limit and it are CONSTRAINT); `unmixable`: transitions the harmonic mode rules out.
    """
    n = len(jumps)
    extra = np.zeros((n, n))
    with np.errstate(invalid="ignore"):
        if limit is not None:
            extra += levels.constraint * (jumps > limit + 1e-9)
            if bottleneck is not None and bottleneck > limit:
                extra += levels.forbidden * (jumps > bottleneck + 1e-9)
    if unmixable is not None:
        extra += levels.unmixable * unmixable
    if same_artist_pairs is not None:
        extra += levels.constraint * same_artist_pairs
    np.fill_diagonal(extra, 0.0)
    return extra


# --- artist gap ----------------------------------------------------------------------------


def artist_gap_violations(order: Sequence[int], artists: np.ndarray, gap: int) -> int:
    """Pairs of tracks by the same artist fewer than gap + 1 positions apart."""
    if gap <= 0:
        return 0
    count = 0
    for position, track in enumerate(order):
        artist = artists[track]
        if artist < 0:
            continue
        for other in order[position + 1 : position + 1 + gap]:
            count += artists[other] == artist
    return count


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


# --- one copy of each song -------------------------------------------------------------------


def _song_key(track: Track) -> tuple[str, str] | None:
    artist = " ".join(track.artist.split()).casefold()
    title = " ".join(track.title.split()).casefold()
    return (artist, title) if artist and title else None


def _completeness(track: Track) -> int:
    return sum(value is not None for value in (track.bpm, track.key, track.energy, track.duration))


def drop_duplicates(
    tracks: Sequence[Track], protected: Sequence[int] = ()
) -> tuple[list[int], list[str]]:
    """(indices of the tracks to keep, one note per song found twice).

    Of the copies of one song (same artist and title, case and spacing ignored) the set
    keeps a protected one (pinned or included) if any, else the one with the most DJ data
    (BPM, key, energy, duration), else the first; the note names the kept and the dropped
    files."""
    protected_set = set(protected)
    groups: dict[tuple[str, str], list[int]] = {}
    for index, track in enumerate(tracks):
        key = _song_key(track)
        if key is not None:
            groups.setdefault(key, []).append(index)
    dropped: set[int] = set()
    notes = []
    for copies in groups.values():
        if len(copies) < 2:
            continue
        keep = min(copies, key=lambda i: (i not in protected_set, -_completeness(tracks[i]), i))
        others = [i for i in copies if i != keep]
        if protected_set.intersection(others):
            names = ", ".join(repr(tracks[i].id) for i in [keep, *others] if i in protected_set)
            raise_duplicate_pins(tracks[keep], names)
        dropped.update(others)
        where = ", ".join(_where(tracks[i]) for i in others)
        notes.append(
            f"same song twice: {tracks[keep].label!r}: kept {_where(tracks[keep])}, "
            f"left out {where}"
        )
    return [i for i in range(len(tracks)) if i not in dropped], notes


def _where(track: Track) -> str:
    return f"{track.id} ({track.path})" if track.path else track.id


class DuplicateSongError(SequencingError):
    """Two copies of one song are both pinned or included."""


def raise_duplicate_pins(track: Track, names: str) -> None:
    raise DuplicateSongError(
        f"tracks {names} are the same song ({track.label}): pin or include only one of them"
    )
