"""Which transitions a DJ can mix, by the rules DJs mix by; and the smallest largest tempo jump.

A transition is **mixable** when

- the keys are compatible by the standard Camelot rule: the same key, one hour up or down
  with the same letter (+1 / -1), or the relative major/minor (same number, other letter);
- and the tempo changes by at most the comfortable jump (`ScoringConfig.max_bpm_jump`,
  6 %: about a semitone of pitch with key lock off), half/double time counting as the same
  tempo. A jump is a property of the pair, measured from the slower tempo to the faster
  (`symmetric_jump`: 94 <-> 100 BPM is 6.4 % in either direction), so that whether two
  tracks mix does not depend on which one plays first.

This is the yardstick of the quality report, whatever the harmonic mode. The harmonic mode
says which key moves the *solver* may use freely:

- strict: only the standard moves; every other transition counts as unmixable;
- moderate: also the diagonal (+1 going B->A, -1 going A->B) and the "energy boosts"
  (+2 and +7 on the wheel), the boosts at most `max_boosts` times per set;
- relaxed: no move is ruled out; the order follows the transition scores alone (the
  grading before DJ rules).

Missing data (no key, no BPM) is never called mixable: nothing shows that it is.

`bottleneck_jump` gives the smallest possible largest tempo jump of any order of a pool,
as a lower bound that is exact for pools within about an octave and a half: tempos are
points on a circle (log2 BPM modulo one octave, as half/double time counts as the same
tempo; a line without half/double time), every order must cross all gaps between
neighbouring tempos but one, and the descending tour that skips the largest gap crosses
each of the others exactly once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

from djcurator_core.core.keys import ALL_KEYS
from djcurator_core.core.models import Track
from djcurator_core.core.rules.scoring import ScoringConfig, key_indices, key_move, tempo_change

HarmonicMode = Literal["strict", "moderate", "relaxed"]
HARMONIC_MODES: tuple[str, ...] = ("strict", "moderate", "relaxed")
DEFAULT_HARMONIC: HarmonicMode = "strict"
DEFAULT_MAX_BOOSTS = 3

STANDARD_MOVES = frozenset({"same key", "relative", "+1", "-1"})
BOOST_MOVES = frozenset({"boost +2", "boost +7"})
DIAGONAL = "diagonal"

# Move classes in the class table (index 24 of the key table is "unknown key").
STANDARD, DIAGONAL_MOVE, BOOST, CLASH, UNKNOWN = 0, 1, 2, 3, 4


def _class_table() -> np.ndarray:
    table = np.full((25, 25), UNKNOWN, dtype=np.int8)
    for i, a in enumerate(ALL_KEYS):
        for j, b in enumerate(ALL_KEYS):
            move, _ = key_move(a, b)
            if move in STANDARD_MOVES:
                table[i, j] = STANDARD
            elif move == DIAGONAL:
                table[i, j] = DIAGONAL_MOVE
            elif move in BOOST_MOVES:
                table[i, j] = BOOST
            else:
                table[i, j] = CLASH
    return table


CLASS_TABLE = _class_table()


def move_classes(tracks: Sequence[Track]) -> np.ndarray:
    """n x n int8: STANDARD, DIAGONAL_MOVE, BOOST, CLASH or UNKNOWN for every transition."""
    index = key_indices(tracks)
    return CLASS_TABLE[index[:, None], index[None, :]]


def bpm_array(tracks: Sequence[Track]) -> np.ndarray:
    return np.array([np.nan if t.bpm is None else t.bpm for t in tracks], dtype=float)


def tempo_mixable(jumps: np.ndarray, scoring: ScoringConfig) -> np.ndarray:
    """Tempo changes a DJ can beatmatch comfortably (NaN, a missing BPM, is not)."""
    with np.errstate(invalid="ignore"):
        return jumps <= scoring.max_bpm_jump + 1e-9


def allowed_keys(classes: np.ndarray, mode: str) -> np.ndarray:
    """Key moves the harmonic mode lets the solver use (boosts: see `max_boosts`)."""
    if mode == "strict":
        return classes == STANDARD
    if mode == "moderate":
        return classes <= BOOST
    if mode == "relaxed":
        return np.ones(classes.shape, dtype=bool)
    raise ValueError(f"unknown harmonic mode {mode!r} (choose from {', '.join(HARMONIC_MODES)})")


def is_mixable(a: Track, b: Track, scoring: ScoringConfig | None = None) -> bool:
    """The report's yardstick for one transition (standard keys and a comfortable tempo)."""
    scoring = scoring or ScoringConfig()
    ka, kb = a.parsed_key, b.parsed_key
    if ka is None or kb is None or a.bpm is None or b.bpm is None:
        return False
    if key_move(ka, kb)[0] not in STANDARD_MOVES:
        return False
    forward, _ = tempo_change(a.bpm, b.bpm, scoring.half_double_time)
    backward, _ = tempo_change(b.bpm, a.bpm, scoring.half_double_time)
    return bool(max(forward, backward) <= scoring.max_bpm_jump + 1e-9)


# --- the smallest largest jump -------------------------------------------------------------


def symmetric_jump(pct_signed):
    """The symmetric jump of a signed percent change: a drop of d % is the rise of
    d / (100 - d) from the slower tempo (-6 % -> 6.38 %)."""
    pct = np.asarray(pct_signed, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(pct >= 0, pct, -pct / (100.0 + pct) * 100.0)


def jump_matrix(bpm: np.ndarray, half_double: bool = True) -> np.ndarray:
    """Symmetric percent jump between every pair of tempos (NaN where a BPM is missing)."""
    pct, _ = tempo_change(bpm[:, None], bpm[None, :], half_double)
    return np.maximum(pct, pct.T)


def _drop_pct(gap_octaves: np.ndarray) -> np.ndarray:
    """Symmetric percent jump across `gap_octaves` (log2 units): from the slower tempo."""
    return (np.exp2(gap_octaves) - 1.0) * 100.0


def bottleneck_jump(bpms: Sequence[float | None], half_double: bool = True) -> float:
    """The smallest largest tempo jump (percent) that an order of all these tempos can have.

    Exact (see the module docstring); tracks without a BPM do not count. 0 for fewer than
    two known tempos.
    """
    known = np.array([b for b in bpms if b is not None and np.isfinite(b) and b > 0], dtype=float)
    if len(known) < 2:
        return 0.0
    if half_double:
        points = np.sort(np.mod(np.log2(known), 1.0))
        gaps = np.diff(np.append(points, points[0] + 1.0))  # around the circle
        if len(gaps) < 2:
            return 0.0
        second = np.sort(gaps)[-2]  # all gaps but the largest are crossed
        return float(_drop_pct(np.array([second]))[0])
    points = np.sort(np.log2(known))
    return float(_drop_pct(np.diff(points)).max())


def descending_tempo_order(tracks: Sequence[Track], half_double: bool = True) -> list[int]:
    """An order whose largest jump is `bottleneck_jump`: tempos descending around the circle,
    starting just below the largest gap (tracks without a BPM at the end)."""
    known = [i for i, t in enumerate(tracks) if t.bpm]
    unknown = [i for i, t in enumerate(tracks) if not t.bpm]
    if len(known) < 2:
        return known + unknown
    logs = np.log2(np.array([tracks[i].bpm for i in known], dtype=float))
    if not half_double:
        order = np.argsort(-logs, kind="stable")
        return [known[i] for i in order] + unknown
    points = np.mod(logs, 1.0)
    ascending = np.argsort(points, kind="stable")
    sorted_points = points[ascending]
    gaps = np.diff(np.append(sorted_points, sorted_points[0] + 1.0))
    widest = int(np.argmax(gaps))  # the gap from ascending[widest] up to the next point
    # descend from the point just below the widest gap, all the way round to the one above it
    start = widest
    path = [int(ascending[(start - k) % len(ascending)]) for k in range(len(ascending))]
    return [known[i] for i in path] + unknown


def largest_jump(jumps: np.ndarray, order: Sequence[int]) -> float:
    """The largest known tempo jump along an order (0 when there is none)."""
    if len(order) < 2:
        return 0.0
    idx = np.asarray(order)
    steps = jumps[idx[:-1], idx[1:]]
    steps = steps[np.isfinite(steps)]
    return float(steps.max()) if len(steps) else 0.0
