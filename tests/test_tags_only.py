"""Reading only the tags (tags.py `_read_tags_only`) finds exactly what mutagen.File finds,
on real files in every tag layout the fast path takes and a few it must hand back."""

from __future__ import annotations

import struct
from pathlib import Path

import mutagen
import pytest
from audiofiles import DJTagSpec, encode_silence, make_audio_file
from mutagen.id3 import COMM, ID3, TBPM, TXXX
from test_tags import CASES

from djcurator_core.files.tagging import tags as tags_module
from djcurator_core.files.tagging.tags import DJTags, TagReadError, dj_tags_from, read_dj_tags


def read_with_mutagen_file(path: Path) -> DJTags | str:
    """The reference: the whole file through mutagen.File, as before the fast path
    ("error" where it raises)."""
    try:
        with open(path, "rb") as handle:
            audio = mutagen.File(handle)
    except mutagen.MutagenError:
        return "error"
    assert audio is not None
    return dj_tags_from(audio.tags)


def read(path: Path) -> DJTags | str:
    try:
        return read_dj_tags(path)
    except TagReadError:
        return "error"


def strip_id3(data: bytes) -> bytes:
    """The audio without a leading ID3v2 tag (the MP3 muxer may write one)."""
    if not data.startswith(b"ID3"):
        return data
    size = 0
    for byte in data[6:10]:
        size = size << 7 | byte
    return data[10 + size + (10 if data[5] & 0x10 else 0) :]


def id3v22_tag(frames: list[tuple[bytes, bytes]]) -> bytes:
    """An ID3v2.2 tag (three-letter frame names, 3-byte sizes), which mutagen only reads."""
    body = b"".join(name + struct.pack(">I", len(data))[1:] + data for name, data in frames)
    size = len(body)
    synchsafe = bytes((size >> shift) & 0x7F for shift in (21, 14, 7, 0))
    return b"ID3\x02\x00\x00" + synchsafe + body


def mp3_with_v22(path: Path) -> Path:
    audio = strip_id3(encode_silence(path, 0.2).read_bytes())
    tag = id3v22_tag(
        [
            (b"TT2", b"\x00V22"),
            (b"TBP", b"\x00126.50"),
            (b"TKE", b"\x00Ebm"),
            (b"TXX", b"\x00EnergyLevel\x007"),
            (b"COM", b"\x00eng\x008A - Energy 7"),
        ]
    )
    path.write_bytes(tag + audio)
    return path


def mp3_saved_as(path: Path, version: int, v1: int = 0) -> Path:
    encode_silence(path, 0.2)
    tags = ID3()
    tags.add(TBPM(encoding=1, text=["123.40"]))
    tags.add(TXXX(encoding=1, desc="Energy Level", text=["5"]))
    tags.add(COMM(encoding=1, lang="eng", desc="", text=["4B - Energy 5"]))
    tags.save(str(path), v2_version=version, v1=v1)
    return path


def mp3_with_v1_comment(path: Path) -> Path:
    """ID3v2.4 without a comment plus an ID3v1 tag whose comment is Mixed In Key's: mutagen
    merges the v1 comment in."""
    make_audio_file(path, DJTagSpec(title="One", bpm="121", key="Am"), seconds=0.2)
    v1 = b"TAG" + b"One".ljust(30, b"\0") + b"".ljust(60, b"\0") + b"2020"
    v1 += b"9A - Energy 4".ljust(30, b"\0") + b"\xff"
    path.write_bytes(path.read_bytes() + v1)
    return path


def flac_behind_id3(path: Path) -> Path:
    """A FLAC with an ID3v2 tag in front of "fLaC" (some taggers do this): not the fast path."""
    made = make_audio_file(path, DJTagSpec(title="F", bpm="99.5", key="8A"), seconds=0.2)
    tag = id3v22_tag([(b"TBP", b"\x0042")])
    made.write_bytes(tag + made.read_bytes())
    return made


LAYOUTS = {
    "v22.mp3": mp3_with_v22,
    "v23.mp3": lambda path: mp3_saved_as(path, 3),
    "v23_with_v1.mp3": lambda path: mp3_saved_as(path, 3, v1=2),
    "v24_plus_v1_comment.mp3": mp3_with_v1_comment,
    "flac_behind_id3.flac": flac_behind_id3,
}


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("tags-only")
    made = {name: make_audio_file(folder / name, spec) for name, (spec, _) in CASES.items()}
    made.update({name: build(folder / name) for name, build in LAYOUTS.items()})
    made["flac_named.mp3"] = make_audio_file(
        folder / "flac_named.flac", DJTagSpec(bpm="97", key="2A")
    ).rename(folder / "flac_named.mp3")
    for suffix in ("mp3", "flac", "m4a"):
        made[f"bare.{suffix}"] = encode_silence(folder / f"bare.{suffix}", 0.2)
    return made


def test_the_same_tags_as_mutagen_file(files: dict[str, Path]):
    found = {name: read(path) for name, path in files.items()}
    assert found == {name: read_with_mutagen_file(path) for name, path in files.items()}
    assert found["flac_named.mp3"] == "error"  # mutagen.File takes it for an MP3 too
    # the layouts the fast path must get right hold what was written
    assert found["v22.mp3"] == DJTags(bpm=126.5, key="Ebm", energy=7.0, comment_key="8A")
    assert found["v23.mp3"] == DJTags(bpm=123.4, energy=5.0, comment_key="4B")
    assert found["v24_plus_v1_comment.mp3"] == DJTags(
        bpm=121.0, key="Am", energy=4.0, comment_key="9A"
    )
    assert found["flac_behind_id3.flac"].bpm == 99.5


def test_the_fast_path_reads_the_common_formats(files: dict[str, Path]):
    """Which files skip mutagen.File (so the test above compares two different readers)."""
    taken = []
    for name, path in files.items():
        with open(path, "rb") as handle:
            header = handle.read(128)
            if tags_module._read_tags_only(handle, header, str(path).lower()) is not (
                tags_module._NOT_PLAIN
            ):
                taken.append(name)
    assert set(taken) == set(CASES) | {
        "v22.mp3",
        "v23.mp3",
        "v23_with_v1.mp3",
        "v24_plus_v1_comment.mp3",
        "bare.mp3",  # the encoder's own ID3 tag
        "bare.flac",
        "bare.m4a",
    }


def test_intact_tags_of_a_file_with_damaged_audio_are_read(tmp_path: Path):
    """The one difference from mutagen.File, which also parses the audio stream: an MP3
    whose tag is whole and whose audio is cut away gives its tags (before: a warning and
    the library's values)."""
    path = make_audio_file(tmp_path / "cut.mp3", DJTagSpec(bpm="127.60", key="F# minor"))
    tag = ID3(path)
    path.write_bytes(path.read_bytes()[: tag.size])  # the tag, not one audio frame
    with pytest.raises(mutagen.MutagenError):
        mutagen.File(path)
    assert read_dj_tags(path) == DJTags(bpm=127.6, key="F# minor")
