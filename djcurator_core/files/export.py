"""Library items -> tracks_enriched tracks, choosing the best source for BPM, key and energy.

Items are duck-typed (a beets `Item` or any object with the same attributes): `id`, `path`
(bytes or str), `title`, `artist`, `album`, `genre`, `length`, `bpm`, `initial_key` and
an optional flexible field `energy` (read through `item.get` when the item has one).
No beets imports.

Precedence (see NOTES.md 2-3):

- BPM: the file's own tag when beets has none or when the tag refines beets' integer
  (beets stores "127.60" as 127; a tag less than 1 BPM away is the precise form of the
  same value). A tag further away than that lost to an edit in the library: beets wins.
  Next, the same way, the flexible field `bpm_precise` that `beet djanalyze` stores.
- Key: the file's raw key tag (beets rewrites "F# minor" as "Fm"), else beets'
  `initial_key`, else the key of a Mixed In Key comment; always through `parse_key`.
- Energy: the beets field `energy`, else the file's energy tag or comment.
- Structure (beat grid, phrases, intro/outro): the flexible field `djset_structure` that
  `beet djanalyze` stores, else the file's DJSET_STRUCTURE tag (written with `--write`);
  text that is not a valid structure is ignored with a warning naming the track, which
  is then used without structure (files/tagging/structure_tag.py).

Files that cannot be a playlist entry are left out with a warning naming them, before any
tags are read: a path that is not UTF-8 (an M3U8 playlist and the tracks format are
UTF-8 text) or holds a line break (`text.LINE_BREAKS`: it would split the entry), and a
path that is a FIFO, device or folder instead of a plain file (never opened: a FIFO
would block the export until something writes to it).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from djcurator_core.core.keys import KeyParseError, parse_key
from djcurator_core.core.models import Track
from djcurator_core.core.text import clean_text, line_break_in, shown, utf8_problem
from djcurator_core.core.track_structure import TrackStructure
from djcurator_core.errors import DJSetError, first_line, validation_error_line
from djcurator_core.files.tagging.structure_tag import (
    STRUCTURE_FIELD,
    StructureTagError,
    parse_structure,
)
from djcurator_core.files.tagging.tag_batch import read_many
from djcurator_core.files.tagging.tag_cache import TagCache
from djcurator_core.files.tagging.tags import (
    DJTags,
    NotAPlainFile,
    TagReadError,
    parse_number,
    read_dj_tags,
)

TagReader = Callable[[Any], DJTags]
LIBRARY_VALUES = "using the library's values"


@dataclass(frozen=True)
class SkippedItem:
    """An item left out of the set, and why."""

    item_id: str
    label: str
    path: str
    reason: str

    def __str__(self) -> str:
        return f"{shown(self.label)} ({shown(self.path)}): {self.reason}"


@dataclass(frozen=True)
class Export:
    tracks: list[Track]
    skipped: list[SkippedItem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # values ignored on kept tracks
    incomplete: int = 0  # kept tracks without BPM or key (keep_incomplete)


def _field(item: Any, name: str) -> Any:
    getter = getattr(item, "get", None)
    if callable(getter):
        try:
            # The item's own value: beets' default falls back to the item's album, one
            # database query per item and missing field (half of a 20,000-item export).
            return getter(name, None, with_album=False)
        except TypeError:  # a duck-typed item whose get() has no with_album
            return getter(name, None)
    return getattr(item, name, None)


stored_field = _field  # an item's own stored value of a field (None: it has none)


def _text(item: Any, name: str) -> str:
    value = _field(item, name)
    return "" if value is None else str(value).strip()


def item_genre(item: Any) -> str:
    """beets 2.14 keeps genres as a list (`genres`); older items have a `genre` string."""
    genres = _field(item, "genres")
    if isinstance(genres, list | tuple):
        return "; ".join(str(genre).strip() for genre in genres if str(genre).strip())
    return _text(item, "genre")


def item_path(item: Any) -> str:
    path = _field(item, "path")
    return os.fsdecode(path) if path else ""


def item_label(item: Any) -> str:
    """ "Artist - Title" (or the file name), safe to print: control characters cleaned."""
    artist, title = _text(item, "artist"), _text(item, "title")
    if artist and title:
        return clean_text(f"{artist} - {title}")
    fallback = title or artist or shown(os.path.basename(item_path(item)))
    return clean_text(fallback or f"item {_field(item, 'id')}")


def unusable_path(path: str) -> str | None:
    """Why a track with this path cannot be one playlist entry, or None."""
    problem = utf8_problem(path)
    if problem:
        return f"file name with a {problem}: rename the file"
    where = line_break_in(path)
    if where:
        return f"file name with a line break ({where}): rename the file"
    return None


# Flexible field where `beet djanalyze` keeps the analysed tempo with its decimals (beets'
# own `bpm` is an integer).
PRECISE_BPM_FIELD = "bpm_precise"


def choose_bpm(tag_bpm: float | None, library_bpm: Any, precise_bpm: Any = None) -> float | None:
    """The file's tag, else the library's precise analysed value, else beets' `bpm`; a
    precise value only counts while it is the same tempo as beets' integer (< 1 BPM off:
    a later edit of `bpm` in the library wins)."""
    library = parse_number(library_bpm)
    for candidate in (tag_bpm, parse_number(precise_bpm)):
        if candidate is not None and (library is None or abs(candidate - library) < 1):
            return candidate
    return library


def _parse(text: str | None, source: str, problems: list[str]) -> str | None:
    """Camelot text of a key, or None (recording why when the text is not a key)."""
    if not text:
        return None
    try:
        key = parse_key(text)
    except KeyParseError:
        problems.append(f"{source} {text!r} is not a key")
        return None
    return key.camelot if key else None


def choose_key(tags: DJTags, library_key: Any, problems: list[str]) -> str | None:
    library = None if library_key in (None, "") else str(library_key)
    for text, source in (
        (tags.key, "key tag"),
        (library, "beets initial_key"),
        (tags.comment_key, "comment key"),
    ):
        camelot = _parse(text, source, problems)
        if camelot:
            return camelot
    return None


def choose_energy(tags: DJTags, library_energy: Any, problems: list[str]) -> float | None:
    for value, source in ((library_energy, "beets energy"), (tags.energy, "energy tag")):
        if value is None or value == "":
            continue
        number = parse_number(value)
        if number is not None and 1 <= number <= 10:
            return number
        problems.append(f"{source} {value!r} is not an energy level 1-10")
    return None


KEY_CONFIDENCE_FIELD = "key_confidence"  # written by `beet djanalyze` beside initial_key


def key_confidence(item: Any, chosen_key: str | None) -> dict[str, Any]:
    """{"key_confidence": c} for Track.extra when the key in use is the one the analysis
    estimated (the library's initial_key) and the analysis stored its confidence; {} for
    a key from the file's tags or the user, which carries no such number."""
    confidence = parse_number(_field(item, KEY_CONFIDENCE_FIELD))
    if confidence is None or chosen_key is None or not 0 <= confidence <= 1:
        return {}
    raw = _field(item, "initial_key")
    library = _parse(None if raw in (None, "") else str(raw), "beets initial_key", [])
    return {KEY_CONFIDENCE_FIELD: round(confidence, 3)} if library == chosen_key else {}


def choose_structure(
    tags: DJTags, library_structure: Any, problems: list[str]
) -> TrackStructure | None:
    """The structure the library stored, else the file's tag. Text that is no valid
    structure is skipped; when no source gives one, `problems` says which were bad."""
    sources = ((library_structure, f"beets {STRUCTURE_FIELD}"), (tags.structure, "structure tag"))
    bad = []
    for text, source in sources:
        if text is None or text == "":
            continue
        try:
            return parse_structure(text)  # None: stored as "no beat", the answer
        except StructureTagError as exc:
            bad.append(f"{source} ignored ({exc})")
    if bad:
        problems.append("; ".join(bad) + "; used without structure")
    return None


def item_to_track(item: Any, tags: DJTags) -> tuple[Track, list[str]]:
    """The track for one item and the values ignored on the way (one line each).

    Raises ValidationError when a chosen value is out of the format's range."""
    problems: list[str] = []
    key = choose_key(tags, _field(item, "initial_key"), problems)
    track = Track(
        id=str(_field(item, "id")),
        path=item_path(item) or None,
        title=_text(item, "title"),
        artist=_text(item, "artist"),
        album=_text(item, "album"),
        genre=item_genre(item),
        duration=parse_number(_field(item, "length")),
        bpm=choose_bpm(tags.bpm, _field(item, "bpm"), _field(item, PRECISE_BPM_FIELD)),
        key=key,
        energy=choose_energy(tags, _field(item, "energy"), problems),
        extra=key_confidence(item, key),
        structure=choose_structure(tags, _field(item, STRUCTURE_FIELD), problems),
    )
    return track, problems


def _missing(track: Track) -> str | None:
    gaps = [name for name, value in (("BPM", track.bpm), ("key", track.key)) if value is None]
    return f"no {' and no '.join(gaps)}" if gaps else None


def export_items(
    items: Iterable[Any],
    keep_incomplete: bool = False,
    read_tags: TagReader | None = None,
) -> Export:
    """Tracks for the items, in item order. Items whose file is missing are skipped, and
    so are items without BPM or key unless `keep_incomplete` (the scorer then gives their
    transitions neutral parts). A file whose tags cannot be read keeps the library's
    values, with a warning (whatever the tag reader raised: one damaged file must not stop
    the set). `read_tags`: default, every file's tags read first, at once
    (tag_batch.read_many: files unchanged since the last export come from the tag cache,
    tag_cache.py; the rest are read on every core), then the items in order."""
    if read_tags is None:
        items = list(items)
        paths = (item_path(item) for item in items)
        with TagCache(reader=read_dj_tags) as cache:
            read = read_many((path for path in paths if path and not unusable_path(path)), cache)
        return export_items(items, keep_incomplete, read)
    tracks: list[Track] = []
    skipped: list[SkippedItem] = []
    warnings: list[str] = []
    incomplete = 0
    for item in items:
        label, path, item_id = item_label(item), item_path(item), str(_field(item, "id"))
        unusable = unusable_path(path)
        if unusable:
            skipped.append(SkippedItem(item_id, label, path, unusable))
            warnings.append(f"left out {skipped[-1]}")
            continue
        try:
            tags = read_tags(path) if path else DJTags()
        except NotAPlainFile as exc:
            skipped.append(SkippedItem(item_id, label, path, str(exc).rpartition(": ")[2]))
            warnings.append(f"left out {skipped[-1]}")
            continue
        except TagReadError as exc:
            if not os.path.exists(path):  # a DJ set must not count on a missing file
                skipped.append(SkippedItem(item_id, label, path, "file not found"))
                continue
            warnings.append(f"{label}: {exc}; " + LIBRARY_VALUES)
            tags = DJTags()
        except Exception as exc:  # a parser tripping over a damaged file: same as above
            reason, kind = first_line(exc), type(exc).__name__
            shown = reason if reason == kind else f"{kind}: {reason}"
            warnings.append(f"{label}: {path}: cannot read tags ({shown}); " + LIBRARY_VALUES)
            tags = DJTags()
        try:
            track, problems = item_to_track(item, tags)
        except ValidationError as exc:
            skipped.append(SkippedItem(item_id, label, path, validation_error_line(exc)))
            continue
        warnings.extend(f"{label}: {problem}" for problem in problems)
        gap = _missing(track)
        if gap and not keep_incomplete:
            skipped.append(SkippedItem(item_id, label, path, gap))
            continue
        incomplete += gap is not None
        tracks.append(track)
    return Export(tracks, skipped, warnings, incomplete)


class NoTracks(DJSetError):
    """The query matched nothing, or nothing usable."""


def check_usable(
    matched: int, export: Export, shown_query: str, where: str = "", hint: str = ""
) -> None:
    """Refuse an export that leaves no track to order, in one line: the same message for
    `beet djset` (which adds a `hint`) and for a scheduled run (`where`: the library)."""
    if not matched:
        raise NoTracks(f"no tracks match the query {shown_query}{where}")
    if not export.tracks:
        raise NoTracks(
            f"none of the {matched} tracks matching {shown_query}{where} has a file, "
            f"BPM and key{hint}"
        )
