"""Transition scores between two tracks: harmonic, tempo and energy parts, and the cost matrix.

Every part is a score in [0, 1] (1 = seamless). The total is the weighted mean of the
parts; the cost every solver minimises is 1 - total, plus the tempo overflow: the tempo
score reaches 0 at twice the comfortable jump (12 %), but a 30 % jump is far worse to mix
than a 12 % one, so past that point the cost keeps rising linearly (`tempo_overflow`,
weighted like the tempo part). Scores stay readable (0..1); costs have no plateau. A part
whose data is missing on either side (no key, no BPM, no energy) scores `neutral` and is
flagged.

The part functions work on numpy arrays so that `score_transition` (one pair, for
justifications) and `cost_matrix` (all pairs, for solvers) share one definition.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from djcurator_core.core.keys import ALL_KEYS, Key, wheel_distance
from djcurator_core.core.models import Track

# Move names, best first. Values are the defaults of `HarmonicValues`.
MOVES = ("same key", "relative", "+1", "-1", "diagonal", "boost +2", "boost +7", "clash")


class HarmonicValues(BaseModel):
    """Score of each named key move (see docs/scoring.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    same_key: float = Field(1.0, ge=0, le=1)
    relative: float = Field(0.9, ge=0, le=1)
    plus_one: float = Field(0.9, ge=0, le=1)
    minus_one: float = Field(0.85, ge=0, le=1)
    diagonal: float = Field(0.7, ge=0, le=1)
    boost_two: float = Field(0.55, ge=0, le=1)
    boost_seven: float = Field(0.5, ge=0, le=1)
    clash: float = Field(0.35, ge=0, le=1, description="a clash one step away; falls to 0 at 7")


ZERO_WEIGHTS = (
    "scoring weights: at least one of harmonic_weight, tempo_weight, energy_weight must be positive"
)


class ScoringConfig(BaseModel):
    """Weights of the three parts and the parameters of each."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    harmonic_weight: float = Field(0.5, ge=0)
    tempo_weight: float = Field(0.3, ge=0)
    energy_weight: float = Field(0.2, ge=0)
    max_bpm_jump: float = Field(6.0, gt=0, description="largest comfortable BPM change, percent")
    half_double_time: bool = True
    half_double_penalty: float = Field(0.1, ge=0, le=1)
    energy_step: float = Field(0.2, ge=0, le=1, description="score lost per energy level")
    neutral: float = Field(0.5, ge=0, le=1, description="score of a part with missing data")
    moves: HarmonicValues = HarmonicValues()

    @model_validator(mode="after")
    def _some_weight_positive(self) -> ScoringConfig:
        # all-zero weights leave nothing to score; refuse them where options are validated
        if self.harmonic_weight + self.tempo_weight + self.energy_weight <= 0:
            raise ValueError(ZERO_WEIGHTS)
        return self

    def weights(self) -> tuple[float, float, float]:
        """The three weights normalised to sum to 1."""
        total = self.harmonic_weight + self.tempo_weight + self.energy_weight
        if total <= 0:  # only reachable by bypassing validation (model_construct)
            raise ValueError(ZERO_WEIGHTS)
        return (self.harmonic_weight / total, self.tempo_weight / total, self.energy_weight / total)


# --- harmonic -----------------------------------------------------------------------


def key_move(a: Key, b: Key) -> tuple[str, str]:
    """Name the move from key a to key b: (category, signed step such as "+1")."""
    step = (b.number - a.number) % 12
    signed = step if step <= 6 else step - 12
    step_text = f"{signed:+d}" if signed else "0"
    if a.letter == b.letter:
        category = {0: "same key", 1: "+1", 11: "-1", 2: "boost +2", 7: "boost +7"}.get(step)
    elif step == 0:
        category = "relative"
    elif (a.letter == "B" and step == 1) or (a.letter == "A" and step == 11):
        category = "diagonal"
    else:
        category = None
    return category or "clash", step_text


def move_value(a: Key, b: Key, moves: HarmonicValues) -> float:
    category, _ = key_move(a, b)
    if category != "clash":
        return {
            "same key": moves.same_key,
            "relative": moves.relative,
            "+1": moves.plus_one,
            "-1": moves.minus_one,
            "diagonal": moves.diagonal,
            "boost +2": moves.boost_two,
            "boost +7": moves.boost_seven,
        }[category]
    distance = wheel_distance(a, b) + (a.letter != b.letter)
    return moves.clash * max(0.0, (7 - distance) / 6)


def harmonic_table(config: ScoringConfig) -> np.ndarray:
    """25 x 25 move scores: index 0-23 is ALL_KEYS, 24 is 'unknown key' (neutral)."""
    table = np.full((25, 25), config.neutral)
    for i, a in enumerate(ALL_KEYS):
        for j, b in enumerate(ALL_KEYS):
            table[i, j] = move_value(a, b, config.moves)
    return table


_KEY_INDEX = {k.camelot: i for i, k in enumerate(ALL_KEYS)}


def key_indices(tracks: Sequence[Track]) -> np.ndarray:
    return np.array([_KEY_INDEX.get(t.key or "", 24) for t in tracks], dtype=np.intp)


# --- tempo --------------------------------------------------------------------------


def tempo_change(bpm_a: np.ndarray, bpm_b: np.ndarray, half_double: bool = True):
    """Percent BPM change and whether it is best read as half/double time.

    Inputs may be NaN for missing BPM; the results are then NaN / False.
    """
    ratio = np.asarray(bpm_b, dtype=float) / np.asarray(bpm_a, dtype=float)
    straight = np.abs(ratio - 1.0) * 100
    if not half_double:
        return straight, np.zeros_like(straight, dtype=bool)
    halved = np.abs(ratio / 2 - 1.0) * 100
    doubled = np.abs(ratio * 2 - 1.0) * 100
    other = np.minimum(halved, doubled)
    use_other = other < straight
    return np.where(use_other, other, straight), use_other


def tempo_score(bpm_a, bpm_b, config: ScoringConfig) -> np.ndarray:
    """1 at no change, 0.5 at `max_bpm_jump` percent, 0 at twice that; neutral if missing."""
    pct, half_double = tempo_change(bpm_a, bpm_b, config.half_double_time)
    with np.errstate(invalid="ignore"):
        score = np.clip(1.0 - pct / (2 * config.max_bpm_jump), 0.0, 1.0)
        score = np.where(half_double, np.maximum(score - config.half_double_penalty, 0.0), score)
    return np.where(np.isnan(pct), config.neutral, score)


def tempo_overflow(bpm_a, bpm_b, config: ScoringConfig) -> np.ndarray:
    """How far past the tempo score's zero (twice `max_bpm_jump`) a change goes, in units of
    that range: 0 up to 12 %, 1.5 at 30 % (with the default 6 %). 0 if a BPM is missing.

    The cost adds it (weighted like the tempo part), so the tempo cost never plateaus and
    an avoidable big jump is never as cheap as a moderate one."""
    pct, _ = tempo_change(bpm_a, bpm_b, config.half_double_time)
    with np.errstate(invalid="ignore"):
        over = np.maximum(pct / (2 * config.max_bpm_jump) - 1.0, 0.0)
    return np.where(np.isnan(pct), 0.0, over)


# --- energy -------------------------------------------------------------------------


def energy_score(energy_a, energy_b, config: ScoringConfig) -> np.ndarray:
    """Holding or lifting by one level is ideal; bigger lifts and any drop cost `energy_step`
    per level. Neutral if missing."""
    step = np.asarray(energy_b, dtype=float) - np.asarray(energy_a, dtype=float)
    with np.errstate(invalid="ignore"):
        excess = np.where(step > 0, np.maximum(step - 1.0, 0.0), -step)
        score = np.clip(1.0 - config.energy_step * excess, 0.0, 1.0)
    return np.where(np.isnan(step), config.neutral, score)


# --- one transition -------------------------------------------------------------------


@dataclass(frozen=True)
class TransitionScore:
    harmonic: float
    tempo: float
    energy: float
    total: float
    move: str  # category name, or "unknown key"
    key_step: str  # "+1", "0", ... or "" when a key is missing
    bpm_change_pct: float | None  # signed, relative to the half/double reading when used
    half_double: bool
    energy_change: float | None
    missing: tuple[str, ...]  # parts scored neutral: "key", "bpm", "energy"
    overflow: float = 0.0  # weighted tempo overflow added to the cost (see tempo_overflow)

    @property
    def cost(self) -> float:
        return 1.0 - self.total + self.overflow


def _nan(value: float | None) -> float:
    return np.nan if value is None else float(value)


def score_transition(a: Track, b: Track, config: ScoringConfig | None = None) -> TransitionScore:
    config = config or ScoringConfig()
    wh, wt, we = config.weights()
    ka, kb = a.parsed_key, b.parsed_key
    missing = []
    if ka and kb:
        harmonic = move_value(ka, kb, config.moves)
        move, key_step = key_move(ka, kb)
    else:
        harmonic, move, key_step = config.neutral, "unknown key", ""
        missing.append("key")
    tempo = float(tempo_score(_nan(a.bpm), _nan(b.bpm), config))
    bpm_change = None
    half_double = False
    if a.bpm and b.bpm:
        pct, hd = tempo_change(a.bpm, b.bpm, config.half_double_time)
        half_double = bool(hd)
        # Signed against the reading that was scored: b at half/double time if closer.
        target = (b.bpm / 2 if b.bpm > a.bpm else b.bpm * 2) if half_double else b.bpm
        bpm_change = float(np.sign(target - a.bpm) * pct)
    else:
        missing.append("bpm")
    energy = float(energy_score(_nan(a.energy), _nan(b.energy), config))
    if a.energy is not None and b.energy is not None:
        energy_change = b.energy - a.energy
    else:
        energy_change = None
        missing.append("energy")
    total = wh * harmonic + wt * tempo + we * energy
    overflow = wt * float(tempo_overflow(_nan(a.bpm), _nan(b.bpm), config))
    return TransitionScore(
        harmonic,
        tempo,
        energy,
        total,
        move,
        key_step,
        bpm_change,
        half_double,
        energy_change,
        tuple(missing),
        overflow,
    )


# --- all transitions ------------------------------------------------------------------


def _column(tracks: Sequence[Track], name: str) -> np.ndarray:
    return np.array(
        [np.nan if getattr(t, name) is None else getattr(t, name) for t in tracks], dtype=float
    )


# Above this many distinct values a part is computed pair by pair instead of through a
# table of its distinct values (the table would be as big as the matrix).
TABLE_MAX = 2048


def part_table(values: np.ndarray, part, config: ScoringConfig):
    """(table, index) with part(values[i], values[j]) == table[index[i], index[j]], or None.

    Libraries repeat BPM and energy values (integers, mostly): scoring the distinct values
    once and gathering is many times faster than scoring every pair.
    """
    distinct, index = np.unique(values, return_inverse=True, equal_nan=True)
    if len(distinct) > TABLE_MAX:
        return None
    return part(distinct[:, None], distinct[None, :], config), index.reshape(-1)


def cost_matrix(
    tracks: Sequence[Track],
    config: ScoringConfig | None = None,
    dtype=np.float64,
    block: int = 256,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """n x n matrix of transition costs (1 - total score + tempo overflow); the diagonal is 0.

    Computed in row blocks so that 10,000 tracks need no n x n temporaries beyond the result
    (256 rows: ~20 MB per temporary at 10,000 tracks). `out` (n x n, e.g. the top-left
    block of the solver's tour matrix, optimizer.tour_workspace) receives the costs instead
    of a new array, so that the largest pools hold one n x n array, not two.
    """
    config = config or ScoringConfig()
    wh, wt, we = config.weights()
    n = len(tracks)
    parts = [(wh, (harmonic_table(config), key_indices(tracks)), None)]
    bpm = _column(tracks, "bpm")
    for weight, values, part in (
        (wt, bpm, tempo_score),
        (-wt, bpm, tempo_overflow),  # subtracted from the score = added to the cost
        (we, _column(tracks, "energy"), energy_score),
    ):
        parts.append((weight, part_table(values, part, config), (values, part)))
    if out is None:
        out = np.empty((n, n), dtype=dtype)
    for start in range(0, n, block):
        rows = slice(start, min(start + block, n))
        score = np.zeros((rows.stop - rows.start, n))
        for weight, tabled, direct in parts:
            if tabled is not None:
                table, index = tabled
                score += weight * table[index[rows, None], index[None, :]]
            else:
                values, part = direct
                score += weight * part(values[rows, None], values[None, :], config)
        out[rows] = 1.0 - score
    np.fill_diagonal(out, 0.0)
    return out
