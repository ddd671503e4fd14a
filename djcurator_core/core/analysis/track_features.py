"""Frame-by-frame features of a whole track, the input of the beat grid and the phrase
analysis (beat_grid.py, phrases.py).

The whole track is needed (phrases run from the first bar to the last), so the features
are cheap: a short-time spectrum at a low rate (the decoder hands over about 11 kHz mono;
files/audio_decode.py), 23 ms windows every 11.6 ms, and from it, per frame:

- onset envelopes (spectral flux: the rise of the log spectrum) in a low band (< 150 Hz:
  kick, bass), a mid band (150 Hz - 4 kHz: snare, claps, chords) and a high band
  (> 4 kHz: hats), which the beat grid locks onto;
- the energy in about 30 bands, one FFT bin wide at the bottom and wider by a constant
  ratio above (timbre: what changes between an intro, a break and a drop; the flux is
  taken on them too), and the total energy (loudness);
- the sustained spectrum between 60 Hz and 4 kHz: each bin's minimum over the
  surrounding quarter second, which drums (short hits) do not reach and bass lines,
  chords, pads, melodies and vocals do: its change from beat to beat marks the chord
  changes (the downbeat), and its level above 250 Hz says whether a stretch has melody
  (what a DJ does not mix over).

Pure numpy/scipy, deterministic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

TARGET_FPS = 86.0  # frames per second the hop is chosen for (11.6 ms)
WINDOW_SECONDS = 0.0232  # FFT window (23 ms): onsets sharp, low bands still resolved
LOW_HZ, HIGH_HZ = 150.0, 4000.0
KICK_HZ = 110.0  # a kick's body (and the bass); chords' roots are above
MELODY_HZ = (250.0, 4000.0)
HARMONIC_HZ = (60.0, 4000.0)
SUSTAIN_SECONDS = 0.25  # a sound lasting this long is not a drum hit
BLOCK = 4  # frames averaged into one row of the sustained spectrum (46 ms)


@dataclass(frozen=True)
class TrackFeatures:
    """Per-frame features; frame i is centred at i / fps seconds."""

    fps: float
    low: np.ndarray  # onset envelopes (flux), one value per frame
    mid: np.ndarray
    high: np.ndarray
    energy: np.ndarray  # total power per frame
    low_energy: np.ndarray  # power below KICK_HZ per frame (kick, bass)
    bands: np.ndarray  # frames x ~30 bands (_flux_bands): power per band
    sustained: np.ndarray  # power held for SUSTAIN_SECONDS between MELODY_HZ
    harmonic: np.ndarray  # blocks x bins: power held for SUSTAIN_SECONDS, HARMONIC_HZ
    block: int = BLOCK  # frames per row of `harmonic`

    @property
    def frames(self) -> int:
        return int(self.low.size)

    @property
    def duration(self) -> float:
        return self.frames / self.fps


def frame_layout(sr: float) -> tuple[int, int]:
    """(n_fft, hop) for a sample rate: a power of two near WINDOW_SECONDS, half of it."""
    n_fft = 1 << max(6, round(math.log2(WINDOW_SECONDS * sr)))
    return n_fft, n_fft // 2


def power_spectrogram(y: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """|STFT|^2 (frames x bins), Hann window, frames centred on i * hop (padded)."""
    pad = n_fft // 2
    padded = np.pad(np.asarray(y, dtype=np.float32), (pad, pad))
    frames = max(0, 1 + (padded.size - n_fft) // hop)
    strided = np.lib.stride_tricks.as_strided(
        padded, shape=(frames, n_fft), strides=(padded.strides[0] * hop, padded.strides[0])
    )
    window = np.hanning(n_fft + 1)[:-1].astype(np.float32)
    import scipy.fft

    spectrum = scipy.fft.rfft(strided * window, axis=1)  # float32 throughout
    return spectrum.real**2 + spectrum.imag**2


def _flux_bands(bins: int) -> np.ndarray:
    """bins x bands 0/1 matrix: the FFT bins grouped into about 36 bands, one bin each at
    the bottom, wider by a constant ratio above (the log of 36 bands costs a third of the
    log of every bin, and onsets are as clear in them)."""
    edges = np.unique(np.round(np.geomspace(1, bins, 40)).astype(int))
    edges = np.concatenate(([0], edges[edges < bins], [bins]))
    grouping = np.zeros((bins, edges.size - 1), dtype=np.float32)
    for band, (lo, hi) in enumerate(zip(edges[:-1], edges[1:], strict=True)):
        grouping[lo:hi, band] = 1.0
    return grouping


def track_features(y: np.ndarray, sr: float) -> TrackFeatures:
    """The features of mono samples `y` at `sr` Hz (see the module docstring)."""
    from scipy.ndimage import minimum_filter1d

    n_fft, hop = frame_layout(sr)
    fps = sr / hop
    power = power_spectrogram(y, n_fft, hop)
    hz = np.fft.rfftfreq(n_fft, 1.0 / sr)
    grouping = _flux_bands(hz.size)
    grouped = power @ grouping
    peak = float(grouped.max()) or 1.0
    log_power = np.multiply(grouped, np.float32(1e4 / peak))
    np.log1p(log_power, out=log_power)
    flux = np.empty_like(log_power)
    flux[0] = 0.0
    np.subtract(log_power[1:], log_power[:-1], out=flux[1:])
    np.maximum(flux, 0.0, out=flux)
    centre_hz = (hz @ grouping) / grouping.sum(axis=0)
    low, high = centre_hz < LOW_HZ, centre_hz >= HIGH_HZ
    onset_bands = np.stack([low, ~low & ~high, high], axis=1).astype(np.float32)
    low_mid_high = flux @ onset_bands
    harmonic_bins = (hz >= HARMONIC_HZ[0]) & (hz < HARMONIC_HZ[1])
    blocks = power.shape[0] // BLOCK
    pooled = power[: blocks * BLOCK, harmonic_bins].reshape(blocks, BLOCK, -1).mean(axis=1)
    held = max(3, int(round(SUSTAIN_SECONDS * fps / BLOCK)) | 1)
    harmonic = minimum_filter1d(pooled, size=held, axis=0, mode="nearest")
    melody = hz[harmonic_bins] >= MELODY_HZ[0]
    sustained = np.repeat(harmonic[:, melody].sum(axis=1), BLOCK)
    sustained = np.pad(sustained, (0, power.shape[0] - sustained.size), mode="edge")
    return TrackFeatures(
        fps=fps,
        low=low_mid_high[:, 0].copy(),
        mid=low_mid_high[:, 1].copy(),
        high=low_mid_high[:, 2].copy(),
        energy=grouped.sum(axis=1),
        low_energy=grouped[:, centre_hz < KICK_HZ].sum(axis=1),
        bands=grouped,
        sustained=sustained,
        harmonic=harmonic,
    )
