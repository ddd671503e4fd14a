"""Plain-text rendering of a justified set for terminals."""

from __future__ import annotations

from djcurator_core.core.report.justify import SetResult


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def _artist_line(s) -> str:
    if s.smallest_artist_gap is None:
        return "no artist twice"
    if s.same_artist_back_to_back:
        return f"same artist back to back {s.same_artist_back_to_back}x"
    return f"same artist at least {s.smallest_artist_gap} track(s) apart"


def mix_line(result: SetResult) -> str | None:
    """How many transitions have a mix point and the set's length as played; None when
    no track of the set has a structure (the set is reported as before)."""
    s = result.summary
    if s.mix_points is None:
        return None
    line = f"mix points for {s.mix_points} of {len(result.transitions)} transitions"
    if s.no_mix_points:
        shown = ", ".join(f"{p} -> {p + 1}" for p in s.no_mix_points[:10])
        more = f" and {len(s.no_mix_points) - 10} more" if len(s.no_mix_points) > 10 else ""
        line += f" (none for {shown}{more}: a track without a beat grid)"
    if s.played_duration is not None:
        line += f"; {_duration(s.played_duration)} as played (each overlap counted once)"
    return line


def summary_lines(result: SetResult) -> list[str]:
    """The set's header: size, quality by the standard rules, costs, then the notes."""
    s = result.summary
    jump = "n/a" if s.largest_bpm_jump_pct is None else f"{s.largest_bpm_jump_pct:.1f}%"
    comfortable = f"{s.comfortable_jump_pct:g}%"
    quality = (
        f"mixable {s.mixable_share * 100:.0f}% (standard key move and tempo within "
        f"{comfortable}); compatible keys {s.compatible_share * 100:.0f}%; boosts {s.boosts}, "
        f"diagonals {s.diagonals}; jumps over {comfortable}: {s.jumps_over_comfortable}, "
        f"largest {jump}"
    )
    shape = f"mean transition score {s.mean_score:.3f}; {_artist_line(s)}"
    if s.energy_rank_correlation is not None:
        shape += f"; energy {s.energy_arc}: rank correlation {s.energy_rank_correlation:.2f}"
    return [
        f"{s.track_count} tracks, {_duration(s.total_duration)}, solver {result.solver or '?'}",
        quality,
        shape,
        f"cost {s.cost:.3f}: {s.improvement_over_naive_pct:.1f}% better than input order "
        f"({s.naive_cost:.3f}), {s.improvement_over_greedy_pct:.1f}% better than greedy "
        f"({s.greedy_cost:.3f})",
        *([mixes] if (mixes := mix_line(result)) else []),
        *result.notes,
    ]


def _track_line(position: int, track) -> str:
    bpm = f"{track.bpm:g}" if track.bpm else "?"
    energy = f"{track.energy:g}" if track.energy is not None else "?"
    return f"{position:3d}. {track.label}  [{track.key or '?'} | {bpm} BPM | energy {energy}]"


def render_text(result: SetResult) -> str:
    lines = summary_lines(result) + [""]
    for position, track in enumerate(result.tracks, 1):
        lines.append(_track_line(position, track))
        if position <= len(result.transitions):
            t = result.transitions[position - 1]
            lines.append(f"       -> {t.key_move} | score {t.score:.2f}: {t.sentence}")
    return "\n".join(lines) + "\n"
