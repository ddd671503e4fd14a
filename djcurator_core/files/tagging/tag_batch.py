"""The DJ tags of many files at once: from the tag cache where a file is unchanged, the
rest read by a pool of processes, one per core.

A first export of a large library reads every file (tag_cache.py keeps them for the next
one). Parsing tags is Python code, so one process reads one file at a time whatever the
disk could do; a pool of processes reads on every core. Processes are started with
"spawn" (the export also runs inside a Temporal worker, whose threads make fork unsafe)
and only for POOL_MIN files or more: starting them costs about half a second.

Each file's outcome is its tags or the TagReadError reading it raised (NotAPlainFile for a
FIFO, device or folder, which is refused without being read, as in a single process).
A pool that cannot be started or breaks (a process killed) costs only speed: the files it
did not read are read in this process. Nothing is written to the files.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import signal
import threading
from collections.abc import Iterable, Sequence

from djcurator_core.files.tagging.tag_cache import TagCache
from djcurator_core.files.tagging.tags import DJTags, TagReadError, read_dj_tags

POOL_MIN = 1_000  # files to read before a pool is worth starting
CHUNK = 250  # files per task sent to a pool process

Outcome = DJTags | TagReadError


def processes() -> int:
    """Cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


class TagsRead:
    """The outcome of reading each path: call it with a path for its tags (raising the
    TagReadError its read raised), like read_dj_tags."""

    def __init__(self, outcomes: dict[str, Outcome], read_here: int, read_in_pool: int) -> None:
        self.outcomes = outcomes
        self.read_here = read_here  # files read in this process
        self.read_in_pool = read_in_pool  # files read by the pool's processes

    def __call__(self, path: str) -> DJTags:
        outcome = self.outcomes[path]
        if isinstance(outcome, TagReadError):
            raise outcome
        return outcome


def read_many(paths: Iterable[str], cache: TagCache, pool_min: int | None = None) -> TagsRead:
    """Tags of every path: cached ones from `cache`, the others read (in a pool of
    processes when there are at least `pool_min`, default POOL_MIN, and several cores)
    and remembered in `cache`."""
    outcomes: dict[str, Outcome] = {}
    to_read: list[tuple[str, str | None]] = []
    unique = list(dict.fromkeys(paths))
    for path, (tags, stamp) in zip(unique, cache.lookup_many(unique), strict=True):
        if tags is not None:
            outcomes[path] = tags
        else:
            to_read.append((path, stamp))
    in_pool = _read_in_pool([path for path, _ in to_read], pool_min)
    read_here = 0
    for index, (path, stamp) in enumerate(to_read):
        if index < len(in_pool):
            outcome = in_pool[index]
        else:
            outcome = _read_one(path)
            read_here += 1
        outcomes[path] = outcome
        if stamp is not None and isinstance(outcome, DJTags):
            cache.remember(path, stamp, outcome)
    return TagsRead(outcomes, read_here, len(in_pool))


def _read_one(path: str) -> Outcome:
    """read_dj_tags, its error returned (read_dj_tags turns whatever a parser raises into
    a TagReadError, whose one line travels back from a pool process)."""
    try:
        return read_dj_tags(path)
    except TagReadError as exc:
        return exc


def _quiet_on_ctrl_c() -> None:
    """Pool initializer: Ctrl-C ends a pool process at once and without a traceback (the
    parent, which gets the same Ctrl-C, reports the interruption). The process started
    with SIGINT blocked (see _map_holding_ctrl_c); a Ctrl-C that came while it was still
    starting is pending and ends it here."""
    signal.signal(signal.SIGINT, lambda *_: os._exit(130))
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def _map_holding_ctrl_c(pool: concurrent.futures.ProcessPoolExecutor, paths, chunk):
    """pool.map with SIGINT blocked (held, not lost) while it spawns the pool's processes.
    They inherit the blocked signal, so a Ctrl-C that comes while they are still starting
    (importing, for seconds on a busy machine) prints no traceback from their start-up
    code; each takes it in its initializer, this process as soon as map returns. Only the
    main thread gets SIGINT in Python; elsewhere (a worker's activity thread) map runs
    as it is."""
    if threading.current_thread() is not threading.main_thread():
        return pool.map(_read_one, paths, chunksize=chunk)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        return pool.map(_read_one, paths, chunksize=chunk)  # submits (and spawns) at once
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def _stop_now(pool: concurrent.futures.ProcessPoolExecutor) -> None:
    """Ctrl-C: end the pool's processes now rather than wait for them. A process still
    starting (importing, seconds on a busy machine) would only take its Ctrl-C once it
    reaches its initializer, and a reading one would finish its chunk; the parent's
    `with` would wait for both. Killed processes print nothing."""
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        process.kill()
    # no shutdown(wait=False) here: it would let the `with` skip joining the pool's
    # manager thread, which then races interpreter exit ("Exception ignored" tracebacks);
    # the `with` joins it, and it ends at once on the killed processes


def _read_in_pool(paths: Sequence[str], pool_min: int | None) -> list[Outcome]:
    """The outcomes of the first paths, in order, as far as a pool of processes read them:
    all of them, or none when there are too few or one core, or a prefix when the pool
    broke (the caller reads the rest)."""
    workers = processes()
    if len(paths) < (POOL_MIN if pool_min is None else pool_min) or workers < 2:
        return []
    chunk = max(1, min(CHUNK, -(-len(paths) // workers)))
    done: list[Outcome] = []
    try:
        with concurrent.futures.ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_quiet_on_ctrl_c,
        ) as pool:
            try:
                for outcome in _map_holding_ctrl_c(pool, paths, chunk):
                    done.append(outcome)
            except KeyboardInterrupt:
                _stop_now(pool)
                raise
    except (concurrent.futures.process.BrokenProcessPool, OSError):
        pass  # the rest is read in this process
    return done
