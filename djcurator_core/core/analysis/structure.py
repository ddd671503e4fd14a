"""A track's structure from its whole decoded audio: beat grid, phrases, intro and outro
as one TrackStructure (core/track_structure.py), the shape the mix points, the tag
cache, the beets field `djset_structure` and the DJ formats share.

The parts: track_features.py (frames), beat_grid.py (tempo, beats, downbeat, steady),
phrases.py (sections, phrases, intro, outro). Bars are only meaningful on one grid, so a
track whose grid is not steady gets its grid (steady=False) without phrases, intro or
outro; a track without a beat to lock onto gets no structure at all.
"""

from __future__ import annotations

import numpy as np

from djcurator_core.core.analysis.beat_grid import beat_grid
from djcurator_core.core.analysis.phrases import phrasing
from djcurator_core.core.analysis.track_features import track_features
from djcurator_core.core.track_structure import BarSpan, TrackStructure

BPM_DECIMALS = 3  # a thousandth of a BPM: 2 ms of drift over 6 minutes


def analyse_structure(samples: np.ndarray, sr: float, bpm: float) -> TrackStructure | None:
    """The structure of mono `samples` at `sr` Hz, the grid started from the tempo
    estimate `bpm` (audio_analysis.estimate_tempo); None when there is no beat."""
    if samples.size == 0 or not bpm or bpm <= 0:
        return None
    features = track_features(samples, sr)
    grid = beat_grid(features, bpm)
    if grid is None:
        return None
    duration = samples.size / sr
    base = {
        "bpm": round(grid.bpm, BPM_DECIMALS),
        "first_downbeat": round(grid.first_downbeat, 4),
        "beats_per_bar": grid.beats_per_bar,
        "duration": round(duration, 3),
        "steady": grid.steady,
    }
    if not grid.steady:
        return TrackStructure(**base)
    found = phrasing(grid, features)
    if found is None:
        return TrackStructure(**base)
    return TrackStructure(
        **base,
        phrases=found.phrases,
        sections=found.sections,
        intro=BarSpan(start=found.intro[0], end=found.intro[1]) if found.intro else None,
        outro=BarSpan(start=found.outro[0], end=found.outro[1]) if found.outro else None,
    )
