"""`--format mixxx` on a database made from the schema a real Mixxx 2.3.3 created
(fixtures/mixxx-2.3.3.sql, schema version 32), with real WAV files: what is added, what is
matched and kept, the refusals, and the database unchanged after a failed or killed write.
The check against the running app itself is tests/test_mixxx_app.py."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mixxx_helpers import dump, make_database, make_set, make_wav, rows

from djcurator_core.files.dj_formats.formats import (
    FORMATS,
    RenderOptions,
    parse_formats,
    playlist_files,
    write_playlists,
)
from djcurator_core.files.mixxx.mixxx_database import (
    BACKUP_SUFFIX,
    PAUSE_ENV,
    TABLES_WRITTEN,
    MixxxError,
    MixxxTarget,
    default_settings_folder,
    write_set,
)
from djcurator_core.files.mixxx.mixxx_rows import beat_grid_blob, key_id, mixxx_location
from djcurator_core.files.mixxx.mixxx_running import _uses_folder, mixxx_holding

SECONDS = 20.0
RATE = 22050
SAMPLES = RATE * 2  # Mixxx positions: stereo samples per second


@pytest.fixture
def db(tmp_path) -> Path:
    return make_database(tmp_path / "mixxx")


@pytest.fixture
def music(tmp_path) -> list[Path]:
    return [make_wav(tmp_path / "music" / f"track {i:02d}.wav", SECONDS, RATE) for i in range(4)]


def untouched_tables(db: Path) -> dict[str, list]:
    names = [
        r[0]
        for r in rows(db, "SELECT name FROM sqlite_master WHERE type = 'table'")
        if r[0] not in TABLES_WRITTEN and r[0] != "sqlite_sequence"
    ]
    return {name: rows(db, f'SELECT * FROM "{name}"') for name in names}


# --- pure parts ------------------------------------------------------------------------


def test_beat_grid_blob_is_the_one_mixxx_kept():
    # Mixxx 2.3.3 loaded this blob (120 BPM, first beat at frame 11025), logged
    # "Successfully deserialized BeatGrid" and saved it back byte for byte.
    assert beat_grid_blob(120.0, 11025).hex().upper() == "0A09090000000000005E401203089156"


def test_key_ids_follow_mixxx_chromatic_keys():
    assert key_id("8A") == ("8A", 22)  # A minor
    assert key_id("8B") == ("8B", 1)  # C major
    assert key_id("1A") == ("1A", 21)  # G# minor
    assert key_id("F#m") == ("11A", 19)
    assert key_id(None) == ("", 0) and key_id("nonsense") == ("", 0)


def test_default_database_folder_per_platform(tmp_path):
    assert default_settings_folder("linux", tmp_path) == tmp_path / ".mixxx"
    assert default_settings_folder("win32", tmp_path, {"LOCALAPPDATA": "C:/L"}) == Path(
        "C:/L/Mixxx"
    )
    plain = tmp_path / "Library" / "Application Support" / "Mixxx"
    assert default_settings_folder("darwin", tmp_path) == plain
    sandbox = tmp_path / "Library/Containers/org.mixxx.mixxx/Data/Library/Application Support/Mixxx"
    sandbox.mkdir(parents=True)
    assert default_settings_folder("darwin", tmp_path) == sandbox


def test_settings_path_of_a_mixxx_command_line(tmp_path):
    assert _uses_folder(["mixxx", "--settingsPath", str(tmp_path)], tmp_path)
    assert _uses_folder(["mixxx", f"--settingsPath={tmp_path}/"], tmp_path)
    assert not _uses_folder(["mixxx", "--settingsPath", "/elsewhere"], tmp_path)


# --- what is written -------------------------------------------------------------------


def test_new_tracks_are_added_as_mixxx_adds_them(db, music):
    result = make_set(music, SECONDS)
    done = write_set(result, "Friday", MixxxTarget(str(db)))
    assert (done.added, done.matched, done.cues, done.grids) == (4, 0, 8, 4)
    library = rows(
        db,
        "SELECT l.id, tl.location, tl.filename, tl.directory, tl.filesize, l.title, l.bpm, "
        "l.key, l.key_id, l.samplerate, l.channels, l.duration, l.mixxx_deleted, "
        "l.header_parsed, l.beats_version, l.beats FROM library l "
        "JOIN track_locations tl ON l.location = tl.id ORDER BY l.id",
    )
    assert [r[1] for r in library] == [mixxx_location(str(p)) for p in music]
    first = library[0]
    assert first[2] == "track 00.wav" and first[3] == mixxx_location(str(music[0].parent))
    assert first[4] == music[0].stat().st_size
    assert first[5:12] == ("Track 01", 120.0, "8A", 22, RATE, 1, SECONDS)
    assert first[12:15] == (0, 0, "BeatGrid-2.0")
    assert first[15] == beat_grid_blob(120.0, round(0.5 * RATE))
    # the playlist holds the set in order; Auto DJ untouched without --mixxx-autodj
    (playlist,) = rows(db, "SELECT id FROM Playlists WHERE name = 'Friday' AND hidden = 0")
    assert rows(
        db, "SELECT track_id, position FROM PlaylistTracks WHERE playlist_id = ?", playlist[0]
    ) == [(1, 1), (2, 2), (3, 3), (4, 4)]
    assert rows(db, "SELECT count(*) FROM PlaylistTracks WHERE playlist_id = 1") == [(0,)]
    assert (db.parent / (db.name + BACKUP_SUFFIX)).is_file()


def test_intro_and_outro_cues_come_from_mix_points_and_structure(db, music):
    result = make_set(music, SECONDS)
    write_set(result, "Friday", MixxxTarget(str(db)))
    cues = {
        (track, kind): (position, length)
        for track, kind, position, length, hotcue in rows(
            db, "SELECT track_id, type, position, length, hotcue FROM cues"
        )
        if hotcue == -1
    }
    structure = result.tracks[0].structure
    # first track: intro from its analysed intro (bars 1-5 = 0.5 s to 8.5 s)
    assert cues[(1, 6)] == (round(0.5 * SAMPLES), round(8.0 * SAMPLES))
    # its outro: the mix point (out bar, two bars of overlap)
    mix = result.transitions[0].mix
    assert cues[(1, 7)] == (round(mix.out_time * SAMPLES), round(4.0 * SAMPLES))
    # the next track's intro starts at the bar the mix brings it in on
    assert cues[(2, 6)] == (round(mix.in_time * SAMPLES), round(4.0 * SAMPLES))
    # last track: outro from its analysed outro
    outro = structure.outro
    start = structure.time_of_bar(outro.start)
    assert cues[(4, 7)] == (
        round(start * SAMPLES),
        round(structure.time_of_bar(outro.end) * SAMPLES) - round(start * SAMPLES),
    )
    assert len(cues) == 8


def test_known_tracks_are_matched_never_duplicated_and_their_cues_and_grids_kept(db, music):
    first = make_set(music[:2], SECONDS)
    write_set(first, "Old", MixxxTarget(str(db)))
    con = sqlite3.connect(db)
    con.execute("DELETE FROM cues WHERE track_id = 1 AND type = 7")  # Mixxx has no outro
    con.execute("UPDATE cues SET position = 1234 WHERE track_id = 1 AND type = 6")  # its own
    con.execute("UPDATE library SET beats = X'0102', beats_version = 'BeatMap-1.0' WHERE id = 1")
    con.execute("UPDATE library SET beats = NULL, beats_version = NULL WHERE id = 2")
    con.commit()
    con.close()
    done = write_set(make_set(music, SECONDS), "New", MixxxTarget(str(db)))
    assert (done.added, done.matched) == (2, 2)
    assert rows(db, "SELECT count(*) FROM library") == [(4,)]
    assert rows(db, "SELECT count(*) FROM track_locations") == [(4,)]
    assert rows(db, "SELECT position FROM cues WHERE track_id = 1 AND type = 6") == [(1234,)]
    assert len(rows(db, "SELECT * FROM cues WHERE track_id = 1 AND type = 7")) == 1  # added
    assert rows(db, "SELECT count(*) FROM cues WHERE track_id = 2") == [(2,)]  # not doubled
    assert rows(db, "SELECT hex(beats), beats_version FROM library WHERE id = 1") == [
        ("0102", "BeatMap-1.0")
    ]
    assert rows(db, "SELECT beats FROM library WHERE id = 2") == [
        (beat_grid_blob(120.0, round(0.5 * RATE)),)
    ]
    assert "Track 01: kept its own intro cue" in done.notes


def test_rewriting_a_set_replaces_its_playlist_tracks(db, music):
    write_set(make_set(music, SECONDS), "Friday", MixxxTarget(str(db)))
    write_set(make_set(music[:2], SECONDS), "Friday", MixxxTarget(str(db)))
    assert rows(db, "SELECT count(*) FROM Playlists WHERE name = 'Friday'") == [(1,)]
    assert rows(
        db,
        "SELECT pt.track_id, pt.position FROM PlaylistTracks pt JOIN Playlists p "
        "ON pt.playlist_id = p.id WHERE p.name = 'Friday'",
    ) == [(1, 1), (2, 2)]


def test_auto_dj_append_and_replace_and_a_crate(db, music):
    con = sqlite3.connect(db)
    con.execute("INSERT INTO crates (name) VALUES ('Mine')")
    con.commit()
    con.close()
    write_set(make_set(music[:2], SECONDS), "A", MixxxTarget(str(db), autodj="append"))
    write_set(make_set(music[2:], SECONDS), "B", MixxxTarget(str(db), "append", "Mine"))
    queue = "SELECT track_id, position FROM PlaylistTracks WHERE playlist_id = 1"
    assert rows(db, queue) == [(1, 1), (2, 2), (3, 3), (4, 4)]
    write_set(make_set(music[1:3], SECONDS), "C", MixxxTarget(str(db), "replace", "Mine"))
    assert rows(db, queue) == [(2, 1), (3, 2)]
    crate = "SELECT track_id FROM crate_tracks ct JOIN crates c ON ct.crate_id = c.id"
    assert sorted(rows(db, crate + " WHERE c.name = 'Mine'")) == [(2,), (3,), (4,)]


def test_other_tables_are_never_touched(db, music):
    before = untouched_tables(db)
    write_set(make_set(music, SECONDS), "Friday", MixxxTarget(str(db), "replace", "djset"))
    assert untouched_tables(db) == before


def test_through_write_playlists_with_the_files(db, music, tmp_path):
    formats = parse_formats("m3u8,mixxx")
    paths = playlist_files(tmp_path / "lists", "Friday", formats, {"mixxx": db})
    assert paths[1] == db and FORMATS["mixxx"].database
    written = write_playlists(
        make_set(music, SECONDS),
        "Friday",
        list(zip(formats, paths, strict=True)),
        RenderOptions(mixxx_autodj="append"),
    )
    assert written.errors == [] and written.written == paths
    assert written.notes[0].startswith("mixxx: playlist 'Friday'")
    assert rows(db, "SELECT count(*) FROM PlaylistTracks WHERE playlist_id = 1") == [(4,)]


# --- refusals: nothing written ---------------------------------------------------------


def test_untested_schema_version_is_refused(db, music):
    con = sqlite3.connect(db)
    con.execute("UPDATE settings SET value = '39' WHERE name = 'mixxx.schema.version'")
    con.commit()
    con.close()
    before = db.read_bytes()
    with pytest.raises(MixxxError, match="schema version 39, not one this plugin was tested"):
        write_set(make_set(music, SECONDS), "Friday", MixxxTarget(str(db)))
    assert db.read_bytes() == before


def test_missing_database_and_missing_file_are_one_line_errors(db, music, tmp_path):
    with pytest.raises(MixxxError, match="not found: start Mixxx once"):
        write_set(make_set(music, SECONDS), "F", MixxxTarget(str(tmp_path / "none.sqlite")))
    music[2].unlink()
    before = dump(db)
    with pytest.raises(MixxxError, match=r"track 3: file .*track 02.wav not found"):
        write_set(make_set(music, SECONDS), "F", MixxxTarget(str(db)))
    assert dump(db) == before


def test_refused_while_a_process_holds_the_database(db, music):
    """A real process with the database open, as Mixxx keeps it from start to quit."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys, time; c = sqlite3.connect(sys.argv[1]);"
            "c.execute('select 1 from settings').fetchall(); print('open', flush=True);"
            "time.sleep(60)",
            str(db),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "open"
        found = mixxx_holding(db)
        assert found is not None and found.pid == holder.pid
        before = dump(db)
        with pytest.raises(MixxxError, match=rf"is held by Mixxx: .*pid {holder.pid}"):
            write_set(make_set(music, SECONDS), "Friday", MixxxTarget(str(db)))
    finally:
        holder.kill()
        holder.wait()
    assert dump(db) == before
    assert mixxx_holding(db) is None


def test_a_locked_playlist_fails_the_whole_write(db, music):
    con = sqlite3.connect(db)
    con.execute("INSERT INTO Playlists (name, position, hidden, locked) VALUES ('Friday', 3, 0, 1)")
    con.commit()
    con.close()
    before = dump(db)
    with pytest.raises(MixxxError, match="playlist 'Friday' is locked"):
        write_set(make_set(music, SECONDS), "Friday", MixxxTarget(str(db)))
    assert dump(db) == before  # the tracks and cues written before it were rolled back


WRITER = """
import sys
sys.path[:0] = [sys.argv[3], sys.argv[4]]
from mixxx_helpers import make_set
from pathlib import Path
from djcurator_core.files.mixxx.mixxx_database import MixxxTarget, write_set
paths = [Path(p) for p in sys.argv[2].split("|")]
write_set(make_set(paths, 20.0), "Killed", MixxxTarget(sys.argv[1], "replace", "djset"))
"""


def test_a_write_killed_halfway_leaves_the_database_as_it_was(db, music, tmp_path):
    write_set(make_set(music[:1], SECONDS), "Before", MixxxTarget(str(db), "append"))
    before = dump(db)
    marker = tmp_path / "halfway"
    repo = str(Path(__file__).resolve().parent.parent)
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            WRITER,
            str(db),
            "|".join(str(p) for p in music),
            str(Path(__file__).resolve().parent),
            repo,
        ],
        env={**os.environ, PAUSE_ENV: str(marker)},
    )
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert writer.poll() is None, "the writer ended before it was halfway"
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert Path(str(db) + "-journal").exists()  # mid-transaction: rows are pending
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait()
    finally:
        if writer.poll() is None:
            writer.kill()
    assert dump(db) == before  # SQLite rolled the hot journal back on this open
    assert rows(db, "PRAGMA integrity_check") == [("ok",)]
    done = write_set(make_set(music, SECONDS), "After", MixxxTarget(str(db)))
    assert done.added == len(music) - 1  # and the next write works


def test_a_worker_writes_only_the_mixxx_database_its_configuration_names(db, tmp_path):
    from temporalio.exceptions import ApplicationError

    from djcurator_core.pipeline.workers.worker_scope import DENY_ALL, WorkerScope

    scope = WorkerScope(mixxx_databases=(str(db),))
    assert scope.mixxx_database(str(db)) == os.path.realpath(db)
    (tmp_path / "link.sqlite").symlink_to(db)
    assert scope.mixxx_database(str(tmp_path / "link.sqlite")) == os.path.realpath(db)
    other = make_database(tmp_path / "other")
    for refused, where in ((scope, str(db)), (DENY_ALL, "(none configured)")):
        with pytest.raises(ApplicationError, match="is not allowed") as error:
            refused.mixxx_database(str(other))
        assert where in str(error.value) and error.value.type == "NotAllowed"
    with pytest.raises(ApplicationError, match="is not allowed"):
        scope.mixxx_database(str(db.parent))  # a folder is never enough


def test_the_scheduled_runs_activity_writes_mixxx_only_where_its_worker_allows(db, music):
    from temporalio.exceptions import ApplicationError

    from djcurator_core.pipeline.contracts import PlaylistTarget, WritePlaylistRequest
    from djcurator_core.pipeline.sets.library_activities import write_playlist_activity
    from djcurator_core.pipeline.workers.worker_scope import WorkerScope, using

    request = WritePlaylistRequest(
        result_json=make_set(music, SECONDS).model_dump_json(),
        target=PlaylistTarget(path=str(db), format="mixxx", mixxx_autodj="append"),
        name="Nightly",
    )
    before = dump(db)
    with using(WorkerScope()), pytest.raises(ApplicationError, match="is not allowed"):
        write_playlist_activity(request)
    assert dump(db) == before
    with using(WorkerScope(mixxx_databases=(str(db),))):
        written = write_playlist_activity(request)
    assert written.track_count == len(music)
    assert rows(db, "SELECT count(*) FROM PlaylistTracks WHERE playlist_id = 1") == [(4,)]
    assert rows(db, "SELECT count(*) FROM Playlists WHERE name = 'Nightly'") == [(1,)]


def test_a_hidden_track_is_shown_again_and_a_bare_location_reused(db, music):
    write_set(make_set(music[:1], SECONDS), "Old", MixxxTarget(str(db)))
    con = sqlite3.connect(db)
    con.execute("UPDATE library SET mixxx_deleted = 1 WHERE id = 1")  # "Hide from library"
    location = mixxx_location(str(music[1]))
    con.execute(
        "INSERT INTO track_locations (location, filename, directory, filesize, fs_deleted, "
        "needs_verification) VALUES (?, 'x', 'y', 1, 0, 0)",
        (location,),
    )  # a location row without its library row
    con.commit()
    con.close()
    done = write_set(make_set(music[:2], SECONDS), "New", MixxxTarget(str(db)))
    assert (done.added, done.matched) == (1, 1)
    assert rows(db, "SELECT mixxx_deleted FROM library WHERE id = 1") == [(0,)]
    assert rows(db, "SELECT count(*) FROM track_locations WHERE location = ?", location) == [(1,)]
    assert rows(
        db,
        "SELECT tl.location FROM library l JOIN track_locations tl ON l.location = tl.id "
        "WHERE l.id = 2",
    ) == [(location,)]
