"""Time the plugin's own steps on libraries of growing size and print a table.

For each size N: generate N short tagged files (the fixture tracks repeated, MP3/FLAC/M4A
in turn), import them with `beet import -A -C`, then time
- export: `beet djset --export FILE` (query the library + read every file's tags),
- djset: `beet djset` end to end (export, embedded server + worker, workflow, playlist).
The embedded server's start is part of the djset time. Solver: the default.

Usage: python scripts/bench_plugin.py [--sizes 20 200 1000] [--dir build/bench-plugin]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from beets_helpers import BEET, clean_env, fixture_files, import_music, write_music  # noqa: E402

from djcurator_core.core.models import load_tracks  # noqa: E402


def build(folder: Path, size: int) -> float:
    """A library of `size` 0.2 s files made from the fixture tracks; seconds to import."""
    files = fixture_files(load_tracks(ROOT / "fixtures" / "tracks_enriched.json"), size)
    write_music(folder, files, 0.2)
    started = time.perf_counter()
    import_music(folder, extra_config=f"djset: {{playlist_dir: {folder}}}\n")
    return time.perf_counter() - started


def timed(folder: Path, *args: str) -> float:
    started = time.perf_counter()
    subprocess.run([BEET, *args], env=clean_env(folder), check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20, 200, 1000])
    parser.add_argument("--dir", type=Path, default=ROOT / "build" / "bench-plugin")
    args = parser.parse_args()
    print(f"{'tracks':>7} {'import s':>9} {'export s':>9} {'djset s':>8}")
    for size in args.sizes:
        folder = args.dir.resolve() / str(size)
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        imported = build(folder, size)
        exported = timed(folder, "djset", "--export", str(folder / "tracks.json"))
        djset = timed(folder, "djset", "-n", "bench")
        print(f"{size:>7} {imported:>9.1f} {exported:>9.1f} {djset:>8.1f}", flush=True)


if __name__ == "__main__":
    main()
