"""Dance-music-like audio with a known tempo, key and intensity, rendered with numpy.

Used by the analysis tests (encoded into real files) and by scripts/bench_analyze.py.
A track is drums + bass + chords on a 16th-note grid:

- drums by style, the way the genres play them at their tempo:
  - "hiphop" (70-99 BPM): kick on steps 0 and 10, snare on 4 and 12, hats on 8ths;
  - "four" (100-154 BPM, house/techno/trance): kick on every beat, clap on 2 and 4,
    open hat on the off-beats, closed 16th hats at higher intensity;
  - "breakbeat" (155-180 BPM, drum & bass): kick on steps 0 and 10, snare on 4 and 12
    (the two-step), hats on 8ths.
- bass: the chord's root in octave 1-2, on the off-beats ("four") or on the kicks;
- chords: a triad per bar from a progression of the key (several per mode, one of them the
  minor progression that shares its chords with the relative major: real ambiguity).

`intensity` 1..10 sets loudness, how many layers play, how dense the hats are and how
bright the sound is, so an energy estimate can be checked against it by rank.
Everything is seeded: the same arguments give the same samples.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SR = 22050
MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 10)
# Progressions as scale degrees (0-based) of the mode; one chord per bar.
MAJOR_PROGRESSIONS = ((0, 4, 5, 3), (0, 3, 4, 0), (0, 5, 3, 4), (0, 3, 0, 4))
MINOR_PROGRESSIONS = ((0, 5, 6, 0), (0, 3, 4, 0), (0, 5, 2, 6), (0, 3, 5, 4))
PITCH_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")


@dataclass(frozen=True)
class TrackSpec:
    bpm: float
    tonic: int  # pitch class 0 = C
    minor: bool
    intensity: int = 6  # 1..10
    seconds: float = 30.0
    seed: int = 0
    style: str | None = None  # None: by tempo (see module docstring)
    progression: int | None = None  # index into the mode's progressions; None: by seed

    @property
    def key_name(self) -> str:
        return PITCH_NAMES[self.tonic] + ("m" if self.minor else "")

    @property
    def drum_style(self) -> str:
        if self.style:
            return self.style
        if self.bpm < 100:
            return "hiphop"
        return "four" if self.bpm < 155 else "breakbeat"


def _envelope(n: int, attack: int, decay: float, sr: int) -> np.ndarray:
    t = np.arange(n) / sr
    env = np.exp(-t / decay)
    if attack:
        env[:attack] *= np.linspace(0.0, 1.0, attack)
    return env


def _kick(sr: int, rng: np.random.Generator) -> np.ndarray:
    n = int(0.35 * sr)
    t = np.arange(n) / sr
    freq = 48 + 110 * np.exp(-t / 0.03)
    phase = 2 * np.pi * np.cumsum(freq) / sr
    click = rng.standard_normal(n) * np.exp(-t / 0.002) * 0.3
    return (np.sin(phase) * _envelope(n, 0, 0.12, sr) + click).astype(np.float32)


def _snare(sr: int, rng: np.random.Generator) -> np.ndarray:
    n = int(0.25 * sr)
    t = np.arange(n) / sr
    noise = rng.standard_normal(n)
    noise = np.diff(noise, prepend=0.0)  # tilt towards the highs
    tone = np.sin(2 * np.pi * 190 * t) * np.exp(-t / 0.04)
    return (0.5 * noise * _envelope(n, 0, 0.06, sr) + 0.6 * tone).astype(np.float32)


def _hat(sr: int, rng: np.random.Generator, length: float) -> np.ndarray:
    n = int(length * sr)
    noise = rng.standard_normal(n)
    for _ in range(2):  # crude high-pass: repeated first differences
        noise = np.diff(noise, prepend=0.0)
    return (0.15 * noise * _envelope(n, 0, length / 4, sr)).astype(np.float32)


def _tone(freq: float, n: int, sr: int, harmonics: int, decay: float) -> np.ndarray:
    t = np.arange(n) / sr
    out = np.zeros(n)
    for h in range(1, harmonics + 1):
        if freq * h >= sr / 2:
            break
        out += np.sin(2 * np.pi * freq * h * t) / h
    return out * _envelope(n, int(0.005 * sr), decay, sr)


def _add(track: np.ndarray, sample: np.ndarray, start: int, gain: float) -> None:
    if start >= track.size:
        return
    end = min(track.size, start + sample.size)
    track[start:end] += gain * sample[: end - start]


def _midi_freq(note: float) -> float:
    return 440.0 * 2 ** ((note - 69) / 12)


def render(spec: TrackSpec, sr: int = SR) -> np.ndarray:
    """Mono float32 samples in [-1, 1] for the spec."""
    rng = np.random.default_rng(spec.seed)
    n = int(spec.seconds * sr)
    step = 60.0 / spec.bpm / 4  # a 16th note in seconds
    steps = int(spec.seconds / step) + 1
    level = (spec.intensity - 1) / 9  # 0..1
    style = spec.drum_style

    kick, snare = _kick(sr, rng), _snare(sr, rng)
    closed, open_hat = _hat(sr, rng, 0.05), _hat(sr, rng, 0.2)
    drums = np.zeros(n)
    for s in range(steps):
        start = int(round(s * step * sr))
        pos = s % 16
        if style == "four":
            kick_on, snare_on = pos % 4 == 0, pos in (4, 12)
            hat_on = pos % 4 == 2
        else:
            kick_on, snare_on = pos in (0, 10), pos in (4, 12)
            hat_on = pos % 2 == 0
        if kick_on:
            _add(drums, kick, start, 1.0)
        if snare_on and level >= 0.2:
            _add(drums, snare, start, 0.7)
        if hat_on and level >= 0.1:
            _add(drums, open_hat if style == "four" else closed, start, 0.5 + 0.5 * level)
        if level >= 0.55 and pos % 2 == 1:  # 16th hats at higher intensity
            _add(drums, closed, start, 0.4 * level)
        if level >= 0.85 and pos in (3, 7, 11, 15):  # extra percussion at the top
            _add(drums, snare, start, 0.2)

    # Harmony: one chord per bar, bass on the root.
    scale = MINOR if spec.minor else MAJOR
    progressions = MINOR_PROGRESSIONS if spec.minor else MAJOR_PROGRESSIONS
    choice = rng.integers(len(progressions))
    progression = progressions[choice if spec.progression is None else spec.progression]
    bar = 16 * step
    harmonics = 3 + int(6 * level)  # brighter at higher intensity
    music = np.zeros(n)
    bass = np.zeros(n)
    root_midi = 48 + spec.tonic  # C3..B3
    for b in range(int(spec.seconds / bar) + 1):
        degree = progression[b % len(progression)]
        chord = [scale[(degree + i) % 7] + 12 * ((degree + i) // 7) for i in (0, 2, 4)]
        start = int(round(b * bar * sr))
        length = min(n - start, int(bar * sr))
        if length <= 0:
            break
        for interval in chord:
            tone = _tone(_midi_freq(root_midi + interval), length, sr, harmonics, bar)
            music[start : start + length] += 0.18 * tone
        bass_note = _midi_freq(root_midi - 24 + chord[0])
        hits = (2, 6, 10, 14) if style == "four" else (0, 10)
        note_len = int(2 * step * sr)
        for pos in hits:
            at = start + int(round(pos * step * sr))
            _add(bass, _tone(bass_note, note_len, sr, 4, 2 * step).astype(np.float32), at, 0.5)

    mix = drums * (0.6 + 0.4 * level) + music + bass * (0.4 + 0.6 * level)
    if level < 0.3:  # the quietest tracks: no drums but the kick, softly
        mix = 0.5 * drums + music + 0.5 * bass
    peak = np.max(np.abs(mix)) or 1.0
    gain_db = -16 + 15 * level  # -16 dBFS peak .. -1 dBFS peak
    mix = mix / peak * 10 ** (gain_db / 20)
    return mix.astype(np.float32)
