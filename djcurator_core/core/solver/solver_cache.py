"""The compiled solver's cache: compiling once, and saying so when a run has to.

The search (optimizer.py) runs compiled: the C kernel (native_search.py) is built by the
system C compiler in under a second; without a C compiler, numba compiles its kernel
(compiled_search.py) on first use, 10-30 s. Both keep the machine code in the folder
cache_folder.py chooses, so that this happens once per installation, not once per run;
a run that compiles looks hung, so `prepare(say)` compiles ahead (at install time:
`python -m djcurator_core prepare`, else when a worker or `beet djset --serve` starts, or
before a command orders tracks) and says "preparing the solver, first run only"
whenever it has to.

For numba a marker file beside its cache records that every specialisation the solver
uses (float64 matrices, and the float32 tour workspace of large pools) is compiled; its
name carries a hash of compiled_search.py and the numba and Python versions, so an
upgrade compiles (and says so) once more. The C library's own name carries the hash of
its source (native_search.py).

A worker must not make clients wait for it, so it polls at once and compiles in a
background thread (`prepare_in_background`); the one step that needs the compiled solver
waits for that thread (`wait_for_compile`, `compiling`), heartbeating
(pipeline/sets/set_activities.py).

Imports: cache_folder and native_search (neither imports numba); compiled_search and
optimizer only inside `_compile`. Nothing of the solver imports this module.
"""

from __future__ import annotations

import contextlib
import hashlib
import sys
import threading
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

from djcurator_core.core.solver import native_search
from djcurator_core.core.solver.cache_folder import cache_dir, can_cache

PREPARING = "preparing the solver, first run only"
IN_C = "(compiling in C, about a second)"
WITH_NUMBA = "(compiling with numba: no C compiler found; about 10-30 s)"
_NUMBA_KERNEL = Path(__file__).with_name("compiled_search.py")
_lock = threading.Lock()
IN_BACKGROUND = "in the background: sets wait for it, everything else is served meanwhile"
_background_lock = threading.Lock()
_background: list[threading.Thread] = []  # this process's background compile, once started
__all__ = [
    "PREPARING",
    "cache_dir",
    "can_cache",
    "compiling",
    "prepare",
    "prepare_in_background",
    "ready",
    "wait_for_compile",
]


def _stamp() -> str:
    digest = hashlib.sha256(_NUMBA_KERNEL.read_bytes())
    digest.update(metadata.version("numba").encode())
    digest.update(sys.version.encode())
    return digest.hexdigest()[:16]


def _marker() -> Path | None:
    folder = cache_dir()
    return None if folder is None else folder / f"djset-solver-{_stamp()}.ready"


def _native() -> bool:
    """True when runs use the C kernel (a C compiler is there, numba is not asked for)."""
    return native_search.wanted() and native_search.compiler() is not None


def ready() -> bool:
    """True when the solver is compiled and cached: a run will not compile."""
    if _native() and native_search.ready():
        return True
    marker = _marker()
    return marker is not None and marker.exists()


def prepare(say: Callable[[str], None] | None = None) -> bool:
    """Compile the solver unless it is cached; `say` gets PREPARING (and how long it may
    take) when it has to. Returns True when it compiled."""
    with _lock:
        if ready():
            return False
        native = _native()
        if say is not None:
            say(f"{PREPARING} {IN_C if native else WITH_NUMBA}")
        if native and native_search.kernel() is not None:
            return True
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
            say(f"{PREPARING} {IN_C if _native() else WITH_NUMBA}, {IN_BACKGROUND}")
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
    optimizer.optimise(matrix, SolverRequest(), effort=effort, kernel="numba")
    workspace = optimizer.tour_workspace(n)
    workspace[:n, :n] = matrix
    optimizer.optimise(workspace[:n, :n], SolverRequest(start=0), effort=effort, kernel="numba")
