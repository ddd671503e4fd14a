"""Where the compiled solver is kept: one writable folder, decided once per process.

Both kernels of the search cache machine code: numba (compiled_search.py) its compiled
functions, native_search.py the shared library it builds from search_kernel.c. numba
looks for a writable folder (NUMBA_CACHE_DIR, the package's __pycache__, its own user
folder for site-packages) and, when none works, fails at import with "cannot cache
function '_rand': no locator available". `cache_dir()` checks first and falls back to
the user cache folder ($XDG_CACHE_HOME or ~/.cache/beets-djset/numba), then to a folder
in the temp directory; with nothing writable at all the solver is compiled in memory on
every run (slower, but no crash).

This module imports nothing of the solver: the kernels ask it for the folder before
they define anything, and solver_cache.py (which compiles them) builds on it.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
from pathlib import Path

_PACKAGE_CACHE = Path(__file__).with_name("__pycache__")  # numba's own first choice
_lock = threading.Lock()
_chosen: list[Path | None] = []  # the cache folder, once decided


def _writable(folder: Path) -> bool:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError:
        return False
    return True


def _user_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "beets-djset" / "numba"


def _temp_cache() -> Path:
    uid = os.getuid() if hasattr(os, "getuid") else 0
    return Path(tempfile.gettempdir()) / f"beets-djset-{uid}" / "numba"


def cache_dir() -> Path | None:
    """The folder the solver is cached in (decided once per process), or None when no
    folder is writable. Sets numba's CACHE_DIR when the default places would fail."""
    with _lock:
        if _chosen:
            return _chosen[0]
        chosen = _decide()
        _chosen.append(chosen)
        return chosen


def _decide() -> Path | None:
    configured = os.environ.get("NUMBA_CACHE_DIR")
    if configured and _writable(Path(configured)):
        return Path(configured)
    if not configured and _writable(_PACKAGE_CACHE):
        return _PACKAGE_CACHE
    for folder in (_user_cache(), _temp_cache()):
        if _writable(folder):
            os.environ["NUMBA_CACHE_DIR"] = str(folder)
            _set_numba_cache_dir(str(folder))
            return folder
    return None


def _set_numba_cache_dir(folder: str) -> None:
    """numba reads NUMBA_CACHE_DIR when it is imported; if it already is, tell its config."""
    config = sys.modules.get("numba.core.config")
    if config is not None:
        config.CACHE_DIR = folder


def can_cache() -> bool:
    return cache_dir() is not None
