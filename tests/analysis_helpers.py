"""Music of known tempo and key as real files in a folder, for the analysis tests: each
file is synthesized (synth_music), encoded with PyAV, and optionally tagged the way a
user's DJ tool would have tagged it (so tests can check those values survive)."""

from __future__ import annotations

from pathlib import Path

from audiofiles import DJTagSpec, encode_audio, write_tags
from synth_music import SR, TrackSpec, render

# name -> (music, tags the user already has or None); MP3/FLAC/M4A can carry tags.
KNOWN = {
    "dnb.mp3": (TrackSpec(bpm=172.0, tonic=9, minor=True, intensity=8, seconds=20,
                          seed=1, progression=1), None),
    "house.flac": (TrackSpec(bpm=125.0, tonic=0, minor=False, intensity=6, seconds=20,
                             seed=2, progression=1), None),
    "hiphop.m4a": (TrackSpec(bpm=88.0, tonic=7, minor=True, intensity=5, seconds=20,
                             seed=3, progression=1), None),
    "techno.ogg": (TrackSpec(bpm=132.0, tonic=2, minor=False, intensity=9, seconds=20,
                             seed=4, progression=1), None),
}  # fmt: skip
EXPECTED = {"dnb.mp3": (172.0, "8A"), "house.flac": (125.0, "8B"),
            "hiphop.m4a": (88.0, "6A"), "techno.ogg": (132.0, "10B")}  # fmt: skip


def write_known_music(
    folder: Path, tracks: dict[str, tuple[TrackSpec, DJTagSpec | None]] = KNOWN
) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, (spec, tags) in tracks.items():
        path = encode_audio(folder / name, render(spec), SR)
        if tags is not None:
            write_tags(path, tags)
        paths[name] = path
    return paths


def read_items(db: Path) -> dict[str, dict]:
    """File name -> the item's fields (fixed and flexible) read with sqlite3, not beets:
    opening a beets Library in the test process would cache item types without the
    plugin's fields and disturb the in-process plugin tests."""
    import os
    import sqlite3

    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        items = {row["id"]: dict(row) for row in conn.execute("select * from items")}
        for row in conn.execute("select entity_id, key, value from item_attributes"):
            items[row["entity_id"]][row["key"]] = row["value"]
    return {os.path.basename(os.fsdecode(item["path"])): item for item in items.values()}


def repoint_items(db: Path, music: Path) -> None:
    """Point a copied library's items at the copies of their files in `music`."""
    import os
    import sqlite3

    with sqlite3.connect(db) as conn:
        for item_id, path in conn.execute("select id, path from items").fetchall():
            name = os.path.basename(os.fsdecode(path))
            conn.execute(
                "update items set path = ? where id = ?", (os.fsencode(music / name), item_id)
            )
