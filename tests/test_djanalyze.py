"""`beet djanalyze` and `beet djset --analyze` through the real `beet` command, on real
encoded files of known tempo and key in a real beets library (embedded Temporal server,
analysis on the worker's process pool)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import textwrap
from pathlib import Path

import pytest
from analysis_helpers import EXPECTED, KNOWN, read_items, repoint_items, write_known_music
from audiofiles import DJTagSpec, encode_silence
from beets_helpers import Library, beet_command, clean_env, entries, import_music
from synth_music import TrackSpec

from djcurator_core.core.keys import parse_key
from djcurator_core.files.tagging.tags import read_dj_tags

pytestmark = pytest.mark.temporal


async def run_beet(library: Library, *args: str, config: str = "") -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *beet_command(library, config),
        *args,
        env=clean_env(library),
        cwd=library.root,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 240)
    return process.returncode, stdout.decode(), stderr.decode()


def library_items(library: Library) -> dict[str, dict]:
    return read_items(library.db)


def digests(folder: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.iterdir())
        if p.is_file()
    }


def analysed(item) -> tuple[float, str, float]:
    return float(item["bpm_precise"]), parse_key(item["initial_key"]).camelot, float(item["energy"])


@pytest.fixture(scope="module")
def known_library(tmp_path_factory) -> Library:
    """The known tracks, imported with no DJ tags at all."""
    root = tmp_path_factory.mktemp("djanalyze")
    write_known_music(root / "music")
    return import_music(root)


def fresh_copy(source: Library, target: Path) -> Library:
    shutil.copytree(source.root, target)
    library = Library(target, target / "music")
    repoint_items(library.db, library.music)  # the copy names the original's files
    config = (target / "config.yaml").read_text().replace(str(source.root), str(target))
    (target / "config.yaml").write_text(config)
    return library


async def test_djanalyze_fills_the_library_and_a_rerun_does_nothing(known_library, tmp_path):
    library = fresh_copy(known_library, tmp_path / "lib")
    before = digests(library.music)
    assert all(not i["bpm"] and not i["initial_key"] for i in library_items(library).values())

    code, out, err = await run_beet(library, "djanalyze")
    assert code == 0, err
    assert "Traceback" not in err
    assert f"analysed {len(KNOWN)}/{len(KNOWN)}" in err  # progress: done/total
    items = library_items(library)
    for name, (bpm, camelot) in EXPECTED.items():
        precise, key, energy = analysed(items[name])
        assert abs(precise / bpm - 1) < 0.01, (name, precise)
        assert items[name]["bpm"] == round(precise)
        assert key == camelot, name
        assert 1 <= energy <= 10
    assert digests(library.music) == before  # no -w: the files are untouched

    code, out, err = await run_beet(library, "djanalyze")
    assert code == 0, err
    assert "nothing to analyse" in out
    assert library_items(library)["dnb.mp3"]["mtime"] == items["dnb.mp3"]["mtime"]


async def test_bad_files_are_skipped_with_one_line_each(known_library, tmp_path):
    library = fresh_copy(known_library, tmp_path / "lib")
    music = library.music
    (music / "house.flac").write_bytes(b"")  # zero-length
    (music / "techno.ogg").write_bytes(os.urandom(8192))  # corrupt
    (music / "hiphop.m4a").unlink()
    os.mkfifo(music / "hiphop.m4a")  # a FIFO where a file was
    before = digests(music)
    code, out, err = await run_beet(library, "djanalyze")
    assert code == 0, err
    assert "Traceback" not in err
    for name in ("house.flac", "techno.ogg", "hiphop.m4a"):
        lines = [line for line in err.splitlines() if str(music / name) in line]
        assert len(lines) == 1, err
    items = library_items(library)
    assert items["dnb.mp3"]["bpm"] == 172
    assert all(not items[n]["bpm"] for n in ("house.flac", "techno.ogg", "hiphop.m4a"))
    assert digests(music) == before


async def test_user_values_stay_unless_forced_and_write_round_trips(tmp_path):
    music = {
        "tagged.mp3": (TrackSpec(bpm=126.0, tonic=0, minor=False, seconds=15, seed=2,
                                 progression=1), DJTagSpec(title="T", bpm="128.00", key="Am")),
        "plain.flac": KNOWN["dnb.mp3"][0:1] + (None,),
    }  # fmt: skip
    write_known_music(tmp_path / "music", music)
    encode_silence(tmp_path / "music" / "short.mp3", seconds=4.0)
    library = import_music(tmp_path)

    code, _, err = await run_beet(library, "djanalyze", "-w")
    assert code == 0, err
    assert sum("short.mp3" in line for line in err.splitlines()) == 1, err
    items = library_items(library)
    assert items["tagged.mp3"]["bpm"] == 128 and items["tagged.mp3"]["initial_key"] == "Am"
    tags = read_dj_tags(library.music / "tagged.mp3")
    assert tags.bpm == 128.0 and tags.key == "Am"  # the user's tags stay
    assert 1 <= tags.energy <= 10  # only the missing energy was written
    plain = read_dj_tags(library.music / "plain.flac")
    precise, camelot, energy = analysed(items["plain.flac"])
    assert plain.bpm == pytest.approx(precise, abs=0.005)
    assert parse_key(plain.key).camelot == camelot == "8A"
    assert plain.energy == energy

    code, _, err = await run_beet(library, "djanalyze", "--force", "-w", "title:T")
    assert code == 0, err
    forced = library_items(library)["tagged.mp3"]
    assert abs(forced["bpm"] - 126) <= 1 and parse_key(forced["initial_key"]).camelot == "8B"
    assert read_dj_tags(library.music / "tagged.mp3").bpm == pytest.approx(
        float(forced["bpm_precise"]), abs=0.005
    )


async def test_djset_analyze_makes_a_set_from_a_library_without_dj_tags(known_library, tmp_path):
    library = fresh_copy(known_library, tmp_path / "lib")
    playlists = tmp_path / "playlists"
    config = f"djset:\n  playlist_dir: {playlists}\n"
    code, out, err = await run_beet(library, "djset", "-n", "untagged", config=config)
    assert code != 0  # without analysis: no usable tracks

    code, out, err = await run_beet(library, "djset", "--analyze", "-n", "untagged", config=config)
    assert code == 0, err
    playlist = (playlists / "untagged.m3u8").read_text(encoding="utf-8")
    assert sorted(os.path.basename(e) for e in entries(playlist)) == sorted(KNOWN)


async def test_auto_analyses_on_import(tmp_path):
    write_known_music(tmp_path / "music", {"dnb.mp3": KNOWN["dnb.mp3"]})
    library = import_music(tmp_path, extra_config=textwrap.dedent(
        """\
        djset:
          analyze:
            auto: yes
        """
    ))  # fmt: skip
    precise, camelot, _ = analysed(library_items(library)["dnb.mp3"])
    assert abs(precise - 172) < 1 and camelot == "8A"


async def test_an_interrupted_run_resumes_without_redoing_finished_tracks(known_library, tmp_path):
    import re
    import signal
    import sqlite3

    library = fresh_copy(known_library, tmp_path / "lib")
    config = "djset:\n  analyze:\n    batch_size: 1\n    parallel_batches: 1\n"
    process = await asyncio.create_subprocess_exec(
        *beet_command(library, config),
        "djanalyze",
        env=clean_env(library),
        cwd=library.root,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )

    def stored() -> int:
        with sqlite3.connect(library.db) as db:
            return db.execute("select count(*) from items where bpm > 0").fetchone()[0]

    for _ in range(1200):  # until the first batch is in the library (2 min at most)
        if stored() or process.returncode is not None:
            break
        await asyncio.sleep(0.1)
    process.send_signal(signal.SIGINT)
    await asyncio.wait_for(process.communicate(), 60)
    kept = stored()
    assert kept >= 1, "the first batch should have been stored before the interrupt"

    code, out, err = await run_beet(library, "djanalyze", config=config)
    assert code == 0, err
    remaining = len(KNOWN) - kept
    if remaining:
        assert re.search(rf"analysed {remaining}/{remaining}\b", err), err
    else:
        assert "nothing to analyse" in out
    assert stored() == len(KNOWN)
