"""The tracks_enriched format: pydantic models, loading and one-line validation errors.

Accepted on input: ``{"format": "tracks_enriched", "version": 1, "tracks": [...]}`` or a
bare JSON list of track objects. Keys may be in any notation `keys.parse_key` knows;
they are stored and written back in Camelot.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from djcurator_core.core.keys import Key, KeyParseError, parse_key
from djcurator_core.errors import DJSetError, validation_error_line


class TrackFormatError(DJSetError, ValueError):
    """Bad tracks_enriched input; the message is one line naming the file/track/field."""


class Track(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    path: str | None = None
    title: str = ""
    artist: str = ""
    album: str = ""
    genre: str = ""
    duration: float | None = Field(default=None, ge=0, description="seconds")
    bpm: float | None = Field(default=None, gt=0, le=1000)
    key: str | None = Field(default=None, description="any notation on input, Camelot on output")
    energy: float | None = Field(default=None, ge=1, le=10, description="1-10 energy level")
    extra: dict[str, Any] = Field(default_factory=dict)

    @field_validator("id", mode="before")
    @classmethod
    def _id_as_string(cls, value: Any) -> Any:
        # Library ids are integers; the format wants strings.
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("bpm", "energy", "duration", mode="before")
    @classmethod
    def _zero_means_missing(cls, value: Any) -> Any:
        return None if value == 0 and not isinstance(value, bool) else value

    @field_validator("key", mode="before")
    @classmethod
    def _key_to_camelot(cls, value: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, str):
            raise ValueError(f"unrecognised key {value!r}")
        try:
            parsed = parse_key(value)
        except KeyParseError as exc:
            raise ValueError(str(exc)) from None
        return parsed.camelot if parsed else None

    @property
    def parsed_key(self) -> Key | None:
        return parse_key(self.key)

    @property
    def label(self) -> str:
        """ "Artist - Title" for display, falling back to the id."""
        if self.artist and self.title:
            return f"{self.artist} - {self.title}"
        return self.title or self.artist or self.id


class TracksEnriched(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: Literal["tracks_enriched"] = "tracks_enriched"
    version: Literal[1] = 1
    tracks: list[Track]


def _track_label(index: int, raw_tracks: list[Any]) -> str:
    raw = raw_tracks[index] if index < len(raw_tracks) else None
    track_id = raw.get("id") if isinstance(raw, dict) else None
    return f"track {index}" + (f" (id {track_id!r})" if track_id is not None else "")


def _describe_error(exc: ValidationError, raw_tracks: list[Any]) -> str:
    """One line for the first error: a track's field ("track 3 (id 'x'): field 'bpm': ...")
    when the error is inside the track list, else the document's field."""
    loc = list(exc.errors()[0]["loc"]) if exc.errors() else []
    if len(loc) >= 2 and loc[0] == "tracks" and isinstance(loc[1], int):
        where = _track_label(loc[1], raw_tracks)
        return f"{where}: {validation_error_line(exc, skip=2, default_field='track')}"
    return validation_error_line(exc, default_field="document")


def parse_tracks(data: Any, source: str = "input") -> list[Track]:
    """Validate decoded JSON (envelope or bare list) and return the tracks."""
    if isinstance(data, list):
        raw_tracks, wrapped = data, {"tracks": data}
    elif isinstance(data, dict):
        raw_tracks = data["tracks"] if isinstance(data.get("tracks"), list) else []
        wrapped = data
    else:
        raise TrackFormatError(f"{source}: expected a JSON object or list of tracks")
    try:
        document = TracksEnriched.model_validate(wrapped)
    except ValidationError as exc:
        raise TrackFormatError(f"{source}: {_describe_error(exc, raw_tracks)}") from None
    tracks = document.tracks
    if not tracks:
        raise TrackFormatError(f"{source}: the track list is empty")
    seen: dict[str, int] = {}
    for index, track in enumerate(tracks):
        if track.id in seen:
            raise TrackFormatError(
                f"{source}: track {index} (id {track.id!r}): field 'id': duplicate of track "
                f"{seen[track.id]}"
            )
        seen[track.id] = index
    return tracks


def loads_tracks(text: str, source: str = "input") -> list[Track]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TrackFormatError(
            f"{source}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    return parse_tracks(data, source)


def load_tracks(path: str | Path) -> list[Track]:
    """Read a tracks_enriched file. Raises TrackFormatError (bad content) or OSError."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise TrackFormatError(f"{path}: not UTF-8 text ({exc.reason})") from None
    return loads_tracks(text, str(path))


def dump_tracks(tracks: list[Track]) -> str:
    """Serialise tracks in the enveloped tracks_enriched format."""
    return TracksEnriched(tracks=list(tracks)).model_dump_json(indent=2) + "\n"


def json_schema() -> dict[str, Any]:
    return TracksEnriched.model_json_schema()
