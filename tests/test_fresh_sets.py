"""Fresh nightly sets (issue 11): three triggered runs of a real schedule on a real
`beet djset --serve` worker and the session's Temporal server give three different sets,
and the history lives in the schedule's memo (set_history.py)."""

from __future__ import annotations

import pytest
from audiofiles import DJTagSpec
from beets_helpers import beet, build_library, entries
from test_schedules import Service, unique_name, worker_overlay

from djcurator_core.pipeline.sets.set_history import MEMO_RECENT, history_memo

pytestmark = pytest.mark.temporal

# nine tracks that all mix with each other (8A/9A/8B, 124-126 BPM), nine artists
NINE = {
    f"{i:02d} Track {i}.mp3": DJTagSpec(
        title=f"Track {i}",
        artist=f"Artist {i}",
        genre="Techno",
        bpm=str(124 + i % 3),
        key=("8A", "9A", "8B")[i % 3],
        energy=str(4 + i % 4),
    )
    for i in range(9)
}


@pytest.fixture(scope="module")
def nine(tmp_path_factory):
    return build_library(tmp_path_factory.mktemp("fresh"), NINE)


@pytest.fixture
def nine_worker(nine, temporal_server, task_queue, tmp_path):
    overlay = worker_overlay(temporal_server, task_queue, tmp_path / "state", tmp_path / "lists")
    service = Service(nine, overlay)
    service.wait_for_line("worker polling task queue")
    yield overlay
    assert service.stop() == 0, "".join(service.output)


async def test_three_runs_give_fresh_sets(nine, nine_worker, temporal_client, tmp_path):
    name = unique_name("fresh")
    playlist = tmp_path / "lists" / f"{name}.m3u8"
    run = await beet(
        nine, "djset", "--schedule", "0 3 * * *", "--timezone", "UTC", "-n", name,
        "--count", "3", "genre:Techno", config=nine_worker,
    )  # fmt: skip
    assert run.code == 0, run.stderr
    sets, headers = [], []
    for _ in range(3):
        run = await beet(nine, "djset", "--schedule-trigger", name, config=nine_worker)
        assert run.code == 0, run.stderr
        text = playlist.read_text(encoding="utf-8")
        sets.append(set(entries(text)))
        headers.append([line for line in text.splitlines() if line.startswith("# held back")])
    assert all(len(s) == 3 for s in sets)
    # nine tracks, three sets of three: every run avoids the tracks of the runs before
    assert len(sets[0] | sets[1] | sets[2]) == 9
    assert headers[0] == []
    assert headers[1] == ["# held back 3 recently played track(s) (the last 1 set(s))"]
    assert headers[2] == ["# held back 6 recently played track(s) (the last 2 set(s))"]

    # the history is in the schedule's own memo, newest set first, at most 3 sets
    description = await temporal_client.get_schedule_handle(f"djset-{name}").describe()
    history = await history_memo(temporal_client, description.schedule.action.memo)
    assert len(history) == 3 and all(len(s) == 3 for s in history)
    run = await beet(nine, "djset", "--schedule-show", name, config=nine_worker)
    assert "fresh sets: holds back the tracks of the last 3 set(s); 3 remembered" in run.stdout

    # a fourth run: the pool cannot avoid all three last sets (nine tracks): it holds back
    # the last two and plays the oldest set's tracks again
    run = await beet(nine, "djset", "--schedule-trigger", name, config=nine_worker)
    assert run.code == 0, run.stderr
    text = playlist.read_text(encoding="utf-8")
    assert set(entries(text)) == sets[0]
    assert "# held back 6 recently played track(s) (the last 2 set(s))" in text.splitlines()

    # updating the schedule keeps its history
    run = await beet(
        nine, "djset", "--schedule", "0 4 * * *", "--timezone", "UTC", "-n", name,
        "--count", "3", "genre:Techno", config=nine_worker,
    )  # fmt: skip
    assert run.code == 0 and "updated schedule" in run.stdout, run.stderr
    description = await temporal_client.get_schedule_handle(f"djset-{name}").describe()
    assert MEMO_RECENT in description.schedule.action.memo
    assert len(await history_memo(temporal_client, description.schedule.action.memo)) == 3
    await beet(nine, "djset", "--schedule-delete", name, config=nine_worker)
