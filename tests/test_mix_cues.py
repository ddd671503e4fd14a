"""Mix points written where DJs use them, read back the way the DJ apps' libraries read
them: Rekordbox XML with pyrekordbox (the TEMPO grid, POSITION_MARK memory cues), Traktor
NML with traktor-nml-utils (CUE_V2 grid marker and cues), and the times in the M3U8
comment lines and the JSON result.

The tracks are a real beets library's (generated files, `beet djset --export`), given
structures built here, so the expected cue positions are known exactly."""

from __future__ import annotations

import json
import subprocess

import pytest
from beets_helpers import BEET, build_library, clean_env
from format_readers import nml_playlist, rekordbox_playlist

from djcurator_core.core.models import load_tracks
from djcurator_core.core.report.justify import SetResult, clock, justify
from djcurator_core.core.track_structure import BarSpan, TrackStructure
from djcurator_core.files.dj_formats.formats import FORMAT_NAMES, playlist_files, write_playlists

SET_NAME = "Cue test"


def structure(bpm: float, first_downbeat: float, intro: int, outro: int, steady=True):
    bars = 128
    return TrackStructure(
        bpm=bpm,
        first_downbeat=first_downbeat,
        duration=first_downbeat + bars * 4 * 60 / bpm + 3.0,
        steady=steady,
        phrases=list(range(1, bars + 1, 16)),
        intro=BarSpan(start=1, end=1 + intro),
        outro=BarSpan(start=bars + 1 - outro, end=bars + 1),
    )


@pytest.fixture(scope="module")
def result(tmp_path_factory) -> SetResult:
    """The library's tracks in their exported order; all but the third carry a structure
    (the second one's grid drifts), so transitions 2->3 and 3->4 have no mix point."""
    library = build_library(tmp_path_factory.mktemp("cues"))
    exported = library.root / "tracks.json"
    subprocess.run(
        [BEET, "djset", "--export", str(exported), "album:Set"],
        env=clean_env(library),
        check=True,
        capture_output=True,
    )
    tracks = load_tracks(exported)
    assert len(tracks) >= 5
    shaped = []
    for index, track in enumerate(tracks):
        s = None
        if index != 2:
            s = structure(
                bpm=120.0 + index, first_downbeat=0.05 * index, intro=16, outro=32,
                steady=index != 1,
            )  # fmt: skip
        shaped.append(
            track.model_copy(
                update={"structure": s, "duration": s.duration if s else track.duration}
            )
        )
    return justify(shaped, list(range(len(shaped))))


def cue_table(result: SetResult) -> list[dict[str, float]]:
    """Per track, the cues the set should carry: name -> seconds."""
    table: list[dict[str, float]] = [{} for _ in result.tracks]
    for t in result.transitions:
        if t.mix is not None:
            step = f"{t.position}->{t.position + 1}"
            table[t.position - 1][f"{step} mix out, bar {t.mix.out_bar}"] = t.mix.out_time
            table[t.position][f"{step} mix in, bar {t.mix.in_bar}"] = t.mix.in_time
    return table


def test_the_set_has_mix_points_where_both_tracks_have_a_structure(result):
    with_mix = [t.position for t in result.transitions if t.mix is not None]
    assert 1 in with_mix and 2 not in with_mix and 3 not in with_mix
    assert result.summary.no_mix_points == [2, 3]
    first = result.transitions[0].mix
    assert (first.out_bar, first.in_bar, first.overlap_bars) == (113, 1, 16)


def test_rekordbox_reads_the_grid_and_memory_cues_back(result, tmp_path):
    (path,) = playlist_files(tmp_path, SET_NAME, ["rekordbox"])
    assert write_playlists(result, SET_NAME, [("rekordbox", path)]).errors == []
    in_order = rekordbox_playlist(path, SET_NAME)
    expected = cue_table(result)
    for index, (read, track) in enumerate(zip(in_order, result.tracks, strict=True)):
        s = track.structure
        if s is not None and s.steady:
            (tempo,) = read.tempos
            assert tempo.Inizio == pytest.approx(s.first_downbeat, abs=0.0005)
            assert tempo.Bpm == pytest.approx(s.bpm, abs=0.005)
            assert (tempo.Metro, tempo.Battito) == ("4/4", 1)
        else:
            assert read.tempos == []  # no structure, or a drifting grid: no grid written
        marks = {mark.Name: mark for mark in read.marks}
        assert set(marks) == set(expected[index])
        for name, seconds in expected[index].items():
            mark = marks[name]
            assert (mark.Type, mark.Num) == ("cue", -1)  # a memory cue
            assert mark.Start == pytest.approx(seconds, abs=0.0005)
    assert any(expected), "the set must carry cues for the test to mean anything"


def test_traktor_reads_the_grid_marker_and_cues_back(result, tmp_path):
    (path,) = playlist_files(tmp_path, SET_NAME, ["nml"])
    assert write_playlists(result, SET_NAME, [("nml", path)]).errors == []
    in_order = nml_playlist(path, SET_NAME)
    expected = cue_table(result)
    for index, (read, track) in enumerate(zip(in_order, result.tracks, strict=True)):
        s = track.structure
        grids = [cue for cue in read.cue_v2 if cue.type == 4]
        if s is not None and s.steady:
            (grid,) = grids
            assert grid.start == pytest.approx(s.first_downbeat * 1000, abs=0.001)
            assert grid.grid.bpm == pytest.approx(s.bpm, abs=1e-6)
        else:
            assert grids == []
        cues = {cue.name: cue for cue in read.cue_v2 if cue.type == 0}
        assert set(cues) == set(expected[index])
        for name, seconds in expected[index].items():
            assert cues[name].start == pytest.approx(seconds * 1000, abs=0.001)  # ms
            assert cues[name].hotcue == -1  # a stored cue, no hot cue pad


def test_m3u8_and_json_carry_the_times(result, tmp_path):
    paths = playlist_files(tmp_path, SET_NAME, FORMAT_NAMES)
    targets = list(zip(FORMAT_NAMES, paths, strict=True))
    assert write_playlists(result, SET_NAME, targets).errors == []
    files = dict(zip(FORMAT_NAMES, paths, strict=True))
    lines = files["m3u8"].read_text(encoding="utf-8").splitlines()
    assert all(line.startswith(("#EXTM3U", "#PLAYLIST:", "#EXTINF:", "# ", "/")) for line in lines)
    first = result.transitions[0].mix
    words = (
        f"mix out at {clock(first.out_time)}, bar {first.out_bar} -> in at "
        f"{clock(first.in_time)}, bar {first.in_bar}, 16 bars"
    )
    assert any(line.startswith("# ") and words in line for line in lines)
    assert any(line.startswith("# mix points for") and "none for 2 -> 3, 3 -> 4" in line
               for line in lines)  # fmt: skip
    document = json.loads(files["json"].read_text(encoding="utf-8"))
    shown = document["transitions"][0]
    assert shown["mix"]["out_bar"] == first.out_bar
    assert shown["mix"]["out_time"] == pytest.approx(first.out_time)
    assert shown["mix_clock"] == {"out": clock(first.out_time), "in": clock(first.in_time)}
    assert "mix_clock" not in document["transitions"][1]
    assert SetResult.model_validate(document).transitions[0].mix == first


def test_the_command_line_json_carries_the_times(result, tmp_path):
    """`python -m djcurator_core sequence --json` on a tracks file with structures."""
    import sys

    from djcurator_core.core.models import dump_tracks

    path = tmp_path / "structured.json"
    path.write_text(dump_tracks(result.tracks), encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "-m", "djcurator_core", "sequence", "--json", "--solver", "naive",
         str(path)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    document = json.loads(run.stdout)
    shown = document["transitions"][0]
    assert shown["mix_clock"] == {
        "out": clock(shown["mix"]["out_time"]),
        "in": clock(shown["mix"]["in_time"]),
    }
    assert document["summary"]["no_mix_points"] == [2, 3]
