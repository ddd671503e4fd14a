"""write_dj_tags writes what read_dj_tags reads back, in every format, and leaves the
file's other tags (and the values it was not given) alone."""

from __future__ import annotations

import os

import mutagen
import pytest
from audiofiles import AUDIO_FORMATS, DJTagSpec, encode_silence, write_tags

from djcurator_core.files.tagging.tag_writer import TagWriteError, write_dj_tags
from djcurator_core.files.tagging.tags import read_dj_tags


@pytest.mark.parametrize("fmt", AUDIO_FORMATS)
def test_written_values_read_back(tmp_path, fmt):
    path = encode_silence(tmp_path / f"track.{fmt}", seconds=0.5)
    write_dj_tags(path, bpm=172.34, key="F#m", energy=7)
    tags = read_dj_tags(path)
    assert (tags.bpm, tags.key, tags.energy) == (172.34, "F#m", 7.0)
    write_dj_tags(path, energy=3)  # only energy: the rest stays
    tags = read_dj_tags(path)
    assert (tags.bpm, tags.key, tags.energy) == (172.34, "F#m", 3.0)


@pytest.mark.parametrize("fmt", ["mp3", "flac", "m4a"])
def test_other_tags_survive(tmp_path, fmt):
    path = encode_silence(tmp_path / f"track.{fmt}", seconds=0.5)
    write_tags(path, DJTagSpec(title="Sodium", artist="Nightdrive", bpm="127.60"))
    bpm = read_dj_tags(path).bpm  # 127.6, or 127.0 from MP4's integer tmpo atom
    write_dj_tags(path, key="Am", energy=6)
    audio = mutagen.File(path, easy=True)
    assert audio["title"] == ["Sodium"] and audio["artist"] == ["Nightdrive"]
    assert read_dj_tags(path).bpm == bpm  # not given: untouched


def test_unwritable_files_raise_one_line(tmp_path):
    fifo = tmp_path / "pipe.mp3"
    os.mkfifo(fifo)
    garbage = tmp_path / "garbage.mp3"
    garbage.write_bytes(b"not audio at all" * 10)
    for path, reason in (
        (fifo, "FIFO"),
        (garbage, str(garbage)),
        (tmp_path / "gone.mp3", "No such"),
    ):
        with pytest.raises(TagWriteError) as caught:
            write_dj_tags(path, bpm=120.0)
        assert reason in str(caught.value) and "\n" not in str(caught.value)
