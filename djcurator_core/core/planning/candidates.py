"""Candidate reduction: the few hundred tracks of a large pool that a --count/--duration set
is chosen from.

Selection (selection.py) works on the pool's n x n cost matrix: right for a few thousand
tracks, impossible for 100,000 (80 GB in float64). But a transition's score only sees
the two tracks' key, BPM and energy, so tracks with the same key, BPM (rounded to
`BPM_STEP`) and energy are interchangeable for it. A library of 100,000 tracks holds a
few thousand such classes, and the reduction works on the classes:

1. Group the tracks into classes; each class keeps up to `cap` members (the set's length
   in tracks: a set never needs more of one class), spread over their artists first
   (with an artist gap, two tracks of one artist cannot follow each other), then over
   their durations. Of two copies of one song only one is a candidate.
2. Score every class against every other in row blocks (no classes x classes matrix) and
   keep each class's NEIGHBOURS cheapest successor classes: the candidate lists a DJ
   would draw from the key and tempo windows around a track. The set's rules rank the
   neighbours as they rank transitions (set_rules): a jump above `max_bpm_jump` costs
   JUMP_COST, a move the harmonic mode does not allow (or a tempo change above the
   comfortable 6 %) UNMIXABLE_COST, a boost in moderate mode BOOST_COST.
3. A class's *potential* is the mean cost of the k - 1 cheapest transitions that its
   own members and its neighbours' members offer (k = the set's length in tracks): a
   class with many compatible neighbours, or many members, can carry a whole set. With
   an artist gap a class counts as many members as it has artists.
4. Seeds are taken best potential first (round robin over energy levels when an energy
   arc asks for a spread of energies; the pinned and included tracks' classes first);
   each seed adds its members and its cheapest neighbour classes until the candidates
   are full. For `--count auto` (the longest all-mixable set) the candidates grow from
   the best seed through the neighbour classes it can mix into, breadth first, so that
   they form one region a long mixable run can cross.

The selection then runs on the candidates' own (small) matrix as before, with every
rule. Quality: the benchmark (scripts/bench_scale.py) compares the chosen set with one
chosen from a random 2,000-track subset of the same pool (mean transition cost, mixable
share).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from djcurator_core.core.models import Track
from djcurator_core.core.rules.mixability import BOOST, CLASS_TABLE, allowed_keys
from djcurator_core.core.rules.scoring import (
    ScoringConfig,
    energy_score,
    harmonic_table,
    key_indices,
    part_table,
    tempo_change,
    tempo_score,
)
from djcurator_core.core.rules.set_rules import artist_ids, song_copies

REDUCE_ABOVE = 2_000  # pools up to this size go to the selection whole
BPM_STEP = 1.0  # BPM resolution of a class
ENERGY_STEP = 0.5  # energy resolution of a class
NEIGHBOURS = 24  # candidate classes kept per class
MIN_CANDIDATES = 300
MAX_CANDIDATES = 900
CANDIDATES_PER_TRACK = 20  # candidates per track of the set, between the two bounds
BLOCK = 512  # class rows scored at once
JUMP_COST = 2.0  # class cost added above --max-bpm-jump (ranking only)
UNMIXABLE_COST = 1.0  # ... for a move the harmonic mode does not allow (strict, moderate)
BOOST_COST = 0.5  # ... for a boost in moderate mode (allowed, but only a few times)
AUTO_CANDIDATES = 1_000  # --count auto on a large pool: the longest set is among these
AUTO_SET = 100  # --count auto: the set length the potentials are measured for


@dataclass(frozen=True)
class Classes:
    """Tracks grouped by (key, rounded BPM, rounded energy)."""

    of_track: np.ndarray  # (n,) class index of every track
    members: list[np.ndarray]  # track indices of every class
    key: np.ndarray  # (C,) key index (24 = unknown)
    bpm: np.ndarray  # (C,) BPM rounded to BPM_STEP (NaN = unknown)
    energy: np.ndarray  # (C,) energy rounded to ENERGY_STEP (NaN = unknown)

    def __len__(self) -> int:
        return len(self.members)


def _column(tracks: Sequence[Track], name: str) -> np.ndarray:
    return np.array([np.nan if getattr(t, name) is None else getattr(t, name) for t in tracks])


def group(tracks: Sequence[Track]) -> Classes:
    keys = key_indices(tracks).astype(np.int64)
    bpm = np.rint(_column(tracks, "bpm") / BPM_STEP) * BPM_STEP
    energy = np.rint(_column(tracks, "energy") / ENERGY_STEP) * ENERGY_STEP
    # one integer per (key, BPM, energy); NaN (unknown) becomes its own code
    bpm_code = np.where(np.isnan(bpm), -1, np.nan_to_num(bpm) / BPM_STEP).astype(np.int64)
    en_code = np.where(np.isnan(energy), -1, np.nan_to_num(energy) / ENERGY_STEP).astype(np.int64)
    code = (keys * 100_000 + (bpm_code + 1)) * 100 + (en_code + 1)
    _, first, of_track, counts = np.unique(
        code, return_index=True, return_inverse=True, return_counts=True
    )
    of_track = of_track.reshape(-1)
    by_class = np.argsort(of_track, kind="stable")
    members = np.split(by_class, np.cumsum(counts)[:-1])
    return Classes(of_track, members, keys[first], bpm[first], energy[first])


def class_neighbours(
    classes: Classes,
    scoring: ScoringConfig,
    k: int,
    max_bpm_jump: float | None = None,
    harmonic: str = "relaxed",
) -> tuple[np.ndarray, np.ndarray]:
    """(neighbours, costs): each class's k cheapest successor classes (itself excluded)
    and their transition costs with the rules' ranking costs, cheapest first. Row blocks
    gather from tables of the distinct values (as scoring.cost_matrix does): no classes x
    classes matrix."""
    c = len(classes)
    k = min(k, c - 1)
    wh, wt, we = scoring.weights()
    parts = [(wh, harmonic_table(scoring), classes.key)]
    for weight, values, part in (
        (wt, classes.bpm, tempo_score),
        (we, classes.energy, energy_score),
    ):
        table, index = part_table(values, part, scoring)  # rounded: few distinct values
        parts.append((weight, table, index))
    jump = None
    if max_bpm_jump is not None:

        def over(a, b, config: ScoringConfig) -> np.ndarray:
            with np.errstate(invalid="ignore"):
                return tempo_change(a, b, config.half_double_time)[0] > max_bpm_jump

        jump = part_table(classes.bpm, over, scoring)
    unmixable = None
    if harmonic != "relaxed":

        def uncomfortable(a, b, config: ScoringConfig) -> np.ndarray:
            forward = tempo_change(a, b, config.half_double_time)[0]
            backward = tempo_change(b, a, config.half_double_time)[0]
            with np.errstate(invalid="ignore"):
                return ~(np.maximum(forward, backward) <= config.max_bpm_jump + 1e-9)

        unmixable = part_table(classes.bpm, uncomfortable, scoring)
    nb = np.empty((c, k), dtype=np.int64)
    costs = np.empty((c, k))
    for lo in range(0, c, BLOCK):
        rows = slice(lo, min(lo + BLOCK, c))
        block = np.ones((rows.stop - lo, c))
        for weight, table, index in parts:
            block -= weight * table[index[rows, None], index[None, :]]
        if jump is not None:
            table, index = jump
            block += JUMP_COST * table[index[rows, None], index[None, :]]
        if unmixable is not None:
            table, index = unmixable
            moves = CLASS_TABLE[classes.key[rows, None], classes.key[None, :]]
            bad = ~allowed_keys(moves, harmonic) | table[index[rows, None], index[None, :]]
            block += UNMIXABLE_COST * bad
            if harmonic == "moderate":
                block += BOOST_COST * (moves == BOOST)
        block[np.arange(rows.stop - lo), np.arange(lo, rows.stop)] = np.inf
        part = np.argpartition(block, k - 1, axis=1)[:, :k]
        vals = np.take_along_axis(block, part, axis=1)
        order = np.argsort(vals, axis=1, kind="stable")
        nb[rows] = np.take_along_axis(part, order, axis=1)
        costs[rows] = np.take_along_axis(vals, order, axis=1)
    return nb, costs


def potentials(
    counts: np.ndarray, self_cost: np.ndarray, nb: np.ndarray, costs: np.ndarray, k: int
) -> np.ndarray:
    """Mean cost of the k - 1 cheapest transitions each class's neighbourhood offers: its
    own other members at `self_cost`, each neighbour class's members (at most k) at the
    cost to it; slots the neighbourhood cannot fill cost 1."""
    slots = max(1, k - 1)
    edge_cost = np.concatenate([self_cost[:, None], costs], axis=1)
    edge_count = np.concatenate([counts[:, None] - 1, counts[nb]], axis=1)
    edge_count = np.minimum(edge_count, k)
    order = np.argsort(edge_cost, axis=1, kind="stable")
    edge_cost = np.take_along_axis(edge_cost, order, axis=1)
    edge_count = np.take_along_axis(edge_count, order, axis=1)
    before = np.cumsum(edge_count, axis=1) - edge_count
    used = np.clip(slots - before, 0, edge_count)
    total = (edge_cost * used).sum(axis=1) + np.maximum(0, slots - used.sum(axis=1))
    return total / slots


def _spread(
    members: np.ndarray, durations: np.ndarray, cap: int, artists: np.ndarray | None = None
) -> np.ndarray:
    """Up to `cap` members, evenly spread over their durations (short and long ones); with
    `artists`, one track per artist before any artist's second (a set that keeps an
    artist gap cannot chain one artist's tracks)."""
    if len(members) <= cap:
        return members
    ranked = members[np.argsort(durations[members], kind="stable")]
    if artists is None:
        return ranked[np.linspace(0, len(ranked) - 1, cap).round().astype(int)]
    seen: dict[int, int] = {}
    tier = np.empty(len(ranked), dtype=np.int64)
    for i, track in enumerate(ranked.tolist()):
        artist = int(artists[track])
        tier[i] = 0 if artist < 0 else seen.get(artist, 0)
        if artist >= 0:
            seen[artist] = tier[i] + 1
    picked: list[int] = []
    for level in np.unique(tier):
        group = ranked[tier == level]
        need = cap - len(picked)
        if len(group) > need:
            group = group[np.linspace(0, len(group) - 1, need).round().astype(int)]
        picked.extend(group.tolist())
        if len(picked) >= cap:
            break
    return np.array(picked, dtype=members.dtype)


def _usable(classes: Classes, artists: np.ndarray | None) -> np.ndarray:
    """Members of each class that can follow one another: all of them, or with an artist
    gap as many as the class has artists (tracks without an artist count one each)."""
    counts = np.array([len(m) for m in classes.members])
    if artists is None:
        return counts
    return np.array(
        [
            len(set(a[a >= 0].tolist())) + int((a < 0).sum())
            for a in map(artists.__getitem__, classes.members)
        ]
    )


def set_length(tracks: Sequence[Track], count: int | None, duration: float | None) -> int:
    """The set's length in tracks: the count, or the duration in median-length tracks."""
    if count is not None:
        return count
    known = [t.duration for t in tracks if t.duration]
    median = float(np.median(known)) if known else 360.0
    return max(2, math.ceil(duration / median) + 1) if duration else 2


def candidate_limit(k: int) -> int:
    return int(min(MAX_CANDIDATES, max(MIN_CANDIDATES, CANDIDATES_PER_TRACK * k)))


def reduce_pool(
    tracks: Sequence[Track],
    *,
    count: int | Literal["auto"] | None = None,
    duration: float | None = None,
    pins: Sequence[int] = (),
    scoring: ScoringConfig | None = None,
    max_bpm_jump: float | None = None,
    energy_arc: str = "none",
    limit: int | None = None,
    harmonic: str = "relaxed",
    artist_gap: int = 0,
    copies: dict[int, list[int]] | None = None,
) -> list[int]:
    """Indices (ascending) of the candidate tracks a set of `count` tracks (or "auto") or
    `duration` seconds is chosen from; the pinned (and included) indices always among
    them, and of two copies of one song (set_rules.song_copies; `copies`: the caller's,
    if it has them) only one."""
    scoring = scoring or ScoringConfig()
    auto = count == "auto"
    k = AUTO_SET if auto else set_length(tracks, count, duration)
    limit = limit or (AUTO_CANDIDATES if auto else candidate_limit(k))
    if copies is None:
        copies = song_copies(tracks, pins)
    dropped = {i for others in copies.values() for i in others}
    kept = [i for i in range(len(tracks)) if i not in dropped]
    if len(kept) <= limit:
        return kept
    if len(kept) < len(tracks):  # reduce the tracks that are left, in the pool's indices
        position = {t: p for p, t in enumerate(kept)}
        inner = reduce_pool(
            [tracks[i] for i in kept],
            count=count,
            duration=duration,
            pins=[position[p] for p in pins],
            scoring=scoring,
            max_bpm_jump=max_bpm_jump,
            energy_arc=energy_arc,
            limit=limit,
            harmonic=harmonic,
            artist_gap=artist_gap,
            copies={},
        )
        return [kept[i] for i in inner]
    classes = group(tracks)
    durations = np.array([t.duration or 0.0 for t in tracks])
    artists = artist_ids(tracks) if artist_gap >= 1 else None
    counts = _usable(classes, artists)
    nb, costs = class_neighbours(classes, scoring, NEIGHBOURS, max_bpm_jump, harmonic)
    # a class's members among themselves: same key, tempo within BPM_STEP, same energy
    self_cost = np.where(
        (classes.key == 24) | np.isnan(classes.bpm) | np.isnan(classes.energy),
        1.0 - scoring.neutral,
        0.0,
    )
    potential = potentials(counts, self_cost, nb, costs, k)
    if auto:
        seeds = _region_order(potential, nb, costs)
    else:
        seeds = _seed_order(potential, classes, energy_arc)
    pin_classes = [int(classes.of_track[p]) for p in pins]
    chosen: list[int] = [int(p) for p in pins]
    taken = np.zeros(len(classes), dtype=bool)
    need_seconds = 1.5 * duration if duration else 0.0

    def full() -> bool:
        return len(chosen) >= limit and float(durations[chosen].sum()) >= need_seconds

    for seed in [*pin_classes, *seeds]:
        if full():
            break
        added = 0
        for cls in [seed] if auto else [seed, *nb[seed].tolist()]:
            if added >= 2 * k or full():
                break
            if taken[cls]:
                continue
            taken[cls] = True
            picked = [int(i) for i in _spread(classes.members[cls], durations, k, artists)]
            picked = [i for i in picked if i not in pins]
            chosen.extend(picked)
            added += len(picked)
    return sorted(set(chosen))


def _region_order(potential: np.ndarray, nb: np.ndarray, costs: np.ndarray) -> list[int]:
    """Classes breadth first from the best potential through the neighbours each class
    mixes into (a cost below the rules' ranking costs), then the rest by potential: for
    --count auto, candidates that a long mixable run can cross."""
    ranked = np.argsort(potential, kind="stable").tolist()
    seen = np.zeros(len(potential), dtype=bool)
    order: list[int] = []
    for root in ranked:
        if seen[root]:
            continue
        seen[root] = True
        queue = deque([root])
        while queue:
            cls = queue.popleft()
            order.append(cls)
            for other, cost in zip(nb[cls].tolist(), costs[cls].tolist(), strict=True):
                if not seen[other] and cost < 1.0:
                    seen[other] = True
                    queue.append(other)
    return order


def _seed_order(potential: np.ndarray, classes: Classes, energy_arc: str) -> list[int]:
    """Classes by potential; with an energy arc, round robin over the energy levels so that
    the candidates cover the range the arc climbs through."""
    ranked = np.argsort(potential, kind="stable")
    if energy_arc == "none":
        return ranked.tolist()
    levels: dict[float, list[int]] = {}
    for cls in ranked.tolist():
        energy = classes.energy[cls]
        levels.setdefault(-1.0 if np.isnan(energy) else round(float(energy)), []).append(cls)
    queues = [levels[level] for level in sorted(levels)]
    order: list[int] = []
    for i in range(max(len(q) for q in queues)):
        order.extend(q[i] for q in queues if i < len(q))
    return order
