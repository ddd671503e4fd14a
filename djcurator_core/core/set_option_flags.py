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


@dataclass(frozen=True)
class OptionFlag:
    """The command-line form of one `SetOptions` field.

    kind: how the text is read ("str", "int", "float", "choice", "duration").
    per_run: a value that only makes sense for one run (a pinned track), so it is never
    taken from the config file. metavar/help: as shown by --help in both shells."""

    name: str
    kind: Literal["str", "int", "float", "choice", "duration"]
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
        "largest tempo change in percent (unavoidable ones are reported)",
        metavar="PERCENT",
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
    OptionFlag("count", "int", "pick this many best-mixing tracks", metavar="N"),
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
