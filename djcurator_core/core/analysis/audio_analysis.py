"""Estimate BPM, key and energy from decoded audio (numpy arrays in, numbers out).

Pure signal work: no file access, no beets, no Temporal. Input is one or more excerpts of
mono float samples at SAMPLE_RATE (files/audio_decode.py decodes and picks them); every
estimate is deterministic, so the same audio always gives the same tags.

Tempo (BPM, two decimals)
    1. Spectral flux on a 64-band mel spectrogram (hop 256 samples = 11.6 ms), split into
       a low band (< 150 Hz: kicks, bass), a mid band (150 Hz - 4 kHz: snares, claps) and
       a high band (> 4 kHz: hats); the sum of the three is the onset envelope.
    2. The envelope's autocorrelation gives the period: the best lag for 60-200 BPM,
       scored with its multiples (a bar of a steady beat repeats at 1, 2, 4 beats).
    3. The octave, the way dance music is counted: start from the slowest candidate
       (>= MIN_BPM) and double while the slower reading is clearly a half-time reading of
       the faster one: the kick repeats every half beat (four-on-the-floor read at half
       speed: 62.5 -> 125 for house) or the snare/clap band repeats every beat rather than
       every two beats (the backbeat lands on 2 and 4: drum & bass read at 86 has its
       snare on every beat -> 172). Hip-hop at 86 keeps its snare every two beats and
       stays at 86. Dubstep, counted at 140 by DJs but built like 70 BPM half-time, is
       read at 70 by this rule alone; beets' genre settles it (step 5).
    4. Precision: the autocorrelation peaks at every multiple k of the beat lag within the
       excerpt, each located to a fraction of a frame (parabolic interpolation), fitted
       through the origin. Typical error on steady electronic music: < 0.05 BPM.
    5. What a DJ expects (tempo_prior): with a genre, the octave (x 1/2, 1, 2) in the
       genre's usual range (drum & bass 160-180, dubstep 135-150, house 110-132, ...);
       each section (an excerpt, or 30 s of a long one) is measured on its own: when all
       read the same tempo the track is steady and a value within 0.06 BPM of a whole
       number is that number (127.98 -> 128); when the first and the last section
       differ by more than 4 % the track changes tempo and both are reported.

Key (one of 24), its confidence and a key change: key_estimation.py (a tuned harmonic
    pitch-class profile without the drums, Faraldo's EDM key profiles, sections voting).

Energy (1-10, integer, the Mixed In Key scale DJs know)
    A fixed formula, so one file always gets the same value whatever else is in the
    library:
      loudness  L = RMS level in dBFS mapped from -32..-12 dBFS to 0..1;
      density   D = onsets per second (peaks of the onset envelope) mapped from 1..9 to 0..1;
      spectrum  B = the mean of the spectral centroid mapped logarithmically from
                    300 Hz..3 kHz to 0..1 and the share of power above 2 kHz mapped
                    from 0..20 % to 0..1;
    (each clipped to 0..1)
    energy = round(1 + 9 * (0.5 L + 0.3 D + 0.2 B)), clipped to 1..10.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from djcurator_core.core.analysis.key_estimation import LOW_CONFIDENCE, estimate_key
from djcurator_core.core.analysis.tempo_prior import (
    genre_range,
    is_steady,
    octave_for_genre,
    round_value,
)

SAMPLE_RATE = 22050
HOP = 256
N_FFT = 1024
FPS = SAMPLE_RATE / HOP
MIN_BPM = 66.0  # the DJ range: a tempo is reported in [MIN_BPM, MAX_BPM)
MAX_BPM = 190.0
MIN_SECONDS = 10.0  # shorter audio gives no reliable tempo


class AnalysisError(ValueError):
    """The audio cannot be analysed (too short, silent); the message says why."""


@dataclass(frozen=True)
class AudioAnalysis:
    bpm: float  # two decimals, in [MIN_BPM, MAX_BPM); a whole number on a steady track
    key_pitch_class: int  # tonic, 0 = C
    key_minor: bool
    energy: int  # 1..10
    key_strength: float  # correlation of the winning key profile (-1..1)
    loudness_db: float  # RMS level of the excerpts, dBFS
    key_confidence: float = 0.0  # 0..1 (key_estimation, step 7); < LOW_CONFIDENCE: uncertain
    tuning_cents: float = 0.0  # the recording's deviation from A = 440 Hz
    key_start: tuple[int, bool] | None = None  # (tonic, minor) of the opening and of the
    key_end: tuple[int, bool] | None = None  # ending, when the track changes key
    bpm_start: float | None = None  # the opening's and the ending's tempo, when the
    bpm_end: float | None = None  # track changes tempo
    steady: bool = True  # one tempo through the analysed sections

    @property
    def camelot(self) -> str:
        from djcurator_core.core.keys import Key

        return Key.from_pitch_class(self.key_pitch_class, self.key_minor).camelot

    @property
    def key_uncertain(self) -> bool:
        return self.key_confidence < LOW_CONFIDENCE


# --- features ----------------------------------------------------------------------------

_MEL_CACHE: dict[tuple[int, int, int], np.ndarray] = {}


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney's mel scale (linear below 1 kHz, logarithmic above), as librosa's default."""
    hz = np.asarray(hz, dtype=float)
    linear = hz / (200.0 / 3)
    log_part = 15.0 + np.log(np.maximum(hz, 1e-10) / 1000.0) / (math.log(6.4) / 27.0)
    return np.where(hz >= 1000.0, log_part, linear)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    mel = np.asarray(mel, dtype=float)
    linear = mel * (200.0 / 3)
    log_part = 1000.0 * np.exp((math.log(6.4) / 27.0) * (mel - 15.0))
    return np.where(mel >= 15.0, log_part, linear)


def mel_frequencies(n_mels: int, fmax: float) -> np.ndarray:
    """n_mels frequencies evenly spaced on the mel scale from 0 Hz to fmax."""
    return _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(fmax), n_mels))


def _mel_filters() -> np.ndarray:
    """64 triangular mel filters (Slaney-normalised) over the FFT bins: numpy's own
    version of librosa.filters.mel's default, so the analysis does not import librosa
    (whose import alone costs seconds in a fresh process)."""
    key = (SAMPLE_RATE, N_FFT, 64)
    if key not in _MEL_CACHE:
        bins_hz = np.fft.rfftfreq(N_FFT, 1 / SAMPLE_RATE)
        edges = mel_frequencies(64 + 2, SAMPLE_RATE / 2)
        widths = np.diff(edges)
        ramps = edges[:, None] - bins_hz[None, :]
        lower = -ramps[:-2] / widths[:-1, None]
        upper = ramps[2:] / widths[1:, None]
        weights = np.maximum(0.0, np.minimum(lower, upper))
        weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]
        _MEL_CACHE[key] = weights.astype(np.float32)
    return _MEL_CACHE[key]


def _power_spectrogram(y: np.ndarray) -> np.ndarray:
    """|STFT|^2, Hann window, frames x bins (numpy's real FFT: no framework needed)."""
    pad = N_FFT // 2
    padded = np.pad(y, (pad, pad))
    frames = 1 + (padded.size - N_FFT) // HOP
    strided = np.lib.stride_tricks.as_strided(
        padded, shape=(frames, N_FFT), strides=(padded.strides[0] * HOP, padded.strides[0])
    )
    window = np.hanning(N_FFT + 1)[:-1].astype(np.float32)
    spectrum = np.fft.rfft(strided * window, axis=1)
    return (spectrum.real**2 + spectrum.imag**2).astype(np.float32)


@dataclass(frozen=True)
class _Bands:
    low: np.ndarray  # onset envelopes, one value per hop
    mid: np.ndarray
    high: np.ndarray
    centroid_hz: float
    bright_share: float  # share of power above 2 kHz

    @property
    def full(self) -> np.ndarray:
        return self.low + self.mid + self.high


def _bands(y: np.ndarray) -> _Bands:
    power = _power_spectrogram(y)
    mel = power @ _mel_filters().T  # frames x 64
    log_mel = np.log1p(1000.0 * mel / (mel.max() or 1.0))
    flux = np.maximum(0.0, np.diff(log_mel, axis=0, prepend=log_mel[:1]))
    mel_hz = mel_frequencies(66, SAMPLE_RATE / 2)[1:-1]
    low, mid = mel_hz < 150, (mel_hz >= 300) & (mel_hz < 5000)
    high = mel_hz >= 5000
    bins_hz = np.fft.rfftfreq(N_FFT, 1 / SAMPLE_RATE)
    total = power.sum(axis=0)
    centroid = float((bins_hz * total).sum() / (total.sum() or 1.0))
    bright = float(total[bins_hz >= 2000].sum() / (total.sum() or 1.0))
    return _Bands(
        low=flux[:, low].sum(axis=1),
        mid=flux[:, mid].sum(axis=1),
        high=flux[:, high].sum(axis=1),
        centroid_hz=centroid,
        bright_share=bright,
    )


def _autocorrelation(env: np.ndarray) -> np.ndarray:
    """Normalised autocorrelation (lag 0 = 1) of a mean-removed envelope."""
    x = env - env.mean()
    n = 1 << int(math.ceil(math.log2(2 * x.size)))
    spectrum = np.fft.rfft(x, n)
    acf = np.fft.irfft(spectrum * np.conj(spectrum), n)[: x.size]
    # Unbiased: each lag divided by the overlap it had, so long lags are not penalised.
    acf = acf / np.arange(x.size, 0, -1)
    return acf / (acf[0] or 1.0)


def _value_at(acf: np.ndarray, lag: float) -> float:
    """The autocorrelation at a fractional lag, as the best of the nearest frames (a peak
    between two frames must not fall through the gap)."""
    i = int(lag)
    if i + 2 >= acf.size:
        return 0.0
    return float(max(acf[i - 1 : i + 3].max(), 0.0))


def _lag(bpm: float) -> float:
    return 60.0 * FPS / bpm


# --- tempo -------------------------------------------------------------------------------


def _period_score(acf: np.ndarray, lag: float) -> float:
    """How well a beat of `lag` frames explains the envelope: its own autocorrelation and
    that of the bar it builds (2 and 4 beats), which a steady beat also repeats at."""
    return sum(w * _value_at(acf, k * lag) for k, w in ((1, 1.0), (2, 0.5), (4, 0.25)))


def _bar_pattern(env: np.ndarray, bar_frames: float) -> np.ndarray:
    """The envelope folded over one bar: the mean onset strength at each frame of the bar,
    above the pattern's median (the floor of hats, pads and noise)."""
    bins = max(8, int(round(bar_frames)))
    phase = ((np.arange(env.size) % bar_frames) / bar_frames * bins).astype(int) % bins
    sums = np.bincount(phase, weights=env, minlength=bins)
    counts = np.maximum(np.bincount(phase, minlength=bins), 1)
    pattern = sums / counts
    return np.maximum(pattern - np.median(pattern), 0.0)


def _steady(pattern: np.ndarray, hits: int) -> float:
    """The strength of the weakest of `hits` evenly spaced accents per bar, at the best
    placement: high only if an accent really lands at every one of the positions."""
    n = pattern.size
    smooth = np.max([np.roll(pattern, shift) for shift in (-2, -1, 0, 1, 2)], axis=0)
    offsets = np.round(np.arange(hits) * n / hits).astype(int)
    placements = (np.arange(n)[:, None] + offsets[None, :]) % n
    return float(smooth[placements].min(axis=1).max())


def _is_half_time(bands: Sequence[_Bands], bpm: float) -> bool:
    """True when `bpm` reads the music at half speed (see the module docstring, step 3):
    within a bar (4 beats) at this tempo the kick lands on all 8 half-beats, or the
    snare/clap accent lands on all 4 beats rather than on 2 of them."""
    bar = 4 * _lag(bpm)
    kick, snare = [], []
    for b in bands:
        low, mid = _bar_pattern(b.low, bar), _bar_pattern(b.mid, bar)
        kick.append(_steady(low, 8) / low.max() if low.max() > 0 else 0.0)
        backbeat = _steady(mid, 2)  # the accent twice a bar (a backbeat, if any)
        strong = mid.max() > 0 and backbeat >= 0.2 * mid.max()
        snare.append(_steady(mid, 4) / backbeat if strong else 0.0)
    return bool(np.mean(kick) >= KICK_ON_HALF_BEATS or np.mean(snare) >= SNARE_ON_BEATS)


KICK_ON_HALF_BEATS = 0.4  # weakest of the 8 half-beat kicks, relative to the strongest
SNARE_ON_BEATS = 0.3  # weakest of 4 beat accents, relative to the twice-a-bar accent


def _peak_near(acf: np.ndarray, lag: float) -> tuple[float, float] | None:
    """(fractional position, height) of the autocorrelation peak within 2 frames of lag."""
    centre = int(round(lag))
    lo = max(1, centre - 2)
    window = acf[lo : centre + 3]
    if window.size == 0:
        return None
    i = int(np.argmax(window)) + lo
    if not 1 <= i < acf.size - 1 or acf[i] <= 0:
        return None
    a, b, c = acf[i - 1], acf[i], acf[i + 1]
    denom = a - 2 * b + c
    offset = 0.5 * (a - c) / denom if denom < 0 else 0.0
    return i + float(np.clip(offset, -0.5, 0.5)), float(b)


def _refine(acf: np.ndarray, bpm: float) -> float:
    """The tempo fitted through the autocorrelation peaks at the multiples of the beat.

    Fitted on 2 beats, then 4, 8, ... up to 3/4 of the excerpt: each fit is precise enough
    to find the peaks of the next, twice as far out."""
    lag = _lag(bpm)
    limit = acf.size * 0.75
    most = 2
    while True:
        fits = [(k, _peak_near(acf, k * lag)) for k in range(1, most + 1) if k * lag + 3 < limit]
        fits = [(k, peak) for k, peak in fits if peak is not None]
        if fits:
            m = np.array([k for k, _ in fits], dtype=float)
            p = np.array([peak[0] for _, peak in fits])
            w = np.array([peak[1] for _, peak in fits])
            lag = float((w * p * m).sum() / (w * m * m).sum())  # least squares through 0
        if most * lag + 3 >= limit:
            break
        most *= 2
    refined = 60.0 * FPS / lag
    return refined if abs(refined / bpm - 1) < 0.04 else bpm


def _octave_tempo(bands: Sequence[_Bands]) -> float:
    """The tempo of the envelopes with the octave rule of step 3, unrounded."""
    full = np.mean([_autocorrelation(b.full)[: _min_len(bands)] for b in bands], axis=0)
    candidates = np.arange(60.0, 200.0, 0.25)
    scores = np.array([_period_score(full, _lag(bpm)) for bpm in candidates])
    best = float(candidates[int(np.argmax(scores))])
    while best / 2 >= MIN_BPM:
        best /= 2
    while best < MIN_BPM:
        best *= 2
    bpm = _refine(full, best)
    while bpm * 2 < MAX_BPM and _is_half_time(bands, bpm):
        bpm *= 2
    while bpm >= MAX_BPM:
        bpm /= 2
    while bpm < MIN_BPM:
        bpm *= 2
    return bpm


def _in_dj_range(bpm: float) -> float:
    while bpm >= MAX_BPM:
        bpm /= 2
    while bpm < MIN_BPM:
        bpm *= 2
    return bpm


def estimate_tempo(bands: Sequence[_Bands], genre: str | None = None) -> float:
    """BPM in the DJ range from the onset envelopes of one or more excerpts; with a beets
    genre, in the octave of the genre's usual range (tempo_prior)."""
    bpm = octave_for_genre(_octave_tempo(bands), genre_range(genre))
    return round(_in_dj_range(bpm), 2)


@dataclass(frozen=True)
class TempoEstimate:
    bpm: float
    steady: bool
    start: float | None = None  # when the tempo changes: the first and last section's
    end: float | None = None


TEMPO_SECTION_SECONDS = 30.0  # a long excerpt (a whole track) is cut into sections
TEMPO_CHANGE = 0.04  # first and last sections further apart than this: a tempo change


def _slice(b: _Bands, start: int, stop: int) -> _Bands:
    return _Bands(
        b.low[start:stop], b.mid[start:stop], b.high[start:stop], b.centroid_hz, b.bright_share
    )


def _tempo_sections(bands: Sequence[_Bands]) -> list[_Bands]:
    """Each excerpt, cut into sections of about TEMPO_SECTION_SECONDS when it is at least
    two of them long, in time order."""
    per = int(TEMPO_SECTION_SECONDS * FPS)
    out: list[_Bands] = []
    for b in bands:
        count = b.low.size // per
        if count < 2:
            out.append(b)
            continue
        edges = np.linspace(0, b.low.size, count + 1).astype(int)
        out.extend(_slice(b, lo, hi) for lo, hi in zip(edges[:-1], edges[1:], strict=True))
    return out


def estimate_tempo_sections(bands: Sequence[_Bands], genre: str | None = None) -> TempoEstimate:
    """The track's tempo (all excerpts together), whether it is steady (every section
    reads the same tempo, up to an octave) and, when the first and the last section
    disagree by more than TEMPO_CHANGE, their two tempos. A steady tempo within the
    measurement's error of a whole number is that number (tempo_prior.round_value)."""
    bpm_range = genre_range(genre)
    overall = _in_dj_range(octave_for_genre(_octave_tempo(bands), bpm_range))
    sections = [s for s in _tempo_sections(bands) if s.low.size >= MIN_SECONDS * FPS]
    readings = []
    for section in sections:
        reading = _in_dj_range(octave_for_genre(_octave_tempo([section]), bpm_range))
        # the same tempo read an octave off in one section (a breakdown) is no change
        for factor in (0.5, 2.0):
            if abs(reading * factor / overall - 1) < TEMPO_CHANGE:
                reading *= factor
        readings.append(reading)
    start = end = None
    if len(readings) >= 2 and abs(readings[-1] / readings[0] - 1) > TEMPO_CHANGE:
        start, end = round(readings[0], 2), round(readings[-1], 2)
    steady = start is None and is_steady(
        [r for r in readings if abs(r / overall - 1) < TEMPO_CHANGE] or [overall]
    )
    return TempoEstimate(bpm=round_value(overall, steady), steady=steady, start=start, end=end)


def _min_len(bands: Sequence[_Bands]) -> int:
    return min(b.low.size for b in bands)


# --- energy ------------------------------------------------------------------------------


def _onsets_per_second(env: np.ndarray) -> float:
    """Peaks of the onset envelope that stand out from their surroundings."""
    if env.size < 3:
        return 0.0
    threshold = np.median(env) + 0.5 * env.std()
    peaks = (env[1:-1] > env[:-2]) & (env[1:-1] >= env[2:]) & (env[1:-1] > threshold)
    return float(peaks.sum()) / (env.size / FPS)


def _unit(value: float, low: float, high: float) -> float:
    return float(np.clip((value - low) / (high - low), 0.0, 1.0))


def estimate_energy(
    loudness_db: float, onsets_per_second: float, centroid_hz: float, bright_share: float
) -> int:
    """The 1-10 energy level of the module docstring's formula."""
    loud = _unit(loudness_db, -32.0, -12.0)
    dense = _unit(onsets_per_second, 1.0, 9.0)
    bright = 0.5 * _unit(math.log2(max(centroid_hz, 1.0)), math.log2(300), math.log2(3000))
    bright += 0.5 * _unit(bright_share, 0.0, 0.2)
    return int(np.clip(round(1 + 9 * (0.5 * loud + 0.3 * dense + 0.2 * bright)), 1, 10))


# --- all together ------------------------------------------------------------------------


def rms_db(y: np.ndarray) -> float:
    rms = float(np.sqrt(np.mean(np.square(y, dtype=np.float64)))) if y.size else 0.0
    return 20 * math.log10(rms) if rms > 0 else -math.inf


SILENCE_DB = -60.0


def analyse(excerpts: Sequence[np.ndarray], genre: str | None = None) -> AudioAnalysis:
    """BPM, key and energy of a track from one or more excerpts (mono, SAMPLE_RATE, in
    time order: the first and the last decide a key or tempo change). `genre`: the beets
    genre, when known (it picks the tempo's octave, tempo_prior).

    Raises AnalysisError for audio shorter than MIN_SECONDS in all or silent."""
    excerpts = [np.ascontiguousarray(e, dtype=np.float32) for e in excerpts if e.size]
    total = sum(e.size for e in excerpts) / SAMPLE_RATE
    if total < MIN_SECONDS:
        raise AnalysisError(f"only {total:.1f} s of audio (at least {MIN_SECONDS:.0f} s needed)")
    loudness = rms_db(np.concatenate(excerpts))
    if loudness < SILENCE_DB:
        raise AnalysisError(f"silent (level {loudness:.0f} dBFS)")
    bands = [_bands(e) for e in excerpts]
    tempo = estimate_tempo_sections(bands, genre)
    key = estimate_key(excerpts)
    onset_rate = float(np.mean([_onsets_per_second(b.full) for b in bands]))
    energy = estimate_energy(
        loudness,
        onset_rate,
        float(np.mean([b.centroid_hz for b in bands])),
        float(np.mean([b.bright_share for b in bands])),
    )
    return AudioAnalysis(
        bpm=tempo.bpm,
        key_pitch_class=key.tonic,
        key_minor=key.minor,
        energy=energy,
        key_strength=key.strength,
        loudness_db=round(loudness, 1),
        key_confidence=key.confidence,
        tuning_cents=key.tuning_cents,
        key_start=key.start,
        key_end=key.end,
        bpm_start=tempo.start,
        bpm_end=tempo.end,
        steady=tempo.steady,
    )
