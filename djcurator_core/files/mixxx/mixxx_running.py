"""Whether a running Mixxx holds its database: the reason to refuse writing it.

Mixxx keeps its database open from start to quit (checked with Mixxx 2.3.3: a dozen open
handles on mixxxdb.sqlite) but holds no SQLite lock while idle, and it keeps its own copy
of the library in memory, so rows written under it would be overwritten or ignored. A
lock test alone therefore cannot tell; the signals, most precise first:

- Linux: a process with the database file open (/proc/PID/fd), whatever its name.
- any platform: a process named mixxx whose settings folder (--settingsPath, else the
  platform default) is the database's folder; where the arguments cannot be read (ps or
  tasklist only), any process named mixxx.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Holder:
    pid: int
    name: str  # the program's name
    how: str  # "has it open" / "uses its folder" / "is running"

    def __str__(self) -> str:
        return f"{self.name} (pid {self.pid}) {self.how}"


def _same(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def _proc_holders(database: Path) -> list[Holder]:
    holders = []
    real = os.path.realpath(database)
    names = {real, real + "-journal", real + "-wal"}
    me = os.getpid()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        pid = int(entry.name)
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:  # gone, or another user's process
            fds = []
        for fd in fds:
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target in names:
                holders.append(Holder(pid, _comm(pid), "has it open"))
                break
        else:
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as handle:
                    argv = [a.decode(errors="replace") for a in handle.read().split(b"\0") if a]
            except OSError:
                continue
            if argv and _is_mixxx(argv[0]) and _uses_folder(argv, database.parent):
                holders.append(Holder(pid, os.path.basename(argv[0]), "uses its folder"))
    return holders


def _comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as handle:
            return handle.read().strip() or "a process"
    except OSError:
        return "a process"


def _is_mixxx(program: str) -> bool:
    name = os.path.basename(program).lower()
    return name in ("mixxx", "mixxx.exe") or name.startswith("mixxx-")


def _uses_folder(argv: list[str], folder: Path) -> bool:
    """Whether a Mixxx started with `argv` uses `folder` for its settings and database."""
    from djcurator_core.files.mixxx.mixxx_database import default_settings_folder

    settings = None
    for i, arg in enumerate(argv):
        if arg == "--settingsPath" and i + 1 < len(argv):
            settings = argv[i + 1]
        elif arg.startswith("--settingsPath="):
            settings = arg.split("=", 1)[1]
    if settings is None:
        settings = str(default_settings_folder())
    return _same(os.path.expanduser(settings), folder)


def _listed_holders(database: Path) -> list[Holder]:
    """macOS and Windows: the process list (arguments where `ps` shows them)."""
    holders = []
    if sys.platform == "win32":
        try:
            out = subprocess.run(
                ["tasklist", "/FO", "CSV", "/NH"], capture_output=True, text=True, timeout=10
            ).stdout
        except (OSError, subprocess.SubprocessError):
            return []
        for line in out.splitlines():
            cells = [cell.strip('"') for cell in line.split('","')]
            if len(cells) > 1 and cells[0].lower() == "mixxx.exe" and cells[1].isdigit():
                holders.append(Holder(int(cells[1]), cells[0], "is running"))
        return holders
    try:
        out = subprocess.run(
            ["ps", "-axo", "pid=,args="], capture_output=True, text=True, timeout=10
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    for line in out.splitlines():
        pid, _, args = line.strip().partition(" ")
        argv = args.split()
        if pid.isdigit() and argv and _is_mixxx(argv[0]) and _uses_folder(argv, database.parent):
            holders.append(Holder(int(pid), os.path.basename(argv[0]), "uses its folder"))
    return holders


def mixxx_holding(database: str | os.PathLike[str]) -> Holder | None:
    """The first process found holding `database` (see the module docstring), or None."""
    path = Path(database)
    found = _proc_holders(path) if os.path.isdir("/proc/self/fd") else _listed_holders(path)
    return found[0] if found else None
