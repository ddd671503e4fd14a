"""The structure through the real parts: `beet djanalyze` on a real beets library of
encoded files of known structure (tests/structured_music.py) stores beat grid, phrases,
intro and outro in the flexible field `djset_structure` (the files untouched without
`-w`), and `beet djset` exports them with the set; a damaged field costs a warning, not
the set, and the next `beet djanalyze` repairs it (`-w`: into that file only)."""

from __future__ import annotations

import json
import sqlite3

import pytest
from analysis_helpers import read_items
from audiofiles import encode_audio
from beets_helpers import import_music
from structured_music import BASS, CHORDS, DRUMS, LEAD, Section, StructuredSpec, render
from test_djanalyze import digests, fresh_copy, run_beet

from djcurator_core.files.tagging.structure_tag import parse_structure
from djcurator_core.files.tagging.tags import read_dj_tags

pytestmark = pytest.mark.temporal

# 64 bars (2 minutes at 128 BPM): long enough for the two excerpt windows
SHORT = (
    Section("intro", 16, frozenset({DRUMS})),
    Section("build", 8, frozenset({DRUMS, BASS, CHORDS})),
    Section("break", 8, frozenset({CHORDS, LEAD})),
    Section("drop", 16, frozenset({DRUMS, BASS, CHORDS, LEAD})),
    Section("outro", 16, frozenset({DRUMS, BASS})),
)
MUSIC = {
    "house.flac": StructuredSpec(bpm=126.0, lead_in=0.4, seed=11, layout=SHORT),
    "techno.mp3": StructuredSpec(bpm=132.0, lead_in=0.0, seed=12, layout=SHORT, tonic=2),
    "dnb.m4a": StructuredSpec(bpm=174.0, lead_in=1.2, seed=13, layout=SHORT, minor=False),
}
SR = 22050


@pytest.fixture(scope="module")
def structured_library(tmp_path_factory):
    root = tmp_path_factory.mktemp("structured")
    (root / "music").mkdir()
    for name, spec in MUSIC.items():
        encode_audio(root / "music" / name, render(spec, SR), SR)
    return import_music(root)


def check(structure, spec: StructuredSpec, name: str) -> None:
    assert structure is not None and structure.steady, name
    assert abs(structure.first_downbeat - spec.first_downbeat) < 0.020, (name, structure)
    assert structure.bpm == pytest.approx(spec.bpm, abs=0.01), name
    assert structure.sections == spec.section_starts(), name
    assert (structure.intro.start, structure.intro.end) == spec.intro, name
    assert (structure.outro.start, structure.outro.end) == spec.outro, name


# Five `beet` runs, two of them starting analysis process pools: minutes on a busy machine.
@pytest.mark.timeout(900)
async def test_djanalyze_stores_the_structure_and_djset_exports_it(structured_library, tmp_path):
    library = fresh_copy(structured_library, tmp_path / "lib")
    before = digests(library.music)
    code, out, err = await run_beet(library, "djanalyze")
    assert code == 0, err
    assert "Traceback" not in err
    items = read_items(library.db)
    for name, spec in MUSIC.items():
        check(parse_structure(items[name]["djset_structure"]), spec, name)
    assert digests(library.music) == before  # no -w: no file touched
    assert all(read_dj_tags(library.music / name).structure is None for name in MUSIC)

    code, out, _ = await run_beet(library, "djanalyze")  # stored: nothing left to do
    assert code == 0 and "nothing to analyse" in out

    playlists = tmp_path / "playlists"
    config = f"djset:\n  playlist_dir: {playlists}\n"
    code, out, err = await run_beet(
        library, "djset", "--format", "json", "-n", "structured", config=config
    )
    assert code == 0, err
    document = json.loads((playlists / "structured.json").read_text(encoding="utf-8"))
    exported = {track["path"].rsplit("/", 1)[1]: track for track in document["tracks"]}
    assert sorted(exported) == sorted(MUSIC)
    for name, spec in MUSIC.items():
        check(parse_structure(json.dumps(exported[name]["structure"])), spec, name)

    # a damaged field: the set is still made, the track in it without structure, and
    # the warning names the track
    with sqlite3.connect(library.db) as db:
        db.execute(
            "update item_attributes set value = ? where key = 'djset_structure' and "
            "entity_id = (select id from items where cast(path as text) like ?)",
            ('{"bpm": "x", ' * 50, "%dnb.m4a"),
        )
        assert db.total_changes == 1
    code, out, err = await run_beet(
        library, "djset", "--format", "json", "-n", "damaged", config=config
    )
    assert code == 0, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if "djset_structure ignored" in line]
    assert len(lines) == 1 and "dnb" in lines[0], err
    document = json.loads((playlists / "damaged.json").read_text(encoding="utf-8"))
    exported = {track["path"].rsplit("/", 1)[1]: track for track in document["tracks"]}
    assert sorted(exported) == sorted(MUSIC)
    assert exported["dnb.m4a"].get("structure") is None
    assert exported["house.flac"]["structure"] is not None

    # the next run analyses the damaged track again (its structure counts as missing),
    # and with -w writes it into that file only
    code, _, err = await run_beet(library, "djanalyze", "-w")
    assert code == 0, err
    after = digests(library.music)
    assert [name for name in MUSIC if after[name] != before[name]] == ["dnb.m4a"]
    stored = read_items(library.db)["dnb.m4a"]["djset_structure"]
    tag = read_dj_tags(library.music / "dnb.m4a").structure
    assert tag == stored
    check(parse_structure(tag), MUSIC["dnb.m4a"], "dnb.m4a")
