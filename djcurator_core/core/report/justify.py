"""Why this order: per-transition explanations and a summary of the set.

`justify` is a pure function of the tracks, the order and the scoring config; the
summary compares the order's cost with the naive (input) order and the greedy order.
Where the set's tracks carry a structure it also chooses each transition's mix point
(`core/mixing/mix_points.py`), names it in the sentence, and counts the mix points and
the set's length as played in the summary; a set without structures is explained as
before (the workflow's justification step is where mix points are made).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from pydantic import BaseModel

from djcurator_core.core.mixing.mix_point import MixPoint
from djcurator_core.core.mixing.mix_points import mix_points, played_length
from djcurator_core.core.models import Track
from djcurator_core.core.rules.energy_arc import spearman
from djcurator_core.core.rules.mixability import (
    BOOST_MOVES,
    DIAGONAL,
    STANDARD_MOVES,
    symmetric_jump,
)
from djcurator_core.core.rules.scoring import (
    ScoringConfig,
    TransitionScore,
    cost_matrix,
    score_transition,
)
from djcurator_core.core.rules.set_rules import artist_ids, smallest_artist_gap
from djcurator_core.core.solver.sequencing import SolverRequest, greedy, naive, path_cost

if TYPE_CHECKING:
    from djcurator_core.core.options.set_options import SetOptions

# "Compatible" is the standard Camelot rule only; diagonals and boosts are counted apart.
COMPATIBLE_MOVES = STANDARD_MOVES

_MOVE_PHRASES = {
    "same key": "stays in {a}",
    "relative": "switches to the relative {mode} ({a} -> {b})",
    "+1": "steps up the wheel ({a} -> {b})",
    "-1": "steps down the wheel ({a} -> {b})",
    "diagonal": "takes the diagonal move ({a} -> {b})",
    "boost +2": "lifts a whole tone as an energy boost ({a} -> {b})",
    "boost +7": "lifts a semitone as an energy boost ({a} -> {b})",
    "clash": "clashes ({a} -> {b}, {step})",  # "Harmony clashes (8A -> 2A, +6)"
}


class Transition(BaseModel):
    position: int  # 1-based position of the outgoing track
    from_id: str
    to_id: str
    from_label: str
    to_label: str
    from_key: str | None
    to_key: str | None
    move: str
    key_move: str  # "8A -> 9A, +1"
    from_bpm: float | None
    to_bpm: float | None
    bpm_change_pct: float | None
    half_double: bool
    from_energy: float | None
    to_energy: float | None
    energy_change: float | None
    harmonic: float
    tempo: float
    energy: float
    score: float
    cost: float = 0.0  # 1 - score + the tempo overflow (what the solvers minimise)
    compatible: bool  # standard Camelot move (same key, +-1, relative)
    mixable: bool = False  # compatible and a tempo jump within the comfortable range
    jump_pct: float | None = None  # symmetric tempo jump (from the slower tempo), percent
    missing: list[str]
    sentence: str
    mix: MixPoint | None = None  # where to leave A and enter B (tracks with a structure)


class SetSummary(BaseModel):
    """The set's quality by the rules DJs mix by (see docs/dj-rules.md)."""

    track_count: int
    total_duration: float  # seconds (tracks without a duration count as 0)
    mean_score: float
    mixable_share: float = 1.0  # transitions with a standard key move and a jump <= 6 %
    compatible_share: float  # transitions with a standard Camelot key move
    boosts: int = 0  # +2 / +7 "energy boost" key moves
    diagonals: int = 0  # diagonal key moves
    comfortable_jump_pct: float = 6.0  # the tempo jump counted as mixable
    jumps_over_comfortable: int = 0  # transitions with a larger tempo jump
    largest_bpm_jump_pct: float | None  # symmetric, from the slower tempo
    cost: float
    naive_cost: float
    greedy_cost: float
    improvement_over_naive_pct: float
    improvement_over_greedy_pct: float
    missing_data: int  # transitions with at least one neutral part
    same_artist_back_to_back: int = 0
    smallest_artist_gap: int | None = None  # fewest tracks between one artist's tracks
    energy_arc: str = "none"
    energy_rank_correlation: float | None = None  # position vs energy, for arcs
    # Mix points (tracks with a structure; None when no track of the set has one):
    mix_points: int | None = None  # transitions with a mix point
    no_mix_points: list[int] = []  # positions of the transitions without one
    played_duration: float | None = None  # seconds as played: overlaps count once


class SetResult(BaseModel):
    order: list[str]
    tracks: list[Track]  # in set order
    transitions: list[Transition]
    summary: SetSummary
    solver: str = ""
    notes: list[str] = []  # e.g. limits the order could not respect


def _fmt_bpm(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _fmt_energy(value: float) -> str:
    return f"{value:g}"


def key_move_text(a: Track, b: Track, s: TransitionScore) -> str:
    if "key" in s.missing:
        return f"{a.key or '?'} -> {b.key or '?'}, key unknown"
    return f"{a.key} -> {b.key}, {s.move if s.move in ('same key', 'relative') else s.key_step}"


def sentence(a: Track, b: Track, s: TransitionScore, mix: MixPoint | None = None) -> str:
    """One plain sentence a DJ would write beside the transition; with a mix point it
    ends with where to mix ("mix out at 5:12, bar 97 -> in at 0:00, bar 1, 16 bars")."""
    parts = []
    if "key" in s.missing:
        parts.append("Key unknown on one side, so the blend must be checked by ear")
    else:
        mode = "major" if b.key and b.key.endswith("B") else "minor"
        phrase = _MOVE_PHRASES[s.move].format(a=a.key, b=b.key, step=s.key_step, mode=mode)
        parts.append(f"Harmony {phrase}")
    if "bpm" in s.missing:
        parts.append("tempo unknown")
    elif s.half_double:
        parts.append(
            f"tempo mixes at half/double time ({_fmt_bpm(a.bpm)} -> "
            f"{_fmt_bpm(b.bpm)} BPM, {s.bpm_change_pct:+.1f}%)"
        )
    elif abs(s.bpm_change_pct) < 0.05:
        parts.append(f"tempo holds at {_fmt_bpm(a.bpm)} BPM")
    else:
        parts.append(
            f"tempo {'rises' if s.bpm_change_pct > 0 else 'drops'} "
            f"{abs(s.bpm_change_pct):.1f}% ({_fmt_bpm(a.bpm)} -> {_fmt_bpm(b.bpm)} BPM)"
        )
    if s.energy_change is None:
        parts.append("energy unknown")
    elif s.energy_change == 0:
        parts.append(f"energy stays at {_fmt_energy(a.energy)}")
    else:
        verb = "lifts" if s.energy_change > 0 else "drops"
        parts.append(f"energy {verb} {_fmt_energy(a.energy)} -> {_fmt_energy(b.energy)}")
    if mix is not None:
        parts.append(f"mix {mix_text(mix)}" + (f" ({mix.note})" if mix.note else ""))
    return "; ".join(parts) + "."


def clock(seconds: float) -> str:
    """m:ss of a time in a track ("5:12")."""
    whole = int(round(seconds))
    return f"{whole // 60}:{whole % 60:02d}"


def mix_text(mix: MixPoint) -> str:
    """The mix point in words: "out at 5:12, bar 97 -> in at 0:00, bar 1, 16 bars"."""
    text = (
        f"out at {clock(mix.out_time)}, bar {mix.out_bar} -> in at {clock(mix.in_time)}, "
        f"bar {mix.in_bar}, "
    )
    text += f"{mix.overlap_bars} bars" if mix.overlap_bars else "a cut"
    if abs(mix.tempo_change_pct) >= 0.05:
        text += f", the next track pitched {mix.tempo_change_pct:+.1f}%"
    return text


def transition(
    position: int, a: Track, b: Track, config: ScoringConfig, mix: MixPoint | None = None
) -> Transition:
    s = score_transition(a, b, config)
    jump = None if s.bpm_change_pct is None else float(symmetric_jump(s.bpm_change_pct))
    compatible = s.move in COMPATIBLE_MOVES
    return Transition(
        position=position,
        from_id=a.id,
        to_id=b.id,
        from_label=a.label,
        to_label=b.label,
        from_key=a.key,
        to_key=b.key,
        move=s.move,
        key_move=key_move_text(a, b, s),
        from_bpm=a.bpm,
        to_bpm=b.bpm,
        bpm_change_pct=s.bpm_change_pct,
        half_double=s.half_double,
        from_energy=a.energy,
        to_energy=b.energy,
        energy_change=s.energy_change,
        harmonic=s.harmonic,
        tempo=s.tempo,
        energy=s.energy,
        score=s.total,
        cost=s.cost,
        compatible=compatible,
        mixable=compatible and jump is not None and jump <= config.max_bpm_jump + 1e-9,
        jump_pct=jump,
        missing=list(s.missing),
        sentence=sentence(a, b, s, mix),
        mix=mix,
    )


def _improvement(baseline: float, cost: float) -> float:
    # rounded so that equal costs read 0.0, not -0.0 or 2e-14
    return 0.0 if baseline <= 0 else round((baseline - cost) / baseline * 100, 6) + 0.0


def justify(
    tracks: Sequence[Track],
    order: Sequence[int],
    config: ScoringConfig | None = None,
    solver: str = "",
    notes: Sequence[str] = (),
    pinned_start: bool = False,
    pinned_end: bool = False,
    energy_arc: str = "none",
) -> SetResult:
    """Explain `order` (indices into `tracks`) and compare it with the naive and greedy
    orders of the same tracks (with the same ends pinned when the order was pinned).

    The summary measures the set by the standard rules whatever the solver was asked to
    allow: "compatible" is a standard Camelot move, "mixable" adds a tempo jump within the
    comfortable range, boosts and diagonals are counted apart."""
    config = config or ScoringConfig()
    ordered = [tracks[i] for i in order]
    structured = any(t.structure is not None for t in ordered)
    mixes = mix_points(ordered) if structured else [None] * max(0, len(ordered) - 1)
    transitions = [
        transition(i + 1, a, b, config, mixes[i])
        for i, (a, b) in enumerate(zip(ordered, ordered[1:], strict=False))
    ]
    cost = sum(t.cost for t in transitions)
    naive_cost, greedy_cost = baseline_costs(tracks, order, config, pinned_start, pinned_end)
    scores = [t.score for t in transitions]
    jumps = [t.jump_pct for t in transitions if t.jump_pct is not None]
    share = (lambda flags: sum(flags) / len(transitions)) if transitions else (lambda _: 1.0)
    artists = artist_ids(ordered)
    known_energy = [t.energy for t in ordered if t.energy is not None]
    summary = SetSummary(
        track_count=len(ordered),
        total_duration=sum(t.duration or 0 for t in ordered),
        mean_score=sum(scores) / len(scores) if scores else 1.0,
        mixable_share=share(t.mixable for t in transitions),
        compatible_share=share(t.compatible for t in transitions),
        boosts=sum(t.move in BOOST_MOVES for t in transitions),
        diagonals=sum(t.move == DIAGONAL for t in transitions),
        comfortable_jump_pct=config.max_bpm_jump,
        jumps_over_comfortable=sum(j > config.max_bpm_jump + 1e-9 for j in jumps),
        largest_bpm_jump_pct=max(jumps) if jumps else None,
        cost=cost,
        naive_cost=naive_cost,
        greedy_cost=greedy_cost,
        improvement_over_naive_pct=_improvement(naive_cost, cost),
        improvement_over_greedy_pct=_improvement(greedy_cost, cost),
        missing_data=sum(bool(t.missing) for t in transitions),
        same_artist_back_to_back=int(
            sum(a == b and a >= 0 for a, b in zip(artists[:-1], artists[1:], strict=True))
        ),
        smallest_artist_gap=smallest_artist_gap(list(range(len(ordered))), artists),
        energy_arc=energy_arc,
        energy_rank_correlation=(
            spearman(known_energy) if energy_arc != "none" and len(known_energy) > 1 else None
        ),
        **(_mix_summary(ordered, transitions) if structured else {}),
    )
    return SetResult(
        order=[t.id for t in ordered],
        tracks=ordered,
        transitions=transitions,
        summary=summary,
        solver=solver,
        notes=list(notes),
    )


def _mix_summary(ordered: Sequence[Track], transitions: Sequence[Transition]) -> dict:
    """The summary's mix point fields (a set with at least one structured track)."""
    mixes = [t.mix for t in transitions]
    return {
        "mix_points": sum(m is not None for m in mixes),
        "no_mix_points": [t.position for t in transitions if t.mix is None],
        "played_duration": round(played_length(ordered, mixes), 3),
    }


def baseline_costs(
    tracks: Sequence[Track],
    order: Sequence[int],
    config: ScoringConfig,
    pinned_start: bool,
    pinned_end: bool,
) -> tuple[float, float]:
    """Costs of the naive and greedy orders of the tracks in `order`, in input order."""
    chosen = sorted(order)  # the set's tracks in input order
    if len(chosen) < 2:
        return 0.0, 0.0
    position = {index: p for p, index in enumerate(chosen)}
    request = SolverRequest(
        start=position[order[0]] if pinned_start else None,
        end=position[order[-1]] if pinned_end else None,
    )
    dtype = np.float32 if len(chosen) > 3000 else np.float64  # 10,000 tracks: 400 MB
    matrix = cost_matrix([tracks[i] for i in chosen], config, dtype=dtype)
    return (path_cost(matrix, naive(matrix, request)), path_cost(matrix, greedy(matrix, request)))


TRANSITION_BYTES = 4_000  # one explained transition and its JSON


def memory_estimate(set_size: int) -> int:
    """Peak bytes `justify` needs for a set of `set_size` tracks (worker memory budget):
    the baselines' cost matrix (float32 above 3,000 tracks, as baseline_costs builds it)
    and the transitions."""
    cell = 4 if set_size > 3000 else 8
    return cell * set_size * set_size + TRANSITION_BYTES * set_size


def justify_for_options(
    tracks: Sequence[Track], order: Sequence[int], options: SetOptions, notes: Sequence[str] = ()
) -> SetResult:
    """`justify` with the scoring, solver name and pinned ends of the set's options; a
    set that plays longer than its --duration (its overlaps were shorter than planned)
    says so in a note."""
    result = justify(
        tracks,
        order,
        options.scoring,
        solver=options.solver,
        notes=notes,
        pinned_start=options.start is not None,
        pinned_end=options.end is not None,
        energy_arc=options.energy_arc,
    )
    played = result.summary.played_duration
    if options.duration is not None and played is not None and played > options.duration + 0.5:
        over = played - options.duration
        note = (
            f"as played the set lasts {played / 60:.1f} min, {over / 60:.1f} min over the "
            f"{options.duration / 60:.1f} min asked: its mix points overlap less than planned"
        )
        result = result.model_copy(update={"notes": [*result.notes, note]})
    return result
