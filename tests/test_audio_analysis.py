"""Tempo, key and energy estimates on synthesized music of known tempo and key.

The music comes from tests/synth_music.py (drums, bass and chords rendered with numpy);
the decoding tests encode it into real files of every format with PyAV first."""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest
from audiofiles import AUDIO_FORMATS, encode_audio, encode_silence
from synth_music import SR, TrackSpec, render

from djcurator_core.core.analysis.audio_analysis import SAMPLE_RATE, AnalysisError, analyse
from djcurator_core.core.keys import Key
from djcurator_core.files.audio_decode import (
    DecodeError,
    analyse_file,
    decode_excerpt,
    plan_windows,
)

assert SR == SAMPLE_RATE


def _within(estimate: float, truth: float, tolerance: float = 0.01) -> bool:
    return abs(estimate / truth - 1) <= tolerance


@pytest.mark.parametrize(
    ("bpm", "why"),
    [
        (172.0, "drum & bass: 172, not the half-time 86"),
        (125.0, "house: 125, not 62.5"),
        (86.0, "hip-hop: 86, not 172"),
        (70.0, "slow hip-hop stays at 70"),
        (140.0, "four-on-the-floor at 140, not 70"),
        (174.6, "decimal tempo"),
    ],
)
def test_tempo_in_the_dance_music_octave(bpm, why):
    result = analyse([render(TrackSpec(bpm=bpm, tonic=0, minor=True, seconds=30, seed=3))])
    assert _within(result.bpm, bpm, 0.005), f"{why}: got {result.bpm}"


def test_tempo_is_a_decimal_with_two_places():
    result = analyse([render(TrackSpec(bpm=127.6, tonic=2, minor=False, seconds=30, seed=4))])
    assert result.bpm == pytest.approx(127.6, abs=0.1)
    assert round(result.bpm, 2) == result.bpm


@pytest.mark.parametrize(("tonic", "minor"), [(0, False), (9, True), (6, True), (10, False)])
def test_key_exact_for_unambiguous_progressions(tonic, minor):
    # I-IV-V-I and i-iv-v-i: progressions that name their key (I-V-vi-IV does not quite:
    # it shares every chord with its relative minor; the benchmark has those too).
    spec = TrackSpec(bpm=124.0, tonic=tonic, minor=minor, seconds=30, seed=tonic, progression=1)
    result = analyse([render(spec)])
    assert (result.key_pitch_class, result.key_minor) == (tonic, minor), spec.key_name
    assert result.camelot == Key.from_pitch_class(tonic, minor).camelot


def test_energy_follows_intensity():
    energies = [
        analyse([render(TrackSpec(bpm=126.0, tonic=5, minor=True, intensity=i, seed=1))]).energy
        for i in (1, 5, 10)
    ]
    assert energies[0] < energies[1] < energies[2], energies
    assert all(1 <= e <= 10 for e in energies)


def test_the_same_audio_gives_the_same_estimates():
    audio = render(TrackSpec(bpm=133.0, tonic=7, minor=False, seed=9))
    assert analyse([audio]) == analyse([audio.copy()])


def test_short_and_silent_audio_are_refused():
    with pytest.raises(AnalysisError, match="only 5.0 s"):
        analyse([render(TrackSpec(bpm=120.0, tonic=0, minor=False, seconds=5))])
    with pytest.raises(AnalysisError, match="silent"):
        analyse([np.zeros(20 * SAMPLE_RATE, dtype=np.float32)])


# --- real files ----------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", AUDIO_FORMATS)
def test_every_format_decodes_and_analyses(tmp_path, fmt):
    spec = TrackSpec(bpm=172.0, tonic=9, minor=True, intensity=7, seconds=20, seed=2, progression=1)
    path = encode_audio(tmp_path / f"track.{fmt}", render(spec), SR)
    result = analyse_file(path)
    assert _within(result.bpm, 172.0), result
    assert result.camelot == "8A", result  # A minor


def test_a_long_track_is_analysed_from_two_windows(tmp_path):
    assert plan_windows(60.0) == [(0.0, float("inf"))]
    assert plan_windows(360.0) == [(pytest.approx(111.0), 30.0), (pytest.approx(219.0), 30.0)]
    path = encode_silence(tmp_path / "long.flac", seconds=200.0)
    excerpt = decode_excerpt(path)
    assert excerpt.duration == pytest.approx(200.0, abs=0.1)
    assert [round(w.size / SAMPLE_RATE, 2) for w in excerpt.windows] == [30.0, 30.0]


def test_bad_files_raise_one_line_naming_the_file(tmp_path):
    empty = tmp_path / "empty.mp3"
    empty.write_bytes(b"")
    corrupt = tmp_path / "corrupt.mp3"
    corrupt.write_bytes(os.urandom(4096))
    garbage = tmp_path / "garbage.flac"  # FFmpeg reads it without error, but no audio
    garbage.write_bytes(b"garbage" * 500)
    fifo = tmp_path / "pipe.mp3"
    os.mkfifo(fifo)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    short = encode_audio(tmp_path / "short.wav", render(TrackSpec(120.0, 0, False, seconds=4)), SR)
    silent = encode_silence(tmp_path / "silent.flac", seconds=15.0)
    expected = {
        empty: "empty file",
        corrupt: "cannot decode",
        garbage: "cannot decode",
        fifo: "a FIFO",
        tmp_path / "missing.mp3": "No such file",
        tmp_path: "not a regular file",
        short: "only 4.0 s long",
        silent: "silent",
    }
    for path, reason in expected.items():
        with pytest.raises((DecodeError, AnalysisError)) as caught:
            analyse_file(path)
        message = str(caught.value)
        assert str(path) in message and reason in message, message
        assert "\n" not in message
