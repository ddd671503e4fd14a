"""Running the real Mixxx (Debian's 2.3.3) headless for tests/test_mixxx_app.py.

`first_start` creates a settings folder and its database the way a user's first start
does (Qt's offscreen platform; ended with SIGTERM once the schema is written: Mixxx then
waits in its first-run dialogs). `run_and_quit` starts it under Xvfb, answers the
"no output sound devices" dialog with Continue (the machine has no sound card), lets the
library load, and quits through File > Exit, so that Mixxx shuts down cleanly and saves
whatever it wants to save; the log is flushed at every line (--logFlushLevel debug).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

TOOLS = ("mixxx", "Xvfb", "xdotool")
SCREEN = "1280x1024x24"
CONTINUE_BUTTON = (635, 520)  # the sound-device dialog's default button, on that screen
FILE_MENU = (20, 10)
# Warnings and errors about the database: a failed query (LOG_FAILED_QUERY), a
# transaction that did not commit, SQLite errors.
DATABASE_ERROR = re.compile(
    r"^(Warning|Critical|Fatal).*(Failed query|SqlTransaction|sqlite|QSqlError|database)",
    re.IGNORECASE,
)
# Mixxx 2.3.3 logs this at every shutdown, with an untouched database too (its scanner
# thread's connection outlives the scanner): not an error about the data.
KNOWN_SHUTDOWN_WARNING = "QSqlDatabasePrivate::removeDatabase: connection 'MIXXX-2' is still in use"


def missing_tools() -> list[str]:
    return [tool for tool in TOOLS if shutil.which(tool) is None]


def wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def log_text(settings: Path) -> str:
    try:
        return (settings / "mixxx.log").read_text(errors="replace")
    except FileNotFoundError:
        return ""


def database_errors(settings: Path) -> list[str]:
    return [
        line
        for line in log_text(settings).splitlines()
        if DATABASE_ERROR.search(line) and KNOWN_SHUTDOWN_WARNING not in line
    ]


def schema_version(db: Path) -> int | None:
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            row = con.execute(
                "SELECT value FROM settings WHERE name = 'mixxx.schema.version'"
            ).fetchone()
        finally:
            con.close()
    except sqlite3.Error:
        return None
    return int(row[0]) if row else None


def _command(settings: Path, files: list[Path]) -> list[str]:
    return [
        "mixxx",
        "--settingsPath",
        f"{settings}/",
        "--logLevel",
        "debug",
        "--logFlushLevel",
        "debug",
        *map(str, files),
    ]


def first_start(settings: Path) -> Path:
    """Start Mixxx once on an empty settings folder; its database, as it created it."""
    settings.mkdir(parents=True, exist_ok=True)
    db = settings / "mixxxdb.sqlite"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    with open(settings / "first-start.out", "wb") as out:
        mixxx = subprocess.Popen(_command(settings, []), env=env, stdout=out, stderr=out)
    try:
        wait_for(
            lambda: schema_version(db) is not None and "AnalyzerThread" in log_text(settings),
            120,
            "Mixxx to create its database",
        )
    finally:
        mixxx.send_signal(signal.SIGTERM)
        mixxx.wait(30)
    return db


class HeadlessMixxx:
    """Mixxx under its own Xvfb display, started by `start`, quit by `quit`."""

    def __init__(self, settings: Path, display: int = 97) -> None:
        self.settings = settings
        self.display = f":{display}"
        self.xvfb: subprocess.Popen | None = None
        self.mixxx: subprocess.Popen | None = None
        self.x_errors: list[str] = []

    def _x(self, *args: str) -> None:
        done = subprocess.run(
            ["xdotool", *args],
            env={**os.environ, "DISPLAY": self.display},
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode:
            self.x_errors.append(f"xdotool {' '.join(args)}: {done.stderr.strip()}")

    def _display_ready(self) -> bool:
        env = {**os.environ, "DISPLAY": self.display}
        probe = subprocess.run(["xdotool", "getdisplaygeometry"], env=env, capture_output=True)
        return probe.returncode == 0

    def _click(self, x: int, y: int) -> None:
        # two calls: this xdotool (Debian 12) fails a chained "mousemove X Y click 1"
        self._x("mousemove", str(x), str(y))
        self._x("click", "1")

    def start(self, files: list[Path]) -> None:
        self.xvfb = subprocess.Popen(
            ["Xvfb", self.display, "-screen", "0", SCREEN, "-nolisten", "tcp"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(self._display_ready, 30, "Xvfb to accept clients")
        env = {**os.environ, "DISPLAY": self.display}
        env.pop("QT_QPA_PLATFORM", None)
        with open(self.settings / "run.out", "wb") as out:
            self.mixxx = subprocess.Popen(
                _command(self.settings, files), env=env, stdout=out, stderr=out
            )
        deadline = time.monotonic() + 180
        while "Running Mixxx" not in log_text(self.settings):
            assert self.mixxx.poll() is None, "Mixxx ended during its start"
            assert time.monotonic() < deadline, "Mixxx did not reach its main window"
            self._click(*CONTINUE_BUTTON)
            time.sleep(2)

    def quit(self, seconds: float = 60) -> int:
        """File > Exit (the last item of the File menu); Mixxx's exit code."""
        assert self.mixxx is not None
        deadline = time.monotonic() + seconds
        while self.mixxx.poll() is None and time.monotonic() < deadline:
            self._click(*FILE_MENU)
            time.sleep(1.5)
            self._x("key", "Up")
            time.sleep(0.3)
            self._x("key", "Return")
            for _ in range(50):
                if self.mixxx.poll() is not None:
                    break
                time.sleep(0.2)
        code = self.mixxx.poll()
        if code is None:
            self.mixxx.kill()
            code = self.mixxx.wait()
            raise AssertionError("Mixxx did not quit through File > Exit")
        return code

    def stop(self) -> None:
        for process in (self.mixxx, self.xvfb):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()
