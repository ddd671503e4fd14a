"""`python -m djcurator_core`: sequence a tracks_enriched file, or print its cost matrix.

Bad input prints one line on stderr and exits with status 2; no traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from djcurator_core.core.models import load_tracks
from djcurator_core.core.options.set_option_flags import SET_OPTION_FLAGS, OptionFlag
from djcurator_core.core.options.set_options import (
    InvalidSetOptions,
    SetOptions,
    parse_duration,
    resolve_set_options,
)
from djcurator_core.core.planning.planning import plan_order
from djcurator_core.core.report.justify import justify_for_options
from djcurator_core.core.report.report import render_text
from djcurator_core.core.rules.scoring import cost_matrix
from djcurator_core.core.solver import solver_cache
from djcurator_core.errors import DJSetError, first_line
from djcurator_core.files.dj_formats.playlist import add_mix_clocks

EXIT_BAD_INPUT = 2


def _argparse_type(flag: OptionFlag):
    """The argparse `type` of a flag: text, except durations (numbers are validated by
    SetOptions, whose one-line error names the field)."""
    if flag.kind == "duration":

        def duration(text: str) -> float:
            try:
                return parse_duration(text)
            except InvalidSetOptions as exc:
                raise argparse.ArgumentTypeError(str(exc)) from None

        duration.__name__ = "duration"
        return duration
    return str


def add_set_options(parser: argparse.ArgumentParser) -> None:
    """The set options shared by every command that orders tracks (set_options.py)."""
    for flag in SET_OPTION_FLAGS:
        parser.add_argument(
            flag.flag,
            dest=flag.name,
            type=_argparse_type(flag),
            action="append" if flag.kind == "list" else "store",
            choices=flag.choices or None,
            metavar=flag.metavar,
            help=flag.help,
        )


def set_options_from(args: argparse.Namespace) -> SetOptions:
    return resolve_set_options({flag.name: getattr(args, flag.name) for flag in SET_OPTION_FLAGS})


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
    except (DJSetError, OSError) as error:
        print(f"error: {_one_line(error)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.json:
        payload = add_mix_clocks(result, result.model_dump(mode="json"))
        payload["cost"] = result.summary.cost
        payload["mean_score"] = result.summary.mean_score
        print(json.dumps(payload, indent=2))
    else:
        sys.stdout.write(render_text(result))
    return 0


def main() -> None:
    sys.exit(run())
