"""Mix points through DJSetWorkflow on the session's real Temporal dev server: part of the
justification step (no step of their own, so the activity sequence and recorded
histories stay as they were), computed where the tracks carry a structure, named in
the report where they do not, written into the worker's playlists, and a --duration
set is that long as played."""

from __future__ import annotations

import math
import uuid

import pytest
from format_readers import rekordbox_playlist
from temporal_helpers import activity_records

from djcurator_core.core.mixing.mix_points import planned_length
from djcurator_core.core.models import Track, dump_tracks, load_tracks
from djcurator_core.core.options.set_options import SetOptions
from djcurator_core.core.planning.planning import plan_order
from djcurator_core.core.report.justify import justify_for_options
from djcurator_core.core.track_structure import BarSpan, TrackStructure
from djcurator_core.files.dj_formats.formats import playlist_files
from djcurator_core.pipeline.contracts import STEPS, PlaylistFile, PlaylistTarget, SetRequest
from djcurator_core.pipeline.sets.client import start_set, wait_for_result

pytestmark = pytest.mark.temporal

UNANALYSED = "t07"  # the one track without a structure


def with_structure(track: Track, index: int) -> Track:
    """The track with a steady grid over its whole length: phrases every 16 bars, a
    16-bar intro and a 32-bar outro ending on the last whole phrase."""
    bpm, first_downbeat = track.bpm, 0.1 + 0.01 * index
    bars = math.floor((track.duration - first_downbeat) / (4 * 60 / bpm))
    last_phrase_end = 1 + (bars // 16) * 16
    s = TrackStructure(
        bpm=bpm,
        first_downbeat=first_downbeat,
        duration=track.duration,
        phrases=list(range(1, bars + 1, 16)),
        intro=BarSpan(start=1, end=17),
        outro=BarSpan(start=last_phrase_end - 32, end=last_phrase_end),
    )
    return track.model_copy(update={"structure": s})


@pytest.fixture
def structured_tracks(fixture_tracks_path, tmp_path):
    """The fixture's 20 tracks with structures (all but UNANALYSED) and real files, as
    a tracks file."""
    tracks = []
    for index, track in enumerate(load_tracks(fixture_tracks_path)):
        audio = tmp_path / "music" / f"{track.id}.mp3"
        audio.parent.mkdir(exist_ok=True)
        audio.write_bytes(b"")
        track = track.model_copy(update={"path": str(audio)})
        tracks.append(track if track.id == UNANALYSED else with_structure(track, index))
    path = tmp_path / "structured.json"
    path.write_text(dump_tracks(tracks), encoding="utf-8")
    assert load_tracks(path) == tracks  # the tracks file carries the structures
    return path, tracks


async def test_the_justification_step_adds_mix_points_and_writes_the_cues(
    temporal_client, task_queue, djset_worker, structured_tracks, tmp_path
):
    path, tracks = structured_tracks
    options = SetOptions(solver="greedy", seed=1)
    formats = ["m3u8", "rekordbox"]
    files = playlist_files(tmp_path / "lists", "mixed", formats)
    target = PlaylistTarget.of_files(
        [PlaylistFile(path=str(f), format=fmt) for f, fmt in zip(files, formats, strict=True)]
    )
    request = SetRequest(
        name=f"mixed-{uuid.uuid4().hex[:8]}", tracks_path=str(path), options=options,
        playlist=target,
    )  # fmt: skip
    handle = await start_set(temporal_client, request, task_queue=task_queue)
    result = await wait_for_result(handle)

    plan = plan_order(tracks, options)
    assert result == justify_for_options(tracks, plan.order, options, plan.notes)
    around = [t.position for t in result.transitions if UNANALYSED in (t.from_id, t.to_id)]
    assert around and result.summary.no_mix_points == around
    assert result.summary.mix_points == len(result.transitions) - len(around) >= 17
    for t in result.transitions:
        assert (t.mix is None) == (t.position in around)
        if t.mix is not None:
            assert t.mix.on_phrases and t.mix.overlap_bars == 16
            assert f"bar {t.mix.out_bar} -> in at" in t.sentence
    assert result.summary.played_duration < result.summary.total_duration

    # the same activities as a run without mix points: load, sequence, justify, write
    records = await activity_records(handle)
    assert set(records) == {name for _, name in STEPS} | {"write_playlist_activity"}
    assert all((r.scheduled, r.last_attempt) == (1, 1) for r in records.values())

    m3u8 = files[0].read_text(encoding="utf-8")
    before, after = around[0], around[0] + 1
    assert f"# mix points for {result.summary.mix_points} of 19 transitions" in m3u8
    assert f"none for {before} -> {after}" in m3u8
    read = rekordbox_playlist(files[1], request.name)
    first = result.transitions[0].mix
    marks = {mark.Name: mark.Start for mark in read[0].marks}
    assert marks == {f"1->2 mix out, bar {first.out_bar}": pytest.approx(first.out_time)}


async def test_a_duration_set_is_that_long_as_played(
    temporal_client, task_queue, djset_worker, structured_tracks
):
    path, tracks = structured_tracks
    options = SetOptions(duration=40 * 60, seed=2, time_budget=3.0)
    request = SetRequest(
        name=f"timed-{uuid.uuid4().hex[:8]}", tracks_path=str(path), options=options
    )
    result = await wait_for_result(await start_set(temporal_client, request, task_queue=task_queue))
    s = result.summary
    assert s.played_duration <= 40 * 60 + 1  # as played, within the slot
    longest = max(planned_length(t) for t in tracks)
    assert s.played_duration >= 40 * 60 - longest  # and fills it, within one track
    assert s.total_duration > s.played_duration  # the files alone add up to more
