"""The musical key of audio: a harmonic pitch-class profile matched against key profiles.

Pure numpy, no file access: mono float samples at SAMPLE_RATE in, a key and a confidence
out. Why each step is there:

1. **Spectrum with the drums taken out.** A short-time spectrum (8192-sample frames,
   0.37 s at 22,050 Hz, hop 4096) so that neighbouring semitones are resolved down to
   the bass; then the harmonic part of a harmonic/percussive split (Fitzgerald's median
   filtering, along time): each bin is capped at its median over five frames, so what
   is steady (held notes, pads, bass) stays and what is short (kicks, snares, hats)
   falls out, and the key is read from the sustained notes.
2. **Spectral peaks**, each located to a fraction of a bin (parabolic interpolation on
   the log magnitude), between MIN_HZ and MAX_HZ: only the partials of notes count, not
   the noise floor between them.
3. **Tuning.** Records are not always tuned to A = 440 Hz (a pitched-up edit, a vinyl
   rip, an old synth). The deviation of every peak from its nearest equal-tempered
   semitone, averaged on the circle weighted by magnitude, is the track's tuning; the
   pitches are shifted by it before they are folded into pitch classes.
4. **Pitch-class profile (HPCP).** Each peak adds its magnitude to the pitch classes
   within 2/3 of a semitone of it (cosine-squared weights) and, at 0.6 times less per
   step, to those of the fundamentals it could be the 2nd-4th harmonic of (Gómez's
   harmonic pitch-class profile). Each frame is scaled to a maximum of 1, so quiet
   passages count as much as loud ones.
5. **Key profiles made for electronic music.** The averaged profile of each section is
   correlated with the 24 rotations of a major and a minor key profile; the profiles
   are Faraldo's (Faraldo, Gómez, Jordà, Herrera, "Key Estimation in Electronic Dance
   Music", ECIR 2016, and the "bgate" profiles of his thesis, as published in
   Essentia's Key algorithm): derived from Beatport EDM, where the minor mode dominates
   and the modal harmony of the genre makes the classical (Krumhansl) profiles confuse
   a minor key with its relative major.
6. **Sections voting.** The audio is cut into sections (each excerpt the decoder gives,
   cut again into SECTION_SECONDS pieces); each section's 24 correlations are summed
   over the track and the best key wins. A key that only one section holds cannot
   outvote a key most of the track holds.
7. **Confidence** (0..1): how far the winner stands above the runner-up, how many
   sections agree with it and how well it correlates (see _confidence). Below
   LOW_CONFIDENCE the key is reported but marked as uncertain.
8. **Key change.** The first and the last SECTION_GROUP sections are matched on their
   own; when the sections of each group agree among themselves, each group stands
   CHANGE_CONFIDENCE above its best rival that is no Camelot neighbour, and the groups
   disagree (other than as relative keys, which share every note and cannot be told
   apart by pitch content), the track changes key, and the start and end keys are
   reported (the one a DJ mixes in on and the one they mix out of).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

SAMPLE_RATE = 22050
FRAME = 8192
HOP = 4096
MIN_HZ = 50.0
MAX_HZ = 5000.0
HARMONICS = 4  # a peak also counts for the fundamentals it is the 2nd..4th harmonic of
HARMONIC_SLOPE = 0.6  # weight of each further harmonic
WEIGHT_SEMITONES = 4 / 3  # width of a peak's cosine-squared window on the pitch axis
SECTION_SECONDS = 15.0  # sections vote for the key (see step 6)
SECTION_GROUP = 2  # sections matched together for the start and end key
LOW_CONFIDENCE = 0.5  # below this the key is reported as uncertain
CHANGE_CONFIDENCE = 0.3  # the opening's and the ending's margin (_rival_margin), each

# Faraldo's EDM key profiles, index 0 = tonic (published in Essentia's Key algorithm,
# src/algorithms/tonal/key.cpp: "edma" and "bgate"; numbers, not code).
EDMA_MAJOR = (1.00, 0.29, 0.50, 0.40, 0.60, 0.56, 0.32, 0.80, 0.31, 0.45, 0.42, 0.39)
EDMA_MINOR = (1.00, 0.31, 0.44, 0.58, 0.33, 0.49, 0.29, 0.78, 0.43, 0.29, 0.53, 0.32)
BGATE_MAJOR = (1.00, 0.00, 0.42, 0.00, 0.53, 0.37, 0.00, 0.77, 0.00, 0.38, 0.21, 0.30)
BGATE_MINOR = (1.00, 0.00, 0.36, 0.39, 0.00, 0.38, 0.00, 0.74, 0.27, 0.00, 0.42, 0.23)
# Krumhansl & Kessler's probe-tone ratings (1982): the classical profiles, kept for the
# comparison in the benchmark.
KRUMHANSL_MAJOR = (6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88)
KRUMHANSL_MINOR = (6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17)
PROFILES = {
    "edma": (EDMA_MAJOR, EDMA_MINOR),
    "bgate": (BGATE_MAJOR, BGATE_MINOR),
    "krumhansl": (KRUMHANSL_MAJOR, KRUMHANSL_MINOR),
}
DEFAULT_PROFILE = "edma"


@dataclass(frozen=True)
class KeyEstimate:
    tonic: int  # pitch class, 0 = C
    minor: bool
    confidence: float  # 0..1 (see the module docstring, step 7)
    strength: float  # the winner's mean correlation with its profile (-1..1)
    tuning_cents: float  # the track's deviation from A = 440 Hz
    start: tuple[int, bool] | None = None  # (tonic, minor) of the opening, if it differs
    end: tuple[int, bool] | None = None  # ... and of the ending

    @property
    def uncertain(self) -> bool:
        return self.confidence < LOW_CONFIDENCE

    @property
    def changes(self) -> bool:
        return self.start is not None and self.end is not None and self.start != self.end


# --- spectrum ----------------------------------------------------------------------------


def _magnitude_frames(y: np.ndarray) -> np.ndarray:
    """|STFT|, Hann window, frames x bins."""
    if y.size < FRAME:
        y = np.pad(y, (0, FRAME - y.size))
    frames = 1 + (y.size - FRAME) // HOP
    strided = np.lib.stride_tricks.as_strided(
        y, shape=(frames, FRAME), strides=(y.strides[0] * HOP, y.strides[0])
    )
    window = np.hanning(FRAME + 1)[:-1].astype(np.float32)
    return np.abs(np.fft.rfft(strided * window, axis=1)).astype(np.float32)


TIME_MEDIAN = 5  # frames (0.93 s): a sound shorter than half of it is not a note


def _harmonic_part(mag: np.ndarray) -> np.ndarray:
    """The steady part of the spectrogram (step 1): each bin capped at its median over
    TIME_MEDIAN frames, so a hit that lasts a frame or two is taken out while a held
    note keeps its level. (The time half of Fitzgerald's median-filter separation: the
    frequency median would cost three times the rest of the key estimate and made no
    difference on the benchmark, docs/analyze.md.)"""
    hi = int(MAX_HZ * FRAME / SAMPLE_RATE) + 2
    mag = mag[:, :hi]
    span = min(TIME_MEDIAN, mag.shape[0] - (1 - mag.shape[0] % 2))
    if span < 3:
        return mag
    padded = np.pad(mag, ((span // 2, span // 2), (0, 0)), mode="edge")
    window = np.lib.stride_tricks.sliding_window_view(padded, span, axis=0)
    return np.minimum(mag, np.median(window, axis=-1))


def _peaks(mag: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(frame index, frequency Hz, magnitude) of the spectral peaks (step 2)."""
    lo = int(MIN_HZ * FRAME / SAMPLE_RATE)
    hi = int(MAX_HZ * FRAME / SAMPLE_RATE) + 1
    band = mag[:, lo - 1 : hi + 1]
    centre = band[:, 1:-1]
    floor = centre.max(axis=1, keepdims=True) * 1e-3
    is_peak = (centre > band[:, :-2]) & (centre >= band[:, 2:]) & (centre > floor)
    frame, col = np.nonzero(is_peak)
    a = np.log(band[frame, col] + 1e-9)
    b = np.log(band[frame, col + 1] + 1e-9)
    c = np.log(band[frame, col + 2] + 1e-9)
    denom = a - 2 * b + c
    offset = np.where(denom < 0, 0.5 * (a - c) / np.where(denom < 0, denom, -1.0), 0.0)
    bins = lo + col + np.clip(offset, -0.5, 0.5)
    height = np.exp(b - 0.25 * (a - c) * offset)
    return frame, bins * SAMPLE_RATE / FRAME, height


def _semitones(hz: np.ndarray) -> np.ndarray:
    """Pitch on the MIDI scale (A4 = 69) of frequencies in Hz."""
    return 69.0 + 12.0 * np.log2(hz / 440.0)


def estimate_tuning(hz: np.ndarray, weight: np.ndarray) -> float:
    """Deviation (in semitones, -0.5..0.5) of the peaks from equal temperament at A440."""
    if hz.size == 0:
        return 0.0
    phase = 2 * np.pi * _semitones(hz)
    vector = (weight * np.exp(1j * phase)).sum()
    if abs(vector) < 1e-12:
        return 0.0
    return float(np.angle(vector) / (2 * np.pi))


def _pitch_class_frames(
    frame: np.ndarray, hz: np.ndarray, weight: np.ndarray, frames: int, tuning: float
) -> np.ndarray:
    """frames x 12 harmonic pitch-class profile (step 4), each frame scaled to max 1."""
    pitch = _semitones(hz) - tuning
    half = WEIGHT_SEMITONES / 2
    cells, amounts = [], []
    for harmonic in range(1, HARMONICS + 1):
        fundamental = pitch - 12.0 * math.log2(harmonic)
        w = weight * HARMONIC_SLOPE ** (harmonic - 1)
        nearest = np.round(fundamental)
        for step in (-1, 0, 1):
            pc = nearest + step
            distance = np.abs(fundamental - pc)
            near = distance < half
            cells.append(frame[near] * 12 + pc[near].astype(int) % 12)
            amounts.append(w[near] * np.cos(np.pi / 2 * distance[near] / half) ** 2)
    hpcp = np.bincount(
        np.concatenate(cells), weights=np.concatenate(amounts), minlength=frames * 12
    ).reshape(frames, 12)
    peak = hpcp.max(axis=1, keepdims=True)
    return np.divide(hpcp, peak, out=np.zeros_like(hpcp), where=peak > 0)


def pitch_class_frames(y: np.ndarray, tuning: float | None = None) -> tuple[np.ndarray, float]:
    """(frames x 12 pitch-class profile, tuning in semitones) of one excerpt."""
    mag = _harmonic_part(_magnitude_frames(np.ascontiguousarray(y, dtype=np.float32)))
    frame, hz, weight = _peaks(mag)
    if tuning is None:
        tuning = estimate_tuning(hz, weight)
    return _pitch_class_frames(frame, hz, weight, mag.shape[0], tuning), tuning


# --- matching ----------------------------------------------------------------------------


def _profile_matrix(name: str) -> np.ndarray:
    """24 x 12: row k < 12 is the major key with tonic k, row 12 + k the minor key."""
    major, minor = (np.asarray(p, dtype=float) for p in PROFILES[name])
    rows = [np.roll(major, k) for k in range(12)] + [np.roll(minor, k) for k in range(12)]
    matrix = np.array(rows)
    matrix -= matrix.mean(axis=1, keepdims=True)
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


def key_correlations(chroma: np.ndarray, profile: str = DEFAULT_PROFILE) -> np.ndarray:
    """The Pearson correlation of a 12-bin profile with each of the 24 keys."""
    x = np.asarray(chroma, dtype=float) - np.mean(chroma)
    norm = np.linalg.norm(x)
    if norm < 1e-12:
        return np.zeros(24)
    return _profile_matrix(profile) @ (x / norm)


def _key_of(index: int) -> tuple[int, bool]:
    return index % 12, index >= 12


def _neighbours(index: int) -> set[int]:
    """The key itself, its relative and its fifths: what the Camelot wheel calls a
    compatible key (a mistake among them is a small one)."""
    tonic, minor = _key_of(index)
    base = 12 if minor else 0
    relative = (tonic + 3) % 12 if minor else (tonic + 9) % 12
    other = 0 if minor else 12
    return {index, base + (tonic + 7) % 12, base + (tonic + 5) % 12, other + relative}


def _relative(key: tuple[int, bool]) -> tuple[int, bool]:
    tonic, minor = key
    return ((tonic + 3) % 12, False) if minor else ((tonic + 9) % 12, True)


def _confidence(total: np.ndarray, per_section: np.ndarray, best: int) -> float:
    """Step 7, the confidence reported: half from the winner's margin over the runner-up
    (any other key; 0.2 of correlation or more counts in full), a quarter from the share
    of sections that agree with it, a quarter from its own correlation (0.6..0.9 mapped
    to 0..1). Fitted on the benchmark's rendered tracks and a development set: above
    LOW_CONFIDENCE about three keys in four came out exact, below it two in five."""
    score = total / max(per_section.shape[0], 1)
    ranked = np.sort(score)[::-1]
    margin = float(ranked[0] - ranked[1])
    agree = float(np.mean(np.argmax(per_section, axis=1) == best)) if per_section.size else 0
    strength = float(score[best])
    return float(
        0.5 * np.clip(margin / 0.2, 0.0, 1.0)
        + 0.25 * agree
        + 0.25 * np.clip((strength - 0.6) / 0.3, 0.0, 1.0)
    )


def _rival_margin(total: np.ndarray, per_section: np.ndarray, best: int) -> float:
    """How sure a group of sections is of its key, for the key change (step 8): the
    margin over the best non-neighbour key, times the share of agreeing sections."""
    rivals = [k for k in range(24) if k not in _neighbours(best)]
    score = total / max(per_section.shape[0], 1)
    margin = float(score[best] - score[rivals].max())
    agree = float(np.mean(np.argmax(per_section, axis=1) == best)) if per_section.size else 0
    return float(np.clip(margin / 0.5, 0.0, 1.0) * (0.5 + 0.5 * agree))


def _sections(frames: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Each excerpt's frames cut into pieces of about SECTION_SECONDS, in time order."""
    per = max(1, int(round(SECTION_SECONDS * SAMPLE_RATE / HOP)))
    out = []
    for f in frames:
        count = max(1, int(round(f.shape[0] / per)))
        out.extend(part for part in np.array_split(f, count) if part.shape[0])
    return out


def _group_key(correlations: np.ndarray) -> tuple[tuple[int, bool], float]:
    total = correlations.sum(axis=0)
    best = int(np.argmax(total))
    return _key_of(best), _confidence(total, correlations, best)


def _group_margin(correlations: np.ndarray) -> float:
    total = correlations.sum(axis=0)
    return _rival_margin(total, correlations, int(np.argmax(total)))


def _agreed_key(correlations: np.ndarray) -> tuple[tuple[int, bool], bool]:
    """The key of a group of sections and whether every section of it reads that key."""
    winners = {int(i) for i in np.argmax(correlations, axis=1)}
    return _key_of(int(np.argmax(correlations.sum(axis=0)))), len(winners) == 1


def estimate_key(excerpts: Sequence[np.ndarray], profile: str = DEFAULT_PROFILE) -> KeyEstimate:
    """The key of a track from its excerpts (mono, SAMPLE_RATE, in time order)."""
    analysed = [pitch_class_frames(e) for e in excerpts if e.size]
    if not analysed:
        return KeyEstimate(0, False, 0.0, 0.0, 0.0)
    # One tuning for the whole track: the excerpts' tunings weighted by their length.
    lengths = np.array([f.shape[0] for f, _ in analysed], dtype=float)
    angles = np.array([t for _, t in analysed]) * 2 * np.pi
    tuning = float(np.angle((lengths * np.exp(1j * angles)).sum()) / (2 * np.pi))
    sections = [s.mean(axis=0) for s in _sections([f for f, _ in analysed])]
    correlations = np.array([key_correlations(s, profile) for s in sections])
    (tonic, minor), confidence = _group_key(correlations)
    strength = float(correlations.mean(axis=0)[tonic + 12 * minor])
    start = end = None
    if len(sections) >= 2 * SECTION_GROUP:
        first, first_agree = _agreed_key(correlations[:SECTION_GROUP])
        last, last_agree = _agreed_key(correlations[-SECTION_GROUP:])
        sure = min(
            _group_margin(correlations[:SECTION_GROUP]),
            _group_margin(correlations[-SECTION_GROUP:]),
        )
        same_notes = _relative(first) == last  # a relative key: the same scale, no change
        if (
            first_agree
            and last_agree
            and sure >= CHANGE_CONFIDENCE
            and first != last
            and not same_notes
        ):
            start, end = first, last
    return KeyEstimate(
        tonic=tonic,
        minor=minor,
        confidence=round(confidence, 3),
        strength=round(strength, 3),
        tuning_cents=round(100 * tuning, 1),
        start=start,
        end=end,
    )
