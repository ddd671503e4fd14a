"""`python -m djcurator_core`: sequence a tracks_enriched file, or print its cost matrix.

Bad input prints one line on stderr and exits with status 2; no traceback.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from djcurator_core.core import solver_cache
from djcurator_core.core.justify import justify_for_options
from djcurator_core.core.models import TrackFormatError, load_tracks
from djcurator_core.core.planning import SetOptions, plan_order
from djcurator_core.core.report import render_text
from djcurator_core.core.scoring import cost_matrix
from djcurator_core.core.sequencing import SOLVERS, SequencingError
from djcurator_core.errors import first_line, validation_error_line

EXIT_BAD_INPUT = 2


_UNIT_SECONDS = {"h": 3600, "m": 60, "s": 1}
_NEXT_UNIT = {"": "s", "h": "m", "m": "s"}  # a bare number after "1h" is minutes
_NUMBER = r"\d+(?:\.\d*)?|\.\d+"
_PARTS = re.compile(rf"({_NUMBER})([hms]?)")


def parse_duration(text: str) -> float:
    """Seconds from "90m", "1h30m", "1h30" (the number after h is minutes), "2h", "45s",
    "1:30:00", "90:00" or plain seconds ("5400")."""
    # spaces may surround a unit or colon ("1h 30"), not split a number ("1 2")
    raw = re.sub(r"\s*([hms:])\s*", r"\1", str(text).strip().lower())
    seconds = _clock_seconds(raw) if ":" in raw else _unit_seconds(raw)
    if seconds is None:
        raise argparse.ArgumentTypeError(
            f"not a duration: {text!r} (try 90m, 1h30, 1:30:00 or seconds)"
        )
    return seconds


def _clock_seconds(raw: str) -> float | None:
    """h:mm:ss or mm:ss."""
    parts = raw.split(":")
    if len(parts) > 3 or not all(re.fullmatch(_NUMBER, part) for part in parts):
        return None
    seconds = 0.0
    for part in parts:
        seconds = seconds * 60 + float(part)
    return seconds


def _unit_seconds(raw: str) -> float | None:
    """Numbers with h/m/s units in that order; a last number without a unit takes the unit
    after the previous one (seconds when it stands alone)."""
    parts = _PARTS.findall(raw)
    if not raw or "".join(number + unit for number, unit in parts) != raw:
        return None
    seconds, previous = 0.0, ""
    for index, (number, unit) in enumerate(parts):
        if not unit:
            if index != len(parts) - 1 or previous not in _NEXT_UNIT:
                return None  # "1.2.3", or "30s10": nothing is smaller than seconds
            unit = _NEXT_UNIT[previous]
        if previous and _UNIT_SECONDS[unit] >= _UNIT_SECONDS[previous]:
            return None  # units must get smaller: "30m1h", "1h2h"
        seconds += float(number) * _UNIT_SECONDS[unit]
        previous = unit
    return seconds


def add_set_options(parser: argparse.ArgumentParser) -> None:
    """The set options shared by every command that orders tracks."""
    parser.add_argument(
        "--solver", help=f"ordering algorithm ({', '.join(sorted(SOLVERS))}; default ils)"
    )
    parser.add_argument("--start", help="track id to pin first")
    parser.add_argument("--end", help="track id to pin last")
    parser.add_argument("--seed", type=int, help="random seed of the search")
    parser.add_argument("--time-budget", type=float, help="seconds of search at most")
    parser.add_argument(
        "--max-bpm-jump", type=float, help="largest BPM change, percent (reported if unavoidable)"
    )
    parser.add_argument("--energy-arc", choices=["none", "rise", "peak", "wave"])
    parser.add_argument(
        "--arc-weight", type=float, help="how strongly to follow the arc (default 0.5)"
    )
    parser.add_argument(
        "--harmonic",
        choices=["strict", "moderate", "relaxed"],
        help="key moves allowed: strict = standard Camelot moves only (default); moderate = "
        "also diagonals and boosts (up to --max-boosts); relaxed = by the scores alone",
    )
    parser.add_argument("--max-boosts", help="energy boosts (+2/+7) allowed in moderate mode")
    parser.add_argument(
        "--artist-gap", help="no artist twice within this many tracks (default 1; 0 = off)"
    )
    parser.add_argument(
        "--include",
        action="append",
        metavar="ID",
        help="track id that must be in a --count/--duration set (repeatable)",
    )
    parser.add_argument(
        "--count",
        help="pick this many best-mixing tracks from the file, or 'auto': the longest set "
        "whose transitions are all mixable",
    )
    parser.add_argument(
        "--duration",
        type=parse_duration,
        help="pick tracks filling at most this, e.g. 90m or 1h30 (not with --count)",
    )


def set_options_from(args: argparse.Namespace) -> SetOptions:
    fields = (
        "solver",
        "start",
        "end",
        "seed",
        "time_budget",
        "max_bpm_jump",
        "energy_arc",
        "arc_weight",
        "count",
        "duration",
        "harmonic",
        "max_boosts",
        "artist_gap",
        "include",
    )
    # numbers stay text here: SetOptions validates them and names the field in one line
    given = {name: getattr(args, name) for name in fields if getattr(args, name) is not None}
    if isinstance(given.get("count"), str) and given["count"].strip().lower() == "auto":
        given["count"] = "auto"
    elif "count" in given:
        given["count"] = _whole_number(given["count"], "count")
    return SetOptions(**given)


def _whole_number(text: str, field: str) -> int | str:
    """An integer option given as text; anything else is left for SetOptions to refuse."""
    try:
        return int(text)
    except ValueError:
        raise SequencingError(
            f"set options: field {field!r}: {text!r} is not a whole number (or 'auto')"
        ) from None


class OneLineParser(argparse.ArgumentParser):
    """argparse with its errors on one line ("error: argument --x: ..."), no usage block:
    every shell of the project promises one line per bad input."""

    def error(self, message: str):
        self.exit(EXIT_BAD_INPUT, f"error: {' '.join(message.split())}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="python -m djcurator_core", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    seq = commands.add_parser("sequence", help="order the tracks and justify every transition")
    seq.add_argument("file", help="tracks_enriched JSON file")
    seq.add_argument("--json", action="store_true", help="print the full result as JSON")
    add_set_options(seq)
    matrix = commands.add_parser("matrix", help="print the cost matrix as JSON")
    matrix.add_argument("file", help="tracks_enriched JSON file")
    commands.add_parser("schema", help="print the JSON Schema of the tracks_enriched format")
    commands.add_parser(
        "prepare", help="compile the solver now (once per installation; `make` runs it)"
    )
    return parser


def _one_line(error: Exception) -> str:
    if isinstance(error, ValidationError):  # only SetOptions is validated here
        return f"set options: {validation_error_line(error, default_field='options')}"
    if isinstance(error, OSError):
        return f"{error.filename or ''}: {error.strerror or first_line(error)}".lstrip(": ")
    return first_line(error)


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "schema":
            from djcurator_core.core.models import json_schema

            print(json.dumps(json_schema(), indent=2))
            return 0
        if args.command == "prepare":
            compiled = solver_cache.prepare(say=_say)
            where = solver_cache.cache_dir() or "memory only: no writable cache folder"
            print(f"solver {'compiled' if compiled else 'ready'} (cache: {where})")
            return 0
        tracks = load_tracks(args.file)
        if args.command == "matrix":
            matrix = cost_matrix(tracks)
            print(json.dumps({"ids": [t.id for t in tracks], "matrix": matrix.tolist()}))
            return 0
        options = set_options_from(args)
        solver_cache.prepare(say=_say)  # compiles (and says so) on a first run only
        plan = plan_order(tracks, options)
        result = justify_for_options(tracks, plan.order, options, plan.notes)
    except (TrackFormatError, SequencingError, ValidationError, OSError) as error:
        print(f"error: {_one_line(error)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.json:
        payload = result.model_dump(mode="json")
        payload["cost"] = result.summary.cost
        payload["mean_score"] = result.summary.mean_score
        print(json.dumps(payload, indent=2))
    else:
        sys.stdout.write(render_text(result))
    return 0


def main() -> None:
    sys.exit(run())
