"""`make demo`: a throwaway beets library from the 20 fixture tracks, then `beet djset` on it.

1. Generates one real audio file per track of fixtures/tracks_enriched.json (MP3, FLAC
   and M4A in turn, silent, as long as the fixture says) and tags it the way DJ tools do,
   in varying notations: ID3 TBPM with decimals / TKEY / TXXX:EnergyLevel or a Mixed In
   Key comment, Vorbis BPM / INITIALKEY or KEY / ENERGYLEVEL, MP4 tmpo / freeform
   initialkey / EnergyLevel.
2. Imports them with `beet import -A -C` into a library under build/demo (BEETSDIR).
   Both steps are tests/beets_helpers.py's, which the tests build their libraries with.
3. Runs `beet djset -n "Demo set"` with no Temporal configuration, so the plugin starts
   the embedded dev server and an in-process worker, and prints the playlist. The command
   is printed first as a line to copy: BEETSDIR and the full path of .venv/bin/beet.

The environment is isolated (BEETSDIR, HOME, no TEMPORAL_* variables), so neither the
user's beets library nor a Temporal profile is touched or used.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from beets_helpers import BEET, build_library, clean_env, fixture_files  # noqa: E402

from djcurator_core.core.models import load_tracks  # noqa: E402


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
    tracks = load_tracks(args.fixture)
    files = fixture_files(tracks)
    lengths = (args.seconds or track.duration or 1.0 for track in tracks)
    seconds = dict(zip(files, lengths, strict=True))
    library = build_library(
        folder, files, seconds, extra_config=f"djset:\n  playlist_dir: {folder / 'playlists'}\n"
    )
    count = len(list(library.music.iterdir()))
    print(
        f"demo library: {folder} ({count} generated files, "
        f"{time.perf_counter() - started:.1f} s to generate and import)",
        flush=True,
    )

    command = [BEET, "djset", "-n", "Demo set", *args.djset_args]
    # The full path of this environment's `beet` (it is in .venv/bin, not on PATH), so the
    # printed line works when copied into a shell, from any folder.
    print(f"$ BEETSDIR={shlex.quote(str(folder))} {shlex.join(command)}", flush=True)
    started = time.perf_counter()
    run = subprocess.run(command, env=clean_env(library), cwd=folder)
    if run.returncode:
        return run.returncode
    print(f"(beet djset took {time.perf_counter() - started:.1f} s)")
    for playlist in sorted((folder / "playlists").glob("Demo set.*")):
        print(f"\nplaylist: {playlist}\n")
        print(playlist.read_text(encoding="utf-8"), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
