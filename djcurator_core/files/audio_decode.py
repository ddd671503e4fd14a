"""Decode the representative excerpt of an audio file for analysis, with PyAV.

PyAV's wheels bundle FFmpeg (LGPL build), so MP3, FLAC, M4A/AAC, Ogg Vorbis, Opus, WAV
and AIFF decode without a system ffmpeg. FFmpeg also downmixes to mono and resamples to
the analysis rate (core.audio_analysis.SAMPLE_RATE) on the way.

The excerpt (what the estimates are made from):
- a track of up to WHOLE_TRACK_SECONDS (90 s) is analysed whole;
- a longer one gives two windows of WINDOW_SECONDS (30 s) centred at 35 % and 65 % of its
  length: past the intro and before the outro, where DJ tracks are in full swing, and
  two of them so that one breakdown does not decide the tempo. Only those windows are
  decoded (the decoder seeks), so a 6-minute track costs about as much as a 60-s one.

Bad files never hang and never raise anything but DecodeError with one line naming the
file: the path is checked with stat() before anything opens it (a FIFO would block an
open() forever), empty files are refused up front, and FFmpeg's own errors are caught.
"""

from __future__ import annotations

import math
import os
import stat
from dataclasses import dataclass

import numpy as np

from djcurator_core.core.analysis.audio_analysis import (
    MIN_SECONDS,
    SAMPLE_RATE,
    AnalysisError,
    AudioAnalysis,
    analyse,
)
from djcurator_core.errors import first_line

WINDOW_SECONDS = 30.0
WHOLE_TRACK_SECONDS = 90.0
WINDOW_CENTRES = (0.35, 0.65)
MAX_DECODE_SECONDS = 20 * 60  # a file whose length is unknown is read up to this much


class DecodeError(Exception):
    """The file cannot be decoded; the message is one line naming the file."""


@dataclass(frozen=True)
class Excerpt:
    windows: list[np.ndarray]  # mono float32 at SAMPLE_RATE
    duration: float | None  # the whole track's length in seconds, when the file says


def check_regular_file(path: str) -> os.stat_result:
    """stat() the path: DecodeError unless it is a non-empty regular file."""
    try:
        info = os.stat(path)
    except OSError as exc:
        raise DecodeError(f"{path}: {exc.strerror or first_line(exc)}") from None
    if not stat.S_ISREG(info.st_mode):
        kind = "a FIFO" if stat.S_ISFIFO(info.st_mode) else "not a regular file"
        raise DecodeError(f"{path}: {kind}, not analysed")
    if info.st_size == 0:
        raise DecodeError(f"{path}: empty file")
    if not os.access(path, os.R_OK):
        raise DecodeError(f"{path}: permission denied")
    return info


def plan_windows(duration: float | None) -> list[tuple[float, float]]:
    """(start, length) in seconds of the windows to decode; length inf = to the end."""
    if duration is None or duration <= WHOLE_TRACK_SECONDS:
        return [(0.0, math.inf)]
    return [
        (max(0.0, centre * duration - WINDOW_SECONDS / 2), WINDOW_SECONDS)
        for centre in WINDOW_CENTRES
    ]


def _duration(container, stream) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / 1_000_000  # av.time_base
    return None


def _decode_window(container, stream, start: float, length: float) -> np.ndarray:
    import av

    resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
    if start > 0:
        container.seek(int(start / stream.time_base), stream=stream, backward=True)
    wanted = MAX_DECODE_SECONDS if math.isinf(length) else length
    limit = int(wanted * SAMPLE_RATE)
    chunks: list[np.ndarray] = []
    have = 0
    position: float | None = None  # seconds at the start of the next resampled sample

    def take(frames) -> bool:
        nonlocal have, position
        for frame in frames:
            samples = frame.to_ndarray().reshape(-1)
            if position is None:
                position = float(frame.time) if frame.time is not None else start
            skip = max(0, int(round((start - position) * SAMPLE_RATE)))
            position += samples.size / SAMPLE_RATE
            samples = samples[skip:]
            if samples.size:
                chunks.append(samples[: limit - have])
                have += chunks[-1].size
            if have >= limit:
                return True
        return False

    for frame in container.decode(stream):
        if take(resampler.resample(frame)):
            break
    else:
        take(resampler.resample(None))
    return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)


def decode_excerpt(path: str | bytes | os.PathLike[str]) -> Excerpt:
    """The analysis windows of the file (see the module docstring)."""
    import av

    shown = os.fsdecode(path)
    check_regular_file(shown)
    try:
        with av.open(shown, metadata_errors="ignore") as container:
            if not container.streams.audio:
                raise DecodeError(f"{shown}: no audio stream")
            stream = container.streams.audio[0]
            duration = _duration(container, stream)
            windows = [
                _decode_window(container, stream, start, length)
                for start, length in plan_windows(duration)
            ]
    except DecodeError:
        raise
    except (av.FFmpegError, OSError, ValueError, RuntimeError) as exc:
        reason = getattr(exc, "strerror", None) or first_line(exc)
        raise DecodeError(f"{shown}: cannot decode ({reason})") from None
    return Excerpt(windows=windows, duration=duration)


def analyse_file(path: str | bytes | os.PathLike[str], genre: str | None = None) -> AudioAnalysis:
    """Decode the excerpt and estimate BPM, key and energy (`genre`: beets' genre, which
    picks the tempo's octave).

    Raises DecodeError (unreadable file) or AnalysisError (too short, silent), both with
    one line that names the file."""
    shown = os.fsdecode(path)
    excerpt = decode_excerpt(shown)
    if excerpt.duration is not None and excerpt.duration < MIN_SECONDS:
        raise AnalysisError(
            f"{shown}: only {excerpt.duration:.1f} s long ({MIN_SECONDS:.0f} s needed)"
        )
    if not any(window.size for window in excerpt.windows):
        raise DecodeError(f"{shown}: cannot decode (no audio in it)")
    try:
        return analyse(excerpt.windows, genre=genre)
    except AnalysisError as exc:
        raise AnalysisError(f"{shown}: {exc}") from None
