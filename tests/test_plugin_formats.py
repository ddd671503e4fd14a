"""`beet djset --format ...` end to end: several playlist formats from one run of the real
`beet` command on a real beets library (generated, tagged MP3/FLAC/M4A files) and the
session's Temporal server; every file is read back with the format's own library."""

from __future__ import annotations

import pytest
from beets_helpers import (
    USABLE,
    Library,
    assert_one_line_error,
    beet,
    build_library,
    entries,
    server_config,
)
from format_readers import (
    all_exist,
    nml_path,
    nml_playlist,
    rekordbox_path,
    rekordbox_playlist,
)

from djcurator_core.core.keys import parse_key
from djcurator_core.files.dj_formats.track_notes import track_notes
from djcurator_core.pipeline.sets.client import fetch_result

pytestmark = pytest.mark.temporal

FORMATS_LINE = "the formats are m3u8, json, rekordbox, nml, mixxx"


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Library:
    return build_library(tmp_path_factory.mktemp("formats"))


def workflow_of(m3u8_text: str) -> str:
    return next(
        line.split()[-1] for line in m3u8_text.splitlines() if line.startswith("# workflow: ")
    )


async def test_three_formats_in_one_run(
    library, temporal_server, temporal_client, task_queue, djset_worker, tmp_path
):
    config = server_config(temporal_server, task_queue, tmp_path)
    run = await beet(
        library, "djset", "-n", "Friday", "--format", "m3u8,rekordbox,nml", "album:Set",
        config=config,
    )  # fmt: skip
    assert run.code == 0, run.stderr
    files = [tmp_path / f"Friday.{suffix}" for suffix in ("m3u8", "xml", "nml")]
    assert run.stdout.splitlines() == [f"wrote {path} ({len(USABLE)} tracks)" for path in files]
    m3u8 = files[0].read_text(encoding="utf-8")
    result = await fetch_result(temporal_client, workflow_of(m3u8))
    paths = [track.path for track in result.tracks]
    assert entries(m3u8) == paths and all_exist(paths)
    assert sorted(paths) == sorted(library.path_of(name) for name in USABLE)
    notes = track_notes(result)

    rekordbox = rekordbox_playlist(files[1], "Friday")
    assert [rekordbox_path(track) for track in rekordbox] == paths
    assert [track["AverageBpm"] for track in rekordbox] == [
        pytest.approx(track.bpm, abs=0.005) for track in result.tracks
    ]
    assert [parse_key(track["Tonality"]).camelot for track in rekordbox] == [
        track.key for track in result.tracks
    ]
    assert [track["Comments"] for track in rekordbox] == notes

    traktor = nml_playlist(files[2], "Friday")
    assert [nml_path(entry.location) for entry in traktor] == paths
    assert [entry.tempo.bpm for entry in traktor] == [
        pytest.approx(track.bpm) for track in result.tracks
    ]
    assert [parse_key(entry.info.key).camelot for entry in traktor] == [
        track.key for track in result.tracks
    ]
    assert [entry.info.comment for entry in traktor] == notes
    for transition in result.transitions:
        assert transition.sentence in notes[transition.position]


async def test_formats_from_the_config_list(
    library, temporal_server, task_queue, djset_worker, tmp_path
):
    config = server_config(
        temporal_server, task_queue, tmp_path, "format: [nml, rekordbox]\nrelative_to: playlist\n"
    )
    run = await beet(library, "djset", "genre:Techno", config=config)
    assert run.code == 0, run.stderr
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("overlay")) == [
        "genre-Techno.nml", "genre-Techno.xml",
    ]  # fmt: skip
    # relative_to is for M3U8: these formats hold absolute paths, as the run says
    assert "relative_to applies to m3u8 only" in run.stderr
    xml = rekordbox_playlist(tmp_path / "genre-Techno.xml", "genre-Techno")
    nml = nml_playlist(tmp_path / "genre-Techno.nml", "genre-Techno")
    xml_paths = [rekordbox_path(track) for track in xml]
    nml_paths = [nml_path(entry.location) for entry in nml]
    assert xml_paths == nml_paths and len(xml_paths) == 3 and all_exist(xml_paths)


async def test_second_format_blocked_keeps_its_old_file(
    library, temporal_server, task_queue, djset_worker, tmp_path
):
    """The XML's name is taken by a folder (which no rename can replace, for root too):
    the M3U8 is written, the folder stays as it was, one error line names the file."""
    blocked = tmp_path / "Late.xml"
    blocked.mkdir()
    (blocked / "old.txt").write_text("old", encoding="utf-8")
    config = server_config(temporal_server, task_queue, tmp_path)
    run = await beet(
        library, "djset", "-n", "Late", "--format", "m3u8,rekordbox", "album:Set", config=config
    )
    assert_one_line_error(run, f"cannot write playlist {blocked}: ")
    assert f"(written: {tmp_path / 'Late.m3u8'})" in run.errors[0]
    assert run.stdout.splitlines() == [f"wrote {tmp_path / 'Late.m3u8'} ({len(USABLE)} tracks)"]
    assert len(entries((tmp_path / "Late.m3u8").read_text(encoding="utf-8"))) == len(USABLE)
    assert [p.name for p in blocked.iterdir()] == ["old.txt"]
    assert (blocked / "old.txt").read_text(encoding="utf-8") == "old"


async def test_collect_writes_every_format(
    library, temporal_server, task_queue, djset_worker, tmp_path
):
    config = server_config(temporal_server, task_queue, tmp_path)
    run = await beet(library, "djset", "--no-wait", "-n", "later", "album:Set", config=config)
    assert run.code == 0, run.stderr
    workflow_id = run.stdout.strip()
    run = await beet(
        library, "djset", "--collect", workflow_id, "--format", "nml,json", config=config
    )
    assert run.code == 0, run.stderr
    assert run.stdout.splitlines() == [
        f"wrote {tmp_path / name} ({len(USABLE)} tracks)" for name in ("later.nml", "later.json")
    ]
    assert len(nml_playlist(tmp_path / "later.nml", "later")) == len(USABLE)
    run = await beet(library, "djset", "--collect", workflow_id, "--format", "crate", config=config)
    assert_one_line_error(run, f"--format: unknown playlist format 'crate': {FORMATS_LINE}")


@pytest.mark.parametrize(
    ("args", "configured", "bad"),
    [
        (["--format", "m3u8,serato"], "", "'serato'"),
        (["--format", "xml"], "", "'xml'"),
        ([], "  format: [m3u8, traktor]\n", "'traktor'"),
    ],
)
async def test_unknown_format_is_refused_before_any_work(library, tmp_path, args, configured, bad):
    """No Temporal server is configured or started: the name is checked first."""
    config = f"djset:\n  playlist_dir: {tmp_path / 'lists'}\n{configured}"
    run = await beet(library, "djset", *args, "album:Set", config=config)
    assert_one_line_error(run, f"unknown playlist format {bad}: {FORMATS_LINE}")
    assert "embedded" not in run.stderr and not (tmp_path / "lists").exists()
