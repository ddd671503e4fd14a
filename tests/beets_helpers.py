"""Shared helpers for tests that run the real `beet` command on a real beets library: the
tagged test files, a library built in a temp dir with `beet import`, `beet(...)` as a
subprocess that checks the library and files stay unchanged, config overlays for a
Temporal server, a plain M3U reader, and a folder made read-only (for root too).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import subprocess
import sys
import textwrap
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from audiofiles import DJTagSpec, make_audio_file

BEET = str(Path(sys.executable).parent / "beet")

# file name -> tags, as DJ tools write them; "usable" tracks have BPM and key.
LIBRARY = {
    "01 Sodium.mp3": DJTagSpec(
        title="Sodium", artist="Nightdrive", album="Set", genre="House",
        bpm="127.60", key="F# minor", energy="6",
    ),
    "02 Glass.flac": DJTagSpec(
        title="Glass", artist="Okabe", album="Set", genre="House",
        bpm="124.5", key="8A", energy="7", vorbis_key_field="KEY",
    ),
    "03 Tide.m4a": DJTagSpec(
        title="Tide", artist="Kessel", album="Set", genre="House",
        bpm="126", key="1m", comment="9A - 5",
    ),
    "04 Lattice.mp3": DJTagSpec(
        title="Lattice", artist="Tessellate", album="Set", genre="Techno",
        bpm="126", key="Db minor", comment="12A - Energy 6",
    ),
    "05 Ünïcode Dub.flac": DJTagSpec(
        title="Ünïcode Dub", artist="Kaiho", album="Set", genre="Techno",
        bpm="122", key="Am", comment="8A - Energy 4",
    ),
    "06 Red Channel.m4a": DJTagSpec(
        title="Red Channel", artist="Varga", album="Set", genre="Techno",
        bpm="128", key="Em", energy="8",
    ),
    "07 Drift.mp3": DJTagSpec(
        title="Drift", artist="Halden", album="Set", genre="House",
        bpm="125", key="G", energy="3",
    ),
    "08 No Tempo.mp3": DJTagSpec(
        title="No Tempo", artist="Halden", album="Set", genre="Ambient", key="C",
    ),
    "09 No Key.flac": DJTagSpec(
        title="No Key", artist="Halden", album="Set", genre="Ambient", bpm="120",
    ),
}  # fmt: skip
USABLE = [name for name in LIBRARY if "No " not in name]


@dataclass
class Library:
    root: Path  # BEETSDIR and HOME of the runs
    music: Path

    @property
    def db(self) -> Path:
        return self.root / "library.db"

    def path_of(self, name: str) -> str:
        return str(self.music / name)


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str

    @property
    def errors(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.startswith("error:")]


def snapshot(library: Library) -> dict[str, tuple[str, int]]:
    files = [library.db, *sorted(library.music.iterdir())]
    return {
        str(path): (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns)
        for path in files
    }


def clean_env(library: Library) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEMPORAL_", "BEETS"))}
    env.update(BEETSDIR=str(library.root), HOME=str(library.root), PYTHONUNBUFFERED="1")
    return env


def build_library(root: Path, files: dict[str, DJTagSpec] = LIBRARY) -> Library:
    """Files generated and tagged in each convention, imported with `beet import -A -C`
    into a library under `root` (its BEETSDIR and HOME, with the djset plugin enabled)."""
    music = root / "music"
    for name, spec in files.items():
        make_audio_file(music / name, spec)
    (root / "config.yaml").write_text(
        textwrap.dedent(
            f"""\
            directory: {music}
            library: {root / "library.db"}
            plugins: [djset]
            import:
              write: no
              copy: no
              move: no
              autotag: no
              quiet: yes
            """
        ),
        encoding="utf-8",
    )
    lib = Library(root, music)
    subprocess.run([BEET, "import", "-A", "-C", "-q", str(music)], env=clean_env(lib), check=True)
    return lib


async def beet(library: Library, *args: str, config: str = "", env: dict | None = None) -> Run:
    """Run `beet [-c overlay] ARGS` and check that the library and files stayed the same."""
    before = snapshot(library)
    command = [BEET]
    if config:
        overlay = library.root / f"overlay-{uuid.uuid4().hex[:8]}.yaml"
        overlay.write_text(textwrap.dedent(config), encoding="utf-8")
        command += ["-c", str(overlay)]
    process = await asyncio.create_subprocess_exec(
        *command,
        *args,
        env={**clean_env(library), **(env or {})},
        cwd=library.root,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 120)
    assert snapshot(library) == before, "the library or an audio file changed"
    return Run(process.returncode, stdout.decode(), stderr.decode())


def server_config(server, task_queue: str, playlists: Path, extra: str = "") -> str:
    return (
        "djset:\n"
        f"  playlist_dir: {playlists}\n"
        "  temporal:\n"
        f"    address: {server.address}\n"
        f"    task_queue: {task_queue}\n"
        "    worker_wait: 2\n" + textwrap.indent(textwrap.dedent(extra), "  ")
    )


def entries(text: str) -> list[str]:
    """A plain M3U reader, as DJ software reads: every non-comment line is a track."""
    return [line for line in text.splitlines() if line.strip() and not line.startswith("#")]


def assert_one_line_error(run: Run, expected: str) -> None:
    assert run.code == 1, run.stderr
    assert "Traceback" not in run.stderr
    assert len(run.errors) == 1, run.stderr
    assert expected in run.errors[0], run.errors[0]


@contextlib.contextmanager
def read_only(folder: Path):
    """Make `folder` unwritable, for root too (chattr +i) where possible."""
    if os.geteuid() == 0:
        if subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode:
            pytest.skip("running as root without chattr +i: cannot make a folder read-only")
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
    else:
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(0o755)
