"""DJAnalyzeWorkflow on a real Temporal server with real encoded files and a real beets
library: results and bad files reported, results stored per batch without touching the
values users tagged, tags written only when asked (and read back the same)."""

from __future__ import annotations

import hashlib
import os
import signal
import uuid

import pytest
from analysis_helpers import EXPECTED, read_items, write_known_music
from audiofiles import DJTagSpec, encode_silence
from beets_helpers import import_music
from synth_music import TrackSpec
from temporal_helpers import WorkerProcess

from djcurator_core.core.keys import parse_key
from djcurator_core.files.tagging.tags import read_dj_tags
from djcurator_core.pipeline.analysis.analysis_activities import analyse_batch
from djcurator_core.pipeline.analysis.analysis_client import ProgressMeter, run_analysis
from djcurator_core.pipeline.beets_library import close_library
from djcurator_core.pipeline.contracts import (
    AnalysisBatch,
    AnalysisItem,
    AnalysisProgress,
    AnalysisRequest,
    LibrarySource,
)

pytestmark = pytest.mark.temporal


def _digest(path) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


@pytest.fixture(scope="module")
def known_music(tmp_path_factory):
    return write_known_music(tmp_path_factory.mktemp("known") / "music")


async def test_results_and_bad_files_are_reported(
    temporal_client, djset_worker, task_queue, known_music, tmp_path
):
    bad = {"empty.mp3": tmp_path / "empty.mp3", "pipe.flac": tmp_path / "pipe.flac"}
    bad["empty.mp3"].write_bytes(b"")
    os.mkfifo(bad["pipe.flac"])
    silent = encode_silence(tmp_path / "silent.wav", seconds=12.0)
    paths = [*known_music.values(), *bad.values(), silent]
    items = [AnalysisItem(item_id=i + 1, path=str(p)) for i, p in enumerate(paths)]
    seen: list[AnalysisProgress] = []
    summary = await run_analysis(
        temporal_client,
        AnalysisRequest(items=items, batch_size=3, parallel_batches=2),
        task_queue,
        on_progress=seen.append,
        poll_seconds=0.2,
    )
    assert summary.progress.total == summary.progress.done == len(paths)
    assert summary.progress.failed == 3
    assert len(summary.failures) == 3
    for path in [*bad.values(), silent]:
        assert sum(str(path) in line for line in summary.failures) == 1, summary.failures
    assert all("\n" not in line for line in summary.failures)
    by_path = {t.path: t for t in summary.tracks}
    for name, path in known_music.items():
        bpm, camelot = EXPECTED[name]
        track = by_path[str(path)]
        assert track.error is None
        assert abs(track.bpm / bpm - 1) < 0.01, (name, track)
        assert parse_key(track.key).camelot == camelot, (name, track)
        assert 1 <= track.energy <= 10
    assert seen and seen[-1].done == len(paths)
    assert [p.done for p in seen] == sorted(p.done for p in seen)


def test_a_retried_batch_keeps_the_files_it_did(known_music):
    """Outside an activity there is no heartbeat to resume from: every file is analysed.
    (The workflow test above runs the activity path; the resume reads the heartbeat.)"""
    items = [AnalysisItem(item_id=i, path=str(p)) for i, p in enumerate(known_music.values())]
    result = analyse_batch(AnalysisBatch(items=items[:2]))
    assert [t.item_id for t in result.tracks] == [0, 1]
    assert result.resumed == 0 and all(t.bpm for t in result.tracks)


def test_progress_line_has_rate_and_eta():
    clock = iter([0.0, 10.0]).__next__
    meter = ProgressMeter(clock=clock)
    line = meter.line(AnalysisProgress(total=100, done=20, failed=1))
    assert line == "analysed 20/100 (1 failed), 2.0 tracks/s, ETA 40s"


async def test_results_are_stored_without_overwriting_user_values(
    temporal_server, temporal_client, task_queue, tmp_path
):
    """Through `python worker.py` (a worker process allowed this library), which loads
    beets' plugins (BEETSDIR) as `djset-worker` does."""
    tagged = DJTagSpec(title="Tagged", bpm="128.00", key="Am")  # no energy: to be filled
    music = {
        "plain.mp3": (TrackSpec(bpm=172.0, tonic=9, minor=True, seconds=15, seed=1,
                                progression=1), None),
        "tagged.flac": (TrackSpec(bpm=125.0, tonic=0, minor=False, seconds=15, seed=2,
                                  progression=1), tagged),
    }  # fmt: skip
    paths = write_known_music(tmp_path / "music", music)
    lib = import_music(tmp_path)
    digests = {name: _digest(path) for name, path in paths.items()}
    ids = {name: item["id"] for name, item in read_items(lib.db).items()}
    request = AnalysisRequest(
        items=[AnalysisItem(item_id=ids[n], path=str(p)) for n, p in paths.items()],
        library=LibrarySource(db=str(lib.db), directory=str(lib.music)),
        batch_size=1,
    )
    worker = WorkerProcess(
        temporal_server.address,
        task_queue,
        env={"BEETSDIR": str(lib.root), "HOME": str(lib.root)},
        args=["--library", str(lib.db)],
    )
    try:
        worker.wait_ready()
        summary = await run_analysis(temporal_client, request, task_queue)
        assert summary.progress.stored == 2 and summary.progress.files_written == 0
        stored = read_items(lib.db)
        plain, user = stored["plain.mp3"], stored["tagged.flac"]
        assert plain["bpm"] == 172 and abs(float(plain["bpm_precise"]) - 172.0) < 1
        assert parse_key(plain["initial_key"]).camelot == "8A"
        assert 1 <= float(plain["energy"]) <= 10
        assert user["bpm"] == 128 and user["initial_key"] == "Am"  # the user's values stay
        assert "bpm_precise" not in user and 1 <= float(user["energy"]) <= 10
        assert {n: _digest(p) for n, p in paths.items()} == digests  # no -w: files as were

        # --force with tag writing: every value replaced, in the files too, read back alike.
        forced = request.model_copy(update={"force": True, "write_tags": True})
        summary = await run_analysis(
            temporal_client, forced, task_queue, workflow_id=f"wf-{uuid.uuid4().hex}"
        )
    finally:
        worker.signal(signal.SIGTERM)
        worker.wait()
    assert summary.progress.files_written == 2, summary
    for name, item in read_items(lib.db).items():
        tags = read_dj_tags(paths[name])
        assert tags.bpm == pytest.approx(float(item["bpm_precise"]), abs=0.005)
        assert parse_key(tags.key) == parse_key(item["initial_key"])
        assert tags.energy == float(item["energy"])
        assert item["mtime"] == pytest.approx(os.path.getmtime(paths[name]))
    assert read_items(lib.db)["tagged.flac"]["bpm"] == 125  # forced: the analysed tempo


async def test_large_requests_run_as_several_workflows(
    temporal_client, djset_worker, task_queue, known_music, monkeypatch
):
    from djcurator_core.pipeline.analysis import analysis_client

    monkeypatch.setattr(analysis_client, "MAX_ITEMS_PER_RUN", 2)
    items = [AnalysisItem(item_id=i, path=str(p)) for i, p in enumerate(known_music.values())]
    seen: list[AnalysisProgress] = []
    summary = await analysis_client._run_in_parts(
        temporal_client, AnalysisRequest(items=items, batch_size=1), task_queue, seen.append
    )
    assert summary.progress.total == summary.progress.done == len(items) > 2
    assert sorted(t.item_id for t in summary.tracks) == list(range(len(items)))
    assert all(p.total == len(items) for p in seen)
    assert [p.done for p in seen] == sorted(p.done for p in seen)


async def test_analyse_on_an_embedded_server_stores_in_its_own_library(tmp_path):
    """The command's own embedded worker may open the library the command names (its
    scope), so the store step works there as on a configured server."""
    from djcurator_core.pipeline.analysis.analysis_client import analyse_on

    music = {"one.mp3": (TrackSpec(bpm=124.0, tonic=2, minor=True, seconds=12, seed=3), None)}
    paths = write_known_music(tmp_path / "music", music)
    lib = import_music(tmp_path)
    from beets.library import Library

    db = Library(str(lib.db), str(lib.music))
    (item,) = db.items()
    item_id = item.id
    close_library(db)
    request = AnalysisRequest(
        items=[AnalysisItem(item_id=item_id, path=str(paths["one.mp3"]))],
        library=LibrarySource(db=str(lib.db), directory=str(lib.music)),
    )
    summary = await analyse_on(None, "analyse-embedded", request)
    assert summary.progress.stored == 1, summary
