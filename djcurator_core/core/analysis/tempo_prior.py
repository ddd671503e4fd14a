"""What a DJ expects of a tempo: the genre's usual range, and the round value producers set.

Pure functions over numbers (no signal work), used by audio_analysis.estimate_tempo.

Octave from the genre. An onset envelope repeats at the beat, at half the beat and at
two beats, so the measured period can be right and the reading still be off by an
octave: dubstep and half-time drum & bass read at 70 and 87, house at 62.5. When beets
knows the track's genre, the octave (x 1/2, 1, 2) that lands in the genre's usual range
wins; without a genre, or for a genre not listed, the estimator's own octave rule stands.

Round values. Electronic music is made in a sequencer at a set tempo, nearly always a
whole number (128, 174). A measured 127.98 on a steady track is 128 read through the
error of the measurement; a DJ who sees 127.98 distrusts the tool. When the track is
steady (its sections agree) and the nearest whole number lies within the measurement's
error, the whole number is reported.
"""

from __future__ import annotations

import re

# (words that name the genre, (lowest, highest) BPM DJs count it at). Checked in order:
# the first match wins, so the more specific names come first.
GENRE_RANGES: tuple[tuple[tuple[str, ...], tuple[float, float]], ...] = (
    (("drum and bass", "drum & bass", "drum n bass", "drumnbass", "dnb", "d&b", "jungle",
      "neurofunk", "liquid funk"), (160.0, 180.0)),
    (("dubstep", "brostep", "riddim"), (135.0, 150.0)),
    (("footwork", "juke"), (155.0, 165.0)),
    (("hardcore", "gabber", "hardstyle"), (145.0, 200.0)),
    (("psytrance", "psy trance", "goa"), (135.0, 150.0)),
    (("trance",), (128.0, 145.0)),
    (("techno",), (120.0, 150.0)),
    (("house", "garage", "nu disco", "disco"), (110.0, 132.0)),
    (("trap",), (130.0, 160.0)),
    (("hip hop", "hip-hop", "hiphop", "rap", "boom bap"), (80.0, 115.0)),
    (("downtempo", "trip hop", "trip-hop", "chillout", "lo-fi", "lofi", "ambient"), (70.0, 110.0)),
)  # fmt: skip

SNAP_TOLERANCE = 0.06  # BPM: the measurement's error on a steady track (docs/analyze.md)
STEADY_TOLERANCE = 0.003  # sections within 0.3 % of each other count as one tempo


def genre_range(genre: str | None) -> tuple[float, float] | None:
    """The usual BPM range of the genre named in a beets genre field, if it is known.

    beets keeps several genres joined by "; " (export.py): the first known one wins."""
    if not genre:
        return None
    for part in re.split(r"[;,/|]", genre.lower()):
        words = " " + re.sub(r"[^a-z0-9&]+", " ", part).strip() + " "
        for names, bpm_range in GENRE_RANGES:
            if any(f" {name} " in words for name in names):
                return bpm_range
    return None


def octave_for_genre(bpm: float, bpm_range: tuple[float, float] | None) -> float:
    """The octave of `bpm` (x 1/2, 1, 2) inside the range, else the nearest to it."""
    if bpm_range is None or bpm <= 0:
        return bpm
    low, high = bpm_range

    def distance(value: float) -> float:
        if low <= value <= high:
            return 0.0
        return low / value if value < low else value / high

    return min((bpm, bpm * 2, bpm / 2), key=distance)


def is_steady(section_bpms: list[float]) -> bool:
    """Whether the sections' tempos agree (one tempo through the track)."""
    if len(section_bpms) < 2:
        return True
    return max(section_bpms) / min(section_bpms) - 1 <= STEADY_TOLERANCE


def round_value(bpm: float, steady: bool) -> float:
    """The whole number a steady tempo is within the measurement's error of, else the
    measurement (two decimals)."""
    whole = round(bpm)
    if steady and abs(bpm - whole) <= SNAP_TOLERANCE:
        return float(whole)
    return round(bpm, 2)
