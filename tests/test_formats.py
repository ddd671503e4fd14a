"""The playlist formats read back by the DJ apps' libraries: Rekordbox XML with pyrekordbox,
Traktor NML with traktor-nml-utils, M3U8 as DJ software reads it, JSON as the result.

The set comes from a real beets library (generated MP3/FLAC/M4A files, `beet import`,
`beet djset --export`), ordered and justified by the core; every file is written
through `write_playlists` and read back: same tracks in the same order, BPM and key as
the set, a comment per track with its transition's justification, and every path
pointing at the real file. No Temporal server is needed.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
from beets_helpers import BEET, USABLE, build_library, clean_env, entries, read_only
from format_readers import nml_path, nml_playlist, rekordbox_path, rekordbox_playlist
from pyrekordbox import RekordboxXml
from traktor_nml_utils import TraktorCollection

from djcurator_core.core.keys import Key, parse_key
from djcurator_core.core.models import load_tracks
from djcurator_core.core.options.set_options import SetOptions
from djcurator_core.core.planning.planning import plan_order
from djcurator_core.core.report.justify import SetResult, justify
from djcurator_core.files.dj_formats.formats import (
    FORMAT_NAMES,
    FORMATS,
    RenderOptions,
    parse_formats,
    playlist_files,
    render_playlist,
    write_playlists,
)
from djcurator_core.files.dj_formats.playlist import PlaylistError
from djcurator_core.files.dj_formats.rekordbox_xml import location_uri
from djcurator_core.files.dj_formats.track_notes import track_notes
from djcurator_core.files.dj_formats.traktor_nml import nml_location, playlist_uuid

SET_NAME = "Friday & Co <late>"


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    return build_library(tmp_path_factory.mktemp("formats"))


@pytest.fixture(scope="module")
def result(library) -> SetResult:
    """The library's usable tracks, exported by the real `beet djset --export`, ordered."""
    import subprocess

    exported = library.root / "tracks.json"
    subprocess.run(
        [BEET, "djset", "--export", str(exported), "album:Set"],
        env=clean_env(library),
        check=True,
        capture_output=True,
    )
    tracks = load_tracks(exported)
    plan = plan_order(tracks, SetOptions(solver="ils", seed=1))
    return justify(tracks, plan.order, solver="ils", notes=plan.notes)


def write_all(result: SetResult, folder: Path, **options) -> dict[str, Path]:
    paths = playlist_files(folder, SET_NAME, FORMAT_NAMES)
    written = write_playlists(
        result, SET_NAME, list(zip(FORMAT_NAMES, paths, strict=True)), RenderOptions(**options)
    )
    assert written.errors == []
    assert written.written == paths
    return dict(zip(FORMAT_NAMES, paths, strict=True))


def test_rekordbox_xml_reads_back_as_the_set(result, library, tmp_path):
    in_order = rekordbox_playlist(write_all(result, tmp_path)["rekordbox"], SET_NAME)
    assert len(in_order) == len(result.tracks) == len(USABLE)

    notes = track_notes(result)
    for position, (read, track) in enumerate(zip(in_order, result.tracks, strict=True), 1):
        assert rekordbox_path(read) == track.path
        assert os.path.isfile(rekordbox_path(read))
        assert (read["Name"], read["Artist"], read["Album"], read["Genre"]) == (
            track.title, track.artist, track.album, track.genre,
        )  # fmt: skip
        assert read["TotalTime"] == round(track.duration)
        assert read["AverageBpm"] == pytest.approx(track.bpm, abs=0.005)
        assert parse_key(read["Tonality"]).camelot == track.key
        assert read["Comments"] == notes[position - 1]
        if position > 1:
            transition = result.transitions[position - 2]
            assert transition.sentence in read["Comments"]
            assert f"key {transition.key_move}" in read["Comments"]
    assert sorted(rekordbox_path(t) for t in in_order) == sorted(
        library.path_of(name) for name in USABLE
    )


def test_traktor_nml_reads_back_as_the_set(result, library, tmp_path):
    path = write_all(result, tmp_path)["nml"]
    in_order = nml_playlist(path, SET_NAME)
    assert len(in_order) == len(result.tracks) == len(USABLE)
    (node,) = TraktorCollection(path).nml.playlists.node.subnodes.node
    assert node.playlist.uuid == playlist_uuid(SET_NAME)

    notes = track_notes(result)
    for position, (read, track) in enumerate(zip(in_order, result.tracks, strict=True), 1):
        assert nml_path(read.location) == track.path
        assert os.path.isfile(nml_path(read.location))
        assert (read.title, read.artist, read.album.title, read.info.genre) == (
            track.title, track.artist, track.album, track.genre,
        )  # fmt: skip
        assert read.info.playtime == round(track.duration)
        assert read.tempo.bpm == pytest.approx(track.bpm, abs=1e-6)
        value = read.musical_key.value_attribute  # 0-11 C..B major, 12-23 C..B minor
        assert Key.from_pitch_class(value % 12, minor=value >= 12).camelot == track.key
        assert parse_key(read.info.key).camelot == track.key
        assert read.info.comment == notes[position - 1]
        if position > 1:
            assert result.transitions[position - 2].sentence in read.info.comment
    assert sorted(nml_path(e.location) for e in in_order) == sorted(
        library.path_of(name) for name in USABLE
    )


def test_m3u8_and_json_in_the_same_run(result, tmp_path):
    files = write_all(result, tmp_path)
    assert entries(files["m3u8"].read_text(encoding="utf-8")) == [t.path for t in result.tracks]
    document = json.loads(files["json"].read_text(encoding="utf-8"))
    assert document["order"] == result.order and document["name"] == SET_NAME
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        f"Friday & Co -late{FORMATS[fmt].suffix}" for fmt in FORMAT_NAMES
    )


def test_relative_paths_apply_to_m3u8_only(result, tmp_path):
    """Rekordbox XML and NML have no relative paths: they stay absolute."""
    files = write_all(result, tmp_path, relative_to=tmp_path, forward_slash=True)
    assert all(
        not path.startswith("/") for path in entries(files["m3u8"].read_text(encoding="utf-8"))
    )
    xml = RekordboxXml(files["rekordbox"])
    assert sorted(rekordbox_path(t) for t in xml.get_tracks()) == sorted(
        t.path for t in result.tracks
    )
    nml = TraktorCollection(files["nml"]).nml
    assert sorted(nml_path(e.location) for e in nml.collection.entry) == sorted(
        t.path for t in result.tracks
    )


def test_second_format_in_an_unwritable_folder_keeps_its_old_file(result, tmp_path):
    """Two formats, the second in a folder nobody may write to (root included: chattr
    +i): the first file is written and the second's old file is left as it was."""
    writable, locked = tmp_path / "m3u8", tmp_path / "xml"
    writable.mkdir()
    locked.mkdir()
    first, second = writable / "set.m3u8", locked / "set.xml"
    first.write_text("#EXTM3U\n/old/entry.mp3\n", encoding="utf-8")
    second.write_text("<old/>\n", encoding="utf-8")
    with read_only(locked):
        written = write_playlists(result, "set", [("m3u8", first), ("rekordbox", second)])
    assert written.written == [first]
    assert len(written.errors) == 1 and written.errors[0].startswith(
        f"cannot write playlist {second}: "
    )
    assert entries(first.read_text(encoding="utf-8")) == [t.path for t in result.tracks]
    assert second.read_text(encoding="utf-8") == "<old/>\n"
    assert sorted(p.name for p in locked.iterdir()) == ["set.xml"]  # no temp file left
    with pytest.raises(PlaylistError, match=rf"cannot write playlist {second}: .*\(written: "):
        written.raise_errors()


def test_second_format_blocked_by_a_folder_in_its_place(result, tmp_path):
    """The same for every user without chattr: the second file's name is taken by a
    folder, which the rename cannot replace. The first is written, the folder and what
    it holds stay, and formats after the failed one are still written."""
    paths = playlist_files(tmp_path, "set", ["m3u8", "rekordbox", "nml"])
    paths[1].mkdir()
    (paths[1] / "keep.txt").write_text("old", encoding="utf-8")
    targets = list(zip(["m3u8", "rekordbox", "nml"], paths, strict=True))
    written = write_playlists(result, "set", targets)
    assert written.written == [paths[0], paths[2]]
    assert [error.split(":")[0] for error in written.errors] == [
        f"cannot write playlist {paths[1]}"
    ]
    assert (paths[1] / "keep.txt").read_text(encoding="utf-8") == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["set.m3u8", "set.nml", "set.xml"]


def test_a_set_one_format_cannot_hold_writes_nothing(result, tmp_path):
    """Rendering comes first: a track without a path fails before any file changes."""
    paths = playlist_files(tmp_path, "set", ["m3u8", "rekordbox"])
    for path in paths:
        path.write_text("old\n", encoding="utf-8")
    broken = result.model_copy(
        update={
            "tracks": [*result.tracks[:-1], result.tracks[-1].model_copy(update={"path": None})]
        }
    )
    with pytest.raises(PlaylistError, match=f"track {result.tracks[-1].id} .* has no file path"):
        write_playlists(broken, "set", list(zip(["nml", "rekordbox"], paths, strict=True)))
    assert [p.read_text(encoding="utf-8") for p in paths] == ["old\n", "old\n"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("m3u8", ("m3u8",)),
        ("m3u8,rekordbox", ("m3u8", "rekordbox")),
        ("nml, M3U8 ,nml", ("nml", "m3u8")),
        (["m3u8", "rekordbox"], ("m3u8", "rekordbox")),
        (["json", "nml,rekordbox"], ("json", "nml", "rekordbox")),
    ],
)
def test_format_lists(value, expected):
    assert parse_formats(value) == expected


@pytest.mark.parametrize("value", ["m3u", "m3u8,serato", ["m3u8", "xml"], "", [], None])
def test_unknown_or_missing_format_names_the_formats(value):
    with pytest.raises(PlaylistError) as error:
        parse_formats(value)
    assert str(error.value).endswith("the formats are m3u8, json, rekordbox, nml, mixxx")
    if value and value != []:
        bad = "serato" if "serato" in str(value) else ("xml" if "xml" in str(value) else "m3u")
        assert f"unknown playlist format '{bad}'" in str(error.value)


def test_rekordbox_location_is_a_file_localhost_uri():
    assert location_uri("/Users/dj/Music/a b#1 %.mp3") == (
        "file://localhost/Users/dj/Music/a%20b%231%20%25.mp3"
    )
    weird = "/music/Ünïcode & (dub)?.flac"
    uri = location_uri(weird)
    assert uri.startswith("file://localhost/music/") and " " not in uri
    assert unquote(urlparse(uri).path) == weird


def test_traktor_location_splits_volume_folders_and_file():
    assert nml_location("/Volumes/USB STICK/Music/House/a.mp3") == (
        "USB STICK", "/:Music/:House/:", "a.mp3",
    )  # fmt: skip
    assert nml_location("/Users/dj/Music/a.mp3", volume="Macintosh HD") == (
        "Macintosh HD", "/:Users/:dj/:Music/:", "a.mp3",
    )  # fmt: skip
    assert nml_location("/a.mp3", volume="") == ("", "/:", "a.mp3")


def test_control_characters_in_tags_do_not_break_the_xml(result, tmp_path):
    """A stray control character in a tag is dropped (XML cannot hold it); the files
    still parse, with the rest of the text."""
    first = result.tracks[0].model_copy(update={"title": "Bad\x01Title\x1f", "artist": "A\x00B"})
    odd = result.model_copy(update={"tracks": [first, *result.tracks[1:]]})
    files = playlist_files(tmp_path, "odd", ["rekordbox", "nml"])
    write_playlists(odd, "odd", list(zip(["rekordbox", "nml"], files, strict=True)))
    xml = RekordboxXml(files[0])
    assert (xml.get_track(0)["Name"], xml.get_track(0)["Artist"]) == ("BadTitle", "AB")
    nml = TraktorCollection(files[1]).nml
    assert (nml.collection.entry[0].title, nml.collection.entry[0].artist) == ("BadTitle", "AB")


def test_rewriting_a_set_gives_the_same_bytes(result, tmp_path):
    """Same set, same files: the NML playlist UUID comes from the name, nothing from
    the clock, so a nightly rewrite only changes what changed."""
    first = {fmt: hashlib.sha256(render_playlist(result, "n", fmt).encode()).hexdigest()
             for fmt in ("rekordbox", "nml")}  # fmt: skip
    again = {fmt: hashlib.sha256(render_playlist(result, "n", fmt).encode()).hexdigest()
             for fmt in ("rekordbox", "nml")}  # fmt: skip
    assert first == again
    assert playlist_uuid("n") != playlist_uuid("m")


def test_the_workers_playlist_step_writes_every_format(result, tmp_path):
    """write_playlist_activity (what scheduled runs call on the worker), called directly:
    each format of the target is written; a blocked one fails the step (not retryable),
    naming its file, and the others are written all the same."""
    from temporalio.exceptions import ApplicationError

    from djcurator_core.pipeline.contracts import PlaylistFile, PlaylistTarget, WritePlaylistRequest
    from djcurator_core.pipeline.sets.library_activities import write_playlist_activity
    from djcurator_core.pipeline.workers.worker_scope import WorkerScope, using

    paths = playlist_files(tmp_path, "nightly", ["m3u8", "rekordbox", "nml"])
    files = [
        PlaylistFile(path=str(path), format=fmt)
        for fmt, path in zip(["m3u8", "rekordbox", "nml"], paths, strict=True)
    ]
    target = PlaylistTarget.of_files(files, relative_to=str(tmp_path))
    request = WritePlaylistRequest(
        result_json=result.model_dump_json(), target=target, name="nightly", query=["album:Set"]
    )
    with using(WorkerScope(playlist_dirs=(str(tmp_path),))):  # what the worker may write
        written = write_playlist_activity(request)
    assert written.paths == [str(path) for path in paths] and written.path == str(paths[0])
    assert [t["TrackID"] for t in RekordboxXml(paths[1]).get_tracks()] == list(
        range(1, len(result.tracks) + 1)
    )
    assert len(TraktorCollection(paths[2]).nml.collection.entry) == len(result.tracks)
    assert entries(paths[0].read_text(encoding="utf-8"))[0] == os.path.relpath(
        result.tracks[0].path, tmp_path
    )

    before = paths[0].read_bytes()
    paths[1].unlink()
    paths[1].mkdir()
    paths[0].unlink()
    with (
        pytest.raises(ApplicationError) as error,
        using(WorkerScope(playlist_dirs=(str(tmp_path),))),
    ):
        write_playlist_activity(request)
    assert error.value.type == "PlaylistError" and error.value.non_retryable
    assert str(error.value).startswith(f"PlaylistError: cannot write playlist {paths[1]}: ")
    assert f"(written: {paths[0]}, {paths[2]})" in str(error.value)
    assert paths[0].read_bytes() == before and paths[1].is_dir()


def test_playlist_targets_of_older_schedules_still_parse():
    """A schedule made before several formats holds {"path", "format"}: one file."""
    from djcurator_core.pipeline.contracts import PlaylistTarget

    old = PlaylistTarget.model_validate({"path": "/lists/a.m3u8", "format": "json"})
    assert [(f.path, f.format) for f in old.files()] == [("/lists/a.m3u8", "json")]
    assert old.shown() == "/lists/a.m3u8 (json)"
    with pytest.raises(ValueError, match="rekordbox"):
        PlaylistTarget.model_validate({"path": "/lists/a.m3u", "format": "m3u"})
