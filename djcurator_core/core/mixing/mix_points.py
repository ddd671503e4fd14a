"""Choosing the mix point of a transition: where to leave track A, where to enter track B,
and how many bars both play (docs/mix-points.md).

DJs blend on phrases: the blend starts on a phrase boundary of A and on one of B, lasts a
whole number of phrases (8, 16 or 32 bars), and lies where both tracks are made to be
mixed: A's outro and B's intro. So `mix_point` chooses

1. the overlap: the longest of 32, 16 and 8 bars that fits both A's outro (from the
   mix-out bar to the outro's end) and B's intro (from the mix-in bar to its end);
2. A's mix-out: the latest phrase boundary of its outro that leaves room for the
   overlap (A plays as much of itself as it can, and its outro runs out with the blend);
3. B's mix-in: the earliest phrase boundary of its intro (normally bar 1);
4. the tempo: B is played at A's tempo. A is what the room hears, so its tempo does not
   move; B is pitched in the headphones before it is heard (the same move as
   beatmatching), and half or double time counts when it is the closer match.
   `tempo_change_pct` is that pitch change of B; "meeting halfway" would change the
   tempo of the track on air in mid-play, which is why it is not the rule.

Where a side has no clean phrase, the mix point is still chosen, as well as the
structure allows, and `note` says why it is not clean (`on_phrases` False):
- no intro / no outro: that side is mixed at most 16 bars, within its first / last 32;
- no phrase boundaries in the stretch: bars are counted in 8s from the stretch's start;
- an intro or outro shorter than 8 bars: the overlap is as long as both allow;
- nothing at all to overlap: a cut (overlap 0) at the end of A's grid;
- a grid that drifts (`steady` False): the times are approximate.

Positions are in bars (1-based, `TrackStructure`), times in seconds of each track's own
file; the overlap's length in seconds is at A's tempo. Pure: no I/O, no temporalio.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from djcurator_core.core.mixing.mix_point import MixPoint
from djcurator_core.core.models import Track
from djcurator_core.core.track_structure import TrackStructure

OVERLAPS = (32, 16, 8)  # bars, longest first
UNMARKED_BARS = 32  # the stretch a side without an intro/outro may be mixed in
UNMARKED_OVERLAP = 16  # and the longest overlap there: its body is no intro/outro
COUNTED_PHRASE_BARS = 8  # bars per phrase counted where no phrase was found
EXPECTED_OVERLAP_BARS = 16  # planning a set's length before its order is known
PITCH_RANGE_PCT = 8.0  # the pitch range decks default to (+-8 %)


@dataclass(frozen=True)
class _Stretch:
    """The bars of one track a transition may overlap: [start, end), the phrase
    boundaries in it (None: the track has no phrases), the longest overlap it takes, and
    what is not clean."""

    start: int
    end: int
    phrases: tuple[int, ...] | None
    longest: int
    notes: tuple[str, ...]

    @property
    def bars(self) -> int:
        return max(0, self.end - self.start)

    def counted(self) -> tuple[int, ...]:
        """Bars counted in 8s from the stretch's start: the phrase grid to fall back on."""
        return tuple(range(self.start, self.end, COUNTED_PHRASE_BARS))


def _grid_end(s: TrackStructure) -> int:
    """The bar after the last whole bar of the grid."""
    return s.bar_count + 1


def _phrases_in(s: TrackStructure, start: int, end: int, section: bool) -> tuple[int, ...] | None:
    """Phrase boundaries in [start, end), with the start of an intro or outro (`section`)
    counted as one; None when the track has no phrases at all."""
    if not s.phrases:
        return None
    return tuple(
        sorted({b for b in s.phrases if start <= b < end} | ({start} if section else set()))
    )


def _outro(s: TrackStructure, label: str) -> _Stretch:
    end = _grid_end(s)
    span = s.outro
    if span is not None and span.start < end:
        start, stop = span.start, min(span.end, end)
        return _Stretch(start, stop, _phrases_in(s, start, stop, True), OVERLAPS[0], ())
    why = "no outro" if span is None else "its outro lies past the end of its grid"
    start = max(1, end - UNMARKED_BARS)
    note = f"{label}: {why}, so it is mixed out within its last {end - start} bars"
    return _Stretch(start, end, _phrases_in(s, start, end, False), UNMARKED_OVERLAP, (note,))


def _intro(s: TrackStructure, label: str) -> _Stretch:
    end = _grid_end(s)
    span = s.intro
    if span is not None and span.start < end:
        start, stop = span.start, min(span.end, end)
        return _Stretch(start, stop, _phrases_in(s, start, stop, True), OVERLAPS[0], ())
    why = "no intro" if span is None else "its intro lies past the end of its grid"
    stop = min(end, 1 + UNMARKED_BARS)
    note = f"{label}: {why}, so it is mixed in within its first {stop - 1} bars"
    phrases = _phrases_in(s, 1, stop, True)  # bar 1 starts the track's first phrase
    return _Stretch(1, stop, phrases, UNMARKED_OVERLAP, (note,))


def _latest(candidates: Sequence[int], stretch: _Stretch, bars: int) -> int | None:
    fitting = [b for b in candidates if stretch.start <= b and b + bars <= stretch.end]
    return max(fitting) if fitting else None


def _earliest(candidates: Sequence[int], stretch: _Stretch, bars: int) -> int | None:
    fitting = [b for b in candidates if stretch.start <= b and b + bars <= stretch.end]
    return min(fitting) if fitting else None


@dataclass(frozen=True)
class _Choice:
    out_bar: int
    in_bar: int
    bars: int
    on_phrases: bool
    notes: tuple[str, ...]


def _choose(out: _Stretch, into: _Stretch, a_label: str, b_label: str) -> _Choice:
    """The bars of the blend: both sides on phrases if any overlap allows it, else one
    side on counted bars, else a short blend or a cut."""
    a_phrases, b_phrases = out.phrases or (), into.phrases or ()
    overlaps = [bars for bars in OVERLAPS if bars <= min(out.longest, into.longest)]
    for bars in overlaps:  # 1. both on phrase boundaries
        o, i = _latest(a_phrases, out, bars), _earliest(b_phrases, into, bars)
        if o is not None and i is not None:
            return _Choice(o, i, bars, True, ())
    for bars in overlaps:  # 2. a side without a fitting phrase counts its bars in 8s
        o = _latest(a_phrases, out, bars)
        i = _earliest(b_phrases, into, bars)
        notes = []
        if o is None:
            o = _latest(out.counted(), out, bars)
            notes.append(_counted_note(a_label, out, "out"))
        if i is None:
            i = _earliest(into.counted(), into, bars)
            notes.append(_counted_note(b_label, into, "in"))
        if o is not None and i is not None:
            return _Choice(o, i, bars, False, tuple(notes))
    bars = min(out.bars, into.bars, overlaps[-1] - 1)  # 3. under 8 bars on one side
    if bars > 0:
        note = (
            f"{a_label}'s outro stretch ({out.bars} bars) and {b_label}'s intro stretch "
            f"({into.bars} bars) leave room for {bars} bars only: a short blend"
        )
        return _Choice(out.end - bars, into.start, bars, False, (note,))
    note = f"no bars to overlap ({a_label}: {out.bars}, {b_label}: {into.bars}): a cut"
    return _Choice(max(1, out.end), max(1, into.start), 0, False, (note,))


def _counted_note(label: str, stretch: _Stretch, side: str) -> str:
    if stretch.phrases is None:
        return f"{label} has no phrase boundaries: mix-{side} counted in 8-bar phrases"
    return (
        f"{label} has no phrase boundary that fits the blend: mix-{side} counted in 8-bar phrases"
    )


def ridden_tempo(a_bpm: float, b_bpm: float) -> tuple[float, bool]:
    """The percent B's tempo changes to play at A's tempo, and whether that is at half
    or double time (whichever of the three is closest)."""
    ratio = a_bpm / b_bpm
    best = min((ratio, 2.0 * ratio, 0.5 * ratio), key=lambda r: abs(math.log(r)))
    return round((best - 1.0) * 100.0, 3) + 0.0, best != ratio


def _clamped(seconds: float, duration: float) -> float:
    return min(round(max(seconds, 0.0), 3), duration)  # rounded, never past the end


def mix_point(a: Track, b: Track) -> MixPoint | None:
    """Where to leave `a` and enter `b` (module docstring); None when either track has
    no structure (no analysed beat grid), so the transition is written as before."""
    sa, sb = a.structure, b.structure
    if sa is None or sb is None:
        return None
    out, into = _outro(sa, a.label), _intro(sb, b.label)
    choice = _choose(out, into, a.label, b.label)
    change, half_double = ridden_tempo(sa.bpm, sb.bpm)
    notes = list(out.notes + into.notes + choice.notes)
    if half_double:
        notes.append(f"{b.label} is ridden at half/double time")
    if abs(change) > PITCH_RANGE_PCT:
        notes.append(f"{b.label} needs {change:+.1f}% of pitch: beyond a +-8% pitch fader")
    if sa.beats_per_bar != sb.beats_per_bar:
        notes.append(
            f"bars differ ({sa.beats_per_bar} vs {sb.beats_per_bar} beats): the overlap is "
            f"counted in {a.label}'s bars"
        )
    for label, s in ((a.label, sa), (b.label, sb)):
        if not s.steady:
            notes.append(f"{label}'s beat grid drifts: the cue times are approximate")
    steady = sa.steady and sb.steady
    return MixPoint(
        out_bar=choice.out_bar,
        # a grid without a whole bar leaves nothing to mix over: A plays to its end
        out_time=(
            sa.duration
            if sa.bar_count == 0
            else _clamped(sa.time_of_bar(choice.out_bar), sa.duration)
        ),
        in_bar=choice.in_bar,
        in_time=_clamped(sb.time_of_bar(choice.in_bar), sb.duration),
        overlap_bars=choice.bars,
        overlap_seconds=round(choice.bars * sa.bar_seconds, 3),
        tempo_change_pct=change,
        on_phrases=choice.on_phrases and steady,
        note="; ".join(notes),
    )


def mix_points(ordered: Sequence[Track]) -> list[MixPoint | None]:
    """The mix point of each transition of a set in order (None where a side has no
    structure)."""
    return [mix_point(a, b) for a, b in zip(ordered, ordered[1:], strict=False)]


def _length(track: Track) -> float | None:
    if track.duration is not None:
        return track.duration
    return track.structure.duration if track.structure is not None else None


def played_length(ordered: Sequence[Track], mixes: Sequence[MixPoint | None]) -> float:
    """The set's length as played: each track from where it is mixed in (0 for the
    first) to where the next one is mixed in over it (its end for the last), so every
    overlap counts once; a transition without a mix point is back to back. Tracks without
    a length count as 0, as in the summary's total."""
    total = 0.0
    entered = 0.0
    for position, track in enumerate(ordered):
        mix = mixes[position] if position < len(mixes) else None
        left = mix.out_time if mix is not None else (_length(track) or 0.0)
        total += max(0.0, left - entered)
        entered = mix.in_time if mix is not None else 0.0
    return total


def _planned_span(track: Track) -> tuple[float, float, float] | None:
    """(mix-in, mix-out, length) in seconds of a structured track, as `planned_length`
    expects them; None without a structure."""
    s = track.structure
    if s is None:
        return None
    out, into = _outro(s, track.label), _intro(s, track.label)
    bars = next((b for b in OVERLAPS if b <= EXPECTED_OVERLAP_BARS and b <= out.bars), 0)
    out_bar = (_latest(out.phrases or out.counted(), out, bars) if bars else None) or out.end
    entered = _clamped(s.time_of_bar(into.start), s.duration)
    left = _clamped(s.time_of_bar(out_bar), s.duration)
    length = _length(track) or s.duration
    left = min(left, length)
    if left - entered <= 0:  # nothing between them: the whole track
        return 0.0, length, length
    return entered, left, length


def planned_length(track: Track) -> float | None:
    """What a track adds to a set's played length before the order is known (set
    selection for --duration): from its mix-in (its intro's start) to its mix-out with
    an expected overlap of 16 bars (or the longest standard one its outro holds). A
    track without a structure adds its whole length, as before; None without a length."""
    span = _planned_span(track)
    if span is None:
        return track.duration
    entered, left, _ = span
    return left - entered


def planned_margin(tracks: Sequence[Track]) -> float:
    """Seconds a set planned by `planned_length` may still add: its first track plays
    from its start and its last one to its end. Selection keeps this much of the
    duration free (the longest lead-in plus the longest tail among the tracks)."""
    spans = [span for track in tracks if (span := _planned_span(track)) is not None]
    if not spans:
        return 0.0
    return max(entered for entered, _, _ in spans) + max(end - left for _, left, end in spans)
