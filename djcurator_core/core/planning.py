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

from djcurator_core.core import optimizer
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
    notes: list[str] = []
    matrix = cost_matrix(tracks, options.scoring)
    jumps = None
    if options.max_bpm_jump is not None:
        jumps = bpm_jumps(tracks, options.scoring)
        matrix = matrix + _jump_penalty(jumps, options)
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
    sub_matrix = matrix[np.ix_(sub, sub)]
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
    if jumps is not None:
        notes.extend(_jump_notes(tracks, order, jumps, options.max_bpm_jump))
    return Plan(order, notes)


def _jump_penalty(jumps: np.ndarray, options: SetOptions) -> np.ndarray:
    """The extra cost of each transition above `options.max_bpm_jump` (0 elsewhere)."""
    with np.errstate(invalid="ignore"):
        forbidden = jumps > options.max_bpm_jump
    np.fill_diagonal(forbidden, False)
    # more than any order's ordinary cost: transitions (<= 1 each) and the arc (at most
    # arc_weight * ARC_UNIT * 9 levels per track)
    arc_max = options.arc_weight * ARC_UNIT * 9 if options.energy_arc != "none" else 0.0
    jump_cost = 2.0 * optimizer.penalty_scale(len(jumps)) * (1.0 + arc_max)
    return forbidden * jump_cost


def _jump_notes(tracks, order, jumps, limit) -> list[str]:
    over = [
        (float(jumps[a, b]), a, b)
        for a, b in zip(order[:-1], order[1:], strict=True)
        if np.isfinite(jumps[a, b]) and jumps[a, b] > limit
    ]
    if not over:
        return []
    worst, a, b = max(over)
    return [
        f"max BPM jump {limit:g}%: {len(over)} transition(s) exceed it, the largest "
        f"{worst:.1f}% ({tracks[a].id} -> {tracks[b].id}); the solver found no order "
        "that avoids them"
    ]
