"""Benchmark the audio analysis (beet djanalyze) on generated music of known tempo and key.

Generates tracks with tests/synth_music.py (kick/snare/hat/bass/chord patterns rendered
with numpy), encodes them with PyAV into every format beets handles, and runs the
product's own file analysis (files/audio_decode.analyse_file) on them. Prints markdown
tables:

- accuracy: tempo accuracy1 (within 4 %) and accuracy2 (also right at x2, x1/2, x3,
  x1/3), key MIREX weighted score (exact 1, fifth 0.5, relative 0.3, parallel 0.2) over
  tracks in all 24 keys and tempos spread over 70-180 BPM;
- energy: Spearman rank correlation of the 1-10 estimate with the designed intensity;
- speed: wall time per 30-s clip (decode + analysis, one process, one core) and per
  6-minute track; a whole cold process for one clip (imports included);
- memory: peak RSS of one process analysing few and many files (flat = no growth).

Usage: python scripts/bench_analyze.py [--tracks 96] [--dir build/bench-analyze]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from audiofiles import AUDIO_FORMATS, encode_audio  # noqa: E402
from synth_music import SR, TrackSpec, render  # noqa: E402

from djcurator_core.files.audio_decode import analyse_file  # noqa: E402


def mirex(est: tuple[int, bool], truth: tuple[int, bool]) -> tuple[float, str]:
    (tonic, minor), (true_tonic, true_minor) = est, truth
    if est == truth:
        return 1.0, "exact"
    if minor == true_minor and (tonic - true_tonic) % 12 in (5, 7):
        return 0.5, "fifth"
    if minor != true_minor:
        relative = (tonic - true_tonic) % 12 == (3 if true_minor else 9)
        if relative:
            return 0.3, "relative"
        if tonic == true_tonic:
            return 0.2, "parallel"
    return 0.0, "other"


def tempo_ok(estimate: float, truth: float, factors=(1.0,)) -> bool:
    return any(abs(estimate / (truth * f) - 1) <= 0.04 for f in factors)


def accuracy(folder: Path, count: int, seconds: float) -> tuple[list[str], list[Path]]:
    rng = np.random.default_rng(2026)
    rows, per_style, files = [], {}, []
    key_scores, key_kinds, times = [], Counter(), []
    acc1 = acc2 = 0
    misses: list[str] = []
    for i in range(count):
        bpm = float(np.round(rng.uniform(70.0, 180.0), 2))
        tonic, minor = i % 12, (i // 12) % 2 == 1
        spec = TrackSpec(
            bpm=bpm,
            tonic=tonic,
            minor=minor,
            intensity=int(rng.integers(3, 11)),
            seconds=seconds,
            seed=1000 + i,
        )
        path = encode_audio(
            folder / f"acc{i:03d}.{AUDIO_FORMATS[i % len(AUDIO_FORMATS)]}", render(spec), SR
        )
        files.append(path)
        started = time.perf_counter()
        result = analyse_file(path)
        times.append(time.perf_counter() - started)
        ok1 = tempo_ok(result.bpm, bpm)
        ok2 = tempo_ok(result.bpm, bpm, (1.0, 2.0, 0.5, 3.0, 1 / 3))
        if not ok1:
            misses.append(f"{bpm:g} -> {result.bpm:g} ({spec.drum_style})")
        acc1 += ok1
        acc2 += ok2
        style = per_style.setdefault(spec.drum_style, [0, 0])
        style[0] += ok1
        style[1] += 1
        score, kind = mirex((result.key_pitch_class, result.key_minor), (tonic, minor))
        key_scores.append(score)
        key_kinds[kind] += 1
    rows.append(f"| tracks (all 24 keys, 70-180 BPM, {seconds:.0f} s, 7 formats) | {count} |")
    rows.append(f"| tempo accuracy1 (within 4 %) | {acc1 / count:.1%} |")
    rows.append(f"| tempo accuracy2 (octave errors allowed) | {acc2 / count:.1%} |")
    rows.append(f"| tempo misses (truth -> estimate) | {'; '.join(misses) or 'none'} |")
    for style, (good, total) in sorted(per_style.items()):
        rows.append(f"| tempo accuracy1, {style} drums | {good}/{total} |")
    rows.append(f"| key MIREX weighted score | {np.mean(key_scores):.3f} |")
    kinds = ", ".join(
        f"{kind} {key_kinds[kind]}" for kind in ("exact", "fifth", "relative", "parallel", "other")
    )
    rows.append(f"| key results | {kinds} |")
    rows.append(
        f"| wall per {seconds:.0f}-s clip (decode + analysis, in process) | "
        f"mean {np.mean(times):.2f} s, max {np.max(times):.2f} s |"
    )
    return rows, files


def energy(songs: int) -> list[str]:
    from scipy.stats import spearmanr

    designed, estimated, within = [], [], []
    for song in range(songs):
        bpm = (90.0, 124.0, 174.0, 128.0, 140.0, 100.0)[song % 6]
        levels = []
        for intensity in range(1, 11):
            spec = TrackSpec(
                bpm=bpm,
                tonic=(song * 5) % 12,
                minor=song % 2 == 0,
                intensity=intensity,
                seconds=30.0,
                seed=500 + song,
            )
            from djcurator_core.core.analysis.audio_analysis import analyse

            levels.append(analyse([render(spec)]).energy)
            designed.append(intensity)
        estimated.extend(levels)
        within.append(spearmanr(range(1, 11), levels).statistic)
    pooled = spearmanr(designed, estimated).statistic
    return [
        f"| energy: songs x intensities 1-10 | {songs} x 10 |",
        f"| energy Spearman, all tracks pooled | {pooled:.3f} |",
        f"| energy Spearman within a song (mean, min) | {np.mean(within):.3f}, "
        f"{np.min(within):.3f} |",
    ]


def _cold_process(path: Path) -> float:
    code = (
        "import sys; from djcurator_core.files.audio_decode import analyse_file; "
        "analyse_file(sys.argv[1])"
    )
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code, str(path)], check=True)
    return time.perf_counter() - started


def _batch_process(paths: list[Path]) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one process analysing `paths`."""
    # VmHWM, not ru_maxrss: the latter keeps the forking parent's peak across exec.
    code = (
        "import sys; from djcurator_core.files.audio_decode import analyse_file\n"
        "for p in sys.argv[1:]: analyse_file(p)\n"
        "print([l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')][0])"
    )
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", code, *map(str, paths)],
        check=True,
        capture_output=True,
        text=True,
    )
    return time.perf_counter() - started, int(out.stdout.split()[-1])


def speed(folder: Path, files: list[Path]) -> list[str]:
    rows = []
    clip = encode_audio(
        folder / "clip44k.mp3",
        render(TrackSpec(bpm=126.0, tonic=2, minor=True, seconds=30.0), 44100),
        44100,
    )
    long = encode_audio(
        folder / "track6min.mp3",
        render(TrackSpec(bpm=174.0, tonic=4, minor=False, seconds=360.0, seed=7), 44100),
        44100,
    )
    analyse_file(clip)  # warm
    for name, path in (("30-s clip, 44.1 kHz MP3", clip), ("6-minute track, 44.1 kHz MP3", long)):
        runs = []
        for _ in range(3):
            started = time.perf_counter()
            analyse_file(path)
            runs.append(time.perf_counter() - started)
        rows.append(f"| wall per {name} (in process, best of 3) | {min(runs):.2f} s |")
    rows.append(
        f"| whole cold process for one 30-s clip (imports included) | {_cold_process(clip):.2f} s |"
    )
    few, many = files[:8], files[: max(8, len(files))]
    t_few, rss_few = _batch_process(few)
    t_many, rss_many = _batch_process(many)
    rows.append(
        f"| one process, {len(few)} files: wall, peak RSS | {t_few:.1f} s, "
        f"{rss_few / 1024:.0f} MiB |"
    )
    rows.append(
        f"| one process, {len(many)} files: wall, peak RSS | {t_many:.1f} s, "
        f"{rss_many / 1024:.0f} MiB |"
    )
    rows.append(
        f"| per file in that process (whole process / files) | {t_many / len(many):.2f} s |"
    )
    return rows


def workflow_throughput(files: list[Path]) -> list[str]:
    """DJAnalyzeWorkflow on the embedded server, 1 process vs every core: files/s."""
    import asyncio

    from djcurator_core.pipeline.analysis.analysis_activities import PROCESSES_ENV
    from djcurator_core.pipeline.analysis.analysis_client import run_analysis
    from djcurator_core.pipeline.contracts import AnalysisItem, AnalysisRequest
    from djcurator_core.pipeline.workers.worker import embedded_runtime

    items = [AnalysisItem(item_id=i, path=str(p)) for i, p in enumerate(files)]
    rows = []
    for processes in (1, os.cpu_count() or 1):
        os.environ[PROCESSES_ENV] = str(processes)

        async def run() -> tuple[float, int]:
            async with embedded_runtime(task_queue="bench-analyze") as client:
                started = time.perf_counter()
                summary = await run_analysis(client, AnalysisRequest(items=items), "bench-analyze")
                return time.perf_counter() - started, summary.progress.failed

        import resource

        cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        seconds, failed = asyncio.run(run())  # the pool's processes are joined at the end
        cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (cpu_after.ru_utime + cpu_after.ru_stime) - (
            cpu_before.ru_utime + cpu_before.ru_stime
        )
        rows.append(
            f"| workflow, embedded server, {processes} analysis process(es): {len(items)} "
            f"files | {seconds:.1f} s, {len(items) / seconds:.2f} files/s, {failed} failed, "
            f"analysis CPU {cpu:.0f} s = {cpu / seconds:.2f} cores busy |"
        )
    os.environ.pop(PROCESSES_ENV, None)
    return rows


def beet_runs(folder: Path, files: list[Path], count: int = 24) -> list[str]:
    """`beet djanalyze` twice on a library of `count` of the files (whole processes): the
    first analyses them all, the second must find nothing to do."""
    from beets_helpers import BEET, clean_env, import_music

    root = folder / "library"
    (root / "music").mkdir(parents=True)
    for path in files[:count]:
        shutil.copy(path, root / "music" / path.name)
    import_music(root)
    rows = []
    for run in ("first", "second"):
        started = time.perf_counter()
        done = subprocess.run(
            [BEET, "djanalyze"], env=clean_env(root), capture_output=True, text=True, check=True
        )
        seconds = time.perf_counter() - started
        said = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
        rows.append(f"| `beet djanalyze`, {run} run, {count} files | {seconds:.1f} s: {said} |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=96)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--energy-songs", type=int, default=6)
    parser.add_argument("--dir", type=Path, default=ROOT / "build" / "bench-analyze")
    args = parser.parse_args()
    shutil.rmtree(args.dir, ignore_errors=True)
    args.dir.mkdir(parents=True)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    print(f"cores: {os.cpu_count()}, python {sys.version.split()[0]}")
    print("| measure | value |\n|---|---|")
    rows, files = accuracy(args.dir, args.tracks, args.seconds)
    rows += energy(args.energy_songs)
    rows += speed(args.dir, files)
    rows += workflow_throughput(files)
    rows += beet_runs(args.dir, files)
    for row in rows:
        print(row)
    load = os.getloadavg()[0]
    print(f"(load average at the end: {load:.1f} on {os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
