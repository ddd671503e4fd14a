"""Standard MIDI files: write the benchmark's rendered songs, read a song's tempo map.

A few dozen lines of the format (type-1 files, delta-timed events, tempo meta events) are
enough for both jobs, so the corpus needs no MIDI package: the notes the generator writes
are exactly the notes fluidsynth plays, and the tempo the real songs' charts declare is read
straight from their `notes.mid`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

TICKS_PER_BEAT = 480


def _varlen(value: int) -> bytes:
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def _read_varlen(data: bytes, pos: int) -> tuple[int, int]:
    value = 0
    while True:
        byte = data[pos]
        pos += 1
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            return value, pos


@dataclass
class Part:
    """One instrument on one channel: its General MIDI program and its notes."""

    channel: int
    program: int | None  # None on the drum channel (9)
    volume: int = 100
    pan: int = 64
    notes: list[tuple[float, float, int, int]] = field(default_factory=list)
    # (start beat, length in beats, MIDI pitch, velocity)

    def note(self, beat: float, length: float, pitch: int, velocity: int = 96) -> None:
        if 0 <= pitch <= 127 and length > 0:
            self.notes.append((beat, length, pitch, max(1, min(127, velocity))))


def _track(events: list[tuple[int, int, bytes]]) -> bytes:
    """events: (tick, order, raw bytes); note-offs (order 0) sort before note-ons at a tick."""
    body, now = b"", 0
    for tick, _, raw in sorted(events, key=lambda e: (e[0], e[1])):
        body += _varlen(tick - now) + raw
        now = tick
    body += b"\x00\xff\x2f\x00"
    return b"MTrk" + struct.pack(">I", len(body)) + body


def write_midi(path: Path, bpm: float, parts: list[Part], end_beat: float) -> None:
    """A type-1 file at one steady tempo (4/4), one track per part."""
    tempo = round(60_000_000 / bpm)
    conductor = [
        (0, 0, b"\xff\x51\x03" + tempo.to_bytes(3, "big")),
        (0, 1, b"\xff\x58\x04\x04\x02\x18\x08"),
        (round(end_beat * TICKS_PER_BEAT), 2, b"\xff\x01\x03end"),
    ]
    tracks = [_track(conductor)]
    for part in parts:
        ch = part.channel
        events: list[tuple[int, int, bytes]] = [
            (0, 1, bytes([0xB0 | ch, 7, part.volume])),
            (0, 1, bytes([0xB0 | ch, 10, part.pan])),
        ]
        if part.program is not None:
            events.append((0, 1, bytes([0xC0 | ch, part.program])))
        for beat, length, pitch, velocity in part.notes:
            on = round(beat * TICKS_PER_BEAT)
            off = max(on + 1, round((beat + length) * TICKS_PER_BEAT))
            events.append((on, 2, bytes([0x90 | ch, pitch, velocity])))
            events.append((off, 0, bytes([0x80 | ch, pitch, 0])))
        tracks.append(_track(events))
    header = b"MThd" + struct.pack(">IHHH", 6, 1, len(tracks), TICKS_PER_BEAT)
    path.write_bytes(header + b"".join(tracks))


@dataclass(frozen=True)
class TempoMap:
    """The tempo changes of a MIDI file as (seconds, BPM), and the last event's time."""

    changes: list[tuple[float, float]]
    end_seconds: float

    def dominant_bpm(self, until: float | None = None) -> float:
        """The tempo that holds longest up to `until` seconds (the song's length)."""
        end = until if until is not None else self.end_seconds
        held: dict[float, float] = {}
        for i, (at, bpm) in enumerate(self.changes):
            stop = self.changes[i + 1][0] if i + 1 < len(self.changes) else end
            held[bpm] = held.get(bpm, 0.0) + max(0.0, min(stop, end) - at)
        return max(held, key=held.get)


def read_tempo_map(path: Path) -> TempoMap:
    """Every set-tempo meta event of every track, in seconds (120 BPM until the first)."""
    data = path.read_bytes()
    if data[:4] != b"MThd":
        raise ValueError(f"{path}: not a standard MIDI file")
    _, _, ntracks, division = struct.unpack(">IHHH", data[4:14])
    if division & 0x8000:
        raise ValueError(f"{path}: SMPTE time division is not supported")
    pos, tempos, last_tick = 14, [], 0
    for _ in range(ntracks):
        if data[pos : pos + 4] != b"MTrk":
            break
        (length,) = struct.unpack(">I", data[pos + 4 : pos + 8])
        pos, end, tick, status = pos + 8, pos + 8 + length, 0, 0
        while pos < end:
            delta, pos = _read_varlen(data, pos)
            tick += delta
            if data[pos] & 0x80:
                status = data[pos]
                pos += 1
            if status == 0xFF:
                kind = data[pos]
                size, pos = _read_varlen(data, pos + 1)
                if kind == 0x51:
                    tempos.append((tick, int.from_bytes(data[pos : pos + 3], "big")))
                pos += size
            elif status in (0xF0, 0xF7):
                size, pos = _read_varlen(data, pos)
                pos += size
            else:
                pos += 1 if status & 0xF0 in (0xC0, 0xD0) else 2
        last_tick = max(last_tick, tick)
        pos = end
    tempos.sort()
    if not tempos or tempos[0][0] > 0:
        tempos.insert(0, (0, 500_000))
    changes, seconds, prev_tick, prev_tempo = [], 0.0, 0, tempos[0][1]
    for tick, tempo in tempos:
        seconds += (tick - prev_tick) * prev_tempo / 1e6 / division
        bpm = round(60_000_000 / tempo, 3)
        if not changes or changes[-1][1] != bpm:
            changes.append((round(seconds, 3), bpm))
        prev_tick, prev_tempo = tick, tempo
    end = seconds + (last_tick - prev_tick) * prev_tempo / 1e6 / division
    return TempoMap(changes, round(end, 3))
