"""M3U8/JSON rendering of a justified set, and the atomic write."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from djcurator_core.core.models import load_tracks
from djcurator_core.core.options.set_options import SetOptions
from djcurator_core.core.planning.planning import plan_order
from djcurator_core.core.report.justify import justify
from djcurator_core.files.dj_formats.playlist import (
    PlaylistError,
    check_writable,
    entry_location,
    name_from_query,
    render_json,
    render_m3u8,
    write_atomically,
)

FIXTURE = Path(__file__).parent.parent / "fixtures" / "tracks_enriched.json"
MUSIC = Path("/music/library")


def read_m3u(text: str) -> list[str]:
    """What DJ software does: every non-empty line not starting with '#' is a track."""
    return [line for line in text.splitlines() if line.strip() and not line.startswith("#")]


@pytest.fixture(scope="module")
def result():
    tracks = [
        t.model_copy(update={"path": str(MUSIC / f"{t.genre}/{t.id}.mp3")})
        for t in load_tracks(FIXTURE)
    ]
    plan = plan_order(tracks, SetOptions(solver="greedy"))
    return justify(tracks, plan.order, solver="greedy", notes=plan.notes)


def test_m3u8_layout(result):
    text = render_m3u8(result, "Friday", query=["genre:techno", "bpm:120..130"])
    lines = text.splitlines()
    assert lines[:3] == ["#EXTM3U", "#PLAYLIST:Friday", "# query: genre:techno bpm:120..130"]
    summary = result.summary
    assert f"# {summary.track_count} tracks, " in text
    assert f"{summary.improvement_over_naive_pct:.1f}% better than input order" in text
    assert f"{summary.improvement_over_greedy_pct:.1f}% better than greedy" in text
    # one entry per track, in the result's order, each preceded by its #EXTINF line
    assert read_m3u(text) == [t.path for t in result.tracks]
    for track in result.tracks:
        extinf = lines[lines.index(track.path) - 1]
        assert extinf == f"#EXTINF:{round(track.duration)},{track.artist} - {track.title}"
    # everything else is a "# " comment, never an #EXT directive
    for line in lines:
        if line.startswith("#") and not line.startswith(("#EXTM3U", "#PLAYLIST:", "#EXTINF:")):
            assert line.startswith("# ") and not line.startswith("#EXT")
    assert text.endswith("\n") and "\r" not in text


def test_each_transition_is_justified_between_its_two_tracks(result):
    lines = render_m3u8(result, "Friday").splitlines()
    for t in result.transitions:
        after = lines.index(result.tracks[t.position - 1].path)
        facts, sentence = lines[after + 1], lines[after + 2]
        assert facts.startswith(f"# {t.position} -> {t.position + 1}: key {t.key_move} | BPM ")
        assert facts.endswith(f"| score {t.score:.2f}")
        assert sentence == f"# {t.sentence}"
        assert lines[after + 3].startswith("#EXTINF:")
    last = lines.index(result.tracks[-1].path)
    assert lines[last + 1 :] == []


def test_relative_paths_and_forward_slashes(result, tmp_path):
    text = render_m3u8(result, "x", relative_to=MUSIC)
    assert read_m3u(text) == [os.path.relpath(t.path, MUSIC) for t in result.tracks]
    assert all(not p.startswith("/") for p in read_m3u(text))
    assert entry_location("/a/b/c.mp3", "/a/x", forward_slash=True) == "../b/c.mp3"
    assert entry_location("relative.mp3") == os.path.abspath("relative.mp3")


def test_line_breaks_in_tags_cannot_break_the_format(result):
    first = result.tracks[0]
    evil = first.model_copy(update={"title": "Line\nBreak", "artist": "#EXTINF:1,x\r"})
    changed = result.model_copy(update={"tracks": [evil, *result.tracks[1:]]})
    text = render_m3u8(changed, "evil\n#EXTM3U")
    assert text.count("\n#EXTM3U") == 0 and "#PLAYLIST:evil #EXTM3U" in text
    assert "#EXTINF:361,#EXTINF:1,x - Line Break" in text
    assert read_m3u(text) == [t.path for t in result.tracks]


def test_track_without_path_is_an_error(result):
    pathless = result.model_copy(
        update={"tracks": [result.tracks[0].model_copy(update={"path": None})]}
    )
    with pytest.raises(PlaylistError, match="has no file path"):
        render_m3u8(pathless, "x")


def test_json_holds_the_full_result(result):
    document = json.loads(render_json(result, "Friday", query=["a:b"], workflow_id="wf-1"))
    assert (document["name"], document["query"], document["workflow_id"]) == (
        "Friday",
        "a:b",
        "wf-1",
    )
    assert document["order"] == result.order
    assert len(document["transitions"]) == len(result.tracks) - 1
    assert document["summary"]["mean_score"] == pytest.approx(result.summary.mean_score)


@pytest.mark.parametrize(
    ("query", "name"),
    [
        (["genre:techno", "bpm:120..130"], "genre-techno bpm-120..130"),
        (["artist:AC/DC"], "artist-AC-DC"),
        ([], "djset"),
        (["..", "/"], "djset"),
    ],
)
def test_names_from_queries_are_safe_file_names(query, name):
    assert name_from_query(query) == name


def test_atomic_write_replaces_and_keeps_mode(tmp_path):
    target = tmp_path / "sub" / "set.m3u8"
    write_atomically(target, "#EXTM3U\nä\n")
    assert target.read_bytes() == "#EXTM3U\nä\n".encode()
    os.chmod(target, 0o640)
    write_atomically(target, "#EXTM3U\nnew\n")
    assert target.read_text(encoding="utf-8") == "#EXTM3U\nnew\n"
    assert target.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in target.parent.iterdir()) == ["set.m3u8"]


def test_failed_write_leaves_the_old_playlist_and_no_temp_file(tmp_path, monkeypatch):
    target = tmp_path / "set.m3u8"
    target.write_text("#EXTM3U\nold\n", encoding="utf-8")

    def refuse(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(PlaylistError) as error:
        write_atomically(target, "#EXTM3U\nnew\n")
    assert str(error.value) == f"cannot write playlist {target}: No space left on device"
    assert target.read_text(encoding="utf-8") == "#EXTM3U\nold\n"
    assert [p.name for p in tmp_path.iterdir()] == ["set.m3u8"]


def test_interrupted_write_leaves_the_old_playlist(tmp_path, monkeypatch):
    target = tmp_path / "set.m3u8"
    target.write_text("old\n", encoding="utf-8")

    def interrupted(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_atomically(target, "new\n")
    assert target.read_text(encoding="utf-8") == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["set.m3u8"]


def test_folder_that_cannot_be_created(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(PlaylistError, match="cannot write playlists in .*file/sub"):
        check_writable(blocker / "sub")
    with pytest.raises(PlaylistError, match="cannot write playlist .*set.m3u8"):
        write_atomically(blocker / "set.m3u8", "x")
    check_writable(tmp_path / "new" / "folder")
    assert (tmp_path / "new" / "folder").is_dir()
    assert list((tmp_path / "new" / "folder").iterdir()) == []
