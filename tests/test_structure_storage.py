"""A track's structure as stored (the beets field `djset_structure`, the DJSET_STRUCTURE
file tag, the tag cache) and read back by the export into Track.structure; stored text
that is not a valid structure never breaks an export."""

from __future__ import annotations

import json
import sqlite3

import pytest
from audiofiles import DJTagSpec, encode_silence, make_audio_file
from beets.library import Item
from test_export import fake_item, tags_of

from djcurator_core.core.track_structure import BarSpan, TrackStructure
from djcurator_core.files.export import export_items, item_to_track
from djcurator_core.files.tagging.structure_tag import (
    NO_STRUCTURE,
    StructureTagError,
    parse_structure,
    structure_text,
)
from djcurator_core.files.tagging.tag_cache import TagCache
from djcurator_core.files.tagging.tag_writer import write_dj_tags
from djcurator_core.files.tagging.tags import DJTags, read_dj_tags
from djcurator_core.pipeline.analysis.analysis_activities import fields_to_fill

STRUCTURE = TrackStructure(
    bpm=126.001,
    first_downbeat=0.372,
    duration=214.3,
    phrases=[1, 9, 17, 25, 33, 41, 49, 57, 65, 73, 81, 89, 97, 105],
    sections=[1, 17, 33, 49, 81],
    intro=BarSpan(start=1, end=17),
    outro=BarSpan(start=81, end=113),
)


def test_stored_text_round_trips_and_is_compact():
    text = structure_text(STRUCTURE)
    assert parse_structure(text) == STRUCTURE
    assert "steady" not in text and "beats_per_bar" not in text  # defaults left out
    assert len(text) < 300
    unsteady = TrackStructure(bpm=124.0, first_downbeat=0.0, duration=200.0, steady=False)
    assert parse_structure(structure_text(unsteady)) == unsteady
    assert structure_text(None) == NO_STRUCTURE and parse_structure(NO_STRUCTURE) is None
    assert parse_structure(None) is None and parse_structure("  ") is None


BASE = '"bpm": 126, "first_downbeat": 0'
HOSTILE = {
    "not JSON": "{bpm: 126",
    "a list": "[1, 2, 3]",
    "a number": "126",
    "NaN tempo": '{"bpm": NaN, "first_downbeat": 0, "duration": 200}',
    "infinite": '{"bpm": 1e999, "first_downbeat": 0, "duration": 200}',
    "negative downbeat": '{"bpm": 126, "first_downbeat": -1, "duration": 200}',
    "phrases backwards": '{"bpm": 126, "first_downbeat": 0, "duration": 200, "phrases": [9, 1]}',
    "bar 0": '{"bpm": 126, "first_downbeat": 0, "duration": 200, "sections": [0]}',
    "empty span": "{" + BASE + ', "duration": 9, "intro": {"start": 5, "end": 5}}',
    "unknown field": '{"bpm": 126, "first_downbeat": 0, "duration": 200, "cue": 1}',
    "text as a tempo": '{"bpm": "fast", "first_downbeat": 0, "duration": 200}',
    "deep nesting": "[" * 100_000 + "]" * 100_000,
    "huge": "{" + BASE + ', "duration": 200, "phrases": [' + "1," * 40_000 + "1]}",
    "binary": "\x00\xff\ufffd",
}  # fmt: skip


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_text_is_one_clear_error(name):
    with pytest.raises(StructureTagError) as raised:
        parse_structure(HOSTILE[name])
    message = str(raised.value)
    assert message and "\n" not in message and len(message) < 200


@pytest.mark.parametrize("name", HOSTILE)
def test_an_export_uses_a_track_with_a_bad_structure_without_it(name):
    item = fake_item(bpm=126, initial_key="8A", flexible={"djset_structure": HOSTILE[name]})
    result = export_items([item], read_tags=tags_of())
    assert [t.id for t in result.tracks] == ["1"] and result.tracks[0].structure is None
    assert result.tracks[0].bpm == 126 and result.tracks[0].key == "8A"
    assert len(result.warnings) == 1
    warning = result.warnings[0]
    assert warning.startswith("Artist - Title: beets djset_structure ignored (")
    assert warning.endswith("used without structure") and "\n" not in warning


def test_the_library_field_wins_and_the_file_tag_stands_in():
    library_text, tag_text = (
        structure_text(STRUCTURE),
        structure_text(STRUCTURE.model_copy(update={"bpm": 125.0})),
    )
    item = fake_item(bpm=126, initial_key="8A", flexible={"djset_structure": library_text})
    track, problems = item_to_track(item, DJTags(structure=tag_text))
    assert track.structure == STRUCTURE and problems == []
    plain = fake_item(bpm=126, initial_key="8A")
    track, problems = item_to_track(plain, DJTags(structure=tag_text))
    assert track.structure.bpm == 125.0 and problems == []
    damaged = fake_item(bpm=126, initial_key="8A", flexible={"djset_structure": "{"})
    track, problems = item_to_track(damaged, DJTags(structure=tag_text))
    assert track.structure.bpm == 125.0 and problems == []  # the tag is good: no warning
    no_beat = fake_item(bpm=126, initial_key="8A", flexible={"djset_structure": "null"})
    track, problems = item_to_track(no_beat, DJTags(structure=tag_text))
    assert track.structure is None and problems == []


def test_what_djanalyze_fills_counts_the_structure(tmp_path):
    path = make_audio_file(tmp_path / "a.mp3", DJTagSpec(title="A", bpm="126.00", key="8A"))
    item = fake_item(path=bytes(path), bpm=126, initial_key="8A", flexible={"energy": 6.0})
    assert fields_to_fill(item, force=False) == {"structure"}
    for text in (structure_text(STRUCTURE), NO_STRUCTURE):  # stored, or stored as no beat
        item = fake_item(
            path=bytes(path),
            bpm=126,
            initial_key="8A",
            flexible={"energy": 6.0, "djset_structure": text},
        )
        assert fields_to_fill(item, force=False) == set()
    damaged = fake_item(
        path=bytes(path), bpm=126, initial_key="8A", flexible={"energy": 6, "djset_structure": "x"}
    )
    assert fields_to_fill(damaged, force=False) == {"structure"}
    assert fields_to_fill(damaged, force=True) == {"bpm", "key", "energy", "structure"}


@pytest.mark.parametrize("suffix", ["mp3", "flac", "m4a", "ogg", "wav"])
def test_the_file_tag_round_trips_and_leaves_the_other_tags(tmp_path, suffix):
    path = tmp_path / f"a.{suffix}"
    if suffix in ("mp3", "flac", "m4a"):
        make_audio_file(path, DJTagSpec(title="A", bpm="126.00", key="Am", energy="6"))
    else:
        encode_silence(path, 1.0)
        write_dj_tags(path, bpm=126.0, key="Am", energy=6)
    text = structure_text(STRUCTURE)
    write_dj_tags(path, structure=text)
    tags = read_dj_tags(path)
    assert tags.structure == text and parse_structure(tags.structure) == STRUCTURE
    assert (tags.bpm, tags.key, tags.energy) == (126.0, "Am", 6.0)
    write_dj_tags(path, structure=NO_STRUCTURE)  # replaced, not added beside
    assert read_dj_tags(path).structure == NO_STRUCTURE


def test_the_tag_cache_keeps_the_structure_tag(tmp_path):
    path = str(make_audio_file(tmp_path / "a.flac", DJTagSpec(title="A", bpm="126.00", key="Am")))
    write_dj_tags(path, structure=structure_text(STRUCTURE))
    db = tmp_path / "tags.sqlite3"
    with TagCache(db) as cache:
        first = cache(path)
    with TagCache(db, reader=lambda p: pytest.fail("read again")) as cache:
        assert cache(path) == first and cache.hits == 1
    assert parse_structure(first.structure) == STRUCTURE


def test_a_cache_shared_with_an_older_version_keeps_its_table(tmp_path):
    path = str(make_audio_file(tmp_path / "a.mp3", DJTagSpec(title="A", bpm="126.00", key="Am")))
    db = tmp_path / "old.sqlite3"
    with sqlite3.connect(db) as old:  # the schema of the versions before
        old.execute(
            "CREATE TABLE tags (path TEXT PRIMARY KEY, stamp TEXT NOT NULL, "
            "bpm REAL, key TEXT, energy REAL, comment_key TEXT)"
        )
        old.execute("INSERT INTO tags VALUES ('/gone.mp3', 'x', 120, 'Am', 5, NULL)")
    with TagCache(db) as cache:
        tags = cache(path)
        assert cache.misses == 1
    assert tags.bpm == 126.0 and tags.structure is None
    with TagCache(db, reader=lambda p: pytest.fail("read again")) as cache:
        assert cache(path) == tags
    with sqlite3.connect(db) as conn:  # the old version's table, as it was: its INSERTs fit
        columns = [row[1] for row in conn.execute("PRAGMA table_info(tags)")]
        conn.execute("INSERT OR REPLACE INTO tags VALUES ('/b.mp3', 'y', 121, 'Am', 5, NULL)")
    assert columns == ["path", "stamp", "bpm", "key", "energy", "comment_key"]


def test_real_beets_items_carry_the_structure_into_the_export(tmp_path):
    """A beets Item with the flexible field, as `beet djanalyze` stores it."""
    path = make_audio_file(tmp_path / "a.mp3", DJTagSpec(title="A", artist="X", bpm="126.00"))
    item = Item.from_path(str(path))
    item.id = 1
    item.initial_key = "Am"
    item["djset_structure"] = structure_text(STRUCTURE)
    result = export_items([item])
    assert result.tracks[0].structure == STRUCTURE and result.warnings == []
    document = json.loads(result.tracks[0].model_dump_json())
    assert document["structure"]["intro"] == {"start": 1, "end": 17}


def test_stored_items_read_the_field_like_beets(tmp_path):
    """files/beets_items.py reads the rows beets fetched without building Items."""
    from beets.library import Library

    from djcurator_core.files.beets_items import StoredItem, matching_items

    lib = Library(str(tmp_path / "lib.db"), str(tmp_path))
    good = make_audio_file(tmp_path / "good.mp3", DJTagSpec(title="G", bpm="126.00", key="Am"))
    bad = make_audio_file(tmp_path / "bad.mp3", DJTagSpec(title="B", bpm="126.00", key="Am"))
    for path, text in ((good, structure_text(STRUCTURE)), (bad, '{"bpm": -3}')):
        item = Item.from_path(str(path))
        item["djset_structure"] = text
        lib.add(item)
    items = matching_items(lib, "")
    assert all(isinstance(item, StoredItem) for item in items)
    result = export_items(items)
    by_title = {t.title: t for t in result.tracks}
    assert by_title["G"].structure == STRUCTURE and by_title["B"].structure is None
    assert len(result.warnings) == 1 and result.warnings[0].startswith("B: beets djset_structure")
    lib._close()
