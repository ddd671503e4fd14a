"""The set options' command-line flags and defaults, written once.

The CLI (argparse) and the beets plugin (optparse) build their set options from
`SET_OPTION_FLAGS`; `SetOptions` (set_options.py) takes its defaults from `DEFAULTS`;
the plugin's `djset.set` config section accepts the `CONFIGURABLE` names. This module
imports nothing heavy: beets loads the plugin for every command (`beet ls` too), and the
plugin needs the flags to build its parser.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

DEFAULT_SOLVER = "ils"
SOLVER_NAMES = ("ils", "greedy", "naive")
ENERGY_ARCS = ("none", "rise", "peak", "wave")
HARMONIC_MODES = ("strict", "moderate", "relaxed")


@dataclass(frozen=True)
class OptionFlag:
    """The command-line form of one `SetOptions` field.

    kind: what the value is ("str", "int", "float", "count", "choice", "duration", or
    "list": the flag may repeat). Numbers stay text on the command line: SetOptions
    validates them, so a bad one is refused in one line naming the field.
    per_run: a value that only makes sense for one run (a pinned or included track), so
    it is never taken from the config file. metavar/help: as shown by --help."""

    name: str
    kind: Literal["str", "int", "float", "count", "choice", "duration", "list"]
    help: str
    metavar: str | None = None
    choices: tuple[str, ...] = ()
    per_run: bool = False
    default: Any = None

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


SET_OPTION_FLAGS: tuple[OptionFlag, ...] = (
    OptionFlag(
        "solver",
        "str",
        f"ordering algorithm: {', '.join(SOLVER_NAMES)} (default ils)",
        default=DEFAULT_SOLVER,
    ),
    OptionFlag(
        "start",
        "str",
        "the track to open with (beet djset: a query matching one track; CLI: a track id)",
        metavar="TRACK",
        per_run=True,
    ),
    OptionFlag(
        "end",
        "str",
        "the track to close with (beet djset: a query matching one track; CLI: a track id)",
        metavar="TRACK",
        per_run=True,
    ),
    OptionFlag("seed", "int", "random seed of the search (default 0)", default=0),
    OptionFlag("time_budget", "float", "seconds of planning at most", metavar="SECONDS"),
    OptionFlag(
        "max_bpm_jump",
        "float",
        "largest tempo change in percent (default 8; where no order keeps it, the smallest "
        "possible largest jump, and the notes name it)",
        metavar="PERCENT",
        default=8.0,
    ),
    OptionFlag(
        "harmonic",
        "choice",
        "key moves allowed: strict = standard Camelot moves only (default); moderate = "
        "also diagonals and boosts (up to --max-boosts); relaxed = by the scores alone",
        choices=HARMONIC_MODES,
        default="strict",
    ),
    OptionFlag(
        "max_boosts", "int", "energy boosts (+2/+7) allowed in moderate mode (default 3)", default=3
    ),
    OptionFlag(
        "artist_gap",
        "int",
        "no artist twice within this many tracks (default 1 = never back to back; 0 = off)",
        metavar="K",
        default=1,
    ),
    OptionFlag(
        "include",
        "list",
        "a track that must be in a --count/--duration set (beet djset: a query; CLI: a track "
        "id); repeatable",
        metavar="TRACK",
        per_run=True,
        default=(),
    ),
    OptionFlag(
        "energy_arc",
        "choice",
        "energy shape of the set (default none)",
        choices=ENERGY_ARCS,
        default="none",
    ),
    OptionFlag(
        "arc_weight", "float", "how strongly to follow the energy arc (default 0.5)", default=0.5
    ),
    OptionFlag(
        "count",
        "count",
        "pick this many best-mixing tracks, or 'auto': the longest set whose transitions are "
        "all mixable",
        metavar="N",
    ),
    OptionFlag(
        "duration",
        "duration",
        "pick tracks filling at most this, e.g. 90m, 1h30 or 1:30:00 (not with --count)",
        metavar="LENGTH",
    ),
)
CONFIGURABLE = tuple(flag.name for flag in SET_OPTION_FLAGS if not flag.per_run)


DEFAULTS: dict[str, Any] = {flag.name: flag.default for flag in SET_OPTION_FLAGS}


def configurable_defaults() -> dict[str, Any]:
    """The defaults of the options a config file may set (the plugin's `djset.set`)."""
    return {name: DEFAULTS[name] for name in CONFIGURABLE}
