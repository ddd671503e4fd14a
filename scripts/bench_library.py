"""`beet djset --duration 2h` on a large real beets library, end to end (`--size 20000`).

Builds (once, in --dir) a library of --size tiny tagged files (MP3/FLAC/M4A in turn, tags
in every notation the tests use) with BPM/key from the GiantSteps data (as in
bench_sequencing.py: real BPM/key pairs, repeats moved by -2..+2 %), imported with the real
`beet import -A -C`. The generated files last 0.2 s, so the library's `length` is then set
to 4-8 min per item in the database (sqlite UPDATE; beets reads lengths from the audio,
and a 2-hour set needs tracks of real length).

Then, each as a whole process timed by /usr/bin/time -v (wall, peak RSS):
- `beet djset --export FILE` twice: with the tag cache emptied (every file's tags read)
  and again (files unchanged: tags from the cache, files/tagging/tag_cache.py),
- `beet djset --duration 2h` (export, embedded Temporal server + worker, workflow,
  playlist), its output checked for payload warnings.

Last, the same tracks as a SetRequest through an embedded server whose log is kept: the
largest payload in the run's history and any server warning about payload size.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import sqlite3
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "scripts"))

from beets_helpers import import_music, spec_for, write_music  # noqa: E402
from bench_sequencing import add_tsv_option, draw_tracks, rows_of  # noqa: E402
from process_timing import timed_beet  # noqa: E402
from temporal_helpers import history_payloads  # noqa: E402

from djcurator_core.core.models import load_tracks  # noqa: E402
from djcurator_core.core.planning.planning import SetOptions  # noqa: E402


def build(folder: Path, rows: list[dict[str, str]], size: int, seed: int) -> float:
    tracks = draw_tracks(rows, size, seed)
    files = {}
    for index, track in enumerate(tracks):
        named = track.model_copy(
            update={"title": f"Track {index}", "artist": f"Artist {index % 997}", "album": "A"}
        )
        files[f"{index:06d}.{('mp3', 'flac', 'm4a')[index % 3]}"] = spec_for(index, named)
    write_music(folder, files, 0.2)
    started = time.perf_counter()
    import_music(folder, extra_config=f"djset: {{playlist_dir: {folder}}}\n")
    imported = time.perf_counter() - started
    with sqlite3.connect(folder / "library.db") as db:
        db.execute("UPDATE items SET length = 240 + (id * 7919) % 240")
    return imported


async def payload_check(tracks_file: Path) -> tuple[int, list[str]]:
    """The exported tracks through a server whose log we keep: (largest payload in the
    history, the log's lines about payload/blob size)."""
    from djcurator_core.pipeline.sets.client import start_set, wait_for_result
    from djcurator_core.pipeline.sets.workflows import SetRequest
    from djcurator_core.pipeline.workers.worker import embedded_runtime

    log = tracks_file.with_name(f"temporal-{uuid.uuid4().hex[:6]}.log")
    async with embedded_runtime(task_queue="bench", log_path=str(log)) as client:
        request = SetRequest(
            name=f"bench-{uuid.uuid4().hex[:6]}",
            tracks=load_tracks(tracks_file),
            options=SetOptions(duration=7200),
        )
        handle = await start_set(client, request, task_queue="bench")
        await wait_for_result(handle)
        payloads = history_payloads(await handle.fetch_history())
        text = log.read_text(errors="replace")
    warnings = [
        line for line in text.splitlines() if re.search(r"(?i)blob|payload.*(size|limit)", line)
    ]
    return max(p.ByteSize() for p in payloads), warnings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--dir", type=Path, default=ROOT / "build" / "bench-library")
    add_tsv_option(parser)
    args = parser.parse_args()
    folder = args.dir.resolve() / str(args.size)
    if not (folder / "library.db").exists():
        folder.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        imported = build(folder, rows_of(args.tsv), args.size, args.seed)
        print(
            f"built {args.size} files in {time.perf_counter() - started:.0f} s "
            f"(beet import -A -C: {imported:.0f} s)",
            flush=True,
        )
    tracks_file = folder / "tracks.json"
    print(f"{'command':<38} {'wall s':>7} {'peak MB':>8}")
    for label in ("beet djset --export (tag cache cold)", "beet djset --export (warm)"):
        if "cold" in label:
            shutil.rmtree(folder / ".cache" / "beets-djset", ignore_errors=True)
        run = timed_beet(folder, "djset", "--export", str(tracks_file))
        print(f"{label:<38} {run.wall_seconds:>7.1f} {run.peak_mb:>8.0f}", flush=True)
    run = timed_beet(folder, "djset", "-n", "bench", "--duration", "2h")
    output = run.stdout + run.stderr
    warned = [line for line in output.splitlines() if re.search(r"(?i)payload|blob", line)]
    print(
        f"{'beet djset --duration 2h':<38} {run.wall_seconds:>7.1f} {run.peak_mb:>8.0f}", flush=True
    )
    print(f"payload lines in its output: {warned or 'none'}")
    largest, warnings = asyncio.run(payload_check(tracks_file))
    print(
        f"same tracks via SetRequest: largest payload {largest} bytes; "
        f"server log lines about payload size: {warnings or 'none'}"
    )


if __name__ == "__main__":
    main()
