"""The whole-track decode (files/audio_decode.decode_track, analyse_track): every format
beets handles gives the same grid as the rendered truth (encoder delays and priming
samples accounted for), the excerpt windows are the ones analyse_file decodes, and bad
files fail the same one-line way."""

from __future__ import annotations

import os

import numpy as np
import pytest
from audiofiles import AUDIO_FORMATS, encode_audio, encode_silence
from structured_music import BASS, CHORDS, DRUMS, LEAD, Section, StructuredSpec, render

from djcurator_core.core.analysis.audio_analysis import SAMPLE_RATE, AnalysisError
from djcurator_core.files import audio_decode
from djcurator_core.files.audio_decode import (
    DecodeError,
    analyse_file,
    analyse_track,
    decode_excerpt,
    decode_track,
)

SR = 22050
SHORT = (
    Section("intro", 16, frozenset({DRUMS})),
    Section("drop", 16, frozenset({DRUMS, BASS, CHORDS, LEAD})),
    Section("outro", 16, frozenset({DRUMS, BASS})),
)
SPEC = StructuredSpec(bpm=128.0, lead_in=0.43, seed=21, layout=SHORT)  # 91 s


@pytest.fixture(scope="module")
def samples() -> np.ndarray:
    return render(SPEC, SR)


@pytest.mark.parametrize("fmt", AUDIO_FORMATS)
def test_every_format_gives_the_true_grid(tmp_path, samples, fmt):
    path = encode_audio(tmp_path / f"track.{fmt}", samples, SR)
    analysis = analyse_track(path)
    found = analysis.structure
    assert found is not None and found.steady, found
    truth = SPEC.beat_times()
    grid = found.first_downbeat + np.arange(truth.size) * 60.0 / found.bpm
    assert np.abs(grid - truth).max() < 0.020, (fmt, found)
    assert found.sections == SPEC.section_starts(), found
    assert abs(analysis.estimates.bpm - 128.0) < 1.0
    assert found.duration == pytest.approx(SPEC.seconds, abs=0.1)


def test_the_windows_are_the_excerpts_of_analyse_file(tmp_path, samples):
    path = encode_audio(tmp_path / "track.flac", samples, SR)
    whole, excerpt = decode_track(path), decode_excerpt(path)
    assert whole.duration == pytest.approx(excerpt.duration, abs=0.01)
    assert [w.size for w in whole.windows] == pytest.approx(
        [w.size for w in excerpt.windows], abs=SAMPLE_RATE * 0.05
    )
    for mine, theirs in zip(whole.windows, excerpt.windows, strict=True):
        n = min(mine.size, theirs.size)
        correlation = np.corrcoef(mine[:n], theirs[:n])[0, 1]
        assert correlation > 0.99  # the same audio, resampled by another filter
    assert whole.whole_rate == SR / 2
    assert whole.whole.size == pytest.approx(SPEC.seconds * SR / 2, abs=SR)
    mine, theirs = analyse_track(path).estimates, analyse_file(path)
    assert abs(mine.bpm - theirs.bpm) < 0.1
    assert (mine.key_pitch_class, mine.key_minor) == (theirs.key_pitch_class, theirs.key_minor)


def test_a_file_too_long_for_structure_is_analysed_from_its_excerpt(tmp_path, samples, monkeypatch):
    path = encode_audio(tmp_path / "track.mp3", samples, SR)
    monkeypatch.setattr(audio_decode, "MAX_STRUCTURE_SECONDS", 60.0)
    decoded = decode_track(path)
    assert decoded.whole is None
    assert [round(w.size / SAMPLE_RATE) for w in decoded.windows] == [30, 30]
    analysis = analyse_track(path)
    assert analysis.structure is None and abs(analysis.estimates.bpm - 128.0) < 1.0


def test_silence_long_enough_to_window_is_refused_as_before(tmp_path):
    path = encode_silence(tmp_path / "silent.flac", seconds=100.0)
    with pytest.raises(AnalysisError) as caught:
        analyse_track(path)
    assert str(path) in str(caught.value) and "silent" in str(caught.value)


def test_bad_files_raise_one_line_naming_the_file(tmp_path):
    empty = tmp_path / "empty.mp3"
    empty.write_bytes(b"")
    corrupt = tmp_path / "corrupt.mp3"
    corrupt.write_bytes(os.urandom(4096))
    truncated = tmp_path / "truncated.flac"
    truncated.write_bytes(b"fLaC" + os.urandom(2000))
    fifo = tmp_path / "pipe.mp3"
    os.mkfifo(fifo)
    short = encode_silence(tmp_path / "short.wav", seconds=4.0)
    expected = {
        empty: "empty file",
        corrupt: "cannot decode",
        truncated: "cannot decode",
        fifo: "a FIFO",
        tmp_path / "missing.mp3": "No such file",
        short: "only 4.0 s long",
    }
    for path, reason in expected.items():
        with pytest.raises((DecodeError, AnalysisError)) as caught:
            analyse_track(path)
        message = str(caught.value)
        assert str(path) in message and reason in message, message
        assert "\n" not in message
