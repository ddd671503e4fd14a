"""`beet djset --export` on a 100,000-item library: cold (every file's tags read) and warm
(unchanged files: tags from the cache, files/tagging/tag_cache.py).

Importing 100,000 files with `beet import` takes about half an hour here, so this script
grows the library that `scripts/bench_library.py --size 20000` built (run that first):
it hard-links the music folder's files under copy1..copyN (distinct paths: separate files
for beets and for the cache) and copies the items' rows in the database with those paths
(SQL, the item ids new; beets keeps paths relative to the music folder). Each command is
one whole `beet` process timed by /usr/bin/time -v (wall, CPU of it and its reading
processes, peak RSS).

Run it with nothing else busy (`flock /work/cpu.lock ...` where several jobs share the
machine): the machine's load average is printed before and after, and the cold export
uses every core (files/tagging/tag_batch.py).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from process_timing import timed_beet  # noqa: E402


def grow(source: Path, target: Path, copies: int) -> int:
    """The library of `source` with its items `copies` + 1 times over; the item count."""
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for name in ("config.yaml", "library.db"):
        shutil.copy2(source / name, target / name)
    config = (target / "config.yaml").read_text()
    (target / "config.yaml").write_text(config.replace(str(source), str(target)))
    music = source / "music"
    files = sorted(p for p in music.iterdir() if p.is_file())
    for copy in range(copies + 1):
        folder = target / "music" / (f"copy{copy}" if copy else "")
        folder.mkdir(parents=True, exist_ok=True)
        for path in files:
            os.link(path, folder / path.name)
    with sqlite3.connect(target / "library.db") as db:
        # beets stores paths relative to the music folder (config.yaml's directory)
        columns = [row[1] for row in db.execute("PRAGMA table_info(items)") if row[1] != "id"]
        moved = "CAST(? || CAST(path AS TEXT) AS BLOB)"
        select = ", ".join(moved if c == "path" else c for c in columns)
        for copy in range(1, copies + 1):
            db.execute(
                f"INSERT INTO items ({', '.join(columns)}) SELECT {select} FROM items "
                "WHERE CAST(path AS TEXT) NOT LIKE 'copy%'",
                (f"copy{copy}/",),
            )
        return db.execute("SELECT COUNT(*) FROM items").fetchone()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=ROOT / "build" / "bench-library" / "20000")
    parser.add_argument("--copies", type=int, default=4, help="extra copies of every item")
    parser.add_argument("--dir", type=Path, default=ROOT / "build" / "bench-export")
    args = parser.parse_args()
    target = args.dir.resolve()
    items = grow(args.source.resolve(), target, args.copies)
    print(f"library: {items} items ({args.copies + 1} paths per generated file)")
    print(f"cores: {os.cpu_count()}; load average before: {load()}")
    print(f"{'beet djset --export':<30} {'wall s':>7} {'cpu s':>7} {'peak MB':>8}  output")
    for label in ("tag cache cold", "warm", "warm again"):
        if label == "tag cache cold":
            shutil.rmtree(target / ".cache" / "beets-djset", ignore_errors=True)
        run = timed_beet(target, "djset", "--export", str(target / "tracks.json"))
        last_line = run.stdout.strip().splitlines()[-1]
        print(
            f"{label:<30} {run.wall_seconds:>7.1f} {run.cpu_seconds:>7.1f} {run.peak_mb:>8.0f}  "
            f"{last_line}",
            flush=True,
        )
    print(f"load average after: {load()}")


def load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


if __name__ == "__main__":
    main()
