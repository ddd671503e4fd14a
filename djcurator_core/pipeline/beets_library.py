"""The worker's one contact with beets: open a library named in a request and export a
query's tracks from it.

Scheduled sets name a beets library and a query instead of carrying tracks, so the
worker evaluates the query when the run runs. Inside `beet` (the plugin's embedded
worker) beets is configured already; in a plain worker process (`djset-worker`), the
first export reads beets' configuration (BEETSDIR, as `beet` does) and loads its plugins
plus djset, so that queries on plugin fields (such as `energy:6..8`) parse the same way.

beets is imported inside the functions: the workflow module imports the activities, and
workers that never serve a library run need not load beets. Errors are `DJSetError`s;
the activity decides which are worth a retry (`LibraryUnavailable`: a locked database).
"""

from __future__ import annotations

import os
import sqlite3
import threading

from djcurator_core.errors import DJSetError
from djcurator_core.files.beets_items import matching_items
from djcurator_core.files.export import Export, check_usable, export_items
from djcurator_core.pipeline.contracts import LibrarySource
from djcurator_core.pipeline.worker_scope import WorkerScope, current_scope


class LibraryError(DJSetError):
    """The library named in the request does not exist."""


class LibraryUnavailable(DJSetError):
    """The library exists but cannot be read now (locked during an import...)."""


class QueryError(DJSetError):
    """The beets query does not parse."""


_beets_ready = threading.Lock()


def prepare_beets() -> None:
    """Inside `beet` the plugins are loaded already; in a plain worker process, read beets'
    configuration and load its plugins (and djset, which declares `energy` a number)."""
    from beets import config, plugins
    from beets.util import cached_classproperty

    with _beets_ready:
        if list(plugins.find_plugins()):
            return
        config.read(user=True, defaults=True)
        names = config["plugins"].as_str_seq()
        if "djset" not in names:
            config["plugins"] = [*names, "djset"]
        plugins.load_plugins()
        cached_classproperty.cache.clear()  # item types now include the plugins' fields


def open_library(source: LibrarySource, scope: WorkerScope):
    """The library, if `scope` (the worker's configuration) names it."""
    from beets.library import Library

    db = scope.library(source.db)  # only a library this worker's configuration names
    if not os.path.isfile(db):  # beets would create an empty library: refuse
        raise LibraryError(f"beets library {source.db} not found")
    directory = source.directory or os.path.dirname(db)
    # Not the process-wide music folder: a `beet --serve` process has its own library.
    try:
        return Library(db, directory, set_music_dir=False)
    except sqlite3.Error as exc:
        raise LibraryUnavailable(f"beets library {source.db}: {exc}") from None


def export_from_library(
    source: LibrarySource, scope: WorkerScope | None = None
) -> tuple[Export, int]:
    """(export, items matched) for the query, with the plugin's export rules
    (export.export_items), from a library `scope` allows (default: the running worker's,
    `worker_scope.current_scope`); no usable track is an error (export.check_usable)."""
    from beets.dbcore.query import InvalidQueryError, ParsingError

    prepare_beets()
    lib = open_library(source, scope or current_scope())
    try:
        with lib.music_dir_context():  # paths in the db may be relative to the directory
            items = matching_items(lib, source.query)
            export = export_items(items, keep_incomplete=source.keep_incomplete)
    except (InvalidQueryError, ParsingError) as exc:
        raise QueryError(f"query {source.shown_query()}: {exc}") from None
    except sqlite3.Error as exc:  # e.g. "database is locked" during a big import: retry
        raise LibraryUnavailable(f"beets library {source.db}: {exc}") from None
    finally:
        lib._close()
    check_usable(len(items), export, source.shown_query(), where=f" in {source.db}")
    return export, len(items)
