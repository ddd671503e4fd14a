"""Decode an audio file for analysis, with PyAV: the excerpt the estimates are made from,
and, for the beat grid and phrases, the whole track at a low rate.

PyAV's wheels bundle FFmpeg (LGPL build), so MP3, FLAC, M4A/AAC, Ogg Vorbis, Opus, WAV
and AIFF decode without a system ffmpeg. `decode_excerpt` has FFmpeg downmix to mono and
resample to the analysis rate (core.analysis.audio_analysis.SAMPLE_RATE) on the way.

The excerpt (what the estimates are made from):
- a track of up to WHOLE_TRACK_SECONDS (90 s) is analysed whole;
- a longer one gives two windows of WINDOW_SECONDS (30 s) centred at 35 % and 65 % of its
  length: past the intro and before the outro, where DJ tracks are in full swing, and
  two of them so that one breakdown does not decide the tempo. Only those windows are
  decoded (the decoder seeks), so a 6-minute track costs about as much as a 60-s one.

The whole track (`decode_track`, what `analyse_track` and `beet djanalyze` use): the
beat grid and the phrases need every bar (core/analysis/beat_grid.py, phrases.py), so
the file is decoded from start to end once, and both the excerpt and a low-rate copy of
the whole track are taken from that one pass. Decoding is most of the cost (a 6-minute
192 kbit/s MP3 takes ~0.6 s of CPU), so nothing else is allowed to cost as much:
FFmpeg's resampler (swresample) would double it, so the frames are taken as the codec
gives them (np.frombuffer on their planes, no copy through to_ndarray), downmixed and
then
- decimated for the structure by an integer factor to about STRUCTURE_RATE (11 kHz:
  44.1 kHz / 4), each output sample the mean of the factor's input samples (a box
  filter: the structure is read from energies and onsets below 4 kHz, where the box
  is flat enough, and what it folds down from above is the same in every bar);
- resampled for the excerpt windows, only those 60 s, with scipy's polyphase filter
  (resample_poly) to SAMPLE_RATE.
Only the low-rate copy and the windows are kept while decoding, never the whole track
at its own rate. A file longer than MAX_STRUCTURE_SECONDS (a DJ mix, an audiobook) gets
no structure and only its excerpt is decoded, seeking, as before.

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
from djcurator_core.core.track_structure import TrackStructure
from djcurator_core.errors import first_line

WINDOW_SECONDS = 30.0
WHOLE_TRACK_SECONDS = 90.0
WINDOW_CENTRES = (0.35, 0.65)
MAX_DECODE_SECONDS = 20 * 60  # a file whose length is unknown is read up to this much
STRUCTURE_RATE = 11025  # about the rate the whole track is decimated to
MAX_STRUCTURE_SECONDS = 20 * 60  # longer files: excerpt only, no beat grid or phrases


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
    return _estimates(shown, excerpt.windows, excerpt.duration, genre)


def _estimates(
    shown: str, windows: list[np.ndarray], duration: float | None, genre: str | None
) -> AudioAnalysis:
    """BPM, key and energy of the decoded windows; the errors name the file."""
    if duration is not None and duration < MIN_SECONDS:
        raise AnalysisError(f"{shown}: only {duration:.1f} s long ({MIN_SECONDS:.0f} s needed)")
    if not any(window.size for window in windows):
        raise DecodeError(f"{shown}: cannot decode (no audio in it)")
    try:
        return analyse(windows, genre=genre)
    except AnalysisError as exc:
        raise AnalysisError(f"{shown}: {exc}") from None


# --- the whole track ---------------------------------------------------------------------


@dataclass(frozen=True)
class DecodedTrack:
    """The excerpt and the whole track at a low rate, from one pass over the file."""

    windows: list[np.ndarray]  # mono float32 at SAMPLE_RATE (plan_windows)
    duration: float | None  # seconds, from the file's header or the samples decoded
    whole: np.ndarray | None  # mono float32 at whole_rate; None: too long, not decoded
    whole_rate: float


@dataclass(frozen=True)
class TrackAnalysis:
    """The estimates of a file and its structure (None: no steady beat to analyse)."""

    estimates: AudioAnalysis
    structure: TrackStructure | None


_SAMPLE_TYPES = {"u8": np.uint8, "s16": np.int16, "s32": np.int32, "s64": np.int64,
                 "flt": np.float32, "dbl": np.float64}  # fmt: skip
_FULL_SCALE = {np.uint8: 128.0, np.int16: 32768.0, np.int32: 2.0**31, np.int64: 2.0**63}


class _RawSamples:
    """The decoded frames' bytes, gathered per plane and turned into mono float32 a block
    at a time: per frame only a copy of its planes (numpy calls per frame would cost as
    much as decoding an MP3 frame)."""

    def __init__(self, frame) -> None:
        name = frame.format.name
        self.dtype = _SAMPLE_TYPES.get(name.rstrip("p"))
        if self.dtype is None:  # FFmpeg has six sample formats, all listed
            raise ValueError(f"unknown sample format {name}")
        self.channels = frame.layout.nb_channels
        self.planar = frame.format.is_planar
        self.width = np.dtype(self.dtype).itemsize * (1 if self.planar else self.channels)
        self.buffers = [bytearray() for _ in range(self.channels if self.planar else 1)]
        self.samples = 0

    def add(self, frame) -> None:
        size = frame.samples * self.width
        for buffer, plane in zip(self.buffers, frame.planes, strict=False):
            buffer += memoryview(plane)[:size]
        self.samples += frame.samples

    def take(self) -> np.ndarray:
        """The samples gathered so far as mono float32 (and empty the buffers)."""
        arrays = [np.frombuffer(buffer, dtype=self.dtype) for buffer in self.buffers]
        if self.planar:
            mono = arrays[0].astype(np.float32)
            for array in arrays[1:]:
                mono += array
        else:
            mono = arrays[0].reshape(-1, self.channels).sum(axis=1, dtype=np.float32)
        if self.dtype is np.uint8:
            mono -= 128.0 * self.channels
        mono /= np.float32(_FULL_SCALE.get(self.dtype, 1.0) * self.channels)
        del arrays
        self.buffers = [bytearray() for _ in self.buffers]
        self.samples = 0
        return mono


class _WholeTrack:
    """Collects a file's samples as they are decoded: the decimated whole track and the
    native-rate samples of the excerpt windows, nothing else."""

    BLOCK = 1 << 18  # native samples decimated at once

    def __init__(self, rate: int, windows: list[tuple[float, float]]) -> None:
        self.rate = rate
        self.factor = max(1, int(rate // STRUCTURE_RATE))
        self.spans = [
            (
                int(round(start * rate)),
                math.inf if math.isinf(length) else int(round((start + length) * rate)),
            )
            for start, length in windows
        ]
        self.window_parts: list[list[np.ndarray]] = [[] for _ in windows]
        self.low: list[np.ndarray] = []
        self.pending: list[np.ndarray] = []
        self.pending_size = 0
        self.position = 0  # native samples taken so far

    def add(self, mono: np.ndarray) -> None:
        start, end = self.position, self.position + mono.size
        for (lo, hi), parts in zip(self.spans, self.window_parts, strict=True):
            if lo < end and hi > start:
                parts.append(mono[max(lo, start) - start : min(hi, end) - start])
        self.position = end
        self.pending.append(mono)
        self.pending_size += mono.size
        if self.pending_size >= self.BLOCK:
            self._decimate(final=False)

    def _decimate(self, final: bool) -> None:
        if not self.pending:
            return
        block = np.concatenate(self.pending)
        usable = block.size if final else block.size - block.size % self.factor
        q = self.factor
        head = block[: usable - usable % q]
        if head.size:
            low = head[0::q].copy()
            for i in range(1, q):
                low += head[i::q]
            self.low.append(low / np.float32(q) if q > 1 else low)
        rest = block[head.size :]
        self.pending = [rest] if rest.size and not final else []
        self.pending_size = rest.size if not final else 0

    def finish(self) -> tuple[np.ndarray, list[np.ndarray]]:
        self._decimate(final=True)
        whole = np.concatenate(self.low) if self.low else np.zeros(0, dtype=np.float32)
        windows = [
            _resample(np.concatenate(parts) if parts else np.zeros(0, np.float32), self.rate)
            for parts in self.window_parts
        ]
        return whole, windows


def _resample(samples: np.ndarray, rate: int) -> np.ndarray:
    """Native-rate samples at SAMPLE_RATE (scipy's polyphase filter)."""
    if rate == SAMPLE_RATE or samples.size == 0:
        return samples.astype(np.float32)
    from scipy.signal import resample_poly

    common = math.gcd(int(rate), SAMPLE_RATE)
    return resample_poly(samples, SAMPLE_RATE // common, int(rate) // common).astype(np.float32)


def decode_track(path: str | bytes | os.PathLike[str]) -> DecodedTrack:
    """The excerpt windows and the whole track at a low rate (see the module docstring);
    a file longer than MAX_STRUCTURE_SECONDS: the excerpt only (whole is None)."""
    import av

    shown = os.fsdecode(path)
    check_regular_file(shown)
    try:
        with av.open(shown, metadata_errors="ignore") as container:
            if not container.streams.audio:
                raise DecodeError(f"{shown}: no audio stream")
            stream = container.streams.audio[0]
            duration = _duration(container, stream)
            if duration is not None and duration > MAX_STRUCTURE_SECONDS:
                windows = [
                    _decode_window(container, stream, start, length)
                    for start, length in plan_windows(duration)
                ]
                return DecodedTrack(windows, duration, None, STRUCTURE_RATE)
            return _decode_whole(container, stream, duration, shown)
    except DecodeError:
        raise
    except (av.FFmpegError, OSError, ValueError, RuntimeError) as exc:
        reason = getattr(exc, "strerror", None) or first_line(exc)
        raise DecodeError(f"{shown}: cannot decode ({reason})") from None


def _decode_whole(container, stream, duration: float | None, shown: str) -> DecodedTrack:
    rate = int(stream.rate or stream.codec_context.sample_rate or 0)
    if rate <= 0:
        raise DecodeError(f"{shown}: cannot decode (no sample rate)")
    track = _WholeTrack(rate, plan_windows(duration))
    limit = int(MAX_DECODE_SECONDS * rate)
    raw: _RawSamples | None = None
    skip = 0
    for frame in container.decode(stream):
        if raw is None:
            raw = _RawSamples(frame)
            # priming samples before the track's zero (AAC edit lists)
            skip = max(0, int(round(-(frame.time or 0.0) * rate)))
        if frame.sample_rate != rate:
            raise DecodeError(f"{shown}: cannot decode (the sample rate changes)")
        raw.add(frame)
        if raw.samples >= _WholeTrack.BLOCK:
            skip = _hand_over(raw, track, skip, limit)
            if track.position >= limit:
                break
    if raw is not None and raw.samples:
        _hand_over(raw, track, skip, limit)
    whole, windows = track.finish()
    decoded = track.position / rate
    return DecodedTrack(windows, duration if duration else decoded, whole, rate / track.factor)


def _hand_over(raw: _RawSamples, track: _WholeTrack, skip: int, limit: int) -> int:
    """Move the gathered samples into `track` (the first `skip` dropped, nothing past
    `limit`); returns what is left to skip."""
    mono = raw.take()
    taken = min(skip, mono.size)
    track.add(mono[taken : taken + max(0, limit - track.position)])
    return skip - taken


def analyse_track(path: str | bytes | os.PathLike[str], genre: str | None = None) -> TrackAnalysis:
    """Estimates and structure of a file from one whole-track decode (see analyse_file
    for the errors and `genre`; a track whose beat cannot be gridded has structure None)."""
    from djcurator_core.core.analysis.structure import analyse_structure

    shown = os.fsdecode(path)
    decoded = decode_track(shown)
    estimates = _estimates(shown, decoded.windows, decoded.duration, genre)
    structure = None
    if decoded.whole is not None and decoded.whole.size:
        structure = analyse_structure(decoded.whole, decoded.whole_rate, estimates.bpm)
    return TrackAnalysis(estimates, structure)
