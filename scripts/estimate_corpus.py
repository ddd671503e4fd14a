"""The product's estimates on the analysis benchmark corpus, per style: a quick check of
the estimator alone (the side-by-side benchmark with essentia and madmom is `make
bench-analyze`).

Reads the corpus manifest (`make bench-analyze` builds it: rendered MIDI of known key and
tempo, and real recordings of known tempo), analyses every file with the product's own
decode + analysis (files/audio_decode.analyse_file), and prints per style: tempo acc1
(within 4 %), acc2 (octave errors allowed), the key's MIREX-weighted score (1 exact, 0.5
fifth, 0.3 relative, 0.2 parallel; a key-change song counts its better key), the share
of keys marked uncertain, key changes found, and the analysis CPU seconds per file.

    python scripts/estimate_corpus.py [--corpus DIR] [--genre]

--genre passes each rendered style's genre name, as beets' genre field would (the
real recordings have none): the tempo's octave then comes from the genre's range.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from djcurator_core.core.keys import Key, parse_key  # noqa: E402
from djcurator_core.files.audio_decode import analyse_file  # noqa: E402

GENRES = {
    "house": "House",
    "techno": "Techno",
    "breakbeat": "Breakbeat",
    "dnb": "Drum & Bass",
    "dubstep": "Dubstep",
    "hiphop": "Hip-Hop",
    "ambient": "Ambient",
    "keychange": "House",
}


def mirex(truth: Key, estimate: Key) -> float:
    """MIREX key score: 1 exact, 0.5 a fifth (same mode), 0.3 relative, 0.2 parallel."""
    t, e = (truth.pitch_class, truth.is_minor), (estimate.pitch_class, estimate.is_minor)
    if t == e:
        return 1.0
    if t[1] == e[1] and (e[0] - t[0]) % 12 in (5, 7):
        return 0.5
    if t[1] != e[1]:
        relative = (t[0] + 3) % 12 if t[1] else (t[0] - 3) % 12
        if e[0] == relative:
            return 0.3
        if e[0] == t[0]:
            return 0.2
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default="/work/bench-data/analyze-corpus")
    parser.add_argument("--genre", action="store_true", help="pass each style's genre")
    args = parser.parse_args()
    with open(os.path.join(args.corpus, "manifest.json"), encoding="utf-8") as f:
        manifest = json.load(f)["files"]
    stats: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for entry in manifest:
        genre = GENRES.get(entry["style"]) if args.genre else None
        started = time.process_time()
        result = analyse_file(os.path.join(args.corpus, entry["path"]), genre=genre)
        cpu = time.process_time() - started
        for s in (stats[entry["style"]], stats["ALL"]):
            s["n"] += 1
            s["cpu"] += cpu
            s["acc1"] += abs(result.bpm / entry["bpm"] - 1) <= 0.04
            s["acc2"] += any(
                abs(result.bpm * f / entry["bpm"] - 1) <= 0.04 for f in (1, 2, 0.5, 3, 1 / 3)
            )
        line = f"{entry['path']:42s} {entry['bpm']:6.1f} -> {result.bpm:7.2f}"
        if entry.get("key"):
            estimate = Key.from_pitch_class(result.key_pitch_class, result.key_minor)
            truths = [entry["key"]["name"]] + (
                [entry["key_change"]["name"]] if entry.get("key_change") else []
            )
            score = max(mirex(parse_key(t), estimate) for t in truths)
            for s in (stats[entry["style"]], stats["ALL"]):
                s["keys"] += 1
                s["mirex"] += score
                s["uncertain"] += result.key_uncertain
                s["changes"] += result.key_start is not None
            line += f"  {'/'.join(truths):8s} -> {estimate.name:4s} {score:.1f}"
            line += f" confidence {result.key_confidence:.2f}"
            if result.key_start:
                start = Key.from_pitch_class(*result.key_start).name
                end = Key.from_pitch_class(*result.key_end).name
                line += f" change {start} -> {end}"
        print(line, flush=True)
    print()
    print("| style | files | tempo acc1 | acc2 | keys | key MIREX | uncertain | key changes "
          "| CPU s/file |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    for style, s in sorted(stats.items(), key=lambda kv: (kv[0] == "ALL", kv[0])):
        keys = s["keys"]
        key_part = (
            f"{keys} | {s['mirex'] / keys:.3f} | {s['uncertain']} | {s['changes']}"
            if keys
            else "0 | - | - | -"
        )
        print(
            f"| {style} | {s['n']} | {s['acc1'] / s['n']:.2f} | {s['acc2'] / s['n']:.2f} "
            f"| {key_part} | {s['cpu'] / s['n']:.2f} |"
        )


if __name__ == "__main__":
    main()
