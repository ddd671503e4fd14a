"""`beet djset` end to end: the real `beet` command line (a subprocess of .venv/bin/beet), a
real beets library in a temp dir with generated MP3/FLAC/M4A files imported by
`beet import`, and the session's real Temporal dev server with an in-process worker.

Every run also checks that the library database and the audio files are byte-for-byte
unchanged (and keep their mtimes).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import uuid

import pytest
from audiofiles import make_audio_file
from beets.exceptions import UserError
from beets.library import Item
from beets.test.helper import PluginMixin, TestHelper
from beets.util import cached_classproperty
from beets_helpers import (
    BEET,
    LIBRARY,
    USABLE,
    Library,
    assert_one_line_error,
    beet,
    beet_command,
    build_library,
    clean_env,
    entries,
    read_only,
    server_config,
)

from djcurator_core.core.models import load_tracks
from djcurator_core.pipeline.server.dev_server import free_port
from djcurator_core.pipeline.sets.client import fetch_result
from djcurator_core.pipeline.sets.set_activities import SEQUENCE_DELAY_ENV

pytestmark = pytest.mark.temporal


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Library:
    """Files generated and tagged in each convention, imported with `beet import -A -C`."""
    lib = build_library(tmp_path_factory.mktemp("beets"))
    # A value set in the library only (-W: not written to the file) beats the file's tag.
    subprocess.run(
        [BEET, "modify", "-y", "-W", "title:Drift", "energy=9.5"], env=clean_env(lib), check=True,
        capture_output=True,
    )  # fmt: skip
    return lib


# --- the happy paths ---------------------------------------------------------------------


async def test_playlist_from_configured_server(
    library, temporal_server, temporal_client, task_queue, djset_worker, tmp_path
):
    config = server_config(temporal_server, task_queue, tmp_path)
    run = await beet(library, "djset", "-n", "Friday Set", "album:Set", config=config)
    assert run.code == 0, run.stderr
    playlist = tmp_path / "Friday Set.m3u8"
    assert run.stdout.strip() == f"wrote {playlist} ({len(USABLE)} tracks)"
    assert "left out 2 of 9 tracks without BPM, key or file" in run.stderr
    assert "completed" in run.stderr  # progress from the workflow's query

    text = playlist.read_text(encoding="utf-8")
    lines = text.splitlines()
    assert lines[:3] == ["#EXTM3U", "#PLAYLIST:Friday Set", "# query: album:Set"]
    workflow_id = next(line for line in lines if line.startswith("# workflow: ")).split()[-1]
    result = await fetch_result(temporal_client, workflow_id)

    # one entry per usable track, in the workflow's order, absolute paths that exist
    assert entries(text) == [track.path for track in result.tracks]
    assert sorted(entries(text)) == sorted(library.path_of(name) for name in USABLE)
    assert all(os.path.isabs(path) and os.path.exists(path) for path in entries(text))
    assert f"# {len(USABLE)} tracks, " in text
    assert f"{result.summary.improvement_over_greedy_pct:.1f}% better than greedy" in text
    for t in result.transitions:
        assert f"# {t.sentence}" in lines
        assert any(line.startswith(f"# {t.position} -> {t.position + 1}: key ") for line in lines)
    assert not [line for line in lines if line.startswith("#EXT") and
                not line.startswith(("#EXTM3U", "#EXTINF:"))]  # fmt: skip

    # the raw tags won over what beets made of them
    by_title = {track.title: track for track in result.tracks}
    assert (by_title["Sodium"].bpm, by_title["Sodium"].key) == (127.6, "11A")  # beets: 127, Fm
    assert (by_title["Glass"].bpm, by_title["Glass"].key) == (124.5, "8A")  # KEY field only
    assert (by_title["Tide"].key, by_title["Tide"].energy) == ("8A", 5.0)  # Open Key, comment
    assert (by_title["Lattice"].key, by_title["Lattice"].energy) == ("12A", 6.0)
    assert by_title["Drift"].energy == 9.5  # the library's flexible field beats the tag
    extinf = lines[lines.index(by_title["Ünïcode Dub"].path) - 1]
    assert extinf == "#EXTINF:1,Kaiho - Ünïcode Dub"


async def test_relative_paths_with_forward_slashes(
    library, temporal_server, task_queue, djset_worker, tmp_path
):
    playlists = tmp_path / "lists"
    config = server_config(
        temporal_server, task_queue, playlists, "relative_to: playlist\nforward_slash: yes\n"
    )
    run = await beet(library, "djset", "genre:Techno", config=config)
    assert run.code == 0, run.stderr
    text = (playlists / "genre-Techno.m3u8").read_text(encoding="utf-8")
    paths = entries(text)
    assert len(paths) == 3
    for path in paths:
        assert path.startswith("../") and "\\" not in path
        assert (playlists / path).resolve().exists()  # as Mixxx resolves it

    run = await beet(
        library, "djset", "genre:Techno", "--relative-to", "library", "--format", "m3u8",
        config=config,
    )  # fmt: skip
    assert run.code == 0, run.stderr
    paths = entries((playlists / "genre-Techno.m3u8").read_text(encoding="utf-8"))
    assert sorted(paths) == ["04 Lattice.mp3", "05 Ünïcode Dub.flac", "06 Red Channel.m4a"]


async def test_json_output_and_print(library, temporal_server, task_queue, djset_worker, tmp_path):
    config = server_config(temporal_server, task_queue, tmp_path)
    run = await beet(library, "djset", "--format", "json", "genre:House", config=config)
    assert run.code == 0, run.stderr
    document = json.loads((tmp_path / "genre-House.json").read_text(encoding="utf-8"))
    assert (document["name"], document["query"]) == ("genre-House", "genre:House")
    assert len(document["order"]) == 4 and len(document["transitions"]) == 3

    run = await beet(library, "djset", "--print", "genre:House", config=config)
    assert run.code == 0, run.stderr
    assert run.stdout.startswith("4 tracks, ")
    run = await beet(library, "djset", "--print", "--format", "json", "genre:House", config=config)
    assert run.code == 0, run.stderr
    assert json.loads(run.stdout)["summary"]["track_count"] == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["genre-House.json"]  # nothing new


async def test_scoring_weights_from_config(
    library, temporal_server, task_queue, djset_worker, tmp_path
):
    """Only the harmonic part counts: every transition's score is its harmonic score."""

    def with_scoring(weights: str) -> str:
        return server_config(temporal_server, task_queue, tmp_path, f"scoring: {{{weights}}}\n")

    config = with_scoring("harmonic_weight: 1, tempo_weight: 0, energy_weight: 0")
    run = await beet(library, "djset", "--print", "--format", "json", "album:Set", config=config)
    assert run.code == 0, run.stderr
    transitions = json.loads(run.stdout)["transitions"]
    assert len(transitions) == len(USABLE) - 1
    assert all(t["score"] == pytest.approx(t["harmonic"]) for t in transitions)
    assert any(t["tempo"] != pytest.approx(t["harmonic"]) for t in transitions)

    run = await beet(library, "djset", "album:Set", config=with_scoring("harmonic_weight: -1"))
    assert_one_line_error(run, "djset.scoring: field 'harmonic_weight': Input should be")
    run = await beet(library, "djset", "--count", "0", "album:Set", config=config)
    assert_one_line_error(run, "set options: field 'count': Input should be greater than 0")
    # Refused before any server starts (no traceback, no retries on a worker).
    zero = with_scoring("harmonic_weight: 0, tempo_weight: 0, energy_weight: 0")
    run = await beet(library, "djset", "album:Set", config=zero)
    assert_one_line_error(run, "djset.scoring: field 'weights': ")
    assert "at least one of harmonic_weight" in run.errors[0]
    run = await beet(
        library, "djset", "--count", "3", "--duration", "1h", "album:Set", config=config
    )
    assert_one_line_error(run, "set options: field 'duration': give --count or --duration")


async def test_set_length_on_the_command_line_replaces_the_configured_one(
    library, temporal_server, task_queue, djset_worker, tmp_path
):
    config = server_config(temporal_server, task_queue, tmp_path, "set: {duration: 1h}\n")
    run = await beet(
        library, "djset", "--print", "--format", "json", "--count", "2", "album:Set",
        config=config,
    )  # fmt: skip
    assert run.code == 0, run.stderr
    assert len(json.loads(run.stdout)["order"]) == 2
    config = server_config(temporal_server, task_queue, tmp_path, "set: {count: 2}\n")
    run = await beet(
        library, "djset", "--print", "--format", "json", "--duration", "1h", "album:Set",
        config=config,
    )  # fmt: skip
    assert run.code == 0, run.stderr
    assert len(json.loads(run.stdout)["order"]) > 2


async def test_pinned_ends_and_set_options(
    library, temporal_server, task_queue, djset_worker, tmp_path
):
    config = server_config(temporal_server, task_queue, tmp_path)
    run = await beet(
        library, "djset", "--start", "title:Tide", "--end", "artist:Varga", "--seed", "3",
        "--energy-arc", "rise", "album:Set", config=config,
    )  # fmt: skip
    assert run.code == 0, run.stderr
    paths = entries((tmp_path / "album-Set.m3u8").read_text(encoding="utf-8"))
    assert paths[0] == library.path_of("03 Tide.m4a")
    assert paths[-1] == library.path_of("06 Red Channel.m4a")


async def test_no_wait_then_collect(library, temporal_server, task_queue, djset_worker, tmp_path):
    config = server_config(temporal_server, task_queue, tmp_path)
    run = await beet(library, "djset", "--no-wait", "-n", "later", "genre:Techno", config=config)
    assert run.code == 0, run.stderr
    workflow_id = run.stdout.strip()
    assert workflow_id.startswith("djset-later")
    assert f"beet djset --collect {workflow_id} -n later" in run.stderr
    run = await beet(library, "djset", "--collect", workflow_id, "-n", "later", config=config)
    assert run.code == 0, run.stderr
    text = (tmp_path / "later.m3u8").read_text(encoding="utf-8")
    assert len(entries(text)) == 3 and f"# workflow: {workflow_id}" in text

    # Without -n the playlist takes the set's own name, from the run's request (the
    # workflow id of "Late Night" carries a hash, so it cannot be read back from the id).
    run = await beet(library, "djset", "--no-wait", "-n", "Late Night", "genre:Techno",
                     config=config)  # fmt: skip
    assert run.code == 0, run.stderr
    workflow_id = run.stdout.strip()
    assert workflow_id.startswith("djset-late-night-")
    run = await beet(library, "djset", "--collect", workflow_id, config=config)
    assert run.code == 0, run.stderr
    assert run.stdout.strip() == f"wrote {tmp_path / 'Late Night.m3u8'} (3 tracks)"
    text = (tmp_path / "Late Night.m3u8").read_text(encoding="utf-8")
    assert text.startswith("#EXTM3U\n#PLAYLIST:Late Night\n")


async def test_embedded_server_when_nothing_is_configured(library, tmp_path):
    """No beets or Temporal configuration: the plugin runs its own server and worker, and
    the process leaves with status 0 (the deliberate exit after Temporal work)."""
    run = await beet(
        library,
        "djset",
        "genre:Techno",
        config=f"djset:\n  playlist_dir: {tmp_path}\n",
        env={SEQUENCE_DELAY_ENV: "1.5"},  # slow the in-process worker down a little
    )
    assert run.code == 0, run.stderr
    assert "starting an embedded one" in run.stderr
    assert "djset: step 2/3: sequencing_tracks (3 tracks)" in run.stderr  # progress shown
    assert len(entries((tmp_path / "genre-Techno.m3u8").read_text(encoding="utf-8"))) == 3


async def test_interrupted_wait_can_be_collected_later(
    library, temporal_server, task_queue, djset_worker, tmp_path, monkeypatch
):
    """Ctrl-C while waiting: exit 130, no playlist, the id to collect; the workflow goes
    on on the server and --collect writes its playlist afterwards."""
    monkeypatch.setenv(SEQUENCE_DELAY_ENV, "2")  # read by the activity in this process
    config = server_config(temporal_server, task_queue, tmp_path)
    process = await asyncio.create_subprocess_exec(
        *beet_command(library, config), "djset", "-n", "interrupted", "genre:Techno",
        env=clean_env(library), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    seen = b""
    while b"started workflow" not in seen:
        line = await asyncio.wait_for(process.stderr.readline(), 60)
        assert line, seen.decode()
        seen += line
    process.send_signal(signal.SIGINT)
    _, rest = await asyncio.wait_for(process.communicate(), 60)
    stderr = (seen + rest).decode()
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert "`beet djset --collect djset-interrupted` writes its playlist later" in stderr
    assert list(tmp_path.iterdir()) == []

    run = await beet(library, "djset", "--collect", "djset-interrupted", "-n", "interrupted",
                     config=config)  # fmt: skip
    assert run.code == 0, run.stderr
    assert len(entries((tmp_path / "interrupted.m3u8").read_text(encoding="utf-8"))) == 3


async def test_damaged_audio_file_keeps_the_library_values(
    tmp_path_factory, temporal_server, temporal_client, task_queue, djset_worker, tmp_path
):
    """A file cut short after the import (mutagen's error has no message): one warning
    naming it, the track keeps beets' BPM and key, the playlist is written, exit 0, and
    the damaged file is left exactly as it was (`beet` checks the files)."""
    names = ["04 Lattice.mp3", "05 Ünïcode Dub.flac", "06 Red Channel.m4a"]
    lib = build_library(tmp_path_factory.mktemp("damaged"), {n: LIBRARY[n] for n in names})
    damaged = lib.music / names[0]
    damaged.write_bytes(damaged.read_bytes()[:100])
    run = await beet(lib, "djset", "-n", "damaged", config=server_config(
        temporal_server, task_queue, tmp_path))  # fmt: skip
    assert run.code == 0, run.stderr
    assert "Traceback" not in run.stderr
    warnings = [line for line in run.stderr.splitlines() if "cannot read tags" in line]
    assert len(warnings) == 1, run.stderr
    assert f"Tessellate - Lattice: {damaged}: cannot read tags (" in warnings[0]
    assert warnings[0].endswith("; using the library's values")
    assert damaged.stat().st_size == 100
    text = (tmp_path / "damaged.m3u8").read_text(encoding="utf-8")
    assert sorted(entries(text)) == sorted(lib.path_of(n) for n in names)
    workflow_id = next(line for line in text.splitlines() if line.startswith("# workflow: "))
    result = await fetch_result(temporal_client, workflow_id.split()[-1])
    lattice = next(track for track in result.tracks if track.title == "Lattice")
    # beets' values: its "Cm" for the tag's "Db minor" (12A when the file is readable), and
    # no energy (it was only in the file's comment)
    assert (lattice.bpm, lattice.key, lattice.energy) == (126.0, "5A", None)


async def test_export_writes_tracks_enriched(library, tmp_path):
    target = tmp_path / "tracks.json"
    run = await beet(library, "djset", "--export", str(target), "album:Set")
    assert run.code == 0, run.stderr
    tracks = load_tracks(target)
    assert sorted(t.path for t in tracks) == sorted(library.path_of(n) for n in USABLE)
    assert {t.title: t.key for t in tracks}["Sodium"] == "11A"
    run = await beet(library, "djset", "--export", "-", "--keep-incomplete", "album:Set")
    assert len(json.loads(run.stdout)["tracks"]) == len(LIBRARY)


async def test_verbose_lists_each_left_out_track(library, tmp_path):
    run = await beet(library, "-v", "djset", "--export", str(tmp_path / "t.json"), "album:Set")
    assert run.code == 0, run.stderr
    assert f"left out Halden - No Tempo ({library.path_of('08 No Tempo.mp3')}): no BPM" in (
        run.stderr
    )
    assert "left out Halden - No Key" in run.stderr


async def test_energy_is_a_numeric_field(library):
    run = await beet(library, "ls", "-f", "$title $energy", "energy:9..10")
    assert run.stdout.splitlines() == ["Drift 9.5"]  # a range query, not a substring one


# --- bad input: one line, exit 1, nothing written ----------------------------------------


async def test_query_matching_nothing(library, tmp_path):
    run = await beet(library, "djset", "title:nothing-like-this")
    assert_one_line_error(run, "error: no tracks match the query title:nothing-like-this")


async def test_no_usable_tracks(library):
    run = await beet(library, "djset", "genre:Ambient")
    assert_one_line_error(
        run, "none of the 2 tracks matching genre:Ambient has a file, BPM and key"
    )


async def test_pin_query_must_match_one_track(library):
    run = await beet(library, "djset", "--start", "genre:Ambient", "album:Set")
    assert_one_line_error(run, "--start 'genre:Ambient' matches none of the set's tracks")
    run = await beet(library, "djset", "--end", "genre:House", "album:Set")
    assert_one_line_error(run, "--end 'genre:House' matches 4 of the set's tracks")


async def test_same_track_at_both_ends_is_refused_at_once(library, tmp_path):
    """Refused before any Temporal server (here: the embedded one) starts."""
    run = await beet(
        library, "djset", "--start", "title:Tide", "--end", "artist:Kessel", "album:Set",
        config=f"djset:\n  playlist_dir: {tmp_path}\n",
    )  # fmt: skip
    assert_one_line_error(
        run, "--start 'title:Tide' and --end 'artist:Kessel' match the same track (Kessel - Tide)"
    )
    assert "embedded" not in run.stderr and "workflow" not in run.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("config", "env", "named"),
    [
        ("api_key: secret", {}, "api_key, tls"),
        ("namespace: night", {}, "namespace"),
        ("", {"TEMPORAL_NAMESPACE": "night"}, "namespace"),
    ],
)
async def test_temporal_settings_without_an_address_are_an_error(
    library, tmp_path, config, env, named
):
    """An API key or namespace meant for a remote server must not silently run on the
    embedded server (which knows neither)."""
    overlay = f"djset:\n  playlist_dir: {tmp_path}\n" + (
        f"  temporal: {{{config}}}\n" if config else ""
    )
    run = await beet(library, "djset", "genre:Techno", config=overlay, env=env)
    assert_one_line_error(run, f"Temporal settings ({named}) but no server address")
    assert "starting an embedded one" not in run.stderr
    assert list(tmp_path.iterdir()) == []


async def test_broken_temporal_config_file_is_one_line(library, tmp_path):
    broken = tmp_path / "temporal.toml"
    broken.write_text("[profile.default\naddress = \n", encoding="utf-8")
    run = await beet(library, "djset", "genre:Techno", env={"TEMPORAL_CONFIG_FILE": str(broken)})
    assert_one_line_error(run, "Temporal configuration: ")


async def test_unwritable_playlist_folder_keeps_the_old_playlist(library, tmp_path):
    old = tmp_path / "genre-Techno.m3u8"
    old.write_text("#EXTM3U\n/old/entry.mp3\n", encoding="utf-8")
    with read_only(tmp_path):
        run = await beet(
            library, "djset", "genre:Techno", config=f"djset:\n  playlist_dir: {tmp_path}\n"
        )
    assert_one_line_error(run, f"cannot write playlists in {tmp_path}")
    assert old.read_text(encoding="utf-8") == "#EXTM3U\n/old/entry.mp3\n"
    assert [p.name for p in tmp_path.iterdir()] == ["genre-Techno.m3u8"]


async def test_playlist_folder_that_cannot_exist(library, tmp_path):
    """Works for every user, root included: the folder's parent is a file."""
    (tmp_path / "file").write_text("")
    config = f"djset:\n  playlist_dir: {tmp_path / 'file' / 'lists'}\n"
    run = await beet(library, "djset", "genre:Techno", config=config)
    assert_one_line_error(run, f"cannot write playlists in {tmp_path / 'file' / 'lists'}")
    assert [p.name for p in tmp_path.iterdir()] == ["file"]


async def test_server_address_where_nothing_listens(library, tmp_path):
    address = f"127.0.0.1:{free_port()}"
    config = f"djset:\n  playlist_dir: {tmp_path}\n  temporal:\n    address: {address}\n"
    run = await beet(library, "djset", "genre:Techno", config=config)
    assert_one_line_error(run, f"cannot reach the Temporal server at {address}")
    assert list(tmp_path.iterdir()) == []


async def test_no_worker_polling(library, temporal_server, tmp_path):
    config = server_config(temporal_server, f"nobody-{uuid.uuid4().hex[:8]}", tmp_path)
    run = await beet(library, "djset", "genre:Techno", config=config)
    assert_one_line_error(run, "no worker polls task queue 'nobody-")
    assert list(tmp_path.iterdir()) == []


async def test_failing_workflow(library, temporal_server, task_queue, djset_worker, tmp_path):
    old = tmp_path / "genre-Techno.m3u8"
    old.write_text("#EXTM3U\n", encoding="utf-8")
    config = server_config(temporal_server, task_queue, tmp_path)
    run = await beet(library, "djset", "--solver", "no-such-solver", "genre:Techno", config=config)
    assert_one_line_error(
        run, "failed in sequence_tracks_activity: SequencingError: unknown solver"
    )
    assert old.read_text(encoding="utf-8") == "#EXTM3U\n"


async def test_conflicting_options(library):
    run = await beet(library, "djset", "--collect", "djset-x", "genre:Techno")
    assert_one_line_error(run, "--collect takes a workflow id and no query")
    run = await beet(library, "djset", "--collect", "djset-x", "--export", "t.json")
    assert_one_line_error(run, "--collect and --export cannot be combined")
    run = await beet(library, "djset", "--no-wait", "genre:Techno")
    assert_one_line_error(run, "--no-wait needs a configured Temporal server")


# --- in-process, as another program embedding beets would run it -------------------------


class TestInProcess(PluginMixin, TestHelper):
    """beets' own test helpers (in-memory library, temp BEETSDIR/HOME): the command runs
    inside this process, so errors come back as exceptions and nothing calls os._exit."""

    plugin = "djset"

    @pytest.fixture(autouse=True)
    def _fresh_item_types(self, monkeypatch):
        # Item._types is cached per class: without this the plugin's `energy` type is
        # silently ignored when an earlier test already looked the types up.
        for name in [k for k in os.environ if k.startswith("TEMPORAL_")]:
            monkeypatch.delenv(name)
        cached_classproperty.cache.clear()
        yield
        cached_classproperty.cache.clear()

    def test_print_energy_range_and_errors(self, capsys):
        for name in ("04 Lattice.mp3", "05 Ünïcode Dub.flac", "06 Red Channel.m4a"):
            path = make_audio_file(self.temp_path / "music" / name, LIBRARY[name])
            item = Item.from_path(str(path))
            if name.startswith("06"):
                item["energy"] = 7.5
            self.lib.add(item)
        assert [i.title for i in self.lib.items("energy:7..8")] == ["Red Channel"]

        self.run_command("djset", "--print", "genre:Techno")
        out = capsys.readouterr().out
        assert out.startswith("3 tracks, ")
        assert "Varga - Red Channel  [9A | 128 BPM | energy 7.5]" in out

        with pytest.raises(UserError, match="no tracks match the query title:nothing"):
            self.run_command("djset", "title:nothing")
        with pytest.raises(UserError, match="failed in sequence_tracks_activity"):
            self.run_command("djset", "--print", "--solver", "nope", "genre:Techno")

    def test_missing_file_is_left_out(self):
        kept = make_audio_file(self.temp_path / "music" / "kept.mp3", LIBRARY["04 Lattice.mp3"])
        gone = make_audio_file(self.temp_path / "music" / "gone.mp3", LIBRARY["07 Drift.mp3"])
        for path in (kept, gone):
            self.lib.add(Item.from_path(str(path)))
        gone.unlink()
        target = self.temp_path / "tracks.json"
        self.run_command("djset", "--export", str(target))
        assert [t.path for t in load_tracks(target)] == [str(kept)]


# --- the plugin module itself --------------------------------------------------------------


def test_set_options_are_defined_once():
    """Every SetOptions field has one flag (set_option_flags), whose default is the
    model's: the CLI, the plugin and its config all build on that table."""
    from djcurator_core.cli import build_parser
    from djcurator_core.core.options.set_option_flags import DEFAULTS, SET_OPTION_FLAGS
    from djcurator_core.core.options.set_options import SetOptions

    assert {flag.name for flag in SET_OPTION_FLAGS} == set(SetOptions.model_fields) - {"scoring"}
    assert SetOptions().model_dump(exclude={"scoring"}) == DEFAULTS
    help_text = build_parser()._subparsers._group_actions[0].choices["sequence"].format_help()
    assert all(flag.flag in help_text for flag in SET_OPTION_FLAGS)


def test_loading_the_plugin_does_not_load_the_core():
    """beets loads enabled plugins for every command: `beet ls` must not pay for numpy,
    numba, pydantic or the Temporal SDK. Only the light flag table is loaded."""
    code = (
        "import sys, beetsplug.djset; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('numpy', 'numba', "
        "'pydantic', 'temporalio', 'djcurator_core')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == str(
        [
            "djcurator_core",
            "djcurator_core.core",
            "djcurator_core.core.options",
            "djcurator_core.core.options.set_option_flags",
        ]
    )


async def test_collect_unknown_workflow(library, temporal_server, tmp_path):
    config = server_config(temporal_server, "djset", tmp_path)
    run = await beet(library, "djset", "--collect", "djset-never-started", config=config)
    assert_one_line_error(run, "no set workflow with id 'djset-never-started'")
    assert list(tmp_path.iterdir()) == []


async def test_dj_rule_options(library, temporal_server, task_queue, djset_worker, tmp_path):
    """Issue 11's options on `beet djset`: --include QUERY, --count auto, --artist-gap,
    --harmonic, and their bad input as one line, exit 1, nothing written."""
    config = server_config(temporal_server, task_queue, tmp_path)
    run = await beet(
        library, "djset", "--print", "--format", "json", "--count", "3", "--include",
        "title:Drift", "--harmonic", "moderate", "--artist-gap", "2", "album:Set",
        config=config,
    )  # fmt: skip
    assert run.code == 0, run.stderr
    result = json.loads(run.stdout)
    assert len(result["order"]) == 3
    assert "Drift" in [t["title"] for t in result["tracks"]]
    summary = result["summary"]
    assert {"mixable_share", "compatible_share", "boosts", "smallest_artist_gap"} <= set(summary)

    run = await beet(
        library, "djset", "--print", "--format", "json", "--count", "auto", "album:Set",
        config=config,
    )  # fmt: skip
    assert run.code == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["notes"][0].startswith("count auto: ")
    assert all(t["mixable"] for t in result["transitions"])

    for args, expected in (
        (["--artist-gap", "-1"], "field 'artist_gap': Input should be greater than or equal"),
        (["--max-boosts", "x"], "field 'max_boosts': Input should be a valid integer"),
        (["--count", "3", "--include", "title:Nowhere"], "--include 'title:Nowhere' matches"),
        (["--count", "auto", "--duration", "1h"], "--count auto finds the length itself"),
        (["--harmonic", "loose"], "field 'harmonic': Input should be 'strict', 'moderate' or"),
    ):
        run = await beet(library, "djset", *args, "album:Set", config=config)
        assert_one_line_error(run, expected)
    assert list(tmp_path.glob("*.m3u8")) == []  # nothing written
