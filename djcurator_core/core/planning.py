"""From tracks and set options to an order: the one entry point every shell calls.

`SetOptions` (set_options.py) is what a user can ask for (solver, pinned ends, tempo
limit, energy arc, set length); `plan_order` turns it into a cost matrix, picks the
set's tracks when a count or duration is asked for (`selection`), and runs the solver.

- count / duration: one or the other; SetOptions refuses both together.
- max_bpm_jump: a transition above the limit (half/double time aware, as scored) costs
  about 2 (n + 1) extra, more than any whole order's ordinary cost, so the
  solver takes one only when it finds no order without it; what remains is reported in
  Plan.notes.
  Exact up to `optimizer.EXACT_MAX` tracks, best effort (local search) beyond.
- energy_arc: a position-dependent penalty (`energy_arc.arc_penalty`) that the "ils"
  solver adds to the transition costs; the baseline solvers ignore it (noted).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from djcurator_core.core import candidates, optimizer
from djcurator_core.core.energy_arc import ARC_UNIT, arc_penalty
from djcurator_core.core.models import Track
from djcurator_core.core.scoring import ScoringConfig, cost_matrix, part_table, tempo_change
from djcurator_core.core.selection import select
from djcurator_core.core.sequencing import (
    SequencingError,
    SolverRequest,
    check_pins,
    solve,
    solver_named,
)
from djcurator_core.core.set_options import SetOptions

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
    """n x n percent tempo change between tracks (half/double time aware); NaN if unknown."""
    bpm = np.array([np.nan if t.bpm is None else t.bpm for t in tracks], dtype=float)

    def pct(a, b, config: ScoringConfig) -> np.ndarray:
        return tempo_change(a, b, config.half_double_time)[0]

    # through the table of distinct BPM values, as in cost_matrix (10,000 tracks: 11 s and
    # several GB of n x n temporaries pair by pair)
    tabled = part_table(bpm, pct, scoring)
    if tabled is None:
        return pct(bpm[:, None], bpm[None, :], scoring)
    table, index = tabled
    return table[index[:, None], index[None, :]]


def plan_order(
    tracks: Sequence[Track],
    options: SetOptions | None = None,
    progress: Callable[[str], None] | None = None,
) -> Plan:
    """Choose and order the set's tracks."""
    started = time.perf_counter()
    options = options or SetOptions()
    if not tracks:
        raise SequencingError("no tracks to order")
    solver_named(options.solver)  # an unknown solver fails before the matrix is built
    start = pin_index(tracks, options.start, "start")
    end = pin_index(tracks, options.end, "end")
    check_pins(len(tracks), SolverRequest(start=start, end=end), [t.id for t in tracks])
    length_asked = options.count is not None or options.duration is not None
    if length_asked and len(tracks) > candidates.REDUCE_ABOVE:
        return _plan_from_candidates(tracks, options, (start, end), started, progress)
    notes: list[str] = []
    matrix = _pool_matrix(tracks, options, whole=not length_asked)
    if options.max_bpm_jump is not None:
        _add_jump_penalty(matrix, tracks, options)
    chosen = list(range(len(tracks)))
    budget = options.time_budget
    if budget is not None:
        # the matrix of a large pool takes seconds: the search gets what is left
        budget = max(MIN_SEARCH_BUDGET, budget - (time.perf_counter() - started))
    if options.count is not None or options.duration is not None:
        # a time budget covers both steps: 70 % choosing the tracks, 30 % the final order
        selection_budget = None if budget is None else 0.7 * budget
        budget = None if budget is None else 0.3 * budget
        picked = select(
            matrix,
            count=options.count,
            duration=options.duration,
            durations=[t.duration for t in tracks],
            ids=[t.id for t in tracks],
            request=SolverRequest(
                start=start, end=end, seed=options.seed, time_budget=selection_budget
            ),
            progress=progress,
        )
        chosen = picked.order
        notes.extend(picked.notes)
    subset = [tracks[i] for i in chosen]
    sub = np.asarray(chosen)
    request = SolverRequest(
        start=chosen.index(start) if start is not None else None,
        end=chosen.index(end) if end is not None else None,
        seed=options.seed,
        time_budget=budget,
        progress=progress,
    )
    # the whole pool: the matrix itself (a copy of 10,000 tracks' matrix is 400-800 MB)
    whole = len(chosen) == len(tracks)
    sub_matrix = matrix if whole and chosen == sorted(chosen) else matrix[np.ix_(sub, sub)]
    penalty = arc_penalty(subset, options.energy_arc, options.arc_weight)
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
        penalty = None
    if penalty is not None:
        local = optimizer.optimise(sub_matrix, request, penalty=penalty)
    else:
        local = solve(sub_matrix, options.solver, request)
    order = [chosen[i] for i in local]
    if options.max_bpm_jump is not None:
        notes.extend(_jump_notes(tracks, order, options))
    return Plan(order, notes)


COMPACT_ABOVE = 3_000  # whole pools above this many tracks: float32 tour workspace
TRACK_BYTES = 3_000  # one track in a worker: the model, its strings, its JSON
_BLOCK_BYTES = 4 * 256 * 8  # cost_matrix's row-block temporaries, per track of a row


def memory_estimate(n: int, options: SetOptions) -> int:
    """Peak bytes `plan_order` needs for n tracks beyond the process itself (for a
    worker's memory budget, pipeline/memory_gate.py): the cost matrices it holds at once
    (as this module and candidates.py build them), the tracks, the block temporaries."""
    tracks = TRACK_BYTES * n + _BLOCK_BYTES * n
    if options.count is not None or options.duration is not None:
        if n > candidates.REDUCE_ABOVE:  # classes in row blocks, then the candidates' matrix
            m = candidates.MAX_CANDIDATES
            return tracks + 4 * candidates.BLOCK * n * 8 + 3 * 8 * m * m
        return tracks + 3 * 8 * n * n  # matrix, the selection's tour matrix, a sub-matrix
    if n > COMPACT_ABOVE and options.solver == "ils":
        return tracks + 4 * (n + 1) ** 2  # the float32 tour workspace alone
    return tracks + 2 * 8 * (n + 1) ** 2  # matrix and tour matrix, float64


def _pool_matrix(tracks: Sequence[Track], options: SetOptions, whole: bool) -> np.ndarray:
    """The pool's cost matrix. A large pool ordered whole gets it as the top-left block of
    the solver's float32 tour workspace (optimizer.tour_workspace): one n x n array in
    memory instead of three (10,000 tracks: 400 MB instead of 2.4 GB)."""
    n = len(tracks)
    if whole and n > COMPACT_ABOVE and options.solver == "ils":
        workspace = optimizer.tour_workspace(n)
        return cost_matrix(tracks, options.scoring, out=workspace[:n, :n])
    return cost_matrix(tracks, options.scoring)


def _plan_from_candidates(tracks, options, pins, started, progress) -> Plan:
    """A large pool's set: choose among the candidates of `candidates.reduce_pool` (the
    pool's n x n matrix would not fit in memory), then plan on them as on any pool."""
    kept = candidates.reduce_pool(
        tracks,
        count=options.count,
        duration=options.duration,
        pins=[p for p in pins if p is not None],
        scoring=options.scoring,
        max_bpm_jump=options.max_bpm_jump,
        energy_arc=options.energy_arc,
    )
    if progress:
        progress(f"choosing from {len(kept)} candidates of {len(tracks)} tracks")
    budget = options.time_budget
    if budget is not None:
        budget = max(MIN_SEARCH_BUDGET, budget - (time.perf_counter() - started))
    plan = plan_order(
        [tracks[i] for i in kept], options.model_copy(update={"time_budget": budget}), progress
    )
    return Plan([kept[i] for i in plan.order], plan.notes)


def _jump_cost(n: int, options: SetOptions) -> float:
    """The extra cost of a transition above `options.max_bpm_jump`: more than any order's
    ordinary cost, i.e. transitions (<= 1 each) and the arc (at most arc_weight * ARC_UNIT
    * 9 levels per track)."""
    arc_max = options.arc_weight * ARC_UNIT * 9 if options.energy_arc != "none" else 0.0
    return 2.0 * optimizer.penalty_scale(n) * (1.0 + arc_max)


def _add_jump_penalty(matrix: np.ndarray, tracks: Sequence[Track], options: SetOptions) -> None:
    """Add `_jump_cost` to every transition above the limit, in place and in row blocks
    gathered from the table of distinct BPM values (no n x n temporaries)."""
    n = len(tracks)
    jump_cost = _jump_cost(n, options)
    bpm = np.array([np.nan if t.bpm is None else t.bpm for t in tracks], dtype=float)
    half_double = options.scoring.half_double_time

    def over(a, b, config: ScoringConfig) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            return tempo_change(a, b, half_double)[0] > options.max_bpm_jump

    tabled = part_table(bpm, over, options.scoring)
    block = 256
    for lo in range(0, n, block):
        rows = slice(lo, min(lo + block, n))
        if tabled is None:
            forbidden = over(bpm[rows, None], bpm[None, :], options.scoring)
        else:
            table, index = tabled
            forbidden = table[index[rows, None], index[None, :]]
        forbidden[np.arange(rows.stop - lo), np.arange(lo, rows.stop)] = False
        matrix[rows] += (forbidden * jump_cost).astype(matrix.dtype)


def _jump_notes(tracks: Sequence[Track], order: list[int], options: SetOptions) -> list[str]:
    limit = options.max_bpm_jump
    over = []
    for a, b in zip(order[:-1], order[1:], strict=True):
        if tracks[a].bpm is None or tracks[b].bpm is None:
            continue
        jump = float(
            tempo_change(tracks[a].bpm, tracks[b].bpm, options.scoring.half_double_time)[0]
        )
        if jump > limit:
            over.append((jump, a, b))
    if not over:
        return []
    worst, a, b = max(over)
    return [
        f"max BPM jump {limit:g}%: {len(over)} transition(s) exceed it, the largest "
        f"{worst:.1f}% ({tracks[a].id} -> {tracks[b].id}); the solver found no order "
        "that avoids them"
    ]
