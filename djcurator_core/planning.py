"""From tracks and set options to an order: the one entry point every shell calls.

`SetOptions` is what a user can ask for (solver, pinned ends, tempo limit, energy arc,
set length); `plan_order` turns it into a cost matrix and a solver call.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from .models import Track
from .scoring import ScoringConfig, cost_matrix
from .sequencing import SequencingError, SolverRequest, solve

DEFAULT_SOLVER = "greedy"


class SetOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    solver: str = DEFAULT_SOLVER
    start: str | None = Field(None, description="track id pinned first")
    end: str | None = Field(None, description="track id pinned last")
    seed: int = 0
    time_budget: float | None = Field(None, gt=0, description="seconds of search at most")
    max_bpm_jump: float | None = Field(None, gt=0, description="hard limit, percent")
    energy_arc: Literal["none", "rise", "peak", "wave"] = "none"
    arc_weight: float = Field(0.5, ge=0)
    count: int | None = Field(None, gt=0, description="tracks in the set")
    duration: float | None = Field(None, gt=0, description="set length in seconds")
    scoring: ScoringConfig = ScoringConfig()


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


def plan_order(
    tracks: Sequence[Track],
    options: SetOptions | None = None,
    progress: Callable[[str], None] | None = None,
) -> Plan:
    """Choose and order the set's tracks."""
    options = options or SetOptions()
    if not tracks:
        raise SequencingError("no tracks to order")
    matrix = cost_matrix(tracks, options.scoring)
    request = SolverRequest(
        start=pin_index(tracks, options.start, "start"),
        end=pin_index(tracks, options.end, "end"),
        seed=options.seed,
        time_budget=options.time_budget,
        progress=progress,
    )
    return Plan(solve(matrix, options.solver, request))
