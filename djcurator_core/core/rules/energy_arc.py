"""Energy arcs: the shape a set's energy should follow, as a position-dependent penalty.

An arc is a curve over the set, 0 at the pool's lowest energy and 1 at its highest:

- rise: a straight build from start to end;
- peak: build to the top at 80 % of the set, then release to the middle;
- wave: low -> high -> low -> high (two builds, the second one ends the set).

The target energy at each position is the pool's energy *quantile* at the curve's height,
so a perfect arc is always possible (for "rise": the tracks sorted by energy). Putting a
track of energy e at a position with target T costs

    arc_weight * ARC_UNIT * |e - T|        (per track, in energy levels)

which the solver adds to the transition costs (each in [0, 1]). ARC_UNIT = 0.1: with the
default weight 0.5 one level off target costs 0.05, about a third of a good transition.
Tracks without an energy have no arc cost.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from djcurator_core.core.models import Track
from djcurator_core.core.solver.optimizer import PositionPenalty

ARCS = ("none", "rise", "peak", "wave")
ARC_UNIT = 0.1
PEAK_AT = 0.8
PEAK_END = 0.5


def arc_curve(arc: str, n: int) -> np.ndarray:
    """Height 0..1 of the arc at each of n positions."""
    x = np.linspace(0.0, 1.0, n) if n > 1 else np.zeros(n)
    if arc == "rise":
        return x
    if arc == "peak":
        up = x / PEAK_AT
        down = 1.0 - (x - PEAK_AT) / (1.0 - PEAK_AT) * (1.0 - PEAK_END)
        return np.where(x <= PEAK_AT, up, down)
    if arc == "wave":
        return 0.5 - 0.5 * np.cos(3 * np.pi * x)
    raise ValueError(f"unknown energy arc {arc!r} (choose from {', '.join(ARCS)})")


def target_energies(energies: Sequence[float], arc: str, n: int) -> np.ndarray:
    """Target energy per position: the pool's energy quantile at the arc's height."""
    known = np.sort(np.asarray(energies, dtype=float))
    ranks = np.rint(arc_curve(arc, n) * (len(known) - 1)).astype(int)
    return known[ranks]


def arc_penalty(tracks: Sequence[Track], arc: str, weight: float) -> PositionPenalty | None:
    """The penalty table for the solver, or None when there is nothing to follow
    (arc "none", weight 0, fewer than two distinct known energies)."""
    if arc == "none" or weight <= 0:
        return None
    known = [t.energy for t in tracks if t.energy is not None]
    if len(set(known)) < 2:
        return None
    n = len(tracks)
    levels = np.unique(np.asarray(known, dtype=float))  # ascending: rows in energy order
    targets = target_energies(known, arc, n)
    table = np.zeros((len(levels) + 1, n))  # last row: unknown energy, no cost
    table[:-1] = weight * ARC_UNIT * np.abs(levels[:, None] - targets[None, :])
    level = np.array(
        [
            len(levels) if t.energy is None else int(np.searchsorted(levels, t.energy))
            for t in tracks
        ],
        dtype=np.int64,
    )
    return PositionPenalty(table=table, level=level)


def spearman(values: Sequence[float]) -> float:
    """Rank correlation of values with their position (ties get average ranks)."""
    v = np.asarray(values, dtype=float)
    if len(v) < 2 or np.all(v == v[0]):
        return 0.0

    def ranks(a: np.ndarray) -> np.ndarray:
        order = np.argsort(a, kind="stable")
        r = np.empty(len(a))
        r[order] = np.arange(len(a), dtype=float)
        for value in np.unique(a):
            same = a == value
            r[same] = r[same].mean()
        return r

    return float(np.corrcoef(ranks(v), np.arange(len(v), dtype=float))[0, 1])
