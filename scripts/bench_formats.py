"""Benchmark writing a set in every playlist format (`python scripts/bench_formats.py`).

For sets of n synthetic tracks (tests/temporal_helpers.synthetic_tracks: long titles,
every key), ordered as given and justified, each format is rendered and written
atomically to a temp folder by `write_playlists`, one format per child process, so each
row is the whole process: start, imports, reading the set (its JSON, as a worker
receives it), rendering, writing. Peak RSS is the child's VmHWM (Linux).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

CHILD = """
import sys
from djcurator_core.core.report.justify import SetResult
from djcurator_core.files.dj_formats.formats import write_playlists
result = SetResult.model_validate_json(open(sys.argv[1], encoding="utf-8").read())
written = write_playlists(result, "bench", [(sys.argv[2], sys.argv[3])])
written.raise_errors()
# VmHWM, not ru_maxrss: the latter keeps the forking parent's high-water mark.
status = open("/proc/self/status").read().split("VmHWM:")[1]
print(int(status.split()[0]))
"""


def main() -> None:
    from temporal_helpers import synthetic_tracks

    from djcurator_core.core.report.justify import justify
    from djcurator_core.files.dj_formats.formats import FORMAT_NAMES, FORMATS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,10000")
    args = parser.parse_args()
    print("| tracks | format | wall s | peak RSS MB | file KB |")
    print("|---:|---|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as folder:
        for n in (int(size) for size in args.sizes.split(",")):
            tracks = synthetic_tracks(n, seed=1)
            result = justify(tracks, list(range(n)), solver="naive")
            source = Path(folder) / f"set-{n}.json"
            source.write_text(result.model_dump_json(), encoding="utf-8")
            for fmt in FORMAT_NAMES:
                target = Path(folder) / f"bench-{n}{FORMATS[fmt].suffix}"
                start = time.perf_counter()
                child = subprocess.run(
                    [sys.executable, "-c", CHILD, str(source), fmt, str(target)],
                    check=True,
                    capture_output=True,
                    text=True,
                )
                wall = time.perf_counter() - start
                peak_mb = int(child.stdout.split()[-1]) / 1024  # VmHWM is in kB
                size = target.stat().st_size / 1024
                print(f"| {n:,} | {fmt} | {wall:.2f} | {peak_mb:.0f} | {size:,.0f} |")


if __name__ == "__main__":
    main()
