"""Songs of known key and tempo in the styles DJs play, as General MIDI parts.

Each style writes what its records are made of: the drum pattern of the genre (four on
the floor, broken beats, the drum & bass two-step, dubstep's half-time snare, boom-bap
swing, none at all for ambient), a bass line in the genre's rhythm that follows the chords,
chord progressions that producers of the genre use (minor keys most of the time, as in
EDM), pads, an arpeggio and a melody from the key's scale, arranged in the sections of a
DJ track (intro of drums, build, drop, breakdown, second drop, outro), so that the
analysis windows of a real track fall on the parts they would fall on in a record.

A key-change song moves to its second key at the breakdown (half way through). Everything
is drawn from a seeded generator: the same spec always gives the same MIDI.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from midi_file import Part

# General MIDI drum notes (channel 10) and programs (0-based)
KICK, RIM, SNARE, CLAP, CHAT, PHAT, OHAT, CRASH, RIDE, TAMB, SHAKER = (
    36, 37, 38, 39, 42, 44, 46, 49, 51, 54, 70,
)  # fmt: skip
EPIANO, PIANO, VIBES, CELESTA, ORGAN, HARP, STRINGS, SYNTH_STRINGS = 4, 0, 11, 8, 16, 46, 48, 50
FINGER_BASS, SYNTH_BASS1, SYNTH_BASS2, SAW_LEAD, SQUARE_LEAD, BASS_LEAD = 33, 38, 39, 81, 80, 87
WARM_PAD, POLY_PAD, CHOIR_PAD, NEWAGE_PAD, SWEEP_PAD, SYNTH_BRASS = 89, 90, 91, 88, 95, 62

CHORD_TONES = {
    "M": (0, 4, 7),
    "m": (0, 3, 7),
    "M7": (0, 4, 7, 11),
    "m7": (0, 3, 7, 10),
    "7": (0, 4, 7, 10),
    "m9": (0, 3, 7, 10, 14),
    "M9": (0, 4, 7, 11, 14),
    "sus": (0, 5, 7),
}
# progressions as (root above the tonic in semitones, chord quality), one chord a bar
MINOR_PROGRESSIONS = (
    ((0, "m7"), (8, "M7"), (3, "M"), (10, "M")),  # i VI III VII
    ((0, "m"), (5, "m"), (8, "M"), (7, "M")),  # i iv VI V (harmonic minor V)
    ((0, "m"), (10, "M"), (8, "M"), (10, "M")),  # i VII VI VII
    ((0, "m9"), (0, "m9"), (5, "m7"), (7, "m7")),  # i i iv v (deep house)
    ((0, "m"), (8, "M"), (5, "m"), (7, "M")),  # i VI iv V
    ((0, "m"), (3, "M"), (10, "M"), (5, "m")),  # i III VII iv
    ((0, "m"), (0, "m"), (8, "M"), (10, "M")),  # i i VI VII
)
MAJOR_PROGRESSIONS = (
    ((0, "M"), (7, "M"), (9, "m"), (5, "M")),  # I V vi IV
    ((0, "M7"), (5, "M7"), (0, "M7"), (7, "M")),  # I IV I V
    ((0, "M"), (9, "m"), (5, "M"), (7, "M")),  # I vi IV V
    ((0, "M9"), (2, "m7"), (5, "M7"), (7, "7")),  # I ii IV V7
    ((5, "M"), (7, "M"), (0, "M"), (0, "M")),  # IV V I I
)
MINOR_SCALE = (0, 2, 3, 5, 7, 8, 10)
MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)

# style: (BPM range, share of minor keys)
STYLES = {
    "house": ((118.0, 126.0), 0.7),
    "techno": ((124.0, 132.0), 0.85),
    "breakbeat": ((126.0, 140.0), 0.7),
    "dnb": ((160.0, 180.0), 0.8),
    "dubstep": ((140.0, 140.0), 0.9),
    "hiphop": ((84.0, 96.0), 0.6),
    "ambient": ((70.0, 100.0), 0.5),
    "keychange": ((122.0, 138.0), 0.7),
}


@dataclass(frozen=True)
class SongSpec:
    style: str
    bpm: float
    tonic: int  # pitch class, 0 = C
    minor: bool
    seconds: float
    seed: int
    second_key: tuple[int, bool] | None = None  # key after the change, for "keychange"

    @property
    def bars(self) -> int:
        """A multiple of 8 bars, as close to `seconds` as that allows."""
        return max(16, int(round(self.seconds * self.bpm / 240.0 / 8.0)) * 8)

    @property
    def change_bar(self) -> int | None:
        return self.bars // 2 if self.second_key else None

    @property
    def change_seconds(self) -> float | None:
        bar = self.change_bar
        return None if bar is None else bar * 240.0 / self.bpm


def sections(bars: int) -> list[tuple[str, int, int]]:
    """(name, first bar, bars) of a DJ arrangement in eighths of the track."""
    unit = bars // 8
    plan = [("intro", 1), ("build", 1), ("drop", 2), ("break", 1), ("drop2", 2), ("outro", 1)]
    out, bar = [], 0
    for name, eighths in plan:
        length = unit * eighths if name != "outro" else bars - bar
        out.append((name, bar, length))
        bar += length
    return out


class Song:
    """The parts of one song, filled bar by bar by a style."""

    def __init__(self, spec: SongSpec) -> None:
        self.spec = spec
        self.rng = np.random.default_rng(spec.seed)
        self.drums = Part(9, None, volume=112)
        self.bass = Part(0, SYNTH_BASS1, volume=108)
        self.chords = Part(1, EPIANO, volume=84, pan=54)
        self.pad = Part(2, WARM_PAD, volume=72, pan=74)
        self.lead = Part(3, SAW_LEAD, volume=80, pan=60)
        self.arp = Part(4, CELESTA, volume=70, pan=84)
        scale_set = MINOR_PROGRESSIONS if spec.minor else MAJOR_PROGRESSIONS
        # taken in turn by seed, so that the songs of a style use many progressions
        self.progression = scale_set[spec.seed % len(scale_set)]
        second = spec.second_key
        if second:
            second_set = MINOR_PROGRESSIONS if second[1] else MAJOR_PROGRESSIONS
            self.second_progression = second_set[(spec.seed // 3) % len(second_set)]
        self.motif = self._motif()

    @property
    def parts(self) -> list[Part]:
        return [self.drums, self.bass, self.chords, self.pad, self.lead, self.arp]

    def key_at(self, bar: int) -> tuple[int, bool]:
        spec = self.spec
        if spec.second_key and bar >= spec.change_bar:
            return spec.second_key
        return spec.tonic, spec.minor

    def chord_at(self, bar: int) -> tuple[int, tuple[int, ...]]:
        """(root pitch class, chord tones above the root) of the bar's chord."""
        tonic, minor = self.key_at(bar)
        changed = self.spec.second_key and bar >= self.spec.change_bar
        progression = self.second_progression if changed else self.progression
        offset, quality = progression[bar % len(progression)]
        return (tonic + offset) % 12, CHORD_TONES[quality]

    def scale_at(self, bar: int) -> list[int]:
        tonic, minor = self.key_at(bar)
        return [(tonic + step) % 12 for step in (MINOR_SCALE if minor else MAJOR_SCALE)]

    def vel(self, base: int, spread: int = 8) -> int:
        return int(base + self.rng.integers(-spread, spread + 1))

    def _motif(self) -> list[tuple[float, float, int]]:
        """Two bars of melody as (beat, length, scale degree): repeated, so it is a hook."""
        rhythm = ([0, 1.5, 3], [0, 0.75, 1.5, 2.5, 3], [0, 0.5, 1, 2, 3.5], [0, 2, 2.5, 3])
        notes = []
        for half in range(2):
            onsets = rhythm[int(self.rng.integers(len(rhythm)))]
            for i, onset in enumerate(onsets):
                end = onsets[i + 1] if i + 1 < len(onsets) else 4.0
                degree = int(self.rng.choice([0, 2, 4, 4, 1, 3, 5, 6, 7]))
                notes.append((half * 4 + onset, min(end - onset, 1.5), degree))
        return notes

    # --- building blocks ------------------------------------------------------------
    def bass_note(self, bar: int, beat: float, length: float, octave_up: bool = False, v=100):
        root, _ = self.chord_at(bar)
        pitch = 28 + (root - 4) % 12  # E1 (28) .. D#2 (39)
        self.bass.note(bar * 4 + beat, length, pitch + (12 if octave_up else 0), self.vel(v))

    def chord(self, part: Part, bar: int, beat: float, length: float, v: int, low: int = 52):
        """The bar's chord voiced upward from `low` (its root's nearest pitch at or above)."""
        root, tones = self.chord_at(bar)
        base = low + (root - low) % 12
        for tone in tones:
            part.note(bar * 4 + beat, length, base + tone, self.vel(v, 5))

    def melody(self, part: Part, bar: int, octave: int = 72, v: int = 88) -> None:
        scale = self.scale_at(bar)
        tonic = scale[0]
        for beat, length, degree in self.motif:
            if (beat >= 4) != (bar % 2 == 1):
                continue
            step = scale[degree % 7] - tonic
            pitch = octave + tonic + step % 12 + (12 if degree >= 7 else 0)
            if pitch > octave + 14:
                pitch -= 12
            part.note(bar * 4 + beat % 4, length * 0.9, pitch, self.vel(v))

    def arpeggio(self, part: Part, bar: int, step: float = 0.25, low: int = 64, v: int = 70):
        root, tones = self.chord_at(bar)
        base = low + (root - low) % 12
        pitches = [base + t for t in tones[:3]] + [base + 12]
        pattern = pitches + pitches[-2:0:-1]
        for i in range(int(4 / step)):
            part.note(bar * 4 + i * step, step * 0.8, pattern[i % len(pattern)], self.vel(v))

    def hits(self, bar: int, note: int, grid: str, v: int, swing: float = 0.0) -> None:
        """Drum hits on a 16-step string: 'x' accent, 'o' normal, '.' ghost, '-' rest."""
        for i, c in enumerate(grid):
            if c == "-":
                continue
            beat = i * 0.25 + (swing if i % 2 == 1 else 0.0)
            velocity = {"x": v, "o": v - 18, ".": v - 45}[c]
            self.drums.note(bar * 4 + beat, 0.2, note, self.vel(velocity, 6))

    def crash(self, bar: int) -> None:
        self.drums.note(bar * 4, 1.0, CRASH, self.vel(100))


def _fill(song: Song, bar: int) -> None:
    song.hits(bar, SNARE, "----------oxoxxx", 100)


def render_style(spec: SongSpec) -> tuple[list[Part], float]:
    """The song's parts and its length in beats."""
    song = Song(spec)
    builder = BUILDERS[spec.style]
    for name, first, length in sections(spec.bars):
        for bar in range(first, first + length):
            builder(song, name, bar, bar - first, length)
        if name in ("drop", "drop2") and spec.style != "ambient":
            song.crash(first)
    return song.parts, spec.bars * 4.0 + 2.0


# --- styles --------------------------------------------------------------------------
def house(s: Song, section: str, bar: int, i: int, n: int) -> None:
    s.chords.program, s.pad.program = EPIANO, WARM_PAD
    drums = section in ("intro", "build", "drop", "drop2", "outro")
    if drums:
        s.hits(bar, KICK, "x---x---x---x---", 112)
        s.hits(bar, OHAT, "--o---o---o---o-", 84)
        if section != "intro" or i >= n // 2:
            s.hits(bar, CLAP, "----x-------x---", 100)
            s.hits(bar, CHAT, "o.o.o.o.o.o.o.o.", 70)
        if section == "build" and i == n - 1:
            _fill(s, bar)
    if section in ("build", "drop", "drop2", "outro"):
        for beat in (0.5, 1.5, 2.5, 3.5):
            s.bass_note(bar, beat, 0.4, octave_up=beat == 2.5)
    if section in ("drop", "drop2", "break"):
        for beat in (0.5, 1.75, 3.0) if section != "break" else (0.0,):
            s.chord(s.chords, bar, beat, 0.4 if section != "break" else 3.8, 82)
    if section in ("break", "drop2"):
        s.chord(s.pad, bar, 0, 4.0, 70, low=60)
    if section == "drop2" or (section == "break" and i >= n // 2):
        s.melody(s.lead, bar, v=84)


def techno(s: Song, section: str, bar: int, i: int, n: int) -> None:
    s.bass.program, s.chords.program, s.arp.program = SYNTH_BASS2, SYNTH_BRASS, SAW_LEAD
    if section != "break":
        s.hits(bar, KICK, "x---x---x---x---", 115)
        s.hits(bar, OHAT, "--x---x---x---x-", 88)
        s.hits(bar, RIDE, "o.o.o.o.o.o.o.o.", 62)
        if section not in ("intro",):
            s.hits(bar, CLAP, "----o-------o---", 90)
            s.hits(bar, SHAKER, "oooooooooooooooo", 60)
    if section not in ("intro", "break"):
        for step in range(16):
            if step % 4:
                s.bass_note(bar, step * 0.25, 0.2, octave_up=step % 4 == 3, v=92)
    if section in ("drop", "drop2"):
        for beat in (0.75, 2.25, 3.5):
            s.chord(s.chords, bar, beat, 0.25, 76, low=55)
    if section in ("break", "drop2"):
        s.arpeggio(s.arp, bar, 0.25, low=60, v=66)
        s.chord(s.pad, bar, 0, 4.0, 64, low=48)


def breakbeat(s: Song, section: str, bar: int, i: int, n: int) -> None:
    s.chords.program, s.pad.program = SYNTH_STRINGS, POLY_PAD
    if section != "break":
        if bar % 2 == 0:
            s.hits(bar, KICK, "x-----x---x-----", 112)
            s.hits(bar, SNARE, "----x--o-o--x---", 104)
        else:
            s.hits(bar, KICK, "x-x-------xo----", 112)
            s.hits(bar, SNARE, "----x--o-o--x--o", 104)
        s.hits(bar, CHAT, "o-o-x-o-o-o-x-o-", 80)
        if section != "intro":
            s.hits(bar, TAMB, "----o-------o---", 70)
    if section not in ("intro", "break"):
        for beat, up in ((0.0, False), (0.75, False), (1.5, True), (2.5, False), (3.25, True)):
            s.bass_note(bar, beat, 0.45, octave_up=up)
    if section in ("drop", "drop2", "break"):
        s.chord(s.chords, bar, 0, 4.0, 74, low=55)
    if section == "drop2" or section == "break":
        s.melody(s.lead, bar, v=82)
    if section == "break":
        s.chord(s.pad, bar, 0, 4.0, 66, low=60)


def dnb(s: Song, section: str, bar: int, i: int, n: int) -> None:
    s.bass.program, s.chords.program, s.arp.program = SYNTH_BASS2, POLY_PAD, CELESTA
    if section != "break":
        s.hits(bar, KICK, "x---------x-----" if bar % 2 == 0 else "x-------x-x-----", 112)
        s.hits(bar, SNARE, "----x--.-.--x---", 108)
        s.hits(bar, CHAT, "o.x.o.x.o.x.o.xo", 76)
        if section != "intro":
            s.hits(bar, RIDE, "--o---o---o---o-", 64)
    if section not in ("intro", "break"):
        s.bass_note(bar, 0.0, 1.4)
        s.bass_note(bar, 1.5, 0.9, octave_up=True)
        s.bass_note(bar, 2.5, 1.4)
    if section in ("build", "drop", "drop2", "break"):
        s.chord(s.chords, bar, 0, 4.0, 70, low=55)
    if section in ("drop2", "break"):
        s.melody(s.arp, bar, octave=76, v=80)


def dubstep(s: Song, section: str, bar: int, i: int, n: int) -> None:
    s.bass.program, s.chords.program, s.lead.program = BASS_LEAD, CHOIR_PAD, SQUARE_LEAD
    if section != "break":
        s.hits(bar, KICK, "x-----x---------" if bar % 2 == 0 else "x---------o-----", 114)
        s.hits(bar, SNARE, "--------x-------", 112)
        s.hits(bar, CLAP, "--------x-------", 90)
        s.hits(bar, CHAT, "o-o-o-o-o-oxo-o-", 74)
    if section in ("drop", "drop2"):
        root_rhythm = ((0.0, 0.7), (0.75, 0.5), (1.5, 0.25), (1.75, 0.25), (2.5, 1.0), (3.5, 0.5))
        for beat, length in root_rhythm:
            s.bass_note(bar, beat, length, octave_up=beat in (1.75, 3.5), v=104)
    elif section == "build":
        s.bass_note(bar, 0.0, 3.8)
    if section in ("build", "break", "drop2"):
        s.chord(s.chords, bar, 0, 4.0, 70, low=57)
    if section in ("break", "drop2"):
        s.melody(s.lead, bar, v=80)


def hiphop(s: Song, section: str, bar: int, i: int, n: int) -> None:
    s.bass.program, s.chords.program, s.lead.program = FINGER_BASS, EPIANO, VIBES
    swing = 0.08
    if section not in ("intro",) or i >= n // 2:
        s.hits(bar, KICK, "x------x-x------" if bar % 2 == 0 else "x-x------xx-----", 110)
        s.hits(bar, SNARE, "----x-------x---", 108)
        s.hits(bar, CHAT, "o-o-o-o-o-o-o-oo", 78, swing=swing)
    if section not in ("intro", "break"):
        s.bass_note(bar, 0.0, 1.2)
        s.bass_note(bar, 1.75, 0.4)
        s.bass_note(bar, 2.25, 1.0, octave_up=bar % 2 == 1)
    s.chord(s.chords, bar, 0.0, 1.8, 76)
    s.chord(s.chords, bar, 2.5 + swing, 1.2, 66)
    if section in ("drop2", "break"):
        s.melody(s.lead, bar, v=80)


def ambient(s: Song, section: str, bar: int, i: int, n: int) -> None:
    s.bass.program, s.chords.program, s.pad.program, s.arp.program = (
        SYNTH_STRINGS, NEWAGE_PAD, WARM_PAD, HARP,
    )  # fmt: skip
    s.chord(s.pad, bar, 0, 4.0, 72, low=55)
    if bar % 2 == 0:
        root, _ = s.chord_at(bar)
        s.bass.note(bar * 4, 7.8, 36 + (root - 36) % 12, s.vel(80))
    if section not in ("intro", "outro"):
        s.arpeggio(s.arp, bar, 0.5, low=62, v=72)
    if section in ("drop", "drop2"):
        s.chord(s.chords, bar, 0, 4.0, 60, low=64)
        s.melody(s.lead, bar, octave=74, v=70)
    s.lead.program = STRINGS


def keychange(s: Song, section: str, bar: int, i: int, n: int) -> None:
    """Trance-like: four on the floor, rolling off-beat bass, saw chords and lead."""
    s.chords.program, s.pad.program, s.lead.program = POLY_PAD, SWEEP_PAD, SAW_LEAD
    if section != "break":
        s.hits(bar, KICK, "x---x---x---x---", 112)
        s.hits(bar, OHAT, "--x---x---x---x-", 84)
        if section != "intro":
            s.hits(bar, CLAP, "----x-------x---", 96)
            s.hits(bar, CHAT, "oooooooooooooooo", 58)
    if section not in ("intro", "break"):
        for step in (2, 3, 6, 7, 10, 11, 14, 15):
            s.bass_note(bar, step * 0.25, 0.22, octave_up=step % 4 == 3, v=96)
    if section in ("build", "drop", "drop2", "break"):
        s.chord(s.chords, bar, 0, 4.0, 74, low=55)
    if section in ("drop", "drop2", "break"):
        s.arpeggio(s.arp, bar, 0.25, low=67, v=62)
    if section in ("drop2", "break"):
        s.melody(s.lead, bar, v=84)


BUILDERS = {
    "house": house,
    "techno": techno,
    "breakbeat": breakbeat,
    "dnb": dnb,
    "dubstep": dubstep,
    "hiphop": hiphop,
    "ambient": ambient,
    "keychange": keychange,
}
