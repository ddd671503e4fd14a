"""`make demo`: a throwaway beets library from the 20 fixture tracks, then `beet djset` on it.

1. Generates one real audio file per track of fixtures/tracks_enriched.json (MP3, FLAC
   and M4A in turn, silent, as long as the fixture says) and tags it the way DJ tools do,
   in varying notations: ID3 TBPM with decimals / TKEY / TXXX:EnergyLevel or a Mixed In
   Key comment, Vorbis BPM / INITIALKEY or KEY / ENERGYLEVEL, MP4 tmpo / freeform
   initialkey / EnergyLevel.
2. Imports them with `beet import -A -C` into a library under build/demo (BEETSDIR).
3. Runs `beet djset -n "Demo set"` with no Temporal configuration, so the plugin starts
   the embedded dev server and an in-process worker, and prints the playlist.

The environment is isolated (BEETSDIR, HOME, no TEMPORAL_* variables), so neither the
user's beets library nor a Temporal profile is touched or used.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from audiofiles import DJTagSpec, make_audio_file  # noqa: E402

from djcurator_core.keys import parse_key  # noqa: E402
from djcurator_core.models import Track, load_tracks  # noqa: E402

BEET = str(Path(sys.executable).parent / "beet")
FORMATS = ("mp3", "flac", "m4a")


def spec_for(index: int, track: Track) -> DJTagSpec:
    """Tags for one track, rotating through the notations DJ tools write."""
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


def build_library(folder: Path, fixture: Path, seconds: float | None) -> Path:
    """Generate, tag and import the fixture tracks; returns the music folder."""
    music = folder / "music"
    for index, track in enumerate(load_tracks(fixture)):
        suffix = FORMATS[index % len(FORMATS)]
        name = f"{track.id} {track.artist} - {track.title}.{suffix}".replace("/", "-")
        length = seconds if seconds is not None else (track.duration or 1.0)
        make_audio_file(music / name, spec_for(index, track), seconds=length)
    (folder / "config.yaml").write_text(
        textwrap.dedent(
            f"""\
            directory: {music}
            library: {folder / "library.db"}
            plugins: [djset]
            import:
              write: no
              copy: no
              move: no
              autotag: no
              quiet: yes
            djset:
              playlist_dir: {folder / "playlists"}
            """
        ),
        encoding="utf-8",
    )
    run = subprocess.run(
        [BEET, "import", "-A", "-C", "-q", str(music)],
        env=isolated_env(folder),
        capture_output=True,
        text=True,
    )
    if run.returncode:
        sys.exit(f"beet import failed:\n{run.stderr}")
    return music


def isolated_env(folder: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEMPORAL_", "BEETS"))}
    env.update(BEETSDIR=str(folder), HOME=str(folder))
    return env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=ROOT / "build" / "demo")
    parser.add_argument("--fixture", type=Path, default=ROOT / "fixtures" / "tracks_enriched.json")
    parser.add_argument(
        "--seconds", type=float, help="length of every file (default: the fixture durations)"
    )
    parser.add_argument("djset_args", nargs="*", help="extra arguments for beet djset")
    args = parser.parse_args(argv)

    folder = args.dir.resolve()
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    started = time.perf_counter()
    music = build_library(folder, args.fixture, args.seconds)
    count = len(list(music.iterdir()))
    print(
        f"demo library: {folder} ({count} generated files, "
        f"{time.perf_counter() - started:.1f} s to generate and import)",
        flush=True,
    )

    command = [BEET, "djset", "-n", "Demo set", *args.djset_args]
    print(f"$ BEETSDIR={folder} beet {shlex.join(command[1:])}", flush=True)
    started = time.perf_counter()
    run = subprocess.run(command, env=isolated_env(folder), cwd=folder)
    if run.returncode:
        return run.returncode
    print(f"(beet djset took {time.perf_counter() - started:.1f} s)")
    for playlist in sorted((folder / "playlists").glob("Demo set.*")):
        print(f"\nplaylist: {playlist}\n")
        print(playlist.read_text(encoding="utf-8"), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
