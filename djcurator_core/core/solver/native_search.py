"""The search kernel in C: built once with the system C compiler, loaded with ctypes.

Why: numba (compiled_search.py) costs a DJ-sized set more than the search itself: its
import, loading its cache and checking its registries take about a second on every run,
and its first compile 10-30 s. search_kernel.c is the same search (function for
function, the same random numbers, so the same order for a seed); a C compiler builds it
in well under a second, and loading the library takes milliseconds. The library is kept
in the solver's cache folder (cache_folder.py) under a name that carries a hash of the
source, the compiler and the flags, so that an upgrade builds it again; it is written
to a temporary name and renamed, so two processes that build at once do not clash.

Where no C compiler is found (`cc`, `$CC` or Python's own), or the build fails, or
DJSET_SOLVER_KERNEL=numba, `kernel()` returns None and optimizer.py uses numba.
No Python C API is involved: the library exports three plain functions over one struct
of array pointers (struct Search in the C file, `_Arrays` here).
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import threading
from pathlib import Path

import numpy as np

from djcurator_core.core.solver.cache_folder import cache_dir

SOURCE = Path(__file__).with_name("search_kernel.c")
FLAGS = ("-O2", "-fPIC", "-shared", "-ffp-contract=off")
KERNEL_ENV = "DJSET_SOLVER_KERNEL"  # "numba": never use this kernel
BUILD_TIMEOUT = 120.0  # seconds; a compiler that hangs must not hang the solver
_lock = threading.Lock()
_loaded: list[object] = []  # the loaded library (or None), once decided


class _Arrays(ctypes.Structure):
    """struct Search of search_kernel.c: the search's arrays and sizes."""

    _fields_ = [
        ("c64", ctypes.c_void_p),
        ("c32", ctypes.c_void_p),
        ("m", ctypes.c_int64),
        ("t", ctypes.c_void_p),
        ("p", ctypes.c_void_p),
        ("out_nb", ctypes.c_void_p),
        ("in_nb", ctypes.c_void_p),
        ("k", ctypes.c_int64),
        ("use_arc", ctypes.c_int64),
        ("dummy", ctypes.c_int64),
        ("W", ctypes.c_void_p),
        ("w_cols", ctypes.c_int64),
        ("el", ctypes.c_void_p),
        ("ideal", ctypes.c_void_p),
        ("ideal_cols", ctypes.c_int64),
        ("queue", ctypes.c_void_p),
        ("inq", ctypes.c_void_p),
        ("qs", ctypes.c_void_p),
        ("tmp", ctypes.c_void_p),
        ("jmeta", ctypes.c_void_p),
        ("j_rows", ctypes.c_int64),
        ("jbuf", ctypes.c_void_p),
        ("j_len", ctypes.c_int64),
        ("js", ctypes.c_void_p),
    ]


def compiler() -> list[str] | None:
    """The C compiler command: $CC, Python's own compiler, or cc/gcc/clang; None if none."""
    if os.name == "nt":
        return None  # MSVC takes other flags; Windows uses the numba kernel
    for candidate in (os.environ.get("CC"), sysconfig.get_config_var("CC"), "cc", "gcc", "clang"):
        if not candidate:
            continue
        words = shlex.split(candidate)
        if words and shutil.which(words[0]):
            return [shutil.which(words[0]), *words[1:]]
    return None


def wanted() -> bool:
    """False when DJSET_SOLVER_KERNEL=numba asks for the numba kernel."""
    return os.environ.get(KERNEL_ENV, "").strip().lower() != "numba"


def _library_name(command: list[str]) -> str:
    digest = hashlib.sha256(SOURCE.read_bytes())
    digest.update(" ".join([*command, *FLAGS]).encode())
    digest.update(sys.platform.encode())
    return f"djset-search-{digest.hexdigest()[:16]}.so"


def library_path() -> Path | None:
    """Where the built library is (or would be) kept; None without compiler or folder."""
    command = compiler()
    folder = cache_dir()
    if command is None or folder is None:
        return None
    return folder / _library_name(command)


def ready() -> bool:
    """True when the library is built: a run will load it without compiling."""
    path = library_path()
    return wanted() and path is not None and path.exists()


def build() -> Path | None:
    """Build the library unless it is there; its path, or None when it cannot be built."""
    command = compiler()
    if command is None or not wanted():
        return None
    folder = cache_dir()
    temporary = folder is None
    if temporary:
        folder = Path(tempfile.mkdtemp(prefix="djset-search-"))
    target = folder / _library_name(command)
    if target.exists():
        return target
    fd, partial = tempfile.mkstemp(dir=folder, prefix=".building-", suffix=".so")
    os.close(fd)
    try:
        done = subprocess.run(
            [*command, *FLAGS, "-o", partial, str(SOURCE)],
            capture_output=True,
            timeout=BUILD_TIMEOUT,
            check=False,
        )
        if done.returncode != 0:
            return None
        os.replace(partial, target)
    except (OSError, subprocess.SubprocessError):
        return None
    finally:
        if os.path.exists(partial):
            os.unlink(partial)
    return target


def _load():
    path = build()
    if path is None:
        return None
    try:
        library = ctypes.CDLL(str(path))
    except OSError:
        return None
    pointer = ctypes.POINTER(_Arrays)
    library.djs_initial_search.argtypes = [pointer]
    library.djs_initial_search.restype = ctypes.c_double
    library.djs_ils_chunk.argtypes = [pointer, *[ctypes.c_void_p] * 4, ctypes.c_int64,
                                      ctypes.c_int64, ctypes.c_double, ctypes.c_int64,
                                      ctypes.c_int64]  # fmt: skip
    library.djs_ils_chunk.restype = None
    library.djs_tour_cost.argtypes = [pointer, ctypes.c_void_p, ctypes.c_void_p]
    library.djs_tour_cost.restype = ctypes.c_double
    return library


def kernel():
    """This module as the search kernel when its library builds and loads, else None
    (decided once per process)."""
    with _lock:
        if not _loaded:
            _loaded.append(_load() if wanted() else None)
        return sys.modules[__name__] if _loaded[0] is not None else None


# --- entry points (the same in compiled_search.py) ---------------------------------------


def _address(array: np.ndarray) -> int:
    if not array.flags.c_contiguous:
        raise ValueError("the search kernel takes C-contiguous arrays")
    return array.ctypes.data


def _arrays(search) -> _Arrays:
    """The struct over `search`'s arrays (optimizer._Search), made once per search: the
    arrays are changed in place, never replaced."""
    made = getattr(search, "_native_arrays", None)
    if made is not None:
        return made
    matrix = search.C
    is32 = matrix.dtype == np.float32
    queue, inq, qs, tmp, jmeta, jbuf, js = search.work
    out_nb = np.ascontiguousarray(search.out_nb, dtype=np.int64)
    in_nb = np.ascontiguousarray(search.in_nb, dtype=np.int64)
    search._native_keep = (out_nb, in_nb)  # keep the copies (if any) alive
    made = _Arrays(
        c64=None if is32 else _address(matrix),
        c32=_address(matrix) if is32 else None,
        m=search.m,
        t=_address(search.t),
        p=_address(search.p),
        out_nb=_address(out_nb),
        in_nb=_address(in_nb),
        k=out_nb.shape[1],
        use_arc=int(search.use_arc),
        dummy=search.dummy,
        W=_address(search.W),
        w_cols=search.W.shape[1],
        el=_address(search.el),
        ideal=_address(search.ideal),
        ideal_cols=search.ideal.shape[1],
        queue=_address(queue),
        inq=_address(inq),
        qs=_address(qs),
        tmp=_address(tmp),
        jmeta=_address(jmeta),
        j_rows=jmeta.shape[0],
        jbuf=_address(jbuf),
        j_len=jbuf.shape[0],
        js=_address(js),
    )
    search._native_arrays = made
    return made


def initial_search(search) -> float:
    """The first descent of `search` (optimizer._Search); returns its gain."""
    return _loaded[0].djs_initial_search(ctypes.byref(_arrays(search)))


def ils_chunk(search, kicks: int) -> None:
    """`kicks` perturbation + repair rounds on `search` (optimizer._Search)."""
    _loaded[0].djs_ils_chunk(
        ctypes.byref(_arrays(search)),
        _address(search.best_t),
        _address(search.state),
        _address(search.counters),
        _address(search.rng),
        int(kicks),
        int(search.max_seg),
        float(search.slack),
        int(search.pinned_start),
        int(search.pinned_end),
    )


def tour_cost(search, tour: np.ndarray, positions: np.ndarray) -> float:
    """The cost of `tour` (its inverse: `positions`) with `search`'s matrix and penalty."""
    tour = np.ascontiguousarray(tour, dtype=np.int64)
    positions = np.ascontiguousarray(positions, dtype=np.int64)
    return _loaded[0].djs_tour_cost(
        ctypes.byref(_arrays(search)), _address(tour), _address(positions)
    )
