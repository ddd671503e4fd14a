"""How a process that used Temporal stops: the one home for the exit workaround and the
two-signal stop handler.

- The Temporal SDK can crash at interpreter exit once a client was used (sdk-python #300:
  PyGILState_Release or a segfault, exit 134/139 after the work succeeded). Commands that
  used Temporal therefore flush their output and leave with `os._exit(status)`, so that
  the status says what happened. `exit_now` is that exit; `beets_is_main` tells the
  plugin whether this process is beets' own command line (where it may exit) or beets
  running inside another program such as pytest (where it must not).
- Long-running commands (the worker, the local service) stop on the first SIGINT or
  SIGTERM after the running steps finish, and at once on a second one (Temporal retries
  an interrupted step on another worker). `stop_on_signals` installs that handler.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Callable


def exit_now(status: int) -> None:
    """Flush what was written and leave with `status`, skipping interpreter shutdown."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def beets_is_main() -> bool:
    """True when this process is beets' command line (`beet ...` or `python -m beets`)."""
    main = sys.modules.get("__main__")
    spec_name = getattr(getattr(main, "__spec__", None), "name", "") or ""
    script = os.path.basename(getattr(main, "__file__", "") or "")
    return spec_name == "beets.__main__" or script in ("beet", "beet.exe", "beet-script.py")


def stop_on_signals(
    stop: asyncio.Event,
    on_second: Callable[[], None] | None = None,
    loop: asyncio.AbstractEventLoop | None = None,
) -> Callable[[], None]:
    """SIGINT/SIGTERM set `stop`; a second signal calls `on_second` (if given), then
    leaves at once with status 1. Returns the function that removes the handlers."""
    loop = loop or asyncio.get_running_loop()

    def on_signal() -> None:
        if stop.is_set():
            if on_second is not None:
                on_second()
            exit_now(1)
        stop.set()

    signals = (signal.SIGINT, signal.SIGTERM)
    for signum in signals:
        loop.add_signal_handler(signum, on_signal)

    def remove() -> None:
        for signum in signals:
            loop.remove_signal_handler(signum)

    return remove
