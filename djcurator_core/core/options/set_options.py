"""What a user can ask of a set, defined once.

`SetOptions` is the validated request (solver, pinned ends, tempo limit, energy arc, set
length, scoring weights) that every shell hands to `planning.plan_order`. Its fields,
flags and defaults are listed in set_option_flags.py (a module light enough for the
beets plugin to import at start-up); `resolve_set_options` merges command line over
config, the same way for every shell, and turns bad values into one-line
`InvalidSetOptions` errors.

Adding an option: an `OptionFlag` entry (with its default) and a field here. Nothing
else: the CLI, the plugin and its `djset.set` config section follow.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from djcurator_core.core.options.set_option_flags import (
    CONFIGURABLE,
    DEFAULTS,
    SET_OPTION_FLAGS,
)
from djcurator_core.core.rules.mixability import HarmonicMode
from djcurator_core.core.rules.scoring import ScoringConfig
from djcurator_core.errors import DJSetError, validation_error_line

COUNT_AND_DURATION = "give --count or --duration, not both"
AUTO_AND_DURATION = "--count auto finds the length itself: give it without --duration"


class InvalidSetOptions(DJSetError, ValueError):
    """A set option or scoring weight that cannot be used; str() names it."""


class SetOptions(BaseModel):
    # Finite numbers only: an infinite arc weight or time budget breaks the search.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    # Defaults come from set_option_flags.DEFAULTS, the one place they are written.
    solver: str = DEFAULTS["solver"]
    start: str | None = Field(DEFAULTS["start"], description="track id pinned first")
    end: str | None = Field(DEFAULTS["end"], description="track id pinned last")
    seed: int = Field(
        DEFAULTS["seed"], ge=0, le=2**63 - 1, description="numpy seeds are non-negative"
    )
    time_budget: float | None = Field(
        DEFAULTS["time_budget"],
        gt=0,
        description="seconds for the whole plan at most, cost matrix included",
    )
    max_bpm_jump: float | None = Field(
        DEFAULTS["max_bpm_jump"], gt=0, description="tempo limit, percent (None: no limit)"
    )
    harmonic: HarmonicMode = DEFAULTS["harmonic"]
    max_boosts: int = Field(DEFAULTS["max_boosts"], ge=0, description="boosts allowed (moderate)")
    artist_gap: int = Field(
        DEFAULTS["artist_gap"], ge=0, description="no artist twice within this many tracks"
    )
    include: tuple[str, ...] = Field(
        DEFAULTS["include"], description="track ids that must be in the set"
    )
    energy_arc: Literal["none", "rise", "peak", "wave"] = DEFAULTS["energy_arc"]
    arc_weight: float = Field(DEFAULTS["arc_weight"], ge=0)
    count: Annotated[int, Field(gt=0)] | Literal["auto"] | None = Field(
        DEFAULTS["count"], description="tracks in the set, or auto: the longest all-mixable set"
    )
    duration: float | None = Field(DEFAULTS["duration"], gt=0, description="set length in seconds")
    scoring: ScoringConfig = ScoringConfig()

    @field_validator("count", mode="wrap")
    @classmethod
    def _count_message(cls, value, handler):
        # the union's own errors name its members ("count.constrained-int"): one plain line
        if isinstance(value, str):  # from a command line or a config file
            text = value.strip().lower()
            if text == "auto":
                return "auto"
            if text.lstrip("-").isdigit():
                value = int(text)
        try:
            return handler(value)
        except ValidationError:
            if isinstance(value, int) and not isinstance(value, bool) and value <= 0:
                raise ValueError("Input should be greater than 0") from None
            raise ValueError(f"{value!r} is not a whole number or 'auto'") from None

    @field_validator("duration")
    @classmethod
    def _count_or_duration(cls, duration: float | None, info: ValidationInfo) -> float | None:
        # The selection honours one length constraint; with both it would obey neither
        # exactly, so refuse the pair (the error names the field 'duration').
        count = info.data.get("count")
        if duration is not None and count == "auto":
            raise ValueError(AUTO_AND_DURATION)
        if duration is not None and count is not None:
            raise ValueError(COUNT_AND_DURATION)
        return duration


def resolve_set_options(
    given: Mapping[str, Any],
    configured: Mapping[str, Any] | None = None,
    scoring: Mapping[str, Any] | None = None,
    scoring_source: str = "scoring",
) -> SetOptions:
    """SetOptions from command-line values (None = not given) over configured ones.

        --count and --duration are alternatives: either one given on the command line
        replaces a configured value of the other instead of clashing with it. Durations may
        be text ("90m"). Errors are one line naming the option or weight (a weight prefixed
    with `scoring_source`, where the weights came from)."""
    configured = configured or {}
    unknown = sorted(set(configured) - set(CONFIGURABLE))
    if unknown:
        raise InvalidSetOptions(
            f"set option {unknown[0]!r} is unknown; known: {', '.join(CONFIGURABLE)}"
        )
    values: dict[str, Any] = {}
    for flag in SET_OPTION_FLAGS:
        value = given.get(flag.name)
        if value is None and not flag.per_run:
            value = configured.get(flag.name)
        if value is not None:
            values[flag.name] = value
    for one, other in (("count", "duration"), ("duration", "count")):
        if given.get(one) is not None and given.get(other) is None:
            values.pop(other, None)
    if isinstance(values.get("duration"), str):
        values["duration"] = parse_duration(values["duration"], "--duration")
    try:
        weights = ScoringConfig.model_validate(dict(scoring or {}))
    except ValidationError as exc:
        line = validation_error_line(exc, default_field="weights")
        raise InvalidSetOptions(f"{scoring_source}: {line}") from None
    try:
        return SetOptions(**values, scoring=weights)
    except ValidationError as exc:
        line = validation_error_line(exc, default_field="options")
        raise InvalidSetOptions(f"set options: {line}") from None


# --- durations ---------------------------------------------------------------------------

_UNIT_SECONDS = {"h": 3600, "m": 60, "s": 1}
_NEXT_UNIT = {"": "s", "h": "m", "m": "s"}  # a bare number after "1h" is minutes
_NUMBER = r"\d+(?:\.\d*)?|\.\d+"
_PARTS = re.compile(rf"({_NUMBER})([hms]?)")


def parse_duration(text: str, option: str | None = None) -> float:
    """Seconds from "90m", "1h30m", "1h30" (the number after h is minutes), "2h", "45s",
    "1:30:00", "90:00" or plain seconds ("5400"). Bad text raises InvalidSetOptions,
    prefixed with `option` when given."""
    # spaces may surround a unit or colon ("1h 30"), not split a number ("1 2")
    raw = re.sub(r"\s*([hms:])\s*", r"\1", str(text).strip().lower())
    seconds = _clock_seconds(raw) if ":" in raw else _unit_seconds(raw)
    if seconds is None:
        message = f"not a duration: {text!r} (try 90m, 1h30, 1:30:00 or seconds)"
        raise InvalidSetOptions(f"{option}: {message}" if option else message)
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
