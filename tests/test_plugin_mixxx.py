"""`beet djset --format mixxx` end to end: the real `beet` command on a real beets
library and the session's Temporal server, writing into a Mixxx database made from the
schema Mixxx 2.3.3 created (fixtures/mixxx-2.3.3.sql)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from beets_helpers import USABLE, assert_one_line_error, beet, build_library, server_config
from mixxx_helpers import dump, make_database, rows

from djcurator_core.files.mixxx.mixxx_rows import key_id, mixxx_location
from djcurator_core.pipeline.sets.client import fetch_result

pytestmark = pytest.mark.temporal


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    return build_library(tmp_path_factory.mktemp("mixxx-plugin"))


def mixxx_config(server, task_queue, tmp_path, db, autodj: str = "'off'") -> str:
    return server_config(
        server, task_queue, tmp_path, f"mixxx:\n  database: {db}\n  autodj: {autodj}\n"
    )


async def test_the_set_lands_in_mixxx_with_the_m3u8(
    library, temporal_server, temporal_client, task_queue, djset_worker, tmp_path
):
    db = make_database(tmp_path / "mixxx")
    config = mixxx_config(temporal_server, task_queue, tmp_path, db, "append")
    run = await beet(
        library, "djset", "-n", "Friday", "--format", "mixxx,m3u8", "--mixxx-crate",
        "Fridays", "album:Set", config=config,
    )  # fmt: skip
    assert run.code == 0, run.stderr
    lines = run.stdout.splitlines()
    m3u8 = tmp_path / "Friday.m3u8"
    assert lines[0] == f"wrote {m3u8} ({len(USABLE)} tracks)"  # the file first, then Mixxx
    assert lines[1] == f"wrote {db} ({len(USABLE)} tracks)"
    assert lines[2].startswith(f"mixxx: playlist 'Friday' in {db}; {len(USABLE)} tracks added")
    workflow = next(x.split()[-1] for x in m3u8.read_text().splitlines() if "# workflow: " in x)
    result = await fetch_result(temporal_client, workflow)
    in_mixxx = rows(
        db,
        "SELECT tl.location, l.bpm, l.key, l.key_id FROM PlaylistTracks pt "
        "JOIN Playlists p ON pt.playlist_id = p.id JOIN library l ON pt.track_id = l.id "
        "JOIN track_locations tl ON l.location = tl.id WHERE p.name = 'Friday' "
        "ORDER BY pt.position",
    )
    assert [r[0] for r in in_mixxx] == [mixxx_location(t.path) for t in result.tracks]
    assert [r[1] for r in in_mixxx] == [pytest.approx(t.bpm) for t in result.tracks]
    assert [(r[2], r[3]) for r in in_mixxx] == [key_id(t.key) for t in result.tracks]
    assert rows(db, "SELECT count(*) FROM PlaylistTracks WHERE playlist_id = 1") == [(len(USABLE),)]
    assert rows(
        db, "SELECT count(*) FROM crate_tracks ct JOIN crates c ON c.id = ct.crate_id "
        "WHERE c.name = 'Fridays'"
    ) == [(len(USABLE),)]  # fmt: skip

    again = await beet(library, "djset", "-n", "Friday", "--format", "mixxx", "album:Set",
                       config=config)  # fmt: skip
    assert again.code == 0, again.stderr
    assert f"0 tracks added, {len(USABLE)} known" in again.stdout
    assert rows(db, "SELECT count(*) FROM library") == [(len(USABLE),)]


async def test_refused_before_any_work_while_mixxx_holds_the_database(
    library, temporal_server, task_queue, tmp_path
):
    db = make_database(tmp_path / "mixxx")
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; f = open(sys.argv[1]); print(1, flush=True);"
         "time.sleep(60)", str(db)],
        stdout=subprocess.PIPE,
    )  # fmt: skip
    try:
        holder.stdout.readline()
        before = dump(db)
        config = mixxx_config(temporal_server, task_queue, tmp_path, db)
        run = await beet(library, "djset", "--format", "mixxx", "album:Set", config=config)
        assert_one_line_error(run, f"mixxx database {db} is held by Mixxx:")
        assert f"(pid {holder.pid}) has it open; quit Mixxx" in run.errors[0]
        assert dump(db) == before
    finally:
        holder.kill()
        holder.wait()


async def test_a_bad_autodj_setting_is_one_line(library, temporal_server, task_queue, tmp_path):
    db = make_database(tmp_path / "mixxx")
    config = mixxx_config(temporal_server, task_queue, tmp_path, db, "sometimes")
    run = await beet(library, "djset", "--format", "mixxx", "album:Set", config=config)
    assert_one_line_error(run, "djset.mixxx.autodj 'sometimes': one of off, append, replace")
