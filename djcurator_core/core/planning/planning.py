"""From tracks and set options to an order: the one entry point every shell calls.

`SetOptions` (set_options.py) is what a user can ask for (solver, pinned ends, tempo
limit, harmonic mode, artist gap, must-include tracks, energy arc, set length);
`plan_order` turns it into a cost matrix with the set's rules as penalties
(`set_rules`), picks the set's tracks when a count or duration is asked for
(`selection`, or `longest_mixable` for `count="auto"`), and runs the solver.

- Same song twice (same artist and title): one copy is kept, a note names both files.
- count / duration: one or the other; SetOptions refuses both together (and "auto" with
  a duration).
- max_bpm_jump (default 8 %): a constraint wherever the tracks allow it. Where no order
  keeps it, the set has the smallest possible largest jump (`mixability.bottleneck_jump`)
  and a note names the transitions above the limit.
- harmonic: "strict" (default) and "moderate" make every transition the mode does not
  allow (and every tempo change above the comfortable 6 %) cost more than all ordinary
  costs together: the order has as few unmixable transitions as the search can find.
  "moderate" allows boosts up to `max_boosts`; "relaxed" orders by the scores alone.
- artist_gap K (default 1): no artist twice within K tracks; 0 turns it off.
- include: track ids that must be in a count/duration set.
- energy_arc: a position-dependent penalty (`energy_arc.arc_penalty`) that the "ils"
  solver adds to the transition costs; the baseline solvers ignore it (noted).
- duration counts the set as played: a track with a structure adds its length from its
  mix-in to its mix-out with an expected 16-bar overlap (`mix_points.planned_length`),
  so each overlap counts once, and the first track's lead-in and the last one's tail
  are kept free (`_played_budget`); the report then shows the length as played.
- recent sets (scheduled runs, `held_back`): tracks of the last sets are left out while
  the pool has enough others.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from djcurator_core.core.mixing.mix_points import planned_length, planned_margin
from djcurator_core.core.models import Track
from djcurator_core.core.options.set_options import SetOptions
from djcurator_core.core.planning import candidates
from djcurator_core.core.planning.selection import select
from djcurator_core.core.rules.energy_arc import ARC_UNIT
from djcurator_core.core.rules.mixability import (
    BOOST,
    allowed_keys,
    bottleneck_jump,
    descending_tempo_order,
    largest_jump,
    move_classes,
    tempo_mixable,
)
from djcurator_core.core.rules.scoring import ScoringConfig, cost_matrix, part_table, tempo_change
from djcurator_core.core.rules.set_rules import (
    ARC_RULE_SCALE,
    Levels,
    arc_rule_penalty,
    artist_gap_violations,
    artist_ids,
    copies_note,
    drop_duplicates,
    ordinary_bound,
    repair_artist_gap,
    rule_penalties,
    same_artist,
    search_slack,
    song_copies,
    spread_artists,
)
from djcurator_core.core.solver import optimizer
from djcurator_core.core.solver.longest_mixable import POOL_EFFORT, longest_mixable
from djcurator_core.core.solver.sequencing import (
    SequencingError,
    SolverRequest,
    check_pins,
    greedy,
    path_cost,
    place_pins,
    solve,
    solver_named,
)
from djcurator_core.core.solver.whole_pool import COMPACT_ABOVE, order_whole_pool

REPAIR_WHOLE_MAX = 200  # artist gap repairs priced by the whole path up to this many tracks
# count auto: the set comes all-mixable out of longest_mixable and is ordered once more
# to polish its transitions; above this many tracks with the pool step's lighter effort
# (1,070 tracks: 11 s of 23 s with the full effort, on a busy machine)
POLISH_FULL_MAX = 300
POLISH_EFFORT = POOL_EFFORT
MIN_SEARCH_BUDGET = 0.05  # seconds the solver always gets, even after a slow matrix


def pin_index(tracks: Sequence[Track], track_id: str | None, which: str) -> int | None:
    if track_id is None:
        return None
    for index, track in enumerate(tracks):
        if track.id == track_id:
            return index
    raise SequencingError(f"{which} track id {track_id!r} is not among the tracks")


@dataclass(frozen=True)
class Plan:
    order: list[int]  # indices into the tracks, in set order
    notes: list[str] = field(default_factory=list)  # limits that could not be respected


def bpm_jumps(tracks: Sequence[Track], scoring: ScoringConfig) -> np.ndarray:
    """n x n symmetric percent tempo jump between tracks (from the slower to the faster,
    half/double time aware, `mixability.symmetric_jump`); NaN if unknown."""
    bpm = np.array([np.nan if t.bpm is None else t.bpm for t in tracks], dtype=float)

    def pct(a, b, config: ScoringConfig) -> np.ndarray:
        forward = tempo_change(a, b, config.half_double_time)[0]
        backward = tempo_change(b, a, config.half_double_time)[0]
        return np.maximum(forward, backward)

    # through the table of distinct BPM values, as in cost_matrix (10,000 tracks: 11 s and
    # several GB of n x n temporaries pair by pair)
    tabled = part_table(bpm, pct, scoring)
    if tabled is None:
        return pct(bpm[:, None], bpm[None, :], scoring)
    table, index = tabled
    return table[index[:, None], index[None, :]]


@dataclass(frozen=True)
class _Rules:
    """The pool's matrices that the rules are made of (indices into the pool)."""

    ordinary: np.ndarray  # cost_matrix
    jumps: np.ndarray  # percent tempo change, NaN if unknown
    unmixable: np.ndarray | None  # transitions the harmonic mode rules out (None: relaxed)
    boosts: np.ndarray  # key moves that are boosts
    artists: np.ndarray  # artist_ids
    same_artist: np.ndarray | None  # back-to-back pairs the artist gap forbids
    levels: Levels

    def matrix(self, sub=None, bottleneck: float | None = None, limit=None, boost_cost=0.0):
        """The rules matrix of the tracks `sub` (all when None)."""
        pick = (lambda m: m) if sub is None else (lambda m: m[np.ix_(sub, sub)])
        unmix = None if self.unmixable is None else pick(self.unmixable)
        same = None if self.same_artist is None else pick(self.same_artist)
        extra = rule_penalties(
            pick(self.jumps),
            self.levels,
            limit=limit,
            bottleneck=bottleneck,
            unmixable=unmix,
            same_artist_pairs=same,
        )
        out = pick(self.ordinary) + extra
        if boost_cost:
            out = out + boost_cost * pick(self.boosts)
        return out

    def allowed(self, limit) -> np.ndarray:
        """Transitions that break no rule (for count auto)."""
        ok = np.ones(self.ordinary.shape, dtype=bool)
        if self.unmixable is not None:
            ok &= ~self.unmixable
        if self.same_artist is not None:
            ok &= ~self.same_artist
        if limit is not None:
            with np.errstate(invalid="ignore"):
                ok &= ~(self.jumps > limit + 1e-9)
        return ok


def _rules(tracks: Sequence[Track], options: SetOptions) -> _Rules:
    ordinary = cost_matrix(tracks, options.scoring)
    jumps = bpm_jumps(tracks, options.scoring)
    classes = move_classes(tracks)
    unmixable = None
    if options.harmonic != "relaxed":
        keys_ok = allowed_keys(classes, options.harmonic)
        unmixable = ~(keys_ok & tempo_mixable(jumps, options.scoring))
        np.fill_diagonal(unmixable, False)
    artists = artist_ids(tracks)
    same = same_artist(artists) if options.artist_gap >= 1 else None
    arc_max = options.arc_weight * ARC_UNIT * 9 if options.energy_arc != "none" else 0.0
    levels = Levels.for_orders(len(tracks), ordinary_bound(ordinary, arc_max))
    if arc_max and options.harmonic != "relaxed":
        levels = levels.with_arc(len(tracks), arc_max * ARC_RULE_SCALE)
    return _Rules(ordinary, jumps, unmixable, classes == BOOST, artists, same, levels)


def _index_of(tracks: Sequence[Track], ids: Sequence[str], what: str) -> list[int]:
    where = {t.id: i for i, t in enumerate(tracks)}
    out = []
    for track_id in ids:
        if track_id not in where:
            raise SequencingError(f"{what} track id {track_id!r} is not among the tracks")
        out.append(where[track_id])
    return out


def held_back(
    tracks: Sequence[Track],
    recent_sets: Sequence[Sequence[str]],
    options: SetOptions,
    protected: set[int],
) -> tuple[set[int], list[str]]:
    """Tracks of the most recent sets to leave out (fresh nightly sets), and a note.

    The newest sets first: the tracks of as many recent sets as possible are held back
    while the others still fill the set (its count or duration). Without a count or
    duration the set is the whole pool, so nothing is held back. Pinned and included
    tracks are never held back."""
    if not recent_sets or (options.count is None and options.duration is None):
        return set(), []
    where = {t.id: i for i, t in enumerate(tracks)}
    for k in range(len(recent_sets), 0, -1):
        hold = {where[i] for s in recent_sets[:k] for i in s if i in where} - protected
        rest = [i for i in range(len(tracks)) if i not in hold]
        if options.count == "auto":
            enough = len(rest) >= max(2, len(tracks) // 2)
        elif options.count is not None:
            enough = len(rest) >= options.count
        else:
            enough = sum(planned_length(tracks[i]) or 0 for i in rest) >= options.duration
        if enough:
            if not hold:
                return set(), []
            return hold, [f"held back {len(hold)} recently played track(s) (the last {k} set(s))"]
    return set(), ["no tracks held back: the pool is too small for a fresh set"]


def _played_budget(tracks: Sequence[Track], duration: float | None) -> float | None:
    """The seconds selection may fill with planned lengths (`planned_length`) so that the
    set as played stays within `duration`: the first track's lead-in and the last one's
    tail are played too (`planned_margin`). Tracks without a structure: `duration`."""
    if duration is None:
        return None
    margin = planned_margin(tracks)
    return duration - margin if 0 < margin < duration / 2 else duration


def plan_order(
    tracks: Sequence[Track],
    options: SetOptions | None = None,
    progress: Callable[[str], None] | None = None,
    recent_sets: Sequence[Sequence[str]] = (),
) -> Plan:
    """Choose and order the set's tracks.

    `recent_sets`: track ids of the schedule's last sets, newest first (`held_back`)."""
    started = time.perf_counter()
    options = options or SetOptions()
    if not tracks:
        raise SequencingError("no tracks to order")
    solver_named(options.solver)  # an unknown solver fails before the matrix is built
    start = pin_index(tracks, options.start, "start")
    end = pin_index(tracks, options.end, "end")
    check_pins(len(tracks), SolverRequest(start=start, end=end), [t.id for t in tracks])
    include = _index_of(tracks, options.include, "include")
    protected = {i for i in (start, end) if i is not None} | set(include)
    hold, hold_notes = held_back(tracks, recent_sets, options, protected)
    if hold:  # the rest of the pool is planned as any pool (large ones reduced first)
        rest = [i for i in range(len(tracks)) if i not in hold]
        plan = plan_order([tracks[i] for i in rest], options, progress)
        return Plan([rest[i] for i in plan.order], hold_notes + plan.notes)
    length_asked = options.count is not None or options.duration is not None
    if length_asked and len(tracks) > candidates.REDUCE_ABOVE:
        keep = [p for p in (start, end) if p is not None] + include
        return _plan_from_candidates(tracks, options, keep, started, progress)
    if options.count is None and options.duration is None and len(tracks) > COMPACT_ABOVE:

        def remaining() -> float | None:
            # the matrix of a large pool takes seconds: the search gets what is left
            if options.time_budget is None:
                return None
            spent = time.perf_counter() - started
            return max(MIN_SEARCH_BUDGET, options.time_budget - spent)

        order, notes = order_whole_pool(tracks, options, start, end, remaining, progress)
        return Plan(order, notes)
    kept, notes = drop_duplicates(tracks, sorted(protected))
    notes.extend(hold_notes)  # "the pool is too small" when nothing could be held back
    pool = kept  # indices into tracks
    position = {t: p for p, t in enumerate(pool)}
    ptracks = [tracks[i] for i in pool]
    pstart = None if start is None else position[start]
    pend = None if end is None else position[end]
    pinclude = [position[i] for i in include]

    rules = _rules(ptracks, options)
    limit = options.max_bpm_jump
    budget = options.time_budget
    if budget is not None:
        # the matrix of a large pool takes seconds: the search gets what is left
        budget = max(MIN_SEARCH_BUDGET, budget - (time.perf_counter() - started))
    chosen = list(range(len(ptracks)))
    slack = None if rules.unmixable is None else search_slack(rules.ordinary)
    if options.count == "auto":
        local_budget = None if budget is None else 0.7 * budget
        budget = None if budget is None else 0.3 * budget
        chosen, auto_notes = longest_mixable(
            rules.matrix(limit=limit),
            rules.allowed(limit),
            SolverRequest(start=pstart, end=pend, seed=options.seed, time_budget=local_budget),
            keep=pinclude,
            slack=slack,
            progress=progress,
        )
        notes.extend(auto_notes)
    elif options.count is not None or options.duration is not None:
        # a time budget covers both steps: 70 % choosing the tracks, 30 % the final order
        selection_budget = None if budget is None else 0.7 * budget
        budget = None if budget is None else 0.3 * budget
        picked = select(
            rules.matrix(limit=limit),
            count=options.count,
            duration=_played_budget(ptracks, options.duration),
            durations=[planned_length(t) for t in ptracks],  # overlaps counted once
            ids=[t.id for t in ptracks],
            request=SolverRequest(
                start=pstart, end=pend, seed=options.seed, time_budget=selection_budget
            ),
            progress=progress,
            keep=pinclude,
        )
        chosen = picked.order
        notes.extend(picked.notes)
    # count auto: the chosen tracks are in an all-mixable order already; start from it
    start_order = list(range(len(chosen))) if options.count == "auto" else None
    local = _order_set(
        ptracks, chosen, rules, options, pstart, pend, budget, progress, notes, start_order
    )
    order = [pool[chosen[i]] for i in local]
    return Plan(order, notes)


def _order_set(
    ptracks, chosen, rules, options, pstart, pend, budget, progress, notes, start_order=None
):
    """Order the chosen tracks under the rules; returns positions into `chosen`.
    `start_order`: an order to start the search from (it can only get better)."""
    subset = [ptracks[i] for i in chosen]
    sub = np.asarray(chosen)
    request = SolverRequest(
        start=chosen.index(pstart) if pstart is not None else None,
        end=chosen.index(pend) if pend is not None else None,
        seed=options.seed,
        time_budget=budget,
        progress=progress,
    )
    limit = options.max_bpm_jump
    jumps = rules.jumps[np.ix_(sub, sub)]
    bottleneck, witness = None, None
    if limit is not None:
        bottleneck, witness = smallest_largest_jump(subset, jumps, options.scoring, request)
    penalty = arc_rule_penalty(
        subset, options, rules.levels.unmixable if rules.unmixable is not None else None, notes
    )
    # relaxed: the search as before DJ rules (its own slack); with rule levels, the slack of
    # the ordinary costs
    slack = None if rules.unmixable is None else search_slack(rules.ordinary[np.ix_(sub, sub)])

    def run(boost_cost: float) -> list[int]:
        matrix = rules.matrix(sub, bottleneck, limit, boost_cost)
        if penalty is None and options.solver != "ils":
            return solve(matrix, options.solver, request)
        initial = start_order
        if (
            witness is not None
            and bottleneck > limit
            and largest_jump(jumps, greedy(matrix, request)) > bottleneck + 1e-9
        ):
            initial = place_pins(witness, request)  # starts at the smallest largest jump
        effort = optimizer.DEFAULT_EFFORT
        if start_order is not None and len(chosen) > POLISH_FULL_MAX:
            effort = POLISH_EFFORT  # a long count-auto set, all mixable already
        return optimizer.optimise(
            matrix, request, penalty=penalty, initial=initial, slack=slack, effort=effort
        )

    local = run(0.0)
    if options.harmonic == "moderate":
        boosts = rules.boosts[np.ix_(sub, sub)]
        # boosts beyond the budget: make them dearer step by step (half, then almost a
        # whole unmixable transition) while the set has too many
        for share in (0.5, 0.99):
            if _count_steps(boosts, local) <= options.max_boosts:
                break
            local = run(share * rules.levels.unmixable)
        used = _count_steps(boosts, local)
        if used > options.max_boosts:
            notes.append(
                f"max boosts {options.max_boosts}: the set uses {used}; the solver found no "
                "order with fewer that is not worse (clashes instead of boosts)"
            )
    if options.artist_gap > 1:
        matrix = rules.matrix(sub, bottleneck, limit)
        # repair_artist_gap prices every move by the whole path: fine for a set, far too
        # slow for a pool of thousands (spread_artists prices a move by its transitions)
        repair = repair_artist_gap if len(local) <= REPAIR_WHOLE_MAX else spread_artists
        local = repair(
            local,
            matrix,
            rules.artists[sub],
            options.artist_gap,
            request.start is not None,
            request.end is not None,
        )
    if options.artist_gap >= 1:
        left = artist_gap_violations(local, rules.artists[sub], options.artist_gap)
        if left:
            notes.append(
                f"artist gap {options.artist_gap}: {left} pair(s) of tracks by the same "
                "artist are closer: too few other artists in the set"
            )
    if limit is not None:
        notes.extend(_jump_notes(subset, local, jumps, limit, bottleneck))
    return local


def _count_steps(mask: np.ndarray, order: Sequence[int]) -> int:
    if len(order) < 2:
        return 0
    idx = np.asarray(order)
    return int(mask[idx[:-1], idx[1:]].sum())


def smallest_largest_jump(
    tracks: Sequence[Track], jumps: np.ndarray, scoring: ScoringConfig, request: SolverRequest
) -> tuple[float, list[int]]:
    """(the smallest largest jump found for any order of the tracks, an order with it).

    The circle argument of `mixability.bottleneck_jump` is a lower bound that the
    descending tempo order reaches whenever the pool spans less than about an octave and a
    half; otherwise (a 60 BPM and a 240 BPM track) a binary search over the jump values
    between the bound and the descending order's largest jump checks each threshold with
    the optimiser on a 0/1 matrix (jump above the threshold or not): exact up to
    `optimizer.EXACT_MAX` tracks, best effort beyond.
    """
    half_double = scoring.half_double_time
    bound = bottleneck_jump([t.bpm for t in tracks], half_double)
    witness = descending_tempo_order(tracks, half_double)
    best = largest_jump(jumps, witness)
    if best <= bound + 1e-6:
        return best, witness
    finite = jumps[np.isfinite(jumps)]
    candidates = np.unique(finite[(finite >= bound - 1e-9) & (finite < best)])
    effort = optimizer.Effort(kicks_per_node=10, min_kicks=200, stall_per_node=5, min_stall=200)
    lo, hi = 0, len(candidates) - 1
    while lo <= hi:
        mid = (lo + hi) // 2
        threshold = float(candidates[mid])
        with np.errstate(invalid="ignore"):
            over = (jumps > threshold + 1e-9).astype(float)
        np.fill_diagonal(over, 0.0)
        order = optimizer.optimise(
            over, SolverRequest(seed=request.seed), effort=effort, initial=witness
        )
        if path_cost(over, order) == 0:
            best, witness = largest_jump(jumps, order), order
            hi = mid - 1
        else:
            lo = mid + 1
    return best, witness


def _jump_notes(tracks, order, jumps, limit, bottleneck) -> list[str]:
    over = [
        (float(jumps[a, b]), a, b)
        for a, b in zip(order[:-1], order[1:], strict=True)
        if np.isfinite(jumps[a, b]) and jumps[a, b] > limit + 1e-9
    ]
    if not over:
        return []
    named = ", ".join(
        f"{tracks[a].id} -> {tracks[b].id} ({jump:.1f}%)" for jump, a, b in sorted(over)[::-1][:5]
    )
    more = f" and {len(over) - 5} more" if len(over) > 5 else ""
    smallest = f"; the smallest possible largest jump is {bottleneck:.1f}%" if bottleneck else ""
    return [
        f"max BPM jump {limit:g}%: no order of these tracks keeps it{smallest}; "
        f"{len(over)} transition(s) exceed it: {named}{more}"
    ]


TRACK_BYTES = 3_000  # one track in a worker: the model, its strings, its JSON
# row-block temporaries per track of a row: cost_matrix's four, whole_pool's rules (jumps,
# key classes, masks, the rules' float64 block), 256 rows each
_BLOCK_BYTES = 8 * 256 * 8


def memory_estimate(n: int, options: SetOptions) -> int:
    """Peak bytes `plan_order` needs for n tracks beyond the process itself (for a
    worker's memory budget, pipeline/workers/memory_gate.py): the cost matrices it holds at once
    (as this module and candidates.py build them), the tracks, the block temporaries."""
    tracks = TRACK_BYTES * n + _BLOCK_BYTES * n
    # the DJ rules (_Rules): ordinary costs, jumps, the rules matrix and the solver's tour
    # matrix in float64, key classes and three masks in one byte each
    rules = 4 * 8 + 4
    if options.count is not None or options.duration is not None:
        if n > candidates.REDUCE_ABOVE:  # classes in row blocks, then the candidates' matrix
            auto = options.count == "auto"
            m = candidates.AUTO_CANDIDATES if auto else candidates.MAX_CANDIDATES
            return tracks + 4 * candidates.BLOCK * n * 8 + rules * m * m
        return tracks + rules * n * n
    if n > COMPACT_ABOVE:  # whole_pool: the float32 tour workspace, rules in row blocks
        return tracks + 4 * (n + 1) ** 2
    return tracks + rules * (n + 1) ** 2


def _plan_from_candidates(tracks, options, pins, started, progress) -> Plan:
    """A large pool's set: choose among the candidates of `candidates.reduce_pool` (the
    pool's n x n matrix would not fit in memory), then plan on them as on any pool.
    The reduction already applies the set's rules (one copy of a song among them); a
    note names the left-out copies of the set's songs."""
    copies = song_copies(tracks, [p for p in pins if p is not None])
    kept = candidates.reduce_pool(
        tracks,
        count=options.count,
        duration=options.duration,
        pins=[p for p in pins if p is not None],  # pinned and included tracks
        scoring=options.scoring,
        max_bpm_jump=options.max_bpm_jump,
        energy_arc=options.energy_arc,
        harmonic=options.harmonic,
        artist_gap=options.artist_gap,
        copies=copies,
    )
    if progress:
        progress(f"choosing from {len(kept)} candidates of {len(tracks)} tracks")
    budget = options.time_budget
    if budget is not None:
        budget = max(MIN_SEARCH_BUDGET, budget - (time.perf_counter() - started))
    plan = plan_order(
        [tracks[i] for i in kept], options.model_copy(update={"time_budget": budget}), progress
    )
    order = [kept[i] for i in plan.order]
    notes = [copies_note(tracks, i, copies[i]) for i in order if i in copies]
    if options.count == "auto":  # "N of M tracks": of the pool, not of the candidates
        notes.append(
            f"count auto: chosen from {len(kept)} candidates of {len(tracks)} tracks "
            "(a large pool is reduced first)"
        )
    return Plan(order, notes + plan.notes)
