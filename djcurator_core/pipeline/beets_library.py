"""The worker's one contact with beets: open a library named in a request, export a
query's tracks from it, close it.

Scheduled sets name a beets library and a query instead of carrying tracks, so the
worker evaluates the query when the run runs.

beets keeps its configuration and its loaded plugins in process-wide globals
(`beets.config`, `beets.plugins._instances`, listeners, cached item types), so only the
program that owns the process may set them up. A worker embedded in another program --
the plugin's own embedded worker and `--serve` worker inside `beet`, the tests' and the
scripts' in-process workers -- uses beets as that program configured it and changes
nothing. Only a program that is nothing but a worker (`djset-worker`, `python
worker.py`) calls `configure_beets_on_first_use()`: its first library step then reads
beets' configuration (BEETSDIR, as `beet` does) and loads its plugins plus djset, so that
queries on plugin fields (such as `energy:6..8`) parse as they do in `beet`.

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
from djcurator_core.pipeline.workers.worker_scope import WorkerScope, current_scope


class LibraryError(DJSetError):
    """The library named in the request does not exist."""


class LibraryUnavailable(DJSetError):
    """The library exists but cannot be read now (locked during an import...)."""


class QueryError(DJSetError):
    """The beets query does not parse."""


_beets_setup_lock = threading.Lock()
_configure_beets = False  # set by a program that owns its process (a worker command)
_beets_configured = False


def configure_beets_on_first_use() -> None:
    """Declare that this process belongs to a worker program of its own (djset-worker): its
    first library step reads beets' configuration and loads beets' plugins plus djset.

    Never call it from a process that embeds the worker in another program (`beet`,
    tests, scripts that use beets themselves): beets' configuration and plugins are
    process-wide, and that program's own are the ones to use."""
    global _configure_beets
    _configure_beets = True


def prepare_beets() -> None:
    """Before a library step: in a worker program's process (configure_beets_on_first_use),
    read beets' configuration and load its plugins once; elsewhere leave beets' global
    state exactly as the embedding program has it."""
    global _beets_configured
    if not _configure_beets:
        return
    from beets import config, plugins
    from beets.util import cached_classproperty

    with _beets_setup_lock:
        if _beets_configured:
            return
        config.read(user=True, defaults=True)
        names = config["plugins"].as_str_seq()
        if "djset" not in names:
            config["plugins"] = [*names, "djset"]
        plugins.load_plugins()
        cached_classproperty.cache.clear()  # item types now include the plugins' fields
        _beets_configured = True


def close_library(lib) -> None:
    """Close the library's SQLite connections (every thread's).

    beets 2.14 has no public way to do this: `Database._close()` is the only one, and
    beets' own command line calls it at exit (`beets.ui._raw_main`). It is called here
    and nowhere else in the package, so a rename in beets is one line to follow."""
    lib._close()


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
        close_library(lib)
    check_usable(len(items), export, source.shown_query(), where=f" in {source.db}")
    return export, len(items)
