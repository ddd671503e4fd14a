"""The real Mixxx keeps what `--format mixxx` wrote: Debian's Mixxx 2.3.3, headless.

Mixxx creates its database on a first start; a 30-track set with intro/outro cues, beat
grids, the Auto DJ queue and a crate is written into it; while Mixxx runs again the
write is refused; Mixxx loads the first track (reading its cues and grid), shows its
library and quits cleanly; the playlist, the queue, the cues and the grids are all still
there and its log has no database error. `make bench-mixxx` installs the tools (apt) and
runs this with its table printed; elsewhere it is skipped where mixxx, Xvfb or xdotool
is missing.
"""

from __future__ import annotations

import sqlite3

import pytest
from mixxx_app import HeadlessMixxx, database_errors, first_start, log_text, missing_tools
from mixxx_helpers import make_set, make_wav, rows

from djcurator_core.files.mixxx.mixxx_database import MixxxError, MixxxTarget, write_set
from djcurator_core.files.mixxx.mixxx_rows import mixxx_location

pytestmark = [
    pytest.mark.mixxx,
    pytest.mark.skipif(bool(missing_tools()), reason=f"needs {', '.join(missing_tools())}"),
    pytest.mark.timeout(900),
]

TRACKS = 30
SECONDS = 16.0


def snapshot(db):
    return {
        "playlist": rows(
            db,
            "SELECT pt.track_id, pt.position FROM PlaylistTracks pt JOIN Playlists p "
            "ON pt.playlist_id = p.id WHERE p.name = 'Mixxx check' ORDER BY pt.position",
        ),
        "autodj": rows(
            db,
            "SELECT track_id, position FROM PlaylistTracks WHERE playlist_id = "
            "(SELECT id FROM Playlists WHERE hidden = 1) ORDER BY position",
        ),
        "crate": rows(
            db,
            "SELECT ct.track_id FROM crate_tracks ct JOIN crates c ON ct.crate_id = c.id "
            "WHERE c.name = 'djset check' ORDER BY ct.track_id",
        ),
        "cues": set(
            rows(db, "SELECT track_id, type, position, length FROM cues WHERE type IN (6, 7)")
        ),
        "grids": rows(db, "SELECT id, beats_version, beats FROM library ORDER BY id"),
        "tracks": rows(
            db,
            "SELECT l.id, tl.location FROM library l JOIN track_locations tl "
            "ON l.location = tl.id ORDER BY l.id",
        ),
    }


def test_mixxx_keeps_the_set_playlist_auto_dj_queue_and_cues(tmp_path):
    settings = tmp_path / "mixxx-settings"
    db = first_start(settings)
    assert rows(db, "SELECT value FROM settings WHERE name = 'mixxx.schema.version'") == [("32",)]
    music = tmp_path / "music"
    paths = [make_wav(music / f"{i:02d} track.wav", SECONDS) for i in range(TRACKS)]
    # What the user's first-run dialog would store: the music folder (the harness's setup,
    # not something djset writes); without it Mixxx waits in that dialog.
    con = sqlite3.connect(db)
    con.execute("INSERT INTO directories (directory) VALUES (?)", (mixxx_location(str(music)),))
    con.commit()
    con.close()

    done = write_set(
        make_set(paths, SECONDS), "Mixxx check", MixxxTarget(str(db), "replace", "djset check")
    )
    assert (done.added, done.cues, done.grids, done.autodj) == (TRACKS, 2 * TRACKS, TRACKS, TRACKS)
    before = snapshot(db)
    assert len(before["playlist"]) == len(before["autodj"]) == TRACKS
    assert len(before["cues"]) == 2 * TRACKS

    mixxx = HeadlessMixxx(settings)
    try:
        mixxx.start([paths[0]])
        held = snapshot(db)
        with pytest.raises(MixxxError, match=r"is held by Mixxx: mixxx \(pid \d+\) has it open"):
            write_set(make_set(paths[:3], SECONDS), "While running", MixxxTarget(str(db)))
        # Nothing of the refused write: Mixxx itself writes meanwhile (the waveform of the
        # track it loaded, in track_analysis), so the tables are compared, not the dump;
        # test_mixxx_db.py compares whole dumps where no app runs beside the writer.
        assert snapshot(db) == held
        assert rows(db, "SELECT id FROM Playlists WHERE name = 'While running'") == []
        code = mixxx.quit()
    finally:
        mixxx.stop()
    log = log_text(settings)
    after = snapshot(db)
    # the tracks Mixxx analysed itself while it ran (the loaded one, when its analysis got
    # that far): Mixxx may then redo their grid, which is its own doing, not a lost write
    analysed = {track for (track,) in rows(db, "SELECT DISTINCT track_id FROM track_analysis")}
    seen = {
        "exit code": code,
        "clean shutdown logged": "Mixxx shutdown complete with code 0" in log,
        "grid read by Mixxx": "Successfully deserialized BeatGrid" in log,
        "playlist tracks kept": f"{len(after['playlist'])}/{TRACKS}",
        "Auto DJ queue kept": f"{len(after['autodj'])}/{TRACKS}",
        "crate tracks kept": f"{len(after['crate'])}/{TRACKS}",
        "intro/outro cues kept": f"{len(before['cues'] & after['cues'])}/{2 * TRACKS}",
        "cues Mixxx added": len(rows(db, "SELECT id FROM cues WHERE type NOT IN (6, 7)")),
        "beat grids unchanged": sum(
            a == b for a, b in zip(before["grids"], after["grids"], strict=True)
        ),
        "tracks Mixxx analysed": len(analysed),
        "database errors logged": len(database_errors(settings)),
        "xdotool failures": len(mixxx.x_errors),
    }
    print("\nMixxx 2.3.3 after writing a 30-track set, starting and quitting it:")
    for what, value in seen.items():
        print(f"  {what:<24} {value}")
    assert code == 0 and seen["clean shutdown logged"] and seen["grid read by Mixxx"]
    assert after["playlist"] == before["playlist"]
    assert after["autodj"] == before["autodj"]
    assert after["crate"] == before["crate"]
    assert before["cues"] <= after["cues"]
    assert [g for g in after["grids"] if g[0] not in analysed] == [
        g for g in before["grids"] if g[0] not in analysed
    ]
    assert after["tracks"] == before["tracks"]
    assert database_errors(settings) == []
