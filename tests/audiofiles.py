"""Real audio files for tests and the demo: encoded with PyAV, tagged with mutagen.

Each file is silence (duration is metadata; a second or two is enough for tests) in
MP3, FLAC or M4A, tagged the way DJ tools tag files:

- MP3 (ID3v2.4): TBPM (decimals such as "127.60"), TKEY, energy in TXXX:EnergyLevel or
  in a comment "8A - Energy 6" / "9A - 5".
- FLAC (Vorbis comments): BPM, INITIALKEY or KEY, ENERGYLEVEL, COMMENT.
- M4A (MP4 atoms): tmpo (integer BPM only), freeform ----:com.apple.iTunes:initialkey
  and ----:com.apple.iTunes:EnergyLevel, ©cmt.

Only the values given are written, so a test can leave a tag out on purpose.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
from mutagen.flac import FLAC
from mutagen.id3 import COMM, ID3, TALB, TBPM, TCON, TIT2, TKEY, TPE1, TXXX
from mutagen.mp4 import MP4, MP4FreeForm

FORMATS = ("mp3", "flac", "m4a")
# Every format beets handles; audio analysis must decode them all.
AUDIO_FORMATS = ("mp3", "flac", "m4a", "ogg", "opus", "wav", "aiff")

# extension -> (PyAV container format, codec, sample format, samples per frame, dtype,
# layout, fixed sample rate or None)
_ENCODINGS = {
    "mp3": ("mp3", "libmp3lame", "s32p", 1152, np.int32, "mono", None),
    "flac": ("flac", "flac", "s16", 4096, np.int16, "mono", None),
    "m4a": ("ipod", "aac", "fltp", 1024, np.float32, "mono", None),
    # FFmpeg's own Vorbis encoder is "experimental" and wants two channels.
    "ogg": ("ogg", "vorbis", "fltp", 1024, np.float32, "stereo", None),
    "opus": ("ogg", "libopus", "flt", 960, np.float32, "mono", 48000),
    "wav": ("wav", "pcm_s16le", "s16", 4096, np.int16, "mono", None),
    "aiff": ("aiff", "pcm_s16be", "s16", 4096, np.int16, "mono", None),
}
SAMPLE_RATE = 8000


def _resample(samples: np.ndarray, rate: int, new_rate: int) -> np.ndarray:
    """Linear interpolation: good enough to feed an encoder that needs its own rate."""
    if rate == new_rate:
        return samples
    times = np.arange(int(samples.size * new_rate / rate)) / new_rate
    return np.interp(times, np.arange(samples.size) / rate, samples).astype(np.float32)


def encode_audio(path: Path, samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> Path:
    """Encode mono float samples (-1..1) into `path`; the format follows the extension."""
    path = Path(path)
    container_format, codec, sample_format, frame_size, dtype, layout, fixed_rate = _ENCODINGS[
        path.suffix.lstrip(".").lower()
    ]
    rate = fixed_rate or sample_rate
    samples = _resample(np.asarray(samples, dtype=np.float32), sample_rate, rate)
    channels = 2 if layout == "stereo" else 1
    if dtype is np.int16:
        data = (np.clip(samples, -1, 1) * 32767).astype(np.int16)
    elif dtype is np.int32:
        data = (np.clip(samples, -1, 1) * 2147483000).astype(np.int32)
    else:
        data = samples.astype(np.float32)
    options = {"strict": "experimental"} if codec == "vorbis" else None
    with av.open(str(path), "w", format=container_format) as container:
        stream = container.add_stream(codec, rate=rate, options=options)
        stream.layout = layout
        if codec == "libmp3lame":
            stream.bit_rate = 8000 if rate <= 8000 else 128000
        pts = 0
        while pts < max(1, data.size):
            chunk = data[pts : pts + frame_size]
            if chunk.size == 0:
                chunk = np.zeros(1, dtype=data.dtype)
            planar = sample_format.endswith("p")
            block = np.tile(chunk, (channels, 1)) if planar else np.repeat(chunk, channels)[None]
            frame = av.AudioFrame.from_ndarray(block, format=sample_format, layout=layout)
            frame.sample_rate = rate
            frame.pts = pts
            for packet in stream.encode(frame):
                container.mux(packet)
            pts += chunk.size
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def encode_silence(path: Path, seconds: float = 1.0, sample_rate: int = SAMPLE_RATE) -> Path:
    """Encode `seconds` of mono silence into `path`; the format follows the extension."""
    return encode_audio(path, np.zeros(max(1, int(seconds * sample_rate))), sample_rate)


@dataclass(frozen=True)
class DJTagSpec:
    """What to write into a file, as raw text exactly as a DJ tool would write it."""

    title: str = ""
    artist: str = ""
    album: str = ""
    genre: str = ""
    bpm: str | None = None  # "127.60"; MP4 stores int(float(bpm))
    key: str | None = None  # "F# minor", "8A", "1m", ...
    energy: str | None = None  # the dedicated energy tag
    comment: str | None = None  # e.g. "8A - Energy 6"
    vorbis_key_field: str = "INITIALKEY"  # or "KEY"


def write_tags(path: Path, spec: DJTagSpec) -> None:
    """Tag `path` in the convention of its format."""
    suffix = Path(path).suffix.lower()
    if suffix == ".mp3":
        _write_id3(path, spec)
    elif suffix == ".flac":
        _write_vorbis(path, spec)
    elif suffix == ".m4a":
        _write_mp4(path, spec)
    else:
        raise ValueError(f"no tag convention for {suffix}")


def _write_id3(path: Path, spec: DJTagSpec) -> None:
    tags = ID3()
    for frame, value in (
        (TIT2, spec.title),
        (TPE1, spec.artist),
        (TALB, spec.album),
        (TCON, spec.genre),
    ):
        if value:
            tags.add(frame(encoding=3, text=[value]))
    if spec.bpm is not None:
        tags.add(TBPM(encoding=3, text=[spec.bpm]))
    if spec.key is not None:
        tags.add(TKEY(encoding=3, text=[spec.key]))
    if spec.energy is not None:
        tags.add(TXXX(encoding=3, desc="EnergyLevel", text=[spec.energy]))
    if spec.comment is not None:
        tags.add(COMM(encoding=3, lang="eng", desc="", text=[spec.comment]))
    tags.save(str(path))


def _write_vorbis(path: Path, spec: DJTagSpec) -> None:
    audio = FLAC(str(path))
    if audio.tags is None:
        audio.add_tags()
    values = {
        "TITLE": spec.title,
        "ARTIST": spec.artist,
        "ALBUM": spec.album,
        "GENRE": spec.genre,
        "BPM": spec.bpm,
        spec.vorbis_key_field: spec.key,
        "ENERGYLEVEL": spec.energy,
        "COMMENT": spec.comment,
    }
    for name, value in values.items():
        if value:
            audio[name] = [value]
    audio.save()


def _write_mp4(path: Path, spec: DJTagSpec) -> None:
    audio = MP4(str(path))
    if audio.tags is None:
        audio.add_tags()
    for atom, value in (
        ("\xa9nam", spec.title),
        ("\xa9ART", spec.artist),
        ("\xa9alb", spec.album),
        ("\xa9gen", spec.genre),
        ("\xa9cmt", spec.comment),
    ):
        if value:
            audio[atom] = [value]
    if spec.bpm is not None:
        audio["tmpo"] = [int(float(spec.bpm))]
    for name, value in (("initialkey", spec.key), ("EnergyLevel", spec.energy)):
        if value is not None:
            audio[f"----:com.apple.iTunes:{name}"] = [MP4FreeForm(value.encode("utf-8"))]
    audio.save()


def make_audio_file(path: Path, spec: DJTagSpec, seconds: float = 1.0) -> Path:
    """Encode and tag one file; returns its path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    encode_silence(path, seconds)
    write_tags(path, spec)
    return path
