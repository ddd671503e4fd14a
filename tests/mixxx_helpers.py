"""A Mixxx database made from the schema a real Mixxx 2.3.3 created (fixtures/), real WAV
files, and sets with structures and mix points built directly."""

from __future__ import annotations

import sqlite3
import wave
from pathlib import Path

import numpy as np

from djcurator_core.core.mixing.mix_point import MixPoint
from djcurator_core.core.models import Track
from djcurator_core.core.report.justify import SetResult, justify
from djcurator_core.core.track_structure import BarSpan, TrackStructure

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "mixxx-2.3.3.sql"
KEYS = ("8A", "9A", "9B", "10B", "10A", "11A", "11B", "12B", "12A", "1A")


def make_database(folder: Path) -> Path:
    """mixxxdb.sqlite in `folder`, from the dump of the database Mixxx 2.3.3 created on
    its first start (schema version 32, the Auto DJ queue as playlist 1)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "mixxxdb.sqlite"
    con = sqlite3.connect(path)
    con.executescript(FIXTURE.read_text())
    con.close()
    return path


def make_wav(path: Path, seconds: float, rate: int = 22050, bpm: float = 120.0) -> Path:
    """A mono 16-bit WAV with a click on every beat (a real file mutagen and Mixxx read)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(rate * seconds)) / rate
    phase = (t * bpm / 60.0) % 1.0
    samples = np.exp(-phase * 40) * np.sin(2 * np.pi * 80 * t) * 20000
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(samples.astype("<i2").tobytes())
    return path


def structure(seconds: float, bpm: float = 120.0) -> TrackStructure:
    """Bars of 2 s at 120 BPM from 0.5 s; an 4-bar intro and an 4-bar outro."""
    bars = int((seconds - 0.5) / (4 * 60 / bpm))
    return TrackStructure(
        bpm=bpm,
        first_downbeat=0.5,
        duration=seconds,
        phrases=list(range(1, bars + 1, 4)),
        intro=BarSpan(start=1, end=5),
        outro=BarSpan(start=bars - 4, end=bars),
    )


def make_set(paths: list[Path], seconds: float, mixes: bool = True) -> SetResult:
    """A set of the files in order, each with a structure; each transition mixes A's bar
    (bars - 6) into B's bar 3 for 2 bars when `mixes`."""
    tracks = [
        Track(
            id=str(i + 1),
            path=str(path),
            title=f"Track {i + 1:02d}",
            artist=f"Artist {i % 7}",
            duration=seconds,
            bpm=120.0,
            key=KEYS[i % len(KEYS)],
            structure=structure(seconds),
        )
        for i, path in enumerate(paths)
    ]
    result = justify(tracks, list(range(len(tracks))))
    if not mixes:
        return result
    transitions = []
    for t in result.transitions:
        a = tracks[t.position - 1].structure
        out_bar = a.bar_count - 6
        mix = MixPoint(
            out_bar=out_bar,
            out_time=a.time_of_bar(out_bar),
            in_bar=3,
            in_time=tracks[t.position].structure.time_of_bar(3),
            overlap_bars=2,
            overlap_seconds=4.0,
            tempo_change_pct=0.0,
            on_phrases=False,
        )
        transitions.append(t.model_copy(update={"mix": mix}))
    return result.model_copy(update={"transitions": transitions})


def rows(db: Path, sql: str, *args) -> list[tuple]:
    con = sqlite3.connect(db)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def dump(db: Path) -> list[str]:
    con = sqlite3.connect(db)
    try:
        return list(con.iterdump())
    finally:
        con.close()
