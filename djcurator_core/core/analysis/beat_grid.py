"""The beat grid of a whole track: its exact tempo, where the beats fall, which beat is
the first of a bar, and whether one grid fits the whole track.

A DJ app's grid is one tempo and one anchor (Rekordbox's TEMPO entry, Traktor's grid
marker); cues and phrases are counted on it, so its tempo must be right to a few
thousandths of a BPM: over 6 minutes, 0.01 BPM off at 128 BPM is 28 ms of drift at the
end. The tempo estimate of audio_analysis.py (from two excerpts) is the starting point,
then, on the onset envelope of the whole track (track_features.py):

1. **Tempo**, to a thousandth of a BPM: the beat frequency within 2 % of the estimate
   whose harmonics (1, 2, 3, 4 times the beat frequency) carry the most of the
   envelope's spectrum, the whole track at once (a chirp-z zoom of its Fourier
   transform), then corrected by step 3.
2. **Phase**: the envelope folded over one beat (every beat of the track on top of each
   other) peaks where the beats are; the peak is located to a fraction of a frame.
3. **Drift**: the track cut into stretches of 16 beats, each folded the same way and
   aligned with the whole track's fold; a steady track's stretches all line up, and a
   tempo slightly off shows as a phase that grows linearly, whose slope corrects the
   tempo (twice). What is left is the grid's misfit: **steady** when the stretches that
   have a beat sit within STEADY_RMS_MS (RMS) of the grid, and at most STEADY_OUTLIERS
   of them further than STEADY_MAX_MS (a break whose melody plays off the beat can
   look like a stretch with a beat). A tempo change, a drifting live drummer or a track
   of two tempi fails that.
4. **Downbeat**: which of the four beats starts a bar. Chords, bass lines and sections
   change on the first beat of a bar, so the beat-to-beat change of the sustained
   spectrum (drums left out) is largest there; the kick lands on it in a two-step and
   the backbeat (snare, clap) on the second and fourth. The phase with the best sum of
   the three (each scaled to its spread) wins.
5. **First downbeat**: the first bar line on the grid at or after the music starts
   (the first frame within 35 dB of the loud part), half a beat of slack for a note
   that starts just before it.

Timing: frames are centred on their times, and the log-compressed flux of a sharp
attack is largest in the frame that first takes it in: the fold's peak falls within a
few milliseconds of the attack (on the rendered test tracks 1 ms late on average), so
no correction is applied.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from djcurator_core.core.analysis.track_features import TrackFeatures

SEARCH = 0.02  # the tempo is searched within 2 % of the estimate
FOLD_BINS = 96  # bins per beat of the folded envelope
STRETCH_BEATS = 16
STEADY_RMS_MS = 12.0
STEADY_MAX_MS = 25.0
STEADY_OUTLIERS = 0.15  # stretches off the grid by more than STEADY_MAX_MS, at most
OUTLIER_BEATS = 0.08
SILENCE_DB = 35.0  # below the loud part: not yet music
MIN_BEATS = 32  # fewer beats than this: no grid


@dataclass(frozen=True)
class BeatGrid:
    bpm: float
    first_beat: float  # seconds: a beat of the grid, the earliest at or after 0
    first_downbeat: float  # seconds: bar 1, beat 1
    steady: bool
    misfit_ms: float  # RMS distance of the 16-beat stretches on the grid from it
    beats_per_bar: int = 4

    @property
    def beat_seconds(self) -> float:
        return 60.0 / self.bpm


def onset_envelope(features: TrackFeatures) -> np.ndarray:
    """Low, mid and high flux, each scaled to its own loud level, the kick band first
    (dance music's beat is the kick), minus its local mean (level changes are not
    onsets)."""
    from scipy.ndimage import uniform_filter1d

    def scaled(x: np.ndarray) -> np.ndarray:
        level = float(np.percentile(x, 95)) if x.size else 0.0
        return x / level if level > 0 else x

    env = scaled(features.low) + 0.7 * scaled(features.mid) + 0.4 * scaled(features.high)
    local = uniform_filter1d(env, size=max(3, int(features.fps)), mode="nearest")
    return np.maximum(env - local, 0.0).astype(np.float64)


def refine_tempo(env: np.ndarray, fps: float, bpm: float) -> float:
    """Step 1: the beat frequency within SEARCH of `bpm` that best explains `env`: the
    sum of the magnitude spectrum (zero-padded, so finely sampled) at its first four
    harmonics."""
    import scipy.fft

    size = scipy.fft.next_fast_len(max(1 << 19, 4 * env.size), real=True)
    magnitude = np.abs(scipy.fft.rfft(env - env.mean(), size))
    f0 = bpm / 60.0 / fps  # cycles per frame
    m = 801
    f = np.linspace(f0 * (1 - SEARCH), f0 * (1 + SEARCH), m)
    bins = np.arange(magnitude.size)
    spectrum = sum(np.interp(h * f * size, bins, magnitude) / h**0.5 for h in (1, 2, 3, 4))
    i = int(np.argmax(spectrum))
    offset = 0.0
    if 0 < i < m - 1:
        a, b, c = spectrum[i - 1 : i + 2]
        denom = a - 2 * b + c
        offset = 0.5 * (a - c) / denom if denom < 0 else 0.0
    best = f[0] + (i + offset) * (f[1] - f[0])
    return best * fps * 60.0


def fold(env: np.ndarray, period: float, start: int = 0) -> np.ndarray:
    """The envelope folded over one beat of `period` frames: FOLD_BINS bins, bin 0 at
    frame 0, each frame's weight split between its two nearest bins."""
    position = (np.arange(start, start + env.size) / period % 1.0) * FOLD_BINS
    lower = np.floor(position).astype(int)
    upper_share = position - lower
    bins = np.bincount(lower % FOLD_BINS, weights=env * (1 - upper_share), minlength=FOLD_BINS)
    bins += np.bincount((lower + 1) % FOLD_BINS, weights=env * upper_share, minlength=FOLD_BINS)
    return bins


def _circular_peak(values: np.ndarray) -> float:
    """Fractional index of the maximum of a circular array (parabolic interpolation)."""
    n = values.size
    i = int(np.argmax(values))
    a, b, c = values[(i - 1) % n], values[i], values[(i + 1) % n]
    denom = a - 2 * b + c
    return (i + (0.5 * (a - c) / denom if denom < 0 else 0.0)) % n


def _stretch_shifts(env: np.ndarray, period: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(centre frame, shift in beats against the whole fold, weight) per stretch."""
    whole = fold(env, period)
    reference = np.fft.rfft(whole - whole.mean())
    length = int(round(STRETCH_BEATS * period))
    centres, shifts, weights = [], [], []
    for start in range(0, env.size - length + 1, length):
        part = env[start : start + length]
        folded = fold(part, period, start)
        spread = folded - folded.mean()
        correlation = np.fft.irfft(np.fft.rfft(spread) * np.conj(reference), FOLD_BINS)
        shift = _circular_peak(correlation)
        shifts.append(((shift + FOLD_BINS / 2) % FOLD_BINS - FOLD_BINS / 2) / FOLD_BINS)
        centres.append(start + length / 2)
        # a stretch with a clear beat has a peaked fold: how far its peak stands out
        weights.append(max(0.0, float(spread.max())) / (float(part.mean()) * length + 1e-9))
    return np.array(centres), np.array(shifts), np.array(weights)


def _fit_drift(
    centres: np.ndarray, shifts: np.ndarray, weights: np.ndarray, period: float
) -> tuple[float, np.ndarray]:
    """(slope in beats of shift per beat, residual shifts in beats) of a weighted line
    through the stretches' shifts. The shifts stay wrapped to half a beat either side
    (step 1 leaves the tempo close enough that a steady track's never wrap), and
    stretches more than OUTLIER_BEATS off the first line are left out of the second, so
    a break whose melody sits off the beat cannot tilt it."""
    x = centres / period
    keep = weights > 0
    slope, intercept = 0.0, 0.0
    for _ in range(2):
        if keep.sum() < 3:
            break
        w = weights[keep]
        mean_x, mean_y = np.average(x[keep], weights=w), np.average(shifts[keep], weights=w)
        var = np.average((x[keep] - mean_x) ** 2, weights=w)
        slope = np.average((x[keep] - mean_x) * (shifts[keep] - mean_y), weights=w) / var
        intercept = mean_y - slope * mean_x
        residual = shifts - (intercept + slope * x)
        keep = keep & (np.abs(residual) <= OUTLIER_BEATS)
    residual = (shifts - (intercept + slope * x) + 0.5) % 1.0 - 0.5
    return float(slope), residual


def _has_beat(env_low: np.ndarray, period: float) -> np.ndarray:
    """Which 16-beat stretches have a beat: kick-band onsets at least a quarter of the
    track's usual level (a break without drums has next to none)."""
    length = int(round(STRETCH_BEATS * period))
    count = env_low.size // length
    if count == 0:
        return np.zeros(0, dtype=bool)
    level = env_low[: count * length].reshape(count, length).mean(axis=1)
    return level >= 0.25 * float(np.percentile(level, 75))


def downbeat_phase(features: TrackFeatures, beat_frames: np.ndarray, beats_per_bar: int) -> int:
    """Step 4: the index (0..beats_per_bar-1) of the first downbeat among `beat_frames`."""
    n = beat_frames.size - 1
    if n < 2 * beats_per_bar:
        return 0
    rows = features.harmonic.shape[0]
    edges = np.clip(np.round(beat_frames / features.block).astype(int), 0, rows - 1)
    spectra = np.add.reduceat(features.harmonic, edges[:-1], axis=0)
    counts = np.maximum(np.diff(edges), 1)[:, None]
    spectra = np.log1p(1e4 * spectra / counts / (float(features.harmonic.max()) or 1.0))
    norms = np.linalg.norm(spectra, axis=1)
    unit = spectra / np.maximum(norms, 1e-9)[:, None]
    change = np.zeros(n)
    change[1:] = (1 - np.sum(unit[1:] * unit[:-1], axis=1)) * np.minimum(norms[1:], norms[:-1])
    at = np.clip(np.round(beat_frames[:-1]).astype(int), 0, features.frames - 1)

    def near(x: np.ndarray) -> np.ndarray:  # strongest flux within a frame of each beat
        padded = np.pad(x, 1)
        return np.max([padded[at], padded[at + 1], padded[at + 2]], axis=0)

    kick, snare = near(features.low), near(features.mid)
    scores = np.zeros(beats_per_bar)
    cues = [change, kick]
    if beats_per_bar == 4:
        backbeat = np.roll(snare, -1) + np.roll(snare, -3) - snare - np.roll(snare, -2)
        cues.append(backbeat)
    for weight, cue in zip((1.0, 0.5, 0.5), cues, strict=False):
        per_phase = np.array([cue[j::beats_per_bar].mean() for j in range(beats_per_bar)])
        spread = per_phase.max() - per_phase.min()
        if spread > 0:
            scores += weight * (per_phase - per_phase.mean()) / spread
    return int(np.argmax(scores))


def music_start(features: TrackFeatures) -> float:
    """Seconds of the first frame within SILENCE_DB of the loud part of the track."""
    energy = features.energy
    loud = float(np.percentile(energy, 95)) if energy.size else 0.0
    if loud <= 0:
        return 0.0
    first = np.flatnonzero(energy >= loud * 10 ** (-SILENCE_DB / 10))
    return float(first[0]) / features.fps if first.size else 0.0


def beat_grid(features: TrackFeatures, bpm: float, beats_per_bar: int = 4) -> BeatGrid | None:
    """The grid of the track whose features these are, from the tempo estimate `bpm`;
    None when there is no beat to lock onto (too short, or no periodic onsets)."""
    fps = features.fps
    env = onset_envelope(features)
    if env.size < MIN_BEATS * 60 * fps / bpm or not env.any():
        return None
    tempo = refine_tempo(env, fps, bpm)
    misfit, steady = math.inf, False
    for _ in range(3):
        period = 60.0 * fps / tempo
        centres, shifts, weights = _stretch_shifts(env, period)
        beat = _has_beat(features.low, period)[: centres.size]
        if beat.sum() < 2:
            return None
        slope, residual = _fit_drift(centres[beat], shifts[beat], weights[beat], period)
        tempo = tempo / (1 + slope)
        off = np.abs(residual) * period / fps * 1000  # ms
        inside = off <= STEADY_MAX_MS
        misfit = float(np.sqrt(np.mean(off[inside] ** 2))) if inside.any() else math.inf
        steady = misfit <= STEADY_RMS_MS and 1 - inside.mean() <= STEADY_OUTLIERS
    period = 60.0 * fps / tempo
    peak = _circular_peak(fold(env, period)) / FOLD_BINS  # beats
    first = ((peak * period) % period) / fps
    beat_seconds = 60.0 / tempo
    count = int((features.duration - first) / beat_seconds) + 1
    beat_frames = (first + np.arange(count + 1) * beat_seconds) * fps
    phase = downbeat_phase(features, beat_frames, beats_per_bar)
    bar = beats_per_bar * beat_seconds
    downbeat = first + phase * beat_seconds  # one bar line of the grid
    threshold = music_start(features) - 0.5 * beat_seconds
    downbeat += math.ceil((threshold - downbeat) / bar) * bar  # the first one after it
    return BeatGrid(
        bpm=tempo,
        first_beat=first,
        first_downbeat=max(0.0, downbeat),
        steady=steady,
        misfit_ms=misfit,
        beats_per_bar=beats_per_bar,
    )
