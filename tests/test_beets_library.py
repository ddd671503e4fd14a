"""A worker that runs inside another program leaves that program's beets alone.

beets keeps its configuration and its plugins in process-wide globals. The library
export of an in-process worker (the plugin's embedded worker inside `beet`, the tests'
`djset_worker`) must use beets as the embedding program set it up and change none of
it; only `djset-worker`, which owns its process, reads beets' configuration and loads
plugins (that path: test_schedules.test_plain_worker_serves_library_runs). Real beets
libraries built with `beet import` (beets_helpers.build_library), a real Temporal server.
"""

from __future__ import annotations

import sys

import beets
import beets.plugins
import pytest
from beets.plugins import BeetsPlugin
from beets.test.helper import PluginMixin, TestHelper
from beets.util import cached_classproperty
from beets_helpers import LIBRARY, Library, build_library, entries

import beetsplug
from djcurator_core.core.options.set_options import SetOptions
from djcurator_core.pipeline.contracts import LibrarySource, PlaylistTarget, SetRequest
from djcurator_core.pipeline.sets.client import start_set, wait_for_result

pytestmark = pytest.mark.temporal

HOUSE = sorted(name for name, spec in LIBRARY.items() if spec.genre == "House" and spec.bpm)


def beets_globals() -> dict:
    """What loading beets' configuration and plugins would change in this process."""
    return {
        "plugin instances": [id(plugin) for plugin in beets.plugins._instances],
        "listeners": {event: list(fns) for event, fns in BeetsPlugin.listeners.items()},
        "config": beets.config.flatten(),  # reads beets' config lazily, as beets does
        "config sources": len(beets.config.sources),
        "beetsplug path": list(beetsplug.__path__),
        "sys.path": list(sys.path),
        "cached item types": dict(cached_classproperty.cache),
    }


async def export_through_worker(client, task_queue: str, tmp_path) -> tuple[list[str], Library]:
    """A scheduled-style run: the worker evaluates `genre:House` on a real library and
    writes the playlist; returns the playlist's entries (sorted) and the library."""
    library = build_library(tmp_path / "library")
    target = tmp_path / "house.m3u8"
    request = SetRequest(
        name="house",
        library=LibrarySource(
            db=str(library.db), directory=str(library.music), query=["genre:House"]
        ),
        options=SetOptions(solver="greedy"),
        playlist=PlaylistTarget(path=str(target)),
    )
    handle = await start_set(client, request, task_queue=task_queue)
    await wait_for_result(handle)
    return sorted(entries(target.read_text(encoding="utf-8"))), library


async def test_worker_in_a_program_without_plugins_loads_none(
    temporal_client, djset_worker, task_queue, tmp_path, monkeypatch
):
    """A program that uses beets without plugins (here: pytest's process with none
    loaded): the export runs on its beets and loads neither config nor plugins."""
    monkeypatch.setattr(beets.plugins, "_instances", [])  # no plugin loaded in this process
    before = beets_globals()
    kept, library = await export_through_worker(temporal_client, task_queue, tmp_path)
    assert kept == [library.path_of(name) for name in HOUSE]
    assert beets.plugins._instances == []
    assert_same_beets(before, beets_globals())


class TestWorkerInsideBeet(PluginMixin, TestHelper):
    """As inside `beet`: beets configured by the program (beets' own test helpers: temp
    BEETSDIR, the djset plugin loaded). The worker's export keeps that configuration and
    those plugin instances."""

    plugin = "djset"

    async def test_export_keeps_the_programs_beets(
        self, temporal_client, djset_worker, task_queue, tmp_path
    ):
        loaded = list(beets.plugins._instances)
        assert [p.name for p in loaded] == ["djset"]
        before = beets_globals()
        kept, library = await export_through_worker(temporal_client, task_queue, tmp_path)
        assert kept == [library.path_of(name) for name in HOUSE]
        assert beets.plugins._instances == loaded
        assert_same_beets(before, beets_globals())


def assert_same_beets(before: dict, after: dict) -> None:
    """Equal, except that beets may have added entries to its cache of item types (any
    Library.items fills it on first use); the entries that were there are unchanged."""
    cached_before, cached_after = before.pop("cached item types"), after.pop("cached item types")
    assert {key: cached_after.get(key) for key in cached_before} == cached_before
    assert after == before
