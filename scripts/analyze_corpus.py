"""Make the analysis benchmark's corpus: real recordings of known tempo, and rendered songs of
known key and tempo, encoded as records are sold, with a manifest of the true values.

- real: the full mixes of Debian's Frets on Fire songs (`fretsonfire-songs-muldjord`,
  `fretsonfire-songs-sectoid`): each song's backing track `song.ogg` mixed with its guitar
  stem `guitar.ogg` (the game plays them together), re-encoded as Ogg Vorbis; the true tempo
  is the tempo map of the song's `notes.mid` (the one that holds longest; every change is
  listed). Their keys are not known, so they count for tempo only.
- rendered: MIDI songs in eight styles (scripts/analyze_bench/music.py), all 24 keys,
  rendered by fluidsynth with the FluidR3 General MIDI soundfont, mixed down and compressed
  with sox and limited with ffmpeg (as records are mastered), encoded to MP3, AAC (M4A) and
  Ogg Vorbis
  at usual bit rates by ffmpeg.

The system tools (fluidsynth, fluid-soundfont-gm, sox, ffmpeg and the songs) are Debian
packages that `make bench-analyze` installs; the product needs none of them. The corpus is
written under --dir (default build/analyze-corpus, ignored by git) with manifest.json, and
the file READY once it is complete. The manifest lists only finished files (it is replaced
whole after each one), so it can be read while a run extends it; a second run keeps the
files whose spec has not changed, and fewer --per-style make a prefix of the same corpus.

Usage: python scripts/analyze_corpus.py [--dir DIR] [--per-style 8] [--seconds 120 180]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts" / "analyze_bench"))
sys.path.insert(0, str(ROOT))

from midi_file import read_tempo_map, write_midi  # noqa: E402
from music import STYLES, SongSpec, render_style  # noqa: E402

from djcurator_core.core.keys import Key  # noqa: E402

CORPUS_VERSION = 1  # raise when the music or the encoding changes: files are made again
SONGS_DIR = Path("/usr/share/games/fretsonfire/data/songs")
SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
DEBIAN_PACKAGES = (
    "fluidsynth fluid-soundfont-gm sox libsox-fmt-all ffmpeg "
    "fretsonfire-songs-muldjord fretsonfire-songs-sectoid"
)
# (extension, ffmpeg codec arguments, what the manifest calls it), used in turn
ENCODINGS = (
    ("mp3", ["-c:a", "libmp3lame", "-b:a", "320k"], "mp3 320k CBR"),
    ("m4a", ["-c:a", "aac", "-b:a", "256k"], "aac 256k"),
    ("ogg", ["-c:a", "libvorbis", "-q:a", "6"], "vorbis q6"),
    ("mp3", ["-c:a", "libmp3lame", "-q:a", "2"], "mp3 V2 VBR"),
    ("mp3", ["-c:a", "libmp3lame", "-b:a", "192k"], "mp3 192k CBR"),
    ("m4a", ["-c:a", "aac", "-b:a", "160k"], "aac 160k"),
    ("ogg", ["-c:a", "libvorbis", "-q:a", "4"], "vorbis q4"),
    ("mp3", ["-c:a", "libmp3lame", "-b:a", "128k"], "mp3 128k CBR"),
)
# key changes, as (semitones, minor after the change: None = same mode, or a flip), used in turn
MODULATIONS = ((2, None), (1, None), ("relative", True), (7, None), (5, None), (-2, None),
               (3, None), (-1, None))  # fmt: skip
# mastering: a compressor in sox (1.5:1 from -30 dB to about 3:1 near full scale, +8 dB
# make-up), then in ffmpeg +9 dB into a brick-wall limiter at -0.9 dBFS (-13 dBFS RMS on a
# house song, quieter on sparse ones), the drums' peaks flattened, as club records are cut
COMPRESSOR = ["highpass", "25", "compand", "0.005,0.12", "6:-70,-70,-30,-30,-20,-24,-10,-18,0,-14",
              "8", "-90", "norm", "-3"]  # fmt: skip
LIMITER = "volume=9dB,alimiter=limit=0.9:attack=2:release=60:level=false"


def key_entry(pitch_class: int, minor: bool) -> dict:
    key = Key.from_pitch_class(pitch_class, minor)
    return {"camelot": key.camelot, "name": key.name}


def check_tools() -> None:
    missing = [tool for tool in ("fluidsynth", "sox", "ffmpeg") if not shutil.which(tool)]
    if not SOUNDFONT.exists():
        missing.append(str(SOUNDFONT))
    if not SONGS_DIR.exists():
        missing.append(str(SONGS_DIR))
    if missing:
        sys.exit(
            f"analyze_corpus: missing {', '.join(missing)}: "
            f"apt-get install {DEBIAN_PACKAGES} (make bench-analyze does)"
        )


def run(cmd: list[str]) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise SystemExit(f"analyze_corpus: {cmd[0]} failed: {' / '.join(tail)}")


def duration(path: Path) -> float:
    out = subprocess.run(["soxi", "-D", str(path)], capture_output=True, text=True, check=True)
    return round(float(out.stdout), 2)


def encode(wav: Path, out: Path, codec: list[str], limit: bool = True) -> None:
    filters = ["-af", LIMITER] if limit else []
    tmp = out.with_name(out.stem + ".part" + out.suffix)
    run(["ffmpeg", "-nostdin", "-y", "-loglevel", "error", "-i", str(wav), *filters, *codec,
         str(tmp)])  # fmt: skip
    tmp.replace(out)


def plan_rendered(per_style: int, seconds: tuple[float, float]) -> list[tuple[str, SongSpec]]:
    """Deterministic specs, one round of every style after another (so fewer songs per style
    give a prefix of the same corpus): each style's tempo range and share of minor keys, the
    keys taken in turn around the circle of fifths, so that styles meet many keys and every
    one of the 24 keys occurs."""
    rng = np.random.default_rng(18)
    plans, next_key = [], {True: 0, False: 0}
    for n in range(per_style):
        for style, ((low, high), minor_share) in STYLES.items():
            minor = math.ceil((n + 1) * minor_share) > math.ceil(n * minor_share)
            tonic = (next_key[minor] * 7 + (9 if minor else 0)) % 12
            next_key[minor] += 1
            bpm = float(round(rng.uniform(low, high)))
            second = None
            if style == "keychange":
                shift, flip = MODULATIONS[n % len(MODULATIONS)]
                if shift == "relative":
                    second = ((tonic + (3 if minor else 9)) % 12, not minor)
                else:
                    second = ((tonic + shift) % 12, minor if flip is None else flip)
            spec = SongSpec(
                style=style,
                bpm=bpm,
                tonic=tonic,
                minor=minor,
                seconds=float(round(rng.uniform(*seconds))),
                seed=1800 + len(plans),
                second_key=second,
            )
            plans.append((f"{len(plans):03d}-{style}-{bpm:g}", spec))
    return plans


def render_one(name: str, spec: SongSpec, index: int, out_dir: Path, work: Path) -> dict:
    ext, codec, label = ENCODINGS[index % len(ENCODINGS)]
    parts, beats = render_style(spec)
    midi = out_dir / "midi" / f"{name}.mid"
    midi.parent.mkdir(parents=True, exist_ok=True)
    write_midi(midi, spec.bpm, parts, beats)
    raw, master = work / f"{name}.raw.wav", work / f"{name}.wav"
    run(["fluidsynth", "-ni", "-q", "-g", "0.5", "-r", "44100", "-F", str(raw),
         str(SOUNDFONT), str(midi)])  # fmt: skip
    run(["sox", str(raw), "-b", "16", str(master), *COMPRESSOR])
    out = out_dir / "rendered" / f"{name}.{ext}"
    out.parent.mkdir(parents=True, exist_ok=True)
    encode(master, out, codec)
    seconds = duration(master)
    raw.unlink()
    master.unlink()
    change = None
    if spec.second_key:
        change = {**key_entry(*spec.second_key), "seconds": round(spec.change_seconds, 2)}
    return {
        "path": str(out.relative_to(out_dir)),
        "title": name,
        "style": spec.style,
        "bpm": spec.bpm,
        "tempo_changes": [],
        "key": key_entry(spec.tonic, spec.minor),
        "key_change": change,
        "source": "rendered",
        "format": label,
        "seconds": seconds,
        "spec": {
            "seed": spec.seed,
            "bars": spec.bars,
            "target_seconds": spec.seconds,
            "version": CORPUS_VERSION,
        },
    }


def real_songs(out_dir: Path, work: Path) -> list[dict]:
    entries = []
    for song_dir in sorted(p.parent for p in SONGS_DIR.glob("*/*/song.ogg")):
        tempo = read_tempo_map(song_dir / "notes.mid")
        stems = [song_dir / "song.ogg"] + sorted(
            p for p in song_dir.glob("*.ogg") if p.name in ("guitar.ogg", "rhythm.ogg")
        )
        name = f"{song_dir.parent.name}-{song_dir.name}".lower().replace(" ", "_")
        out = out_dir / "real" / f"{name}.ogg"
        out.parent.mkdir(parents=True, exist_ok=True)
        if not out.exists():
            mix = work / f"{name}.wav"
            inputs = [str(s) for s in stems]
            run(["sox", "-m", *inputs, "-b", "16", str(mix), "norm", "-0.3"] if len(inputs) > 1
                else ["sox", inputs[0], "-b", "16", str(mix)])  # fmt: skip
            encode(mix, out, ["-c:a", "libvorbis", "-q:a", "6"], limit=False)
            mix.unlink()
        seconds = duration(out)
        entries.append(
            {
                "path": str(out.relative_to(out_dir)),
                "title": song_dir.name,
                "style": "real",
                "bpm": tempo.dominant_bpm(seconds),
                "tempo_changes": [{"seconds": at, "bpm": bpm} for at, bpm in tempo.changes],
                "key": None,
                "key_change": None,
                "source": "real",
                "format": "vorbis q6 (song.ogg + " + ", ".join(s.name for s in stems[1:]) + ")",
                "seconds": seconds,
                "package": f"fretsonfire-songs-{song_dir.parent.name}",
            }
        )
    return entries


def write_manifest(out_dir: Path, entries: list[dict]) -> None:
    tmp = out_dir / "manifest.json.part"
    ordered = sorted(entries, key=lambda e: (e["source"] != "real", e["path"]))
    tmp.write_text(json.dumps({"files": ordered}, indent=1) + "\n")
    tmp.replace(out_dir / "manifest.json")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=ROOT / "build" / "analyze-corpus")
    parser.add_argument("--per-style", type=int, default=8, help="rendered songs per style")
    parser.add_argument("--seconds", type=float, nargs=2, default=(120.0, 180.0))
    parser.add_argument("--jobs", type=int, default=1, help="songs rendered at once")
    args = parser.parse_args()
    check_tools()
    out_dir = args.dir
    out_dir.mkdir(parents=True, exist_ok=True)
    old = {}
    if (out_dir / "manifest.json").exists():
        old = {e["title"]: e for e in json.loads((out_dir / "manifest.json").read_text())["files"]}
    with tempfile.TemporaryDirectory(prefix="analyze-corpus-") as tmp:
        work = Path(tmp)
        entries = real_songs(out_dir, work)
        write_manifest(out_dir, entries)
        print(f"real recordings: {len(entries)}", flush=True)
        plans = plan_rendered(args.per_style, tuple(args.seconds))
        with ProcessPoolExecutor(max_workers=args.jobs) as pool:
            pending = []
            for index, (name, spec) in enumerate(plans):
                previous = old.get(name)
                if (
                    previous
                    and previous.get("spec", {}).get("seed") == spec.seed
                    and previous["spec"].get("target_seconds") == spec.seconds
                    and previous["spec"].get("version") == CORPUS_VERSION
                    and (out_dir / previous["path"]).exists()
                ):
                    entries.append(previous)
                else:
                    pending.append(pool.submit(render_one, name, spec, index, out_dir, work))
            write_manifest(out_dir, entries)
            for future in as_completed(pending):
                entries.append(future.result())
                print(f"rendered {entries[-1]['path']}", flush=True)
                write_manifest(out_dir, entries)
    (out_dir / "READY").touch()
    print(f"{len(entries)} files, manifest {out_dir / 'manifest.json'}")


if __name__ == "__main__":
    os.nice(5)
    main()
