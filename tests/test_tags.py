"""Reading raw DJ tags from real MP3, FLAC and M4A files tagged in each convention."""

from __future__ import annotations

import pytest
from audiofiles import DJTagSpec, encode_silence, make_audio_file

from djcurator_core.files.tagging.tags import (
    DJTags,
    TagReadError,
    parse_energy_comment,
    parse_number,
    read_dj_tags,
)

CASES = {
    # file name: (what is written, what must be read back)
    "id3_decimal_bpm.mp3": (
        DJTagSpec(title="A", bpm="127.60", key="F# minor", energy="6"),
        DJTags(bpm=127.6, key="F# minor", energy=6.0),
    ),
    "id3_comment_energy.mp3": (
        DJTagSpec(title="B", bpm="124", key="8A", comment="8A - Energy 7"),
        DJTags(bpm=124.0, key="8A", energy=7.0, comment_key="8A"),
    ),
    "id3_comment_short.mp3": (
        DJTagSpec(title="C", bpm="126.00", key="1m", comment="9A - 5"),
        DJTags(bpm=126.0, key="1m", energy=5.0, comment_key="9A"),
    ),
    "id3_txxx_beats_comment.mp3": (
        DJTagSpec(title="D", bpm="120", energy="3", comment="8A - Energy 9"),
        DJTags(bpm=120.0, energy=3.0, comment_key="8A"),
    ),
    "vorbis_initialkey.flac": (
        DJTagSpec(title="E", bpm="124.5", key="Abm", energy="8"),
        DJTags(bpm=124.5, key="Abm", energy=8.0),
    ),
    "vorbis_key_field.flac": (
        DJTagSpec(title="F", bpm="98", key="10B", vorbis_key_field="KEY", comment="10B - 4"),
        DJTags(bpm=98.0, key="10B", energy=4.0, comment_key="10B"),
    ),
    "mp4_freeform.m4a": (
        DJTagSpec(title="G", bpm="128.7", key="C# minor", energy="9"),
        DJTags(bpm=128.0, key="C# minor", energy=9.0),  # tmpo holds integers only
    ),
    "mp4_comment.m4a": (
        DJTagSpec(title="H", bpm="122", key="5d", comment="Energy 2"),
        DJTags(bpm=122.0, key="5d", energy=2.0),
    ),
    "no_dj_tags.mp3": (DJTagSpec(title="I"), DJTags()),
}


@pytest.fixture(scope="module")
def tagged(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tags")
    return {name: make_audio_file(folder / name, spec) for name, (spec, _) in CASES.items()}


@pytest.mark.parametrize("name", sorted(CASES))
def test_reads_each_convention(tagged, name):
    assert read_dj_tags(tagged[name]) == CASES[name][1]


def test_accepts_bytes_paths_as_beets_stores_them(tagged):
    path = tagged["id3_decimal_bpm.mp3"]
    assert read_dj_tags(bytes(path)).bpm == 127.6


def test_file_without_any_tag_block(tmp_path):
    for suffix in ("mp3", "flac", "m4a"):
        assert read_dj_tags(encode_silence(tmp_path / f"bare.{suffix}")) == DJTags()


def test_unreadable_files_raise_one_line_errors(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not audio\n")
    with pytest.raises(TagReadError) as not_audio:
        read_dj_tags(text)
    with pytest.raises(TagReadError) as missing:
        read_dj_tags(tmp_path / "gone.mp3")
    for error, name in ((not_audio, "notes.txt"), (missing, "gone.mp3")):
        message = str(error.value)
        assert name in message and "\n" not in message


@pytest.mark.parametrize("suffix", ["mp3", "flac", "m4a"])
@pytest.mark.parametrize("damage", ["truncated", "flipped"])
def test_damaged_files_raise_one_line_errors(tmp_path, suffix, damage):
    """A real file cut short or with its header bytes inverted (mutagen raises some of
    these errors with an empty message, which must still give a one-line reason)."""
    path = make_audio_file(tmp_path / f"damaged.{suffix}", DJTagSpec(title="X", bpm="120"))
    data = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(data[:40])
    else:
        path.write_bytes(data[:4] + bytes(b ^ 0xFF for b in data[4:12]) + data[12:])
    with pytest.raises(TagReadError) as error:
        read_dj_tags(path)
    message = str(error.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    assert not message.endswith("()")  # a reason is named


@pytest.mark.parametrize(
    ("comment", "expected"),
    [
        ("8A - Energy 6", (6.0, "8A")),
        ("9A - 5", (5.0, "9A")),
        ("12B - Energy 10", (10.0, "12B")),
        ("F#m - Energy 4", (4.0, "F#m")),
        ("Energy 7", (7.0, None)),
        ("energy level: 3", (3.0, None)),
        ("8A - Energy 11", (None, None)),  # not on the 1-10 scale
        ("2019 remaster", (None, None)),
        ("5 stars", (None, None)),  # a bare number needs a key before it
        ("", (None, None)),
    ],
)
def test_energy_comments(comment, expected):
    assert parse_energy_comment(comment) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("127.60", 127.6), (" 126 ", 126.0), ("124,5", 124.5), (b"98", 98.0), (128, 128.0)],
)
def test_numbers(text, expected):
    assert parse_number(text) == expected


@pytest.mark.parametrize("text", ["", "fast", "0", "-3", "nan", "inf", None, True])
def test_not_numbers(text):
    assert parse_number(text) is None
