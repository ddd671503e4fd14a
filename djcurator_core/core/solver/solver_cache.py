"""The compiled solver's cache: a writable folder for numba, and compiling once.

The search (optimizer.py) is compiled by numba on first use: 6-13 s. numba keeps the
machine code in a cache folder, so that this happens once per installation, not once
per run. Two things go wrong without care:

- numba looks for a writable folder (NUMBA_CACHE_DIR, the package's __pycache__, its own
  user folder for site-packages) and, when none works, fails at import with
  "cannot cache function '_rand': no locator available". `cache_dir()` checks first and
  falls back to the user cache folder ($XDG_CACHE_HOME or ~/.cache/beets-djset/numba),
  then to a folder in the temp directory; with nothing writable at all the solver is
  compiled in memory on every run (slower, but no crash).
- A run that compiles looks hung: `prepare(say)` compiles ahead (at install time:
  `python -m djcurator_core prepare`) and says "preparing the solver, first run only"
  whenever it has to. A worker must not make clients wait for it, so it polls at once and
  compiles in a background thread (`prepare_in_background`); the one step that needs the
  compiled solver waits for that thread (`wait_for_compile`, `compiling`), heartbeating
  (pipeline/sets/set_activities.py).

A marker file beside numba's cache records that every specialisation the solver uses
(float64 matrices, and the float32 tour workspace of large pools) is compiled; its name
carries a hash of optimizer.py and the numba and Python versions, so an upgrade
compiles (and says so) once more.

No numba import here: this module runs before optimizer.py defines its functions.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

PREPARING = "preparing the solver, first run only (compiling, about 10-30 s)"
IN_BACKGROUND = "in the background: sets wait for it, everything else is served meanwhile"
_OPTIMIZER = Path(__file__).with_name("optimizer.py")
_lock = threading.Lock()
_chosen: list[Path | None] = []  # the cache folder, once decided
_background_lock = threading.Lock()
_background: list[threading.Thread] = []  # this process's background compile, once started


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
    """The folder numba caches the solver in (decided once per process), or None when no
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
    if not configured and _writable(_OPTIMIZER.parent / "__pycache__"):
        return _OPTIMIZER.parent / "__pycache__"  # numba's own first choice
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


def _stamp() -> str:
    digest = hashlib.sha256(_OPTIMIZER.read_bytes())
    digest.update(metadata.version("numba").encode())
    digest.update(sys.version.encode())
    return digest.hexdigest()[:16]


def _marker() -> Path | None:
    folder = cache_dir()
    return None if folder is None else folder / f"djset-solver-{_stamp()}.ready"


def ready() -> bool:
    """True when the solver is compiled and cached: a run will not compile."""
    marker = _marker()
    return marker is not None and marker.exists()


def prepare(say: Callable[[str], None] | None = None) -> bool:
    """Compile the solver unless it is cached; `say` gets PREPARING when it has to.
    Returns True when it compiled."""
    if ready():
        return False
    if say is not None:
        say(PREPARING)
    _compile()
    marker = _marker()
    if marker is not None:
        with contextlib.suppress(OSError):  # a cache that vanished: compile next time
            marker.touch()
    return True


# --- compiling in the background (a worker serves while it compiles) -------------------


def prepare_in_background(say: Callable[[str], None] | None = None) -> bool:
    """Start `prepare` in a daemon thread unless the solver is cached; once per process
    (later calls only report). True when a compile is under way now.

    `say` gets PREPARING + IN_BACKGROUND when it starts, "solver ready ..." when it ends,
    and a failure as one line (the runs then compile, or fail, themselves)."""
    with _background_lock:
        if _background:
            return _background[0].is_alive()
        if ready():
            return False
        thread = threading.Thread(
            target=_prepare_quietly, args=(say,), name="djset-solver-compile", daemon=True
        )
        _background.append(thread)
        if say is not None:
            say(f"{PREPARING}, {IN_BACKGROUND}")
        thread.start()
        return True


def _prepare_quietly(say: Callable[[str], None] | None) -> None:
    started = time.monotonic()
    try:
        prepare()
    except Exception as exc:  # never kill the worker: the step compiles in line instead
        if say is not None:
            reason = " ".join(str(exc).split())[:200]
            say(f"compiling the solver failed ({type(exc).__name__}: {reason}); runs compile it")
        return
    if say is not None:
        say(f"solver ready (compiled in {time.monotonic() - started:.1f} s)")


def compiling() -> bool:
    """True while this process's background compile runs: a run now would wait for it."""
    return bool(_background) and _background[0].is_alive()


def wait_for_compile(timeout: float | None = None) -> bool:
    """Wait at most `timeout` seconds (None: as long as it takes) for this process's
    background compile; True when none runs (any more). The one place a run waits for
    the solver: a path that needs no compiled solver need not call it."""
    if not _background:
        return True
    _background[0].join(timeout)
    return not _background[0].is_alive()


def _compile() -> None:
    """Run a tiny search on each matrix type the planner uses: numba compiles (or loads
    from its cache) every specialisation now instead of in the middle of a real set."""
    import numpy as np

    from djcurator_core.core.solver import optimizer
    from djcurator_core.core.solver.sequencing import SolverRequest

    n = optimizer.EXACT_MAX + 5
    rng = np.random.default_rng(0)
    effort = optimizer.Effort(kicks_per_node=1, min_kicks=50, min_stall=50, time_cap=60)
    matrix = rng.uniform(0.0, 1.0, (n, n))
    np.fill_diagonal(matrix, 0.0)
    optimizer.optimise(matrix, SolverRequest(), effort=effort)
    workspace = optimizer.tour_workspace(n)
    workspace[:n, :n] = matrix
    optimizer.optimise(workspace[:n, :n], SolverRequest(start=0), effort=effort)
