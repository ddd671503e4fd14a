"""A large export's two shortcuts give the same result as the plain way: stored rows instead
of beets Items (files/beets_items.py), and files read by a pool of processes
(files/tagging/tag_batch.py)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from audiofiles import DJTagSpec, make_audio_file
from beets_helpers import LIBRARY, build_library, clean_env

from djcurator_core.files.beets_items import EXPORT_FIELDS
from djcurator_core.files.tagging import tag_batch
from djcurator_core.files.tagging.tag_cache import TagCache
from djcurator_core.files.tagging.tags import DJTags, NotAPlainFile, TagReadError, read_dj_tags

# Run under the library's beets config (plugins loaded as in `beet`): for each query, the
# kind of item matching_items gives, whether every export field reads the same as on
# beets' Item, and whether the exports are equal.
COMPARE = textwrap.dedent(
    """
    import json, sys
    from beets.library import Library
    from djcurator_core.files.beets_items import EXPORT_FIELDS, matching_items
    from djcurator_core.files.export import export_items
    from djcurator_core.pipeline.beets_library import (
        configure_beets_on_first_use,
        prepare_beets,
    )

    configure_beets_on_first_use()  # this process is beets' own, as in djset-worker
    prepare_beets()
    lib = Library(sys.argv[1], sys.argv[2])
    report = {}
    for query in json.loads(sys.argv[3]):
        fast, items = matching_items(lib, query), list(lib.items(query))
        fields = [
            [repr(f.get(name, None, with_album=False)), repr(i.get(name, None, with_album=False))]
            for f, i in zip(fast, items) for name in EXPORT_FIELDS
        ]
        report[" ".join(query)] = {
            "kind": sorted({type(item).__name__ for item in fast}),
            "count": [len(fast), len(items)],
            "differing": [pair for pair in fields if pair[0] != pair[1]],
            "fields_read": len(fields),
            "same_export": export_items(fast) == export_items(items),
            "tracks": len(export_items(fast).tracks),
        }
    print(json.dumps(report))
    """
)
QUERIES = [[], ["genre:House"], ["energy:6..8"], ["bpm:120..126"], ["has_cover_art:false"]]


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    lib = build_library(tmp_path_factory.mktemp("fast-export"), LIBRARY)
    with sqlite3.connect(lib.db) as db:  # flexible fields as `beet modify` stores them
        ids = [row[0] for row in db.execute("SELECT id FROM items ORDER BY id")]
        db.executemany(
            "INSERT INTO item_attributes (entity_id, key, value) VALUES (?, ?, ?)",
            [
                (ids[0], "energy", "7"),
                (ids[1], "energy", "6.5"),
                (ids[2], "bpm_precise", "126.4"),
                (ids[3], "BPM_Precise", "125.7"),  # a flexible field's case is kept
            ],
        )
    return lib


def test_stored_rows_read_like_beets_items(library, tmp_path: Path):
    env = {**clean_env(library), "DJSET_TAG_CACHE": str(tmp_path / "tags.sqlite3")}
    done = subprocess.run(
        [sys.executable, "-c", COMPARE, str(library.db), str(library.music), json.dumps(QUERIES)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    for query, seen in report.items():
        assert seen["differing"] == [], query
        assert seen["same_export"], query
        assert seen["count"][0] == seen["count"][1], query
    assert report[""]["kind"] == ["StoredItem"] and report[""]["count"] == [9, 9]
    assert report[""]["fields_read"] == 9 * len(EXPORT_FIELDS)
    assert report["genre:House"]["count"][0] == 4
    assert report["energy:6..8"]["count"][0] == 2  # the plugin's FLOAT type, in SQL
    # has_cover_art is computed in Python (beets filters its Items itself): Items come back
    assert report["has_cover_art:false"]["kind"] == ["Item"]
    assert report["has_cover_art:false"]["count"] == [9, 9]
    assert report[""]["tracks"] == 7


@pytest.fixture
def files(tmp_path: Path) -> list[str]:
    """Real files in each format, and the cases a reader must refuse or report."""
    made = []
    for index in range(9):
        suffix = ("mp3", "flac", "m4a")[index % 3]
        spec = DJTagSpec(bpm=f"{120 + index}.25", key=("F# minor", "8A", "1m")[index % 3])
        made.append(str(make_audio_file(tmp_path / f"t{index}.{suffix}", spec, seconds=0.2)))
    fifo = tmp_path / "fifo.mp3"
    os.mkfifo(fifo)
    damaged = tmp_path / "damaged.flac"
    damaged.write_bytes(Path(made[1]).read_bytes()[:60])
    return [*made, str(fifo), str(damaged), str(tmp_path / "missing.m4a"), made[0]]


def outcome(read, path: str):
    try:
        return read(path)
    except TagReadError as exc:
        return type(exc).__name__, str(exc)


@pytest.mark.skipif(tag_batch.processes() < 2, reason="a pool needs two cores")
def test_a_pool_of_processes_reads_what_one_process_reads(files: list[str], tmp_path: Path):
    with TagCache(tmp_path / "tags.sqlite3") as cache:
        read = tag_batch.read_many(files, cache, pool_min=1)
    assert read.read_in_pool == len(files) - 1 and read.read_here == 0  # one path twice
    assert [outcome(read, p) for p in files] == [outcome(read_dj_tags, p) for p in files]
    assert outcome(read, files[9])[0] == NotAPlainFile.__name__  # refused, never blocked
    assert outcome(read, files[10])[0] == TagReadError.__name__
    assert read(files[1]) == DJTags(bpm=121.25, key="8A")
    with TagCache(tmp_path / "tags.sqlite3") as cache:  # only the good files were kept
        again = tag_batch.read_many(files, cache, pool_min=1)
        assert cache.hits == 9
    assert again.read_in_pool == 3 and [outcome(again, p) for p in files] == [
        outcome(read, p) for p in files
    ]


def test_few_files_are_read_in_this_process(files: list[str], tmp_path: Path):
    with TagCache(None) as cache:  # no cache at all
        read = tag_batch.read_many(files, cache)
    assert (read.read_in_pool, read.read_here) == (0, len(files) - 1)
    assert [outcome(read, p) for p in files] == [outcome(read_dj_tags, p) for p in files]


# Reads `count` hard links to the files given, in a pool, until interrupted; says how it
# ended. Started in a session of its own so that the test can Ctrl-C its process group.
INTERRUPTED = textwrap.dedent(
    """
    import os, signal, sys, time
    signal.signal(signal.SIGINT, signal.default_int_handler)
    from djcurator_core.files.tagging import tag_batch
    from djcurator_core.files.tagging.tag_cache import TagCache

    folder, count, files = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    paths = []
    for index in range(count):
        path = os.path.join(folder, f"{index}-" + os.path.basename(files[index % len(files)]))
        os.link(files[index % len(files)], path)
        paths.append(path)
    print("reading", flush=True)
    try:
        with TagCache(None) as cache:
            tag_batch.read_many(paths, cache, pool_min=1)
        print("finished", flush=True)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
    """
)


@pytest.mark.skipif(tag_batch.processes() < 2, reason="a pool needs two cores")
def test_ctrl_c_stops_the_pool_at_once_without_tracebacks(files: list[str], tmp_path: Path):
    links = tmp_path / "links"
    links.mkdir()
    process = subprocess.Popen(
        [sys.executable, "-c", INTERRUPTED, str(links), "60000", *files[:9]],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "reading"
    # Ctrl-C as soon as the pool's processes exist: they may still be starting (importing),
    # which on a busy machine lasts seconds, and must end quietly then too.
    deadline = time.monotonic() + 120
    children: list[str] = []
    while len(children) < 2 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
        children = subprocess.run(
            ["pgrep", "-P", str(process.pid)], capture_output=True, text=True
        ).stdout.split()
    assert len(children) >= 2, "no pool running"
    os.killpg(process.pid, signal.SIGINT)  # Ctrl-C reaches the whole process group
    out, err = process.communicate(timeout=60)  # at once; the bound only stops a hang
    assert out.strip() == "interrupted", (out, err)
    assert "Traceback" not in err, err
    time.sleep(1.0)
    assert not [pid for pid in children if running(pid)], [
        Path(f"/proc/{pid}/cmdline").read_text() for pid in children if running(pid)
    ]


def running(pid: str) -> bool:
    """The process exists and is not a zombie waiting to be reaped."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
