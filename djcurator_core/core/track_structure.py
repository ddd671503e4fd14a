"""A track's musical structure: its beat grid, its phrases and the mixable stretches at
each end.

DJs mix on phrases: a transition that starts on a phrase boundary of both tracks (8, 16 or
32 bars) keeps the two tracks' sections in step, and the intro and outro are the stretches
made to be mixed over (drums, little melody or vocals). The structure is measured by the
audio analysis (`core/analysis/`), stored with the analysis (tag cache and beets flexible
field `djset_structure`, as JSON), and read by the mix points (`core/mixing/`) and the DJ
formats that carry cues and beat grids.

Positions are kept in bars (1-based, bar 1 starts at `first_downbeat`), since that is how
DJs count and how phrases are defined; `time_of_bar` turns a bar into seconds on the grid.
"""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict, Field, model_validator


class BarSpan(BaseModel):
    """Bars `start` up to, not including, `end` (1-based): one stretch of the track."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    start: int = Field(ge=1)
    end: int = Field(ge=2)

    @model_validator(mode="after")
    def _ordered(self) -> BarSpan:
        if self.end <= self.start:
            raise ValueError(f"bar span ends ({self.end}) before it starts ({self.start})")
        return self

    @property
    def bars(self) -> int:
        return self.end - self.start


class TrackStructure(BaseModel):
    """Beat grid, phrase boundaries, intro and outro of one analysed track."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    bpm: float = Field(gt=0, le=1000, description="the grid's tempo")
    first_downbeat: float = Field(ge=0, description="seconds: bar 1, beat 1")
    beats_per_bar: int = Field(default=4, ge=1, le=16)
    duration: float = Field(gt=0, description="seconds")
    steady: bool = Field(default=True, description="one grid fits the whole track")
    phrases: list[int] = Field(
        default_factory=list, description="bars where a phrase starts, ascending"
    )
    sections: list[int] = Field(
        default_factory=list,
        description="bars where the music changes (intro, break, drop...), ascending; "
        "each is also a phrase start",
    )
    intro: BarSpan | None = None  # the mixable stretch at the start
    outro: BarSpan | None = None  # the mixable stretch at the end

    @model_validator(mode="after")
    def _phrases_ascending(self) -> TrackStructure:
        for name, bars in (("phrases", self.phrases), ("sections", self.sections)):
            if any(b < 1 for b in bars) or bars != sorted(set(bars)):
                raise ValueError(f"{name} must be distinct bar numbers >= 1, ascending")
        return self

    @property
    def bar_seconds(self) -> float:
        return self.beats_per_bar * 60.0 / self.bpm

    @property
    def bar_count(self) -> int:
        """Whole bars from the first downbeat to the end of the track."""
        return max(0, math.floor((self.duration - self.first_downbeat) / self.bar_seconds))

    def time_of_bar(self, bar: int) -> float:
        """Seconds from the start of the file to the first beat of `bar`."""
        return self.first_downbeat + (bar - 1) * self.bar_seconds

    def bar_at(self, seconds: float) -> int:
        """The bar playing at `seconds` (bar 1 for anything before the first downbeat)."""
        return max(1, math.floor((seconds - self.first_downbeat) / self.bar_seconds) + 1)
