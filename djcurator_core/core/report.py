"""Plain-text rendering of a justified set for terminals."""

from __future__ import annotations

from djcurator_core.core.justify import SetResult


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def summary_lines(result: SetResult) -> list[str]:
    s = result.summary
    jump = "n/a" if s.largest_bpm_jump_pct is None else f"{s.largest_bpm_jump_pct:.1f}%"
    return [
        f"{s.track_count} tracks, {_duration(s.total_duration)}, solver {result.solver or '?'}",
        f"mean transition score {s.mean_score:.3f}; harmonically compatible "
        f"{s.compatible_share * 100:.0f}%; largest BPM jump {jump}",
        f"cost {s.cost:.3f}: {s.improvement_over_naive_pct:.1f}% better than input order "
        f"({s.naive_cost:.3f}), {s.improvement_over_greedy_pct:.1f}% better than greedy "
        f"({s.greedy_cost:.3f})",
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
