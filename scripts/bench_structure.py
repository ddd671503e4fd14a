"""Benchmark the beat grid, downbeat, phrase and intro/outro analysis on rendered tracks
of known structure, and the time it costs per track.

Renders a set of dance tracks with tests/structured_music.py (several tempi 118-176 BPM,
four-on-the-floor and drum & bass, lead-ins of silence up to 3 s, four layouts: the
issue's intro/build/break/drop/outro, a 6-minute one with two drops, a 2-minute one and
one that opens with its hook), plus two tracks with a tempo change (for the steady
check), encodes them as 44.1 kHz stereo MP3 at 192 kbit/s (what a library holds) and
runs the product's whole file analysis (files/audio_decode.analyse_track) on each.
Prints markdown tables:

- accuracy: share of tracks whose grid is within 20 ms of every true beat, first
  downbeat within 20 ms, tempo within 0.01 BPM, sections exactly the true ones (each
  within one beat), the phrase starts, the intro and the outro exactly; tempo changes
  flagged unsteady;
- time per track (CPU seconds per minute of audio, one process, one core): the whole
  analyse_track (decode, estimates, structure) on every track; decoding the whole file,
  the structure analysis and analyse_file (the excerpt-only estimates, seeking) on the
  first --timed tracks; and what that makes for a 6-minute track;
- mix points: when core/mixing/mix_points.py is there (the mixpoints branch), the
  tracks in rendered order as a set: how many transitions got a mix point, how many
  are on phrases by the mix point's own account, and how many fall on true phrase
  boundaries of both tracks.

Usage: python scripts/bench_structure.py [--tracks 30] [--timed 12] [--dir build/bench-structure]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from structured_music import (  # noqa: E402
    BASS,
    CHORDS,
    DEFAULT_LAYOUT,
    DRUMS,
    LEAD,
    LONG_LAYOUT,
    Section,
    StructuredSpec,
    render,
)

from djcurator_core.core.track_structure import TrackStructure  # noqa: E402
from djcurator_core.files.audio_decode import (  # noqa: E402
    analyse_file,
    analyse_track,
    decode_track,
)

RATE = 44100
RENDER_RATE = 22050
SHORT_LAYOUT = (
    Section("intro", 16, frozenset({DRUMS})),
    Section("build", 8, frozenset({DRUMS, BASS, CHORDS})),
    Section("break", 8, frozenset({CHORDS, LEAD})),
    Section("drop", 16, frozenset({DRUMS, BASS, CHORDS, LEAD})),
    Section("outro", 16, frozenset({DRUMS, BASS})),
)
HOOK_FIRST = (Section("hook", 16, frozenset({DRUMS, BASS, CHORDS, LEAD})), *DEFAULT_LAYOUT[2:])
LAYOUTS = {"issue": DEFAULT_LAYOUT, "long": LONG_LAYOUT, "short": SHORT_LAYOUT,
           "hook first": HOOK_FIRST}  # fmt: skip
TEMPI = (118, 120, 122, 124, 125, 126, 127, 128, 130, 132, 134, 136, 138, 140, 145,
         150, 160, 170, 172, 174, 175, 176)  # fmt: skip


def specs(count: int) -> list[tuple[str, StructuredSpec]]:
    layouts = list(LAYOUTS.items())
    out = []
    for i in range(count):
        name, layout = layouts[i % len(layouts)]
        bpm = float(TEMPI[(i * 7) % len(TEMPI)]) + (0.5 if i % 5 == 3 else 0.0)
        spec = StructuredSpec(
            bpm=bpm,
            tonic=(i * 5) % 12,
            minor=i % 3 != 0,
            lead_in=round((i * 0.37) % 3.0, 2),
            layout=layout,
            seed=100 + i,
        )
        out.append((f"{i:02d} {name} {bpm:g}", spec))
    return out


UNSTEADY = [
    ("tempo change 124->128", StructuredSpec(bpm=124.0, seed=90, tempo_change=(57, 128.0))),
    ("tempo change 174->170", StructuredSpec(bpm=174.0, seed=91, tempo_change=(49, 170.0))),
]


def encode_mp3(path: Path, samples: np.ndarray, rate: int) -> None:
    """44.1 kHz stereo MP3, 192 kbit/s (both channels the same); the music is rendered
    at `rate` and interpolated up (it has nothing above 11 kHz)."""
    import av

    if rate != RATE:
        times = np.arange(int(samples.size * RATE / rate)) / RATE
        samples = np.interp(times, np.arange(samples.size) / rate, samples)
    data = (np.clip(samples, -1, 1) * 32767).astype(np.int16)
    with av.open(str(path), "w", format="mp3") as container:
        stream = container.add_stream("libmp3lame", rate=RATE)
        stream.layout = "stereo"
        stream.bit_rate = 192_000
        for start in range(0, data.size, 1152):
            chunk = data[start : start + 1152]
            frame = av.AudioFrame.from_ndarray(
                np.tile(chunk, (2, 1)), format="s16p", layout="stereo"
            )
            frame.sample_rate, frame.pts = RATE, start
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


def grid_error_ms(found: TrackStructure, spec: StructuredSpec) -> float:
    truth = spec.beat_times()
    grid = found.first_downbeat + np.arange(truth.size) * 60.0 / found.bpm
    return float(np.abs(grid - truth).max() * 1000)


def sections_within_a_beat(found: TrackStructure, spec: StructuredSpec) -> bool:
    beat, starts = 60.0 / spec.bpm, spec.bar_starts()
    if len(found.sections) != len(spec.section_starts()):
        return False
    return all(
        abs(found.time_of_bar(bar) - starts[true - 1]) <= beat
        for bar, true in zip(found.sections, spec.section_starts(), strict=True)
    )


def cpu(fn, *args):
    start = time.process_time()
    result = fn(*args)
    return result, time.process_time() - start


def share(values: list[bool]) -> str:
    return f"{sum(values)}/{len(values)}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tracks", type=int, default=30)
    parser.add_argument("--dir", type=Path, default=ROOT / "build" / "bench-structure")
    parser.add_argument(
        "--timed", type=int, default=12, help="tracks timed step by step (the first N)"
    )
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    cases = specs(args.tracks)
    files = {}
    for name, spec in [*cases, *UNSTEADY]:
        path = args.dir / (name.replace(" ", "_").replace(">", "") + ".mp3")
        if not path.exists():  # written under another name first: no half files kept
            partial = path.with_name(path.stem + ".part.mp3")
            encode_mp3(partial, render(spec, RENDER_RATE), RENDER_RATE)
            partial.rename(path)
        files[name] = path
    from djcurator_core.core.analysis.structure import analyse_structure

    analyse_track(files[cases[0][0]])  # imports and first-call costs out of the timing
    rows, results, times = [], {}, {"decode": [], "structure": [], "track": [], "file": []}
    for index, (name, spec) in enumerate(cases):
        path = files[name]
        analysis, t_track = cpu(analyse_track, path)
        times["track"].append(t_track / (spec.seconds / 60))
        if index < args.timed:
            decoded, t_decode = cpu(decode_track, path)
            _, t_structure = cpu(
                analyse_structure, decoded.whole, decoded.whole_rate, analysis.estimates.bpm
            )
            _, t_file = cpu(analyse_file, path)
            for key, value in (("decode", t_decode), ("structure", t_structure),
                               ("file", t_file)):  # fmt: skip
                times[key].append(value / (spec.seconds / 60))
        found = analysis.structure
        results[name] = found
        ok = found is not None and found.steady
        error = grid_error_ms(found, spec) if ok else float("inf")
        rows.append(
            {
                "grid": ok and error <= 20,
                "error": error,
                "downbeat": ok and abs(found.first_downbeat - spec.first_downbeat) <= 0.020,
                "tempo": ok and abs(found.bpm - spec.bpm) <= 0.01,
                "sections": ok and sections_within_a_beat(found, spec),
                "phrases": ok and found.phrases == spec.phrase_starts(),
                "intro": ok
                and found.intro is not None
                and (found.intro.start, found.intro.end) == spec.intro,
                "outro": ok
                and found.outro is not None
                and (found.outro.start, found.outro.end) == spec.outro,
            }
        )
        if not all(v for k, v in rows[-1].items() if k != "error"):
            print(f"miss: {name}: {found}", file=sys.stderr)
    unsteady = []
    for name, _ in UNSTEADY:
        found = analyse_track(files[name]).structure
        unsteady.append(found is not None and not found.steady)

    n = len(rows)
    errors = [r["error"] for r in rows if np.isfinite(r["error"])]
    print(f"## Accuracy ({n} rendered tracks, MP3 192 kbit/s, {min(TEMPI)}-{max(TEMPI)} BPM)\n")
    print("| measure | tracks |")
    print("|---|---|")
    print(f"| grid within 20 ms of every beat | {share([r['grid'] for r in rows])} |")
    if errors:
        print(
            f"| grid error, worst beat (median / max over tracks) | "
            f"{statistics.median(errors):.1f} ms / {max(errors):.1f} ms |"
        )
    print(f"| first downbeat within 20 ms | {share([r['downbeat'] for r in rows])} |")
    print(f"| tempo within 0.01 BPM | {share([r['tempo'] for r in rows])} |")
    print(f"| sections: every true one within one beat, no others | "
          f"{share([r['sections'] for r in rows])} |")  # fmt: skip
    print(f"| phrase starts (every 8 bars of each section) exact | "
          f"{share([r['phrases'] for r in rows])} |")  # fmt: skip
    print(f"| intro exact | {share([r['intro'] for r in rows])} |")
    print(f"| outro exact | {share([r['outro'] for r in rows])} |")
    print(f"| tempo change flagged unsteady | {share(unsteady)} |")

    print("\n## Time (CPU seconds per minute of audio, one process, one core)\n")
    print("| step | tracks | median | max | x 6 minutes (median; only what scales with length) |")
    print("|---|---|---|---|---|")
    for key, label in (("decode", "decode the whole MP3 (decode_track)"),
                       ("structure", "structure analysis (analyse_structure)"),
                       ("track", "analyse_track: decode + estimates + structure"),
                       ("file", "analyse_file: excerpt estimates only (before)")):  # fmt: skip
        values = times[key]
        if not values:  # --timed 0
            continue
        med = statistics.median(values)
        scaled = f"{6 * med:.2f}" if key in ("decode", "structure") else "-"
        print(f"| {label} | {len(values)} | {med:.3f} | {max(values):.3f} | {scaled} |")

    mix_report(cases, results)


def mix_report(cases, results) -> None:
    print("\n## Mix points (the tracks in rendered order as one set)\n")
    try:
        from djcurator_core.core.mixing.mix_points import mix_point
    except ImportError:
        print(
            "core/mixing/mix_points.py is not there (the mixpoints branch is not merged): "
            "no mix points measured"
        )
        return
    from djcurator_core.core.models import Track

    tracks = [
        Track(id=str(i), bpm=spec.bpm, key="8A", duration=spec.seconds, structure=results[name])
        for i, (name, spec) in enumerate(cases)
    ]
    got = on_phrases = on_truth = 0
    for (_, a_spec), (_, b_spec), a, b in zip(cases, cases[1:], tracks, tracks[1:], strict=False):
        point = mix_point(a, b)
        if point is None:
            continue
        got += 1
        on_phrases += point.on_phrases
        on_truth += point.out_bar in a_spec.phrase_starts() and point.in_bar in (
            b_spec.phrase_starts()
        )
    transitions = len(tracks) - 1
    print("| transitions | with a mix point | on phrases (its own account) | on true phrases |")
    print("|---|---|---|---|")
    print(f"| {transitions} | {got} | {on_phrases} | {on_truth} ({on_truth / transitions:.0%}) |")


if __name__ == "__main__":
    main()
