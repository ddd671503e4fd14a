"""What a worker may touch: decided by the worker's own configuration, never by a request.

Anyone who can reach the Temporal server (any local user can reach a loopback port) can
start DJSetWorkflow with any request. Without a scope, a request could make the worker
overwrite any file its user can write (a playlist target of ``~/.bashrc``, lines chosen
through track paths), open any SQLite file as a beets library, or read any file as a
tracks file. So every activity that touches the file system asks the scope first:

- playlists are written only inside `playlist_dirs` (for `beet djset --serve`: the
  configured ``djset.playlist_dir`` plus ``djset.worker.allowed_dirs``; for
  ``python worker.py``: its ``--playlist-dir`` flags);
- beets libraries are opened only when listed in `libraries` (a database file, or a
  folder whose databases may be opened);
- tracks files are read only inside `tracks_dirs`;
- a Mixxx database (format mixxx) is written only when listed in `mixxx_databases` (for
  `beet djset --serve`: ``djset.mixxx.database`` when it is set, none otherwise; for
  ``python worker.py``: its ``--mixxx-database`` flags): exact files, never a folder, since
  the worker changes rows in it.

Paths are compared after `os.path.realpath` on both sides, so neither ``..`` nor a
symlink (to a file or to a folder on the way) leads outside. A refused path fails the run
at once (non-retryable `NotAllowed`), names the setting that would allow it, and nothing
is written.

Activities are module-level functions (the workflow names them), so a worker's scope is
found through the task queue of the running activity: `worker.run_worker` registers it with
`register`; an activity on a queue without one gets `DENY_ALL`.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

from temporalio import activity
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from djcurator_core.core.text import shown

NOT_ALLOWED = "NotAllowed"


@dataclass(frozen=True)
class WorkerScope:
    """Folders and files a worker may use. `settings` names, per kind ("playlist",
    "library", "tracks"), the configuration that extends it, for the error message."""

    playlist_dirs: tuple[str, ...] = ()
    libraries: tuple[str, ...] = ()
    tracks_dirs: tuple[str, ...] = ()
    mixxx_databases: tuple[str, ...] = ()
    settings: dict[str, str] = field(
        default_factory=lambda: {
            "playlist": "the worker's --playlist-dir",
            "library": "the worker's --library",
            "tracks": "the worker's --tracks-dir",
            "mixxx": "the worker's --mixxx-database",
        }
    )

    def playlist_path(self, path: str, suffix: str | None = None) -> str:
        """The real path to write the playlist to; NotAllowed outside `playlist_dirs`, and
        for a name that is hidden or does not end in the format's `suffix`: even inside
        an allowed folder (which may be a home folder), a run must not replace a dotfile
        or another program's file."""
        real = self._inside(path, self.playlist_dirs, "playlist", "writes playlists in")
        name = os.path.basename(real)
        if name.startswith(".") or (suffix and not name.lower().endswith(suffix.lower())):
            expected = f"a name ending in {suffix}" if suffix else "a visible name"
            raise bad_input(
                NOT_ALLOWED,
                f"playlist {shown(path)} is not allowed: a playlist file has {expected}, "
                "not starting with '.'",
            )
        return real

    def tracks_file(self, path: str) -> str:
        """The real path of a tracks file to read; NotAllowed outside `tracks_dirs`."""
        return self._inside(path, self.tracks_dirs, "tracks", "reads tracks files in")

    def library(self, db: str) -> str:
        """The real path of a beets library database; NotAllowed unless `libraries`
        lists it or a folder holding it."""
        real = _real(db)
        for allowed in self.libraries:
            folder = _real(allowed)
            if real == folder or (os.path.isdir(folder) and _within(real, folder)):
                return real
        raise self._refusal(db, self.libraries, "library", "opens the beets libraries")

    def mixxx_database(self, db: str) -> str:
        """The real path of a Mixxx database to write; NotAllowed unless `mixxx_databases`
        lists that very file."""
        if not os.path.isabs(db):
            raise bad_input(NOT_ALLOWED, f"mixxx database {shown(db)} is not absolute")
        real = _real(db)
        if any(real == _real(allowed) for allowed in self.mixxx_databases):
            return real
        where = ", ".join(shown(p) for p in self.mixxx_databases) or "(none configured)"
        raise bad_input(
            NOT_ALLOWED,
            f"mixxx database {shown(db)} is not allowed: this worker only writes {where}; "
            f"to allow it, set {self.settings.get('mixxx', 'its mixxx database')}",
        )

    def _inside(self, path: str, folders: tuple[str, ...], kind: str, verb: str) -> str:
        if not os.path.isabs(path):
            raise bad_input(NOT_ALLOWED, f"{kind} path {shown(path)} is not absolute")
        real = _real(path)
        if any(_within(real, _real(folder)) for folder in folders):
            return real
        raise self._refusal(path, folders, kind, verb)

    def _refusal(self, path: str, allowed: tuple[str, ...], kind: str, verb: str):
        where = ", ".join(shown(p) for p in allowed) if allowed else "(none configured)"
        return bad_input(
            NOT_ALLOWED,
            f"{kind} {shown(path)} is not allowed: this worker only {verb} {where}; "
            f"to allow it, add its folder to {self.settings[kind]}",
        )


DENY_ALL = WorkerScope()


def bad_input(error_type: str, message: str) -> ApplicationError:
    """Non-retryable, like set_activities.bad_input (not imported: that module uses this one)."""
    return ApplicationError(
        message, type=error_type, non_retryable=True, category=ApplicationErrorCategory.BENIGN
    )


def _real(path: str) -> str:
    return os.path.realpath(os.path.expanduser(path))


def _within(path: str, folder: str) -> bool:
    """Whether the real `path` is `folder` or below it (both resolved already)."""
    try:
        return os.path.commonpath([path, folder]) == folder and path != folder
    except ValueError:  # different drives (Windows), relative vs absolute
        return False


# --- which worker's scope applies --------------------------------------------------------

# (namespace, task queue) -> (scope, number of workers in this process that use it)
_scopes: dict[tuple[str, str], tuple[WorkerScope, int]] = {}
_lock = threading.Lock()


def register(namespace: str, task_queue: str, scope: WorkerScope) -> None:
    """Make `scope` the one for activities on this namespace's task queue in this process
    (until as many `unregister` calls).

    Two workers on one queue in one process must agree: a different scope is refused
    (ValueError) rather than silently widening or narrowing the other's."""
    with _lock:
        known, count = _scopes.get((namespace, task_queue), (scope, 0))
        if known != scope:
            raise ValueError(
                f"another worker in this process serves task queue {task_queue!r} with a "
                "different scope"
            )
        _scopes[(namespace, task_queue)] = (scope, count + 1)


def unregister(namespace: str, task_queue: str) -> None:
    with _lock:
        scope, count = _scopes.get((namespace, task_queue), (DENY_ALL, 0))
        if count > 1:
            _scopes[(namespace, task_queue)] = (scope, count - 1)
        else:
            _scopes.pop((namespace, task_queue), None)


_direct_scope: contextvars.ContextVar[WorkerScope] = contextvars.ContextVar(
    "djset_direct_scope", default=DENY_ALL
)


@contextlib.contextmanager
def using(scope: WorkerScope) -> Iterator[None]:
    """Let activity functions called directly (outside a worker: tests, scripts) use
    `scope` for the duration of the block."""
    token = _direct_scope.set(scope)
    try:
        yield
    finally:
        _direct_scope.reset(token)


def current_scope() -> WorkerScope:
    """The scope of the worker running this activity (DENY_ALL on a queue no worker
    registered); outside an activity, the one `using` set (else DENY_ALL)."""
    if not activity.in_activity():
        return _direct_scope.get()
    info = activity.info()
    with _lock:
        return _scopes.get((info.namespace, info.task_queue), (DENY_ALL, 0))[0]
