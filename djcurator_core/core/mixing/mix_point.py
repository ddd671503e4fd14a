"""One transition's mix point: the bar of the outgoing track A where the blend starts,
the bar of the incoming track B that starts playing then, and how long both play.

This is the shape the set result, the playlists and the DJ formats share (Rekordbox and
Traktor cues, Mixxx intro/outro cues, M3U8 comments); `mix_points.py` beside it chooses
the values from the two tracks' structures (`core/track_structure.py`).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class MixPoint(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    out_bar: int = Field(ge=1, description="A's bar where the overlap starts")
    out_time: float = Field(ge=0, description="seconds into A")
    in_bar: int = Field(ge=1, description="B's bar that starts with the overlap")
    in_time: float = Field(ge=0, description="seconds into B")
    overlap_bars: int = Field(ge=0, description="bars both tracks play (0: a cut)")
    overlap_seconds: float = Field(ge=0, description="the overlap's length as played")
    tempo_change_pct: float = Field(description="the tempo B is ridden at, from A's grid")
    on_phrases: bool = Field(description="both ends fall on phrase boundaries")
    note: str = Field(default="", description="why the point is not clean, when it is not")
