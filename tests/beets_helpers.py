"""Real beets libraries for the tests, `make demo` and the benchmarks: the tagged test
files, a library built in a folder with `beet import` (`build_library`), the fixture
tracks as tagged files (`fixture_files`), `beet(...)` as a subprocess that checks the
library and files stay unchanged, config overlays for a Temporal server, a plain M3U
reader, and a folder made read-only (for root too). The scripts put tests/ on sys.path
to import it; pytest is only imported where a test needs it.
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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from audiofiles import FORMATS, DJTagSpec, make_audio_file

if TYPE_CHECKING:
    from djcurator_core.core.models import Track

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


def clean_env(library: Library | Path) -> dict[str, str]:
    """This environment without TEMPORAL_* and BEETS*, with the library's folder (or the
    folder given) as BEETSDIR and HOME: the user's beets and Temporal setup stay out."""
    root = str(library.root if isinstance(library, Library) else library)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEMPORAL_", "BEETS"))}
    env.update(BEETSDIR=root, HOME=root, PYTHONUNBUFFERED="1")
    return env


def build_library(
    root: Path,
    files: Mapping[str, DJTagSpec] = LIBRARY,
    seconds: float | Mapping[str, float] = 1.0,
    extra_config: str = "",
) -> Library:
    """Files generated and tagged in each convention (`seconds` long: one length for all
    or one per file name), imported with `beet import -A -C` into a library under `root`
    (its BEETSDIR and HOME, with the djset plugin enabled; `extra_config` is appended to
    its config.yaml)."""
    write_music(root, files, seconds)
    return import_music(root, extra_config)


def write_music(
    root: Path, files: Mapping[str, DJTagSpec], seconds: float | Mapping[str, float] = 1.0
) -> None:
    """The tagged files in root/music (the first half of `build_library`)."""
    for name, spec in files.items():
        length = seconds if isinstance(seconds, int | float) else seconds[name]
        make_audio_file(root / "music" / name, spec, seconds=length)


def import_music(root: Path, extra_config: str = "") -> Library:
    """Write the config and `beet import` root/music (the second half of `build_library`)."""
    music = root / "music"
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
        )
        + textwrap.dedent(extra_config),
        encoding="utf-8",
    )
    lib = Library(root, music)
    subprocess.run(
        [BEET, "import", "-A", "-C", "-q", str(music)],
        env=clean_env(lib),
        check=True,
        capture_output=True,
    )
    return lib


def spec_for(index: int, track: Track) -> DJTagSpec:
    """Tags for one fixture track, rotating through the notations DJ tools write: key as
    name / Camelot / Open Key, energy in its own tag or in a Mixed In Key comment, the
    Vorbis KEY or INITIALKEY field."""
    from djcurator_core.core.keys import parse_key

    key = parse_key(track.key)
    notation = index % 3
    key_text = None if key is None else (key.name, key.camelot, key.open_key)[notation]
    bpm = None if track.bpm is None else f"{track.bpm:.2f}"
    energy = None if track.energy is None else f"{track.energy:g}"
    in_comment = index % 2 == 1 and energy is not None and key is not None
    return DJTagSpec(
        title=track.title,
        artist=track.artist,
        album=track.album,
        genre=track.genre,
        bpm=bpm,
        key=key_text,
        energy=None if in_comment else energy,
        comment=f"{key.camelot} - Energy {energy}" if in_comment else None,
        vorbis_key_field="KEY" if index % 4 == 0 else "INITIALKEY",
    )


def fixture_files(tracks: Sequence[Track], count: int | None = None) -> dict[str, DJTagSpec]:
    """File name -> tags for `count` files (default: one per track) made from the tracks,
    repeated as needed (repeats get a numbered title), MP3, FLAC and M4A in turn."""
    files = {}
    for index in range(len(tracks) if count is None else count):
        track = tracks[index % len(tracks)]
        if index >= len(tracks):
            track = track.model_copy(update={"title": f"{track.title} {index}"})
        name = f"{index:05d} {track.artist} - {track.title}".replace("/", "-")
        files[f"{name}.{FORMATS[index % len(FORMATS)]}"] = spec_for(index, track)
    return files


def beet_command(library: Library, config: str = "") -> list[str]:
    """`beet`, with `-c OVERLAY` when there is a config overlay (written to a new file in
    the library's folder)."""
    if not config:
        return [BEET]
    overlay = library.root / f"overlay-{uuid.uuid4().hex[:8]}.yaml"
    overlay.write_text(textwrap.dedent(config), encoding="utf-8")
    return [BEET, "-c", str(overlay)]


async def beet(
    library: Library, *args: str, config: str = "", env: dict | None = None, timeout: float = 120
) -> Run:
    """Run `beet [-c overlay] ARGS` and check that the library and files stayed the same."""
    before = snapshot(library)
    process = await asyncio.create_subprocess_exec(
        *beet_command(library, config),
        *args,
        env={**clean_env(library), **(env or {})},
        cwd=library.root,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout)
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
    import pytest

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
