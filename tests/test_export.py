"""Items -> tracks: which source wins for BPM, key and energy, and what is left out."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from audiofiles import DJTagSpec, make_audio_file
from beets.library import Item

from djcurator_core.files.export import choose_bpm, export_items, item_to_track
from djcurator_core.files.tagging.tags import DJTags


def fake_item(**values):
    """An item-like object with beets' attribute names (flexible fields via .get)."""
    base = {
        "id": 1,
        "path": b"/music/a.mp3",
        "title": "Title",
        "artist": "Artist",
        "album": "Album",
        "genre": "House",
        "length": 300.5,
        "bpm": 0,
        "initial_key": None,
    }
    base.update(values)
    flexible = base.pop("flexible", {})
    item = SimpleNamespace(**base)
    item.get = lambda name, default=None: flexible.get(name, getattr(item, name, default))
    return item


def tags_of(**values):
    return lambda path: DJTags(**values)


@pytest.mark.parametrize(
    ("tag", "library", "expected"),
    [
        (127.6, 127, 127.6),  # the tag's decimals refine beets' integer
        (None, 127, 127.0),  # no tag: beets
        (127.6, 0, 127.6),  # beets 0 means missing
        (64.0, 128, 128.0),  # the library was corrected since the file was tagged
        (None, 0, None),
    ],
)
def test_bpm_precedence(tag, library, expected):
    assert choose_bpm(tag, library) == expected


@pytest.mark.parametrize(
    ("tag", "library", "precise", "expected"),
    [
        (None, 172, "172.34", 172.34),  # djanalyze's decimals refine beets' integer
        (None, 0, 86.2, 86.2),  # only the precise value
        (None, 128, "172.34", 128.0),  # `bpm` edited since the analysis: beets wins
        (127.6, 127, "127.2", 127.6),  # the file's own tag first
        (None, 0, "not a number", None),
    ],
)
def test_bpm_precedence_with_the_analysed_value(tag, library, precise, expected):
    assert choose_bpm(tag, library, precise) == expected


def test_raw_key_tag_wins_over_beets_corrupted_spelling():
    # beets stores TKEY "F# minor" as "Fm" (4A); the file says F# minor (11A).
    track, problems = item_to_track(fake_item(initial_key="Fm"), DJTags(bpm=126.0, key="F# minor"))
    assert (track.key, problems) == ("11A", [])


@pytest.mark.parametrize(
    ("raw", "library", "comment_key", "expected"),
    [
        ("8A", "Am", None, "8A"),  # Camelot in the tag
        ("1m", None, None, "8A"),  # Open Key in the tag
        (None, "Dbm", None, "12A"),  # no tag: beets' initial_key
        ("o", "C", None, "8B"),  # off-key marker in the tag: beets
        (None, None, "9A", "9A"),  # only the Mixed In Key comment knows it
    ],
)
def test_key_sources(raw, library, comment_key, expected):
    track, _ = item_to_track(
        fake_item(bpm=120, initial_key=library), DJTags(key=raw, comment_key=comment_key)
    )
    assert track.key == expected


def test_unparseable_key_tag_falls_back_and_is_reported():
    track, problems = item_to_track(fake_item(initial_key="Am"), DJTags(key="Z#"))
    assert track.key == "8A"
    assert problems == ["key tag 'Z#' is not a key"]


def test_energy_precedence_and_range():
    track, _ = item_to_track(fake_item(flexible={"energy": "7.5"}), DJTags(energy=3.0))
    assert track.energy == 7.5  # the beets field wins (str when the type is undeclared)
    track, _ = item_to_track(fake_item(), DJTags(energy=3.0))
    assert track.energy == 3.0
    track, problems = item_to_track(fake_item(flexible={"energy": 0.8}), DJTags(energy=4.0))
    assert track.energy == 4.0
    assert problems == ["beets energy 0.8 is not an energy level 1-10"]


def test_track_fields_from_item():
    track, _ = item_to_track(
        fake_item(id=42, path="/music/ü.flac".encode(), bpm=124), DJTags(key="5A")
    )
    assert track.model_dump(exclude={"extra"}) == {
        "id": "42",
        "path": "/music/ü.flac",
        "title": "Title",
        "artist": "Artist",
        "album": "Album",
        "genre": "House",
        "duration": 300.5,
        "bpm": 124.0,
        "key": "5A",
        "energy": None,
        "structure": None,
    }


def test_items_without_bpm_or_key_are_skipped_or_kept():
    items = [
        fake_item(id=1, bpm=120, initial_key="Am"),
        fake_item(id=2, bpm=0, initial_key="Am", title="No Tempo"),
        fake_item(id=3, bpm=0, initial_key=None, title="Nothing"),
    ]
    result = export_items(items, read_tags=tags_of())
    assert [t.id for t in result.tracks] == ["1"]
    assert [(s.item_id, s.reason) for s in result.skipped] == [
        ("2", "no BPM"),
        ("3", "no BPM and no key"),
    ]
    assert str(result.skipped[0]) == "Artist - No Tempo (/music/a.mp3): no BPM"
    kept = export_items(items, keep_incomplete=True, read_tags=tags_of())
    assert [t.id for t in kept.tracks] == ["1", "2", "3"]
    assert (kept.incomplete, kept.skipped) == (2, [])


def test_unreadable_file_uses_library_values(tmp_path):
    damaged = tmp_path / "damaged.mp3"
    damaged.write_bytes(b"not really audio")
    item = fake_item(path=bytes(damaged), bpm=128, initial_key="C")
    result = export_items([item])
    assert [(t.bpm, t.key) for t in result.tracks] == [(128.0, "8B")]
    assert len(result.warnings) == 1
    assert result.warnings[0].startswith(f"Artist - Title: {damaged}: ")
    assert result.warnings[0].endswith("; using the library's values")


def test_any_error_reading_a_file_uses_library_values(tmp_path):
    """Not only TagReadError: whatever a tag parser raises on a damaged file becomes the
    same warning, and the item keeps the library's values."""
    damaged = tmp_path / "damaged.mp3"
    damaged.write_bytes(b"ID3")

    def broken_reader(path):
        raise IndexError()  # empty message, as some of mutagen's parsers raise

    item = fake_item(path=str(damaged), bpm=126, initial_key="Am")
    result = export_items([item], read_tags=broken_reader)
    assert [(t.bpm, t.key) for t in result.tracks] == [(126.0, "8A")]
    assert result.warnings == [
        f"Artist - Title: {damaged}: cannot read tags (IndexError); using the library's values"
    ]


def test_missing_file_is_left_out(tmp_path):
    gone = tmp_path / "gone.flac"
    result = export_items([fake_item(path=str(gone), bpm=128, initial_key="C")])
    assert result.tracks == [] and result.warnings == []
    assert [str(s) for s in result.skipped] == [f"Artist - Title ({gone}): file not found"]


def test_out_of_range_value_skips_the_item_with_the_field_named():
    result = export_items([fake_item(bpm=5000, initial_key="C")], read_tags=tags_of())
    assert result.tracks == []
    assert result.skipped[0].reason.startswith("field 'bpm': ")


def test_real_beets_items_from_tagged_files(tmp_path):
    """Item.from_path reads the files the way `beet import` does; the export corrects
    what beets lost (decimals, key spellings, the KEY field, energy tags)."""
    specs = {
        "a.mp3": DJTagSpec(title="A", artist="X", bpm="127.60", key="F# minor", energy="6"),
        "b.flac": DJTagSpec(title="B", artist="X", bpm="124.5", key="8A", vorbis_key_field="KEY"),
        "c.m4a": DJTagSpec(title="C", artist="X", bpm="126", key="1m", comment="9A - 5"),
    }
    items = []
    for index, (name, spec) in enumerate(specs.items(), 1):
        item = Item.from_path(str(make_audio_file(tmp_path / name, spec)))
        item.id = index
        items.append(item)
    assert [(i.bpm, i.initial_key) for i in items] == [(127, "Fm"), (124, None), (126, "1m")]
    result = export_items(items)
    assert [(t.bpm, t.key, t.energy) for t in result.tracks] == [
        (127.6, "11A", 6.0),
        (124.5, "8A", None),
        (126.0, "8A", 5.0),
    ]
    assert result.skipped == [] and result.warnings == []
    assert all(t.duration and t.duration > 0.9 for t in result.tracks)


def test_genre_from_beets_genres_list():
    """beets 2.14 keeps the genres as a list field; older items have a genre string."""
    track, _ = item_to_track(fake_item(genres=["House", " Deep House "]), DJTags(bpm=120.0))
    assert track.genre == "House; Deep House"
    track, _ = item_to_track(fake_item(genre="Techno"), DJTags(bpm=120.0))
    assert track.genre == "Techno"
