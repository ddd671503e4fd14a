"""The playlist formats by name, and writing one set in several of them in one run.

`--format m3u8,rekordbox` (or ``djset.format: [m3u8, rekordbox]``) names the formats;
`parse_formats` refuses an unknown name before any work, listing the known ones. A run
renders every file first (a set that one format cannot hold fails before anything is
written), then writes each file atomically (playlist.write_atomically: a temp file
renamed over the old one). A file that cannot be written keeps its old version, and the
others are still written: `write_playlists` reports both.

Which formats keep relative paths: M3U8 writes paths relative to `relative_to` when it
is set; Rekordbox XML and Traktor NML always hold absolute paths (their formats have no
relative ones); JSON holds the tracks as the set has them.

`mixxx` is not a file: the set goes into Mixxx's own library database (files/mixxx/,
docs/mixxx.md), whose path the caller gives (`djset.mixxx.database`) instead of
FOLDER/NAME.SUFFIX. It is written after the files, in one transaction of its own; when
it cannot be (Mixxx is running, say), that is one error line and the files are still
written.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, get_args

from djcurator_core.core.report.justify import SetResult
from djcurator_core.errors import DJSetError
from djcurator_core.files.dj_formats.playlist import (
    PlaylistError,
    name_from_query,
    render_json,
    render_m3u8,
    write_atomically,
)
from djcurator_core.files.dj_formats.rekordbox_xml import render_rekordbox_xml
from djcurator_core.files.dj_formats.traktor_nml import render_traktor_nml

FileFormatName = Literal["m3u8", "json", "rekordbox", "nml"]
FormatName = Literal["m3u8", "json", "rekordbox", "nml", "mixxx"]
FORMAT_NAMES: tuple[str, ...] = get_args(FileFormatName)  # written as FOLDER/NAME.SUFFIX
DATABASE_FORMATS: tuple[str, ...] = ("mixxx",)  # written into the app's own database
ALL_FORMAT_NAMES: tuple[str, ...] = get_args(FormatName)


@dataclass(frozen=True)
class RenderOptions:
    """What a run adds to the set when rendering; each format takes what it can hold."""

    query: Sequence[str] | None = None
    workflow_id: str | None = None
    relative_to: str | os.PathLike[str] | None = None  # M3U8 only
    forward_slash: bool = False  # M3U8 only
    mixxx_autodj: str = "off"  # mixxx only: off, append or replace the Auto DJ queue
    mixxx_crate: str | None = None  # mixxx only: also put the set's tracks in this crate


@dataclass(frozen=True)
class PlaylistFormat:
    name: str
    suffix: str
    relative_paths: bool  # whether `relative_to` applies
    render: Callable[[SetResult, str, RenderOptions], str]
    database: bool = False  # written into a database at a given path, not rendered


def _not_a_file(result: SetResult, name: str, options: RenderOptions) -> str:
    raise PlaylistError("mixxx is written into Mixxx's database, not as a file")


FORMATS: dict[str, PlaylistFormat] = {
    "m3u8": PlaylistFormat(
        "m3u8",
        ".m3u8",
        True,
        lambda result, name, o: render_m3u8(
            result,
            name,
            query=o.query,
            workflow_id=o.workflow_id,
            relative_to=o.relative_to,
            forward_slash=o.forward_slash,
        ),
    ),
    "json": PlaylistFormat(
        "json",
        ".json",
        False,
        lambda result, name, o: render_json(result, name, query=o.query, workflow_id=o.workflow_id),
    ),
    "rekordbox": PlaylistFormat(
        "rekordbox", ".xml", False, lambda result, name, o: render_rekordbox_xml(result, name)
    ),
    "nml": PlaylistFormat(
        "nml", ".nml", False, lambda result, name, o: render_traktor_nml(result, name)
    ),
    "mixxx": PlaylistFormat("mixxx", ".sqlite", False, _not_a_file, database=True),
}


def parse_formats(value: str | Sequence[str] | None) -> tuple[str, ...]:
    """Format names from "m3u8,rekordbox", "m3u8 rekordbox" or a list, in the order given,
    each once. Unknown names and an empty list are PlaylistErrors naming the formats."""
    if value is None:
        words: list[str] = []
    elif isinstance(value, str):
        words = value.replace(",", " ").split()
    else:
        words = [word for item in value for word in str(item).replace(",", " ").split()]
    known = ", ".join(ALL_FORMAT_NAMES)
    unknown = [word for word in words if word.lower() not in FORMATS]
    if unknown:
        shown = ", ".join(repr(word) for word in unknown)
        raise PlaylistError(f"unknown playlist format {shown}: the formats are {known}")
    if not words:
        raise PlaylistError(f"no playlist format given: the formats are {known}")
    return tuple(dict.fromkeys(word.lower() for word in words))


def playlist_files(
    folder: str | os.PathLike[str],
    name: str,
    formats: Sequence[str],
    databases: Mapping[str, str | os.PathLike[str]] | None = None,
) -> list[Path]:
    """The file of each format: FOLDER/NAME.SUFFIX, NAME made file-name-safe; for a
    database format (mixxx), its database from `databases`."""
    stem = name_from_query([name])
    paths = []
    for fmt in formats:
        if FORMATS[fmt].database:
            if not databases or not databases.get(fmt):
                raise PlaylistError(f"{fmt}: no database given (djset.{fmt}.database)")
            paths.append(Path(os.path.expanduser(databases[fmt])).absolute())
        else:
            paths.append(Path(folder) / f"{stem}{FORMATS[fmt].suffix}")
    return paths


def render_playlist(
    result: SetResult, name: str, output_format: str, options: RenderOptions | None = None
) -> str:
    """The text of the set in one format."""
    parse_formats(output_format)  # an unknown name is a PlaylistError
    return FORMATS[output_format.lower()].render(result, name, options or RenderOptions())


@dataclass
class WrittenFiles:
    written: list[Path]
    errors: list[str]  # one line per file that could not be written (its old one is kept)
    notes: list[str] = field(default_factory=list)  # what a database write did

    def raise_errors(self) -> None:
        """A PlaylistError naming the files not written (and those that were)."""
        if self.errors:
            message = "; ".join(self.errors)
            if self.written:
                message += f" (written: {', '.join(str(path) for path in self.written)})"
            raise PlaylistError(message)


def write_playlists(
    result: SetResult,
    name: str,
    targets: Sequence[tuple[str, str | os.PathLike[str]]],
    options: RenderOptions | None = None,
) -> WrittenFiles:
    """Render the set in each (format, path) of `targets`, then write each file
    atomically, then each database (mixxx: one transaction). Rendering errors raise
    before anything is written; a file or database that cannot be written is reported in
    the result (nothing of it changed) and the others are still written."""
    options = options or RenderOptions()
    texts = [
        (Path(path), render_playlist(result, name, fmt, options))
        for fmt, path in targets
        if not FORMATS[fmt.lower()].database
    ]
    written, errors, notes = [], [], []
    for path, text in texts:
        try:
            write_atomically(path, text)
        except PlaylistError as exc:
            errors.append(str(exc))
        else:
            written.append(path)
    for fmt, path in targets:
        if FORMATS[fmt.lower()].database:
            try:
                notes.extend(write_database(result, name, Path(path), options))
            except DJSetError as exc:
                errors.append(str(exc))
            else:
                written.append(Path(path))
    return WrittenFiles(written, errors, notes)


def write_database(result: SetResult, name: str, path: Path, options: RenderOptions) -> list[str]:
    """Write the set into the Mixxx database at `path`; the lines saying what it did."""
    from djcurator_core.files.mixxx.mixxx_database import MixxxTarget, write_set

    target = MixxxTarget(str(path), options.mixxx_autodj, options.mixxx_crate)  # type: ignore[arg-type]
    done = write_set(result, name, target)
    return [f"mixxx: {done.summary()}", *(f"mixxx: {note}" for note in done.notes)]
