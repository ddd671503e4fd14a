"""Sections, phrases, intro and outro of a track, counted in bars on its beat grid.

Dance music is built from phrases of 8 bars, grouped into sections of 8, 16 or 32 bars
(intro, build, break, drop, outro) that differ in what plays: drums or none, bass or
none, chords, melody, vocals. A DJ mixes phrase against phrase, and over the stretches
made for it: the intro and outro, where the beat plays without the melody.

Per bar of the grid (beat_grid.py), from the whole track's frames (track_features.py):

- loudness (dB), the spectrum's shape (the log energy in ~30 bands: timbre), the onset
  density in the low, mid and high band, and the level of sustained sound above 250 Hz
  (chords, melody, vocals: drums do not sustain);
- beat: on at least one of the bar's beats a kick: the low band holds at least KICK_SHARE_DB
  of the sound and is KICK_DECAY_DB quieter a sixteenth note before or after (a kick
  comes and goes that fast; a bass note or a pad's low end does not, and what melody leaks into the
  low band is far below the share), so pads and melody have no "beat" even when their
  notes fall on the grid.

**Sections** start where the bars change: the distance between the mean features of
the NOVELTY_BARS bars before and after each bar line (every feature scaled to its spread
over the track first, each group of features weighted alike), a Foote-style novelty.
Its peaks above NOVELTY_FLOOR of the largest, and above twice the typical bar-to-bar
change, are section starts; a peak one bar off the 4-bar grid moves onto it when the
grid's bar is nearly as novel (fills and risers blur a change by a bar), and sections
shorter than MIN_SECTION_BARS are merged into their neighbour.

**Phrases** start at every section start and every 8 bars after it within the section.

**Intro**: from bar 1, the sections that have a beat and no melody (sustained sound more
than MELODY_DB below the track's melodic parts); if the track opens with melody over
the beat, the stretch before the first break (a section without a beat), at most
MAX_MIXABLE_BARS. No intro when the track opens without a beat (nothing to beatmatch).
The **outro** is the same from the last bar backwards.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from djcurator_core.core.analysis.beat_grid import BeatGrid
from djcurator_core.core.analysis.track_features import TrackFeatures

PHRASE_BARS = 8
NOVELTY_BARS = 4
NOVELTY_FLOOR = 0.25  # of the largest novelty
MIN_SECTION_BARS = 4
MELODY_DB = 12.0  # sustained sound this far below the melodic bars: no melody
KICK_DECAY_DB = 4.0  # the low band this much quieter a sixteenth before or after: a kick
KICK_SHARE_DB = -15.0  # and at least this share of the sound on the beat (not leakage)
MAX_MIXABLE_BARS = 32


@dataclass(frozen=True)
class BarFeatures:
    """Per-bar measurements of a track; row i is bar i + 1."""

    matrix: np.ndarray  # bars x features, each scaled to its spread
    beat: np.ndarray  # bool per bar: the kick plays
    melody: np.ndarray  # bool per bar: sustained sound (chords, melody, vocals)

    @property
    def bars(self) -> int:
        return int(self.beat.size)


@dataclass(frozen=True)
class Phrasing:
    sections: list[int]  # bars where a section starts (1 first)
    phrases: list[int]  # bars where a phrase starts
    intro: tuple[int, int] | None  # (first bar, bar after the last)
    outro: tuple[int, int] | None


def bar_edges(grid: BeatGrid, features: TrackFeatures) -> np.ndarray:
    """Frame index of each whole bar's start, and of the end of the last whole bar."""
    bar = grid.beats_per_bar * grid.beat_seconds
    count = int((features.duration - grid.first_downbeat) // bar)
    return np.round((grid.first_downbeat + np.arange(count + 1) * bar) * features.fps).astype(int)


def _per_bar(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Mean of `values` (frames, or frames x columns) over each bar."""
    sums = np.add.reduceat(values, edges[:-1], axis=0)
    counts = np.maximum(np.diff(edges), 1)
    return sums / (counts[:, None] if sums.ndim == 2 else counts)


def _scaled(x: np.ndarray) -> np.ndarray:
    """Columns minus their median, over their spread (10th-90th percentile)."""
    x = np.atleast_2d(x.T).T
    spread = np.percentile(x, 90, axis=0) - np.percentile(x, 10, axis=0)
    return (x - np.median(x, axis=0)) / np.maximum(spread, 1e-3)


def bar_features(grid: BeatGrid, features: TrackFeatures) -> BarFeatures | None:
    edges = bar_edges(grid, features)
    if edges.size < 3:
        return None

    peak = float(features.energy.max()) or 1.0
    loudness = _db(_per_bar(features.energy, edges) / peak)
    timbre = _db(_per_bar(features.bands, edges) / peak)
    density = np.log1p(
        np.stack([_per_bar(x, edges) for x in (features.low, features.mid, features.high)], 1)
    )
    sustained = _db(_per_bar(features.sustained, edges) / peak)
    groups = [loudness, timbre, density, sustained]
    matrix = np.concatenate(
        [_scaled(g) / np.sqrt(np.atleast_2d(g.T).T.shape[1]) for g in groups], axis=1
    )
    beat = _beat_bars(grid, features, edges.size - 1)
    melodic = float(np.percentile(sustained, 90))
    melody = sustained > melodic - MELODY_DB
    return BarFeatures(matrix=matrix, beat=beat, melody=melody)


def _beat_bars(grid: BeatGrid, features: TrackFeatures, bars: int) -> np.ndarray:
    """Which bars have a beat: a kick on one of their beats (see the module docstring).
    Not the kick band's flux against the track's usual level: under a bass line a kick's
    rise is smaller than in a drums-only intro, so a level would miss it."""
    beat = grid.beat_seconds * features.fps  # frames
    last = features.frames - 1
    at = np.round(grid.first_downbeat * features.fps + np.arange(bars * grid.beats_per_bar) * beat)
    at = np.clip(at.astype(int), 0, last)
    # a kick's body peaks just after its click: the low band jumps from a sixteenth
    # note before, or is gone a sixteenth after (a bass line at the kick's pitch can
    # hide one of the two, not both)
    rise = range(max(1, int(round(beat / 8))) + 1)
    low = np.max([features.low_energy[np.minimum(at + i, last)] for i in rise], axis=0)
    total = np.max([features.energy[np.minimum(at + i, last)] for i in rise], axis=0)
    sixteenth = int(round(beat / 4))
    later = features.low_energy[np.minimum(at + sixteenth, last)]
    before = features.low_energy[np.maximum(at - sixteenth, 0)]
    sharp = np.maximum(_db(low) - _db(later), _db(low) - _db(before)) >= KICK_DECAY_DB
    kick = sharp & (_db(low) - _db(total) >= KICK_SHARE_DB)
    return kick.reshape(bars, grid.beats_per_bar).any(axis=1)


def _db(x: np.ndarray) -> np.ndarray:
    return 10 * np.log10(np.maximum(x, 1e-12))


def novelty(matrix: np.ndarray, width: int = NOVELTY_BARS) -> np.ndarray:
    """For each bar b (0-based row), how different the `width` bars before it are from
    the `width` bars from it on (0 for the first bar)."""
    bars = matrix.shape[0]
    cumulative = np.vstack([np.zeros(matrix.shape[1]), np.cumsum(matrix, axis=0)])
    out = np.zeros(bars)
    for b in range(1, bars):
        w = min(width, b, bars - b)
        before = (cumulative[b] - cumulative[b - w]) / w
        after = (cumulative[b + w] - cumulative[b]) / w
        out[b] = float(np.linalg.norm(after - before))
    return out


def section_starts(matrix: np.ndarray) -> list[int]:
    """Bars (1-based) where a section starts, bar 1 first (see the module docstring)."""
    curve = novelty(matrix)
    bars = curve.size
    if bars < 2 * MIN_SECTION_BARS:
        return [1]
    floor = max(NOVELTY_FLOOR * float(curve.max()), 2 * float(np.median(curve[1:])))
    peaks = [
        b
        for b in range(1, bars)
        if curve[b] >= floor
        and curve[b] == curve[max(1, b - 2) : b + 3].max()
        and (b == 1 or curve[b] > curve[b - 1])
    ]
    snapped = []
    for b in peaks:
        if b % 4:
            for candidate in (b - 1, b + 1):
                if (
                    0 < candidate < bars
                    and candidate % 4 == 0
                    and curve[candidate] >= 0.8 * curve[b]
                ):
                    b = candidate
                    break
        snapped.append(b)
    starts = sorted(set(snapped))
    # merge sections that are too short: drop the less novel of two close starts
    changed = True
    while changed:
        changed = False
        bounds = [0, *starts, bars]
        for i in range(1, len(bounds) - 1):
            if (
                bounds[i] - bounds[i - 1] < MIN_SECTION_BARS
                or bounds[i + 1] - bounds[i] < MIN_SECTION_BARS
            ):
                neighbours = [x for x in (bounds[i - 1], bounds[i + 1]) if x in starts]
                weakest = min([bounds[i], *neighbours], key=lambda x: curve[x])
                starts.remove(weakest)
                changed = True
                break
    return [1] + [b + 1 for b in starts]


def phrase_starts(sections: list[int], bars: int) -> list[int]:
    ends = [*sections[1:], bars + 1]
    return [
        bar
        for start, end in zip(sections, ends, strict=True)
        for bar in range(start, end, PHRASE_BARS)
    ]


def _mixable_end(
    sections: list[int], ends: list[int], beat: list[bool], melody: list[bool]
) -> int | None:
    """Bar after the mixable stretch at the start, for sections in playing order."""
    if not beat[0]:
        return None
    end = None
    for i in range(len(sections)):
        if not beat[i] or melody[i]:
            break
        end = ends[i]
    if end is not None:
        return end
    for i in range(len(sections)):  # melody from the start: up to the first break
        if not beat[i]:
            break
        end = ends[i]
    return end


def phrasing(grid: BeatGrid, features: TrackFeatures) -> Phrasing | None:
    """Sections, phrases, intro and outro of the track on `grid`; None when it has fewer
    than two whole bars."""
    per_bar = bar_features(grid, features)
    if per_bar is None:
        return None
    bars = per_bar.bars
    sections = section_starts(per_bar.matrix)
    ends = [*sections[1:], bars + 1]
    beat = [
        bool(per_bar.beat[s - 1 : e - 1].mean() >= 0.5) for s, e in zip(sections, ends, strict=True)
    ]
    melody = [
        bool(per_bar.melody[s - 1 : e - 1].mean() >= 0.5)
        for s, e in zip(sections, ends, strict=True)
    ]
    intro_end = _mixable_end(sections, ends, beat, melody)
    intro = (1, min(intro_end, 1 + MAX_MIXABLE_BARS)) if intro_end else None
    # the outro: the same walk over the sections from the end
    lengths = [e - s for s, e in zip(sections, ends, strict=True)][::-1]
    reversed_starts = [int(x) for x in np.cumsum([1, *lengths[:-1]])]
    reversed_ends = [s + n for s, n in zip(reversed_starts, lengths, strict=True)]
    outro_end = _mixable_end(reversed_starts, reversed_ends, beat[::-1], melody[::-1])
    outro = None
    if outro_end:
        length = min(outro_end - 1, MAX_MIXABLE_BARS)
        outro = (bars + 1 - length, bars + 1)
    return Phrasing(
        sections=sections, phrases=phrase_starts(sections, bars), intro=intro, outro=outro
    )
