"""Dance tracks of known structure, rendered with numpy: the ground truth for the beat
grid, downbeat, phrase and intro/outro analysis (core/analysis/beat_grid.py, phrases.py).

A track is a list of sections, each a whole number of bars and a set of layers:

- "drums": kick, clap/snare and hats in the style of the tempo (synth_music's drum
  patterns: four-on-the-floor, or the drum & bass two-step), a crash on each section's
  first downbeat;
- "bass": the chord's root, on the off-beats (four) or with the kicks (breakbeat);
- "chords": a sustained triad per bar (the chord changes on the downbeat);
- "lead": an eighth-note melody over the chord (what a vocal or a hook is to a DJ: not
  mixable).

The default layout is the one the issue names, as DJ tracks are built:
intro 16 bars (drums only), build 16 (drums, bass, chords), break 16 (chords and lead,
no drums), drop 32 (everything), outro 32 (drums and bass). The music may start after a
lead-in of silence (`lead_in` seconds before the first downbeat), and a tempo change
can be put in (`tempo_change`: (bar, new bpm)) for the steady-grid check.

Everything is seeded and deterministic. The truth a test compares with comes from the
spec: `first_downbeat`, `beat_times`, `section_starts` (bars), `intro`, `outro`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from synth_music import (
    MAJOR,
    MINOR,
    MINOR_PROGRESSIONS,
    _add,
    _hat,
    _kick,
    _midi_freq,
    _snare,
    _tone,
)

SR = 22050

DRUMS, BASS, CHORDS, LEAD = "drums", "bass", "chords", "lead"


@dataclass(frozen=True)
class Section:
    name: str
    bars: int
    layers: frozenset[str]
    level: float = 1.0  # gain of the section (drops are louder than builds)


def _section(name: str, bars: int, *layers: str, level: float = 1.0) -> Section:
    return Section(name, bars, frozenset(layers), level)


DEFAULT_LAYOUT = (
    _section("intro", 16, DRUMS, level=0.8),
    _section("build", 16, DRUMS, BASS, CHORDS, level=0.9),
    _section("break", 16, CHORDS, LEAD, level=0.7),
    _section("drop", 32, DRUMS, BASS, CHORDS, LEAD, level=1.0),
    _section("outro", 32, DRUMS, BASS, level=0.85),
)
# A longer track (about 6 minutes at 126 BPM): two breaks and drops.
LONG_LAYOUT = (
    _section("intro", 32, DRUMS, level=0.8),
    _section("build", 16, DRUMS, BASS, CHORDS, level=0.9),
    _section("break", 16, CHORDS, LEAD, level=0.7),
    _section("drop", 32, DRUMS, BASS, CHORDS, LEAD, level=1.0),
    _section("groove", 16, DRUMS, BASS, level=0.9),
    _section("break 2", 8, CHORDS, level=0.6),
    _section("drop 2", 32, DRUMS, BASS, CHORDS, LEAD, level=1.0),
    _section("outro", 32, DRUMS, BASS, level=0.85),
)


@dataclass(frozen=True)
class StructuredSpec:
    bpm: float
    tonic: int = 9  # pitch class, 0 = C
    minor: bool = True
    lead_in: float = 0.0  # seconds of silence before the first downbeat
    layout: tuple[Section, ...] = DEFAULT_LAYOUT
    seed: int = 0
    style: str | None = None  # "four" or "breakbeat"; None: by tempo
    tempo_change: tuple[int, float] | None = None  # (bar, bpm from that bar on)
    tail: float = 1.0  # seconds after the last bar (the last notes ringing out)
    extra: dict = field(default_factory=dict, compare=False)

    @property
    def drum_style(self) -> str:
        return self.style or ("breakbeat" if self.bpm >= 155 else "four")

    @property
    def bars(self) -> int:
        return sum(section.bars for section in self.layout)

    @property
    def first_downbeat(self) -> float:
        return self.lead_in

    def bpm_at(self, bar: int) -> float:
        """Tempo of (1-based) `bar`."""
        if self.tempo_change and bar >= self.tempo_change[0]:
            return self.tempo_change[1]
        return self.bpm

    def bar_starts(self) -> np.ndarray:
        """Seconds at which each bar starts, bars 1..bars+1 (the last: the music's end)."""
        lengths = [4 * 60.0 / self.bpm_at(bar) for bar in range(1, self.bars + 1)]
        return self.lead_in + np.concatenate(([0.0], np.cumsum(lengths)))

    def beat_times(self) -> np.ndarray:
        starts = self.bar_starts()
        return np.concatenate(
            [starts[i] + np.arange(4) * (starts[i + 1] - starts[i]) / 4 for i in range(self.bars)]
        )

    @property
    def seconds(self) -> float:
        return float(self.bar_starts()[-1]) + self.tail

    def section_starts(self) -> list[int]:
        """Bars (1-based) where a section starts: the true phrase boundaries that the
        music marks by a change."""
        starts, bar = [], 1
        for section in self.layout:
            starts.append(bar)
            bar += section.bars
        return starts

    def phrase_starts(self) -> list[int]:
        """Every 8 bars of every section, from its start (the phrase grid)."""
        starts = []
        for start, section in zip(self.section_starts(), self.layout, strict=True):
            starts.extend(range(start, start + section.bars, 8))
        return starts

    @property
    def intro(self) -> tuple[int, int]:
        """(first bar, bar after the last) of the mixable stretch at the start: the
        leading sections with drums and neither chords nor lead; if the track opens with
        them, the sections before the first one without drums (the first break); at
        most 32 bars (core/analysis/phrases.py documents the same rule)."""
        return 1, 1 + self._mixable(self.layout)

    @property
    def outro(self) -> tuple[int, int]:
        end = self.bars + 1
        return end - self._mixable(self.layout[::-1]), end

    @staticmethod
    def _mixable(sections) -> int:
        bars = 0
        for section in sections:
            if DRUMS not in section.layers or section.layers & {CHORDS, LEAD}:
                break
            bars += section.bars
        if not bars:
            for section in sections:
                if DRUMS not in section.layers:
                    break
                bars += section.bars
        return min(bars, 32)


def render(spec: StructuredSpec, sr: int = SR) -> np.ndarray:
    """Mono float32 samples in [-1, 1]."""
    rng = np.random.default_rng(spec.seed)
    n = int(round(spec.seconds * sr))
    kick, snare = _kick(sr, rng), _snare(sr, rng)
    closed, open_hat, crash = _hat(sr, rng, 0.05), _hat(sr, rng, 0.2), _hat(sr, rng, 1.2)
    layers = {name: np.zeros(n) for name in (DRUMS, BASS, CHORDS, LEAD)}
    scale = MINOR if spec.minor else MAJOR
    progression = MINOR_PROGRESSIONS[spec.seed % len(MINOR_PROGRESSIONS)]
    root = 48 + spec.tonic
    style = spec.drum_style
    starts = spec.bar_starts()
    melody_rng = np.random.default_rng(spec.seed + 1000)
    bar = 0
    for section in spec.layout:
        gain = section.level
        for index in range(section.bars):
            t0, t1 = starts[bar], starts[bar + 1]
            step = (t1 - t0) / 16
            at = [int(round((t0 + s * step) * sr)) for s in range(17)]
            degree = progression[bar % len(progression)]
            chord = [scale[(degree + i) % 7] + 12 * ((degree + i) // 7) for i in (0, 2, 4)]
            if DRUMS in section.layers:
                if index == 0:
                    _add(layers[DRUMS], crash, at[0], 0.6 * gain)
                for s in range(16):
                    if style == "four":
                        kick_on, snare_on, hat_on = s % 4 == 0, s in (4, 12), s % 4 == 2
                    else:
                        kick_on, snare_on, hat_on = s in (0, 10), s in (4, 12), s % 2 == 0
                    if kick_on:
                        _add(layers[DRUMS], kick, at[s], gain)
                    if snare_on:
                        _add(layers[DRUMS], snare, at[s], 0.7 * gain)
                    if hat_on:
                        hat = open_hat if style == "four" else closed
                        _add(layers[DRUMS], hat, at[s], 0.6 * gain)
                    if s % 2 == 1:
                        _add(layers[DRUMS], closed, at[s], 0.3 * gain)
            if BASS in section.layers:
                note = _midi_freq(root - 24 + chord[0])
                hits = (2, 6, 10, 14) if style == "four" else (0, 10)
                length = int(2 * step * sr)
                for s in hits:
                    tone = _tone(note, length, sr, 4, 2 * step)
                    _add(layers[BASS], tone.astype(np.float32), at[s], 0.5 * gain)
            if CHORDS in section.layers:
                length = at[16] - at[0]
                for interval in chord:
                    tone = _tone(_midi_freq(root + interval), length, sr, 6, 4 * (t1 - t0))
                    _add(layers[CHORDS], tone, at[0], 0.16 * gain)
            if LEAD in section.layers:
                for s in range(0, 16, 2):
                    pick = chord[melody_rng.integers(3)] + 12 * melody_rng.integers(1, 3)
                    length = int(2 * step * sr)
                    tone = _tone(_midi_freq(root + pick), length, sr, 5, step)
                    _add(layers[LEAD], tone, at[s], 0.12 * gain)
            bar += 1
    mix = layers[DRUMS] + layers[BASS] + layers[CHORDS] + layers[LEAD]
    peak = np.max(np.abs(mix)) or 1.0
    return (mix / peak * 10 ** (-1 / 20)).astype(np.float32)
