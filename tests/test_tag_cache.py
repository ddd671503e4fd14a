"""The tag cache: unchanged files are not read again, changed ones are, and the cache never
stands in the way (no regular file, no writable cache)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from audiofiles import DJTagSpec, make_audio_file, write_tags
from test_export import fake_item

from djcurator_core.files.export import export_items
from djcurator_core.files.tagging.tag_cache import TagCache
from djcurator_core.files.tagging.tags import DJTags, NotAPlainFile, read_dj_tags


class CountingReader:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, path: str) -> DJTags:
        self.calls.append(path)
        return read_dj_tags(path)


@pytest.fixture
def files(tmp_path: Path) -> list[str]:
    made = []
    for index, suffix in enumerate(("mp3", "flac", "m4a")):
        spec = DJTagSpec(title=f"t{index}", bpm=f"{124 + index}.50", key="F# minor", energy="6")
        made.append(str(make_audio_file(tmp_path / f"t{index}.{suffix}", spec, seconds=0.2)))
    return made


def test_unchanged_files_come_from_the_cache(tmp_path: Path, files: list[str]):
    db = tmp_path / "cache" / "tags.sqlite3"
    first = CountingReader()
    with TagCache(db, first) as cache:
        read = [cache(path) for path in files]
    assert first.calls == files and cache.misses == 3
    again = CountingReader()
    with TagCache(db, again) as cache:
        cached = [cache(path) for path in files]
    assert again.calls == [] and cache.hits == 3
    assert cached == read == [read_dj_tags(path) for path in files]
    assert read[0].key == "F# minor" and read[0].bpm == 124.5


def test_a_retagged_file_is_read_again(tmp_path: Path, files: list[str]):
    db = tmp_path / "tags.sqlite3"
    with TagCache(db) as cache:
        assert [cache(path).bpm for path in files] == [124.5, 125.5, 126.0]
    write_tags(Path(files[0]), DJTagSpec(title="t0", bpm="131.25", key="8A", energy="7"))
    reader = CountingReader()
    with TagCache(db, reader) as cache:
        tags = cache(files[0])
        assert cache(files[1]).bpm == 125.5
    assert reader.calls == [files[0]]
    assert (tags.bpm, tags.key, tags.energy) == (131.25, "8A", 7.0)


def test_a_file_replaced_by_a_fifo_is_refused_not_served_from_the_cache(
    tmp_path: Path, files: list[str]
):
    db = tmp_path / "tags.sqlite3"
    with TagCache(db) as cache:
        cache(files[0])
    os.unlink(files[0])
    os.mkfifo(files[0])
    with TagCache(db) as cache, pytest.raises(NotAPlainFile):
        cache(files[0])


def test_an_unusable_cache_reads_the_files(tmp_path: Path, files: list[str]):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    reader = CountingReader()
    with TagCache(blocker / "tags.sqlite3", reader) as cache:
        assert [cache(p) for p in files] == [read_dj_tags(p) for p in files]
    assert reader.calls == files


def test_export_uses_the_configured_cache(tmp_path: Path, files: list[str], monkeypatch):
    db = tmp_path / "export-cache.sqlite3"
    monkeypatch.setenv("DJSET_TAG_CACHE", str(db))
    items = [
        fake_item(id=i, path=os.fsencode(p), bpm=124 + i, initial_key="F#m")
        for i, p in enumerate(files)
    ]
    first = export_items(items)
    assert db.exists()
    with TagCache(db, reader=lambda path: pytest.fail(f"read {path} again")) as cache:
        second = export_items(items, read_tags=cache)
    assert second.tracks == first.tracks
    assert [t.bpm for t in first.tracks] == [124.5, 125.5, 126.0]  # M4A tmpo is an integer
    monkeypatch.setenv("DJSET_TAG_CACHE", "off")
    assert export_items(items).tracks == first.tracks
