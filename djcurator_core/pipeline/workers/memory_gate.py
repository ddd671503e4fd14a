"""How many heavy steps a worker runs at once: a memory budget shared by its activities.

Ordering 10,000 tracks holds a 400 MB cost matrix; a worker taking four such steps at
once (its activity slots) would need several GB, and nothing in Temporal's slot count
knows that. So each heavy activity (sequencing, justification) estimates its peak
memory from its input (`planning.memory_estimate`) and holds that much of the worker's
budget while it runs; a step that does not fit waits (heartbeating "waiting for memory")
until running steps give memory back. A step larger than the whole budget runs alone.

The budget: `--memory-limit` of `djset-worker` / `python worker.py`, else
DJSET_WORKER_MEMORY (also read by `beet djset --serve` and the plugin's embedded worker),
else MEMORY_SHARE of the machine's physical memory. One budget per worker process
(several workers in one process share it).
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

MEMORY_ENV = "DJSET_WORKER_MEMORY"
MEMORY_SHARE = 0.6  # of physical memory, when no limit is configured
WAIT_REPORT = 2.0  # seconds between "waiting for memory" heartbeats

_UNITS = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}


class MemorySizeError(ValueError):
    pass


def parse_size(text: str | int | float) -> int:
    """Bytes from "4G", "512M", "1.5g", "2048k" or a plain number of bytes."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        value, unit = float(text), ""
    else:
        match = re.fullmatch(r"\s*(\d+(?:\.\d*)?)\s*([kmgt]?)(?:i?b)?\s*", str(text).lower())
        if not match:
            raise MemorySizeError(f"not a memory size: {text!r} (try 4G or 512M)")
        value, unit = float(match.group(1)), match.group(2)
    size = int(value * _UNITS[unit])
    if size <= 0:
        raise MemorySizeError(f"a memory limit must be positive: {text!r}")
    return size


def physical_memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 4 * 2**30  # unknown: assume a small machine


def default_limit() -> int:
    """DJSET_WORKER_MEMORY when set, else MEMORY_SHARE of physical memory."""
    configured = os.environ.get(MEMORY_ENV)
    if configured:
        return parse_size(configured)
    return int(MEMORY_SHARE * physical_memory())


def megabytes(size: int) -> str:
    return f"{size / 2**20:,.0f} MB"


class MemoryGate:
    """A counting semaphore over bytes. `hold(n)` blocks until n bytes are free (or, for a
    step larger than the limit, until nothing else runs)."""

    def __init__(self, limit: int) -> None:
        if limit <= 0:
            raise MemorySizeError("a memory limit must be positive")
        self.limit = limit
        self.in_use = 0
        self.running = 0
        self.peak_running = 0  # most steps held at once (diagnostics, tests)
        self.peak_in_use = 0  # most bytes held at once
        self._changed = threading.Condition()

    def _fits(self, size: int) -> bool:
        return self.running == 0 or self.in_use + size <= self.limit

    @contextmanager
    def hold(self, size: int, waiting: Callable[[str], None] | None = None) -> Iterator[float]:
        """Hold `size` bytes for the block; yields the seconds spent waiting. `waiting`
        is called every WAIT_REPORT seconds while it waits (the activity's heartbeat)."""
        started = time.monotonic()
        with self._changed:
            while not self._fits(size):
                if waiting is not None:
                    waiting(
                        f"waiting for memory: needs {megabytes(size)}, "
                        f"{megabytes(self.limit - self.in_use)} of {megabytes(self.limit)} free"
                    )
                self._changed.wait(WAIT_REPORT)
            self.in_use += size
            self.running += 1
            self.peak_running = max(self.peak_running, self.running)
            self.peak_in_use = max(self.peak_in_use, self.in_use)
        try:
            yield time.monotonic() - started
        finally:
            with self._changed:
                self.in_use -= size
                self.running -= 1
                self._changed.notify_all()


_gate: list[MemoryGate] = []
_gate_lock = threading.Lock()


def worker_gate() -> MemoryGate:
    """This process's gate (created with `default_limit()` on first use)."""
    with _gate_lock:
        if not _gate:
            _gate.append(MemoryGate(default_limit()))
        return _gate[0]


def set_worker_limit(limit: int | None) -> MemoryGate:
    """Give this process's gate a new limit (None: the default) and restart its peak
    count; steps holding memory keep it."""
    gate = worker_gate()
    with gate._changed:
        gate.limit = limit if limit is not None else default_limit()
        gate.peak_running = gate.running
        gate.peak_in_use = gate.in_use
        gate._changed.notify_all()
    return gate
