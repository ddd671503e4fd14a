"""The tracks_enriched format: pydantic models, loading and one-line validation errors.

Accepted on input: ``{"format": "tracks_enriched", "version": 1, "tracks": [...]}`` or a
bare JSON list of track objects. Keys may be in any notation `keys.parse_key` knows;
they are stored and written back in Camelot.
"""

from __future__ import annotations

import errno
import json
import os
import stat
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from djcurator_core.core.keys import Key, KeyParseError, parse_key
from djcurator_core.core.text import clean_text, line_break_in, shown, utf8_problem
from djcurator_core.core.track_structure import TrackStructure
from djcurator_core.errors import DJSetError, validation_error_line

# A tracks file is read whole: 10,000 tracks are about 2-3 MB, so this leaves room for
# far larger libraries while refusing /dev/zero-like inputs before they fill the memory.
MAX_TRACKS_FILE_BYTES = 256 * 1024 * 1024


class TrackFormatError(DJSetError, ValueError):
    """Bad tracks_enriched input; the message is one line naming the file/track/field."""


# One track. Text fields come from tags anyone can write: control characters are cleaned
# (`text.clean_text`), and text that is not valid Unicode is refused, as is a path with a
# line break (it could not be one playlist entry) or an id with a control character.
# Numbers must be finite. (A comment, not a docstring: it would enter the JSON Schema.)
class Track(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

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
    structure: TrackStructure | None = None  # beat grid, phrases, intro/outro (analysis)
    extra: dict[str, Any] = Field(default_factory=dict)

    @field_validator("id", mode="before")
    @classmethod
    def _id_as_string(cls, value: Any) -> Any:
        # Library ids are integers; the format wants strings.
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("id", "path", "title", "artist", "album", "genre", mode="after")
    @classmethod
    def _valid_unicode(cls, value: str | None) -> str | None:
        problem = None if value is None else utf8_problem(value)
        if problem:
            raise ValueError(f"'{shown(value)}' contains {problem}")
        return value

    @field_validator("title", "artist", "album", "genre", mode="after")
    @classmethod
    def _printable(cls, value: str) -> str:
        return clean_text(value)

    @field_validator("id", mode="after")
    @classmethod
    def _id_without_controls(cls, value: str) -> str:
        if clean_text(value) != value:
            raise ValueError(f"'{shown(value)}' contains a control character")
        return value

    @field_validator("path", mode="after")
    @classmethod
    def _path_on_one_line(cls, value: str | None) -> str | None:
        if value is not None and (line_break_in(value) or "\0" in value):
            where = line_break_in(value) or "U+0000"
            raise ValueError(f"'{shown(value)}' contains a line break or NUL ({where})")
        return value

    @field_validator("extra", mode="after")
    @classmethod
    def _extra_is_plain_json(cls, value: dict[str, Any]) -> dict[str, Any]:
        try:
            json.dumps(value, allow_nan=False, ensure_ascii=False).encode("utf-8")
        except (ValueError, TypeError, RecursionError) as exc:  # NaN, surrogates, depth
            raise ValueError(f"not plain JSON text ({type(exc).__name__})") from None
        return value

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
    return _checked(document.tracks, source)


def _checked(tracks: list[Track], source: str) -> list[Track]:
    """The tracks, refusing an empty list and duplicate ids."""
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


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def loads_tracks(text: str, source: str = "input") -> list[Track]:
    """Parse JSON text strictly; TrackFormatError (one line) for anything Python's parser
    refuses or trips over: NaN/Infinity, an integer longer than Python's int conversion
    limit (4,300 digits), nesting deep enough to exhaust the recursion limit."""
    # Fast path: pydantic parses the JSON itself (100,000 tracks: ~4x faster than
    # json.loads + validation). Text that may hold NaN/Infinity (refused below), and any
    # problem at all, takes the slow path, which names it.
    if text.lstrip().startswith("{") and "NaN" not in text and "Infinity" not in text:
        try:
            return _checked(TracksEnriched.model_validate_json(text).tracks, source)
        except ValidationError:
            pass
    try:
        data = json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise TrackFormatError(
            f"{source}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    except RecursionError:
        raise TrackFormatError(f"{source}: invalid JSON: nested too deeply") from None
    except ValueError as exc:  # NaN/Infinity, a 5,000-digit integer
        raise TrackFormatError(f"{source}: invalid JSON: {str(exc).split(';')[0]}") from None
    return parse_tracks(data, source)


def read_text_file(path: str | os.PathLike[str], limit: int = MAX_TRACKS_FILE_BYTES) -> str:
    """The UTF-8 text of a regular file of at most `limit` bytes.

    The file is opened non-blocking, so a FIFO does not wait for a writer, and checked
    before a byte is read: a FIFO, device (/dev/zero) or socket is refused, and so is a
    file over the limit (TrackFormatError, one line). OSError when it cannot be opened."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):  # an OSError, as when a folder is read by name
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), os.fspath(path))
        if not stat.S_ISREG(info.st_mode):
            raise TrackFormatError(f"{path}: not a regular file ({file_kind(info.st_mode)})")
        if info.st_size > limit:
            raise TrackFormatError(f"{path}: {info.st_size} bytes, over the {limit}-byte limit")
    except BaseException:
        os.close(fd)
        raise
    with os.fdopen(fd, "rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:  # grew while being read
        raise TrackFormatError(f"{path}: over the {limit}-byte limit")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TrackFormatError(f"{path}: not UTF-8 text ({exc.reason})") from None


def file_kind(mode: int) -> str:
    """What a non-regular file is, for messages: "a FIFO", "a character device"..."""
    for test, kind in (
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISDIR, "a folder"),
    ):
        if test(mode):
            return kind
    return "a special file"


def load_tracks(path: str | Path) -> list[Track]:
    """Read a tracks_enriched file (a regular file, size-limited: `read_text_file`).
    Raises TrackFormatError (bad content, not a regular file) or OSError."""
    return loads_tracks(read_text_file(path), str(path))


def dump_tracks(tracks: list[Track]) -> str:
    """Serialise tracks in the enveloped tracks_enriched format."""
    return TracksEnriched(tracks=list(tracks)).model_dump_json(indent=2) + "\n"


def json_schema() -> dict[str, Any]:
    return TracksEnriched.model_json_schema()
