"""A cache of the DJ tags read from files, keyed by the file's identity and change stamps.

Exporting must read each file's own tags: beets keeps BPM as an integer and rewrites some
key spellings, so the library's values are lossy (files/export.py). Reading a file with
mutagen costs ~1 ms, which makes a 100,000-item export take minutes. But DJ libraries
change little between two sets, so the tags read are kept in a small SQLite file and
reused while the file is unchanged: same path, device, inode, size, mtime and ctime (in
nanoseconds; any write to the file, tags included, changes mtime and ctime). A cached
export stats each file and looks it up: ~20 us instead of ~1 ms.

Only regular files are cached; anything else goes to the reader, which refuses it as
before. A file the reader cannot read is not cached (its error repeats next time). The
cache is an optimisation only: if its database cannot be opened or written, tags are
read from the files as without it. Where: DJSET_TAG_CACHE (a file path, or "off"), else
the user cache folder (~/.cache/beets-djset/tags.sqlite3).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
from collections.abc import Callable, Sequence
from dataclasses import astuple
from pathlib import Path

from djcurator_core.files.tagging.tags import DJTags, read_dj_tags

CACHE_ENV = "DJSET_TAG_CACHE"
COMMIT_EVERY = 2_000  # new entries written per transaction
LOOKUP_BATCH = 500  # paths per query
# The table is named after its columns' version: a version that reads more tags uses a
# new table, so an older version sharing the file keeps its own (and its INSERTs still
# fit), and no migration has to lock a cache other processes are reading. Version 1,
# `tags`, had no structure.
TABLE = "tags_v2"
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    path TEXT PRIMARY KEY,
    stamp TEXT NOT NULL,
    bpm REAL, key TEXT, energy REAL, comment_key TEXT, structure TEXT
)
"""


def default_path() -> Path | None:
    configured = os.environ.get(CACHE_ENV)
    if configured:
        return None if configured.lower() == "off" else Path(configured).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "beets-djset" / "tags.sqlite3"


def _stamp(info: os.stat_result) -> str:
    return f"{info.st_dev}:{info.st_ino}:{info.st_size}:{info.st_mtime_ns}:{info.st_ctime_ns}"


class TagCache:
    """A tag reader backed by the cache; use as a context manager (commits on exit)."""

    def __init__(
        self,
        path: Path | None = None,
        reader: Callable[[str], DJTags] = read_dj_tags,
    ) -> None:
        self.reader = reader
        self.hits = 0
        self.misses = 0
        self._pending = 0
        self._db: sqlite3.Connection | None = None
        path = default_path() if path is None else path
        if path is not None:
            self._db = self._open(path)

    @staticmethod
    def _open(path: Path) -> sqlite3.Connection | None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(path, timeout=10, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(_SCHEMA)
            db.commit()
            return db
        except (sqlite3.Error, OSError):
            return None  # no cache: read every file

    def __enter__(self) -> TagCache:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        if self._db is not None:
            with contextlib.suppress(sqlite3.Error):
                self._db.commit()
                self._db.close()
            self._db = None

    def __call__(self, path: str) -> DJTags:
        tags, stamp = self.lookup(path)
        if tags is not None:
            return tags
        tags = self.reader(path)
        if stamp is not None:
            self.remember(path, stamp, tags)
        return tags

    def lookup(self, path: str) -> tuple[DJTags | None, str | None]:
        """(the cached tags of an unchanged file, else None; the stamp to `remember` a
        fresh read of it under, None when it is not to be cached: no cache, a file that
        is missing or not a regular file, which the reader refuses)."""
        return self.lookup_many([path])[0]

    def lookup_many(self, paths: Sequence[str]) -> list[tuple[DJTags | None, str | None]]:
        """`lookup` for each path, the database asked LOOKUP_BATCH paths at a time."""
        found: list[tuple[DJTags | None, str | None]] = [(None, None)] * len(paths)
        if self._db is None:
            return found
        stamps: dict[str, list[tuple[int, str]]] = {}
        for index, path in enumerate(paths):
            try:
                info = os.stat(path)
            except OSError:
                continue  # missing or unreadable: the reader says why
            if stat.S_ISREG(info.st_mode):
                stamps.setdefault(path, []).append((index, _stamp(info)))
        names = list(stamps)
        rows: dict[str, tuple] = {}
        for start in range(0, len(names), LOOKUP_BATCH):
            batch = names[start : start + LOOKUP_BATCH]
            with contextlib.suppress(sqlite3.Error):  # these files are read, then
                rows.update(
                    (row[0], row[1:])
                    for row in self._db.execute(
                        "SELECT path, stamp, bpm, key, energy, comment_key, structure "
                        f"FROM {TABLE} "
                        f"WHERE path IN ({', '.join('?' * len(batch))})",
                        batch,
                    )
                )
        for path, places in stamps.items():
            row = rows.get(path)
            for index, stamp in places:
                if row is not None and row[0] == stamp:
                    self.hits += 1
                    found[index] = (DJTags(*row[1:]), stamp)
                else:
                    self.misses += 1
                    found[index] = (None, stamp)
        return found

    def remember(self, path: str, stamp: str, tags: DJTags) -> None:
        """Keep the tags read from the file whose `lookup` gave `stamp` (taken before the
        read: a file changed meanwhile is read again next time)."""
        if self._db is None:
            return
        try:
            self._db.execute(
                f"INSERT OR REPLACE INTO {TABLE} "
                "(path, stamp, bpm, key, energy, comment_key, structure) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (path, stamp, *astuple(tags)),
            )
            self._pending += 1
            if self._pending >= COMMIT_EVERY:
                self._db.commit()
                self._pending = 0
        except sqlite3.Error:
            pass  # a locked or full cache only costs speed
