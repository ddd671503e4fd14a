"""Writing a justified set as an M3U8 playlist (or JSON), atomically.

The playlist is what DJ software imports (NOTES.md 4): UTF-8, ``#EXTM3U``,
``#PLAYLIST:<name>``, per track ``#EXTINF:<seconds>,<artist> - <title>`` and its path.
Everything else is a comment line starting with ``"# "`` (never ``#EXT``), which Mixxx,
Rekordbox and VirtualDJ skip: a header summing up the set and, between two entries, the
justification of that transition (with its mix point where the tracks have a structure:
"mix out at 5:12, bar 97 -> in at 0:00, bar 1, 16 bars"). Paths are absolute unless
`relative_to` names a folder (as in beets' smartplaylist plugin), optionally with forward
slashes.

A playlist is written to a temporary file in the same folder and renamed over the old
one, so a failed or interrupted run never leaves a partial or emptied playlist. The
other formats (Rekordbox XML, Traktor NML) and the choice among them: formats.py.

Every track is exactly one entry line, also for readers that split lines on any Unicode
line break: a path with a line break is refused (the exporter leaves such files out
before the run), a relative entry that would start with "#" (a comment to every M3U
reader) is written as "./#...", and tags in comment and #EXTINF lines have their control
characters cleaned (`text.clean_text`: no terminal escapes in the file).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path

from djcurator_core.core.models import Track
from djcurator_core.core.report.justify import SetResult, Transition, clock
from djcurator_core.core.report.report import summary_lines
from djcurator_core.core.text import clean_text, line_break_in, shown
from djcurator_core.errors import DJSetError

_UNSAFE_NAME = re.compile(r'[\x00-\x1f\x7f-\x9f<>:"/\\|?*\u2028\u2029]+')
# File names are limited to 255 bytes on most file systems: the name part of a playlist
# file keeps 200 bytes of UTF-8, which leaves room for any suffix.
MAX_NAME_BYTES = 200


class PlaylistError(DJSetError):
    """The playlist cannot be rendered or written; one line naming the file."""


def name_from_query(query: Sequence[str]) -> str:
    """A file-name-safe playlist name from query words: "genre:techno bpm:120..130"
    -> "genre-techno bpm-120..130"; an empty query (the whole library) -> "djset".

    At most MAX_NAME_BYTES bytes of UTF-8 (cut at a character boundary): a long name in
    multi-byte characters must not fail with "File name too long" after the run."""
    name = _UNSAFE_NAME.sub("-", clean_text(" ".join(query))).strip(" .-")
    name = name.encode("utf-8", "replace")[:MAX_NAME_BYTES].decode("utf-8", "ignore")
    return name.strip(" .-") or "djset"


def _line(text: object) -> str:
    """Text safe inside one playlist line: no control characters, no line breaks."""
    return " ".join(clean_text(str(text)).split())


def check_relative_to(folder: str | os.PathLike[str]) -> None:
    """PlaylistError unless `folder` (the base of relative entries) is an existing folder:
    a typo ("playlsit") would otherwise give a playlist of paths that resolve nowhere."""
    if not os.path.isdir(folder):
        raise PlaylistError(
            f"relative_to folder {shown(os.fspath(folder))} does not exist: "
            "entries relative to it would not resolve"
        )


def entry_location(
    track_path: str, relative_to: str | os.PathLike[str] | None = None, forward_slash: bool = False
) -> str:
    """The path written for a track: absolute, or relative to `relative_to` (a folder)."""
    location = os.path.abspath(track_path)
    if relative_to is not None:
        with contextlib.suppress(ValueError):  # another drive on Windows: stay absolute
            location = os.path.relpath(location, os.path.abspath(relative_to))
    if forward_slash:
        location = location.replace(os.sep, "/")
    if location.startswith("#"):  # a comment line to every M3U reader
        location = f".{'/' if forward_slash else os.sep}{location}"
    return location


def _extinf(track: Track) -> str:
    seconds = round(track.duration) if track.duration is not None else -1
    if track.artist or track.title:
        display = track.label
    else:
        display = os.path.basename(track.path or "") or track.id
    return f"#EXTINF:{seconds},{_line(display)}"


def _number(value: float | None) -> str:
    return "?" if value is None else f"{value:.2f}".rstrip("0").rstrip(".")


def transition_comments(t: Transition) -> list[str]:
    """Two comment lines: the facts (key move, BPM, energy, score), then the sentence."""
    bpm = f"BPM {_number(t.from_bpm)} -> {_number(t.to_bpm)}"
    if t.bpm_change_pct is not None:
        bpm += f" ({t.bpm_change_pct:+.1f}%{', half/double time' if t.half_double else ''})"
    energy = f"energy {_number(t.from_energy)} -> {_number(t.to_energy)}"
    facts = (
        f"# {t.position} -> {t.position + 1}: key {t.key_move} | {bpm} | {energy} "
        f"| score {t.score:.2f}"
    )
    return [_line(facts), f"# {_line(t.sentence)}"]


def header_comments(
    result: SetResult, query: Sequence[str] | None = None, workflow_id: str | None = None
) -> list[str]:
    lines = []
    if query is not None:
        lines.append(f"query: {' '.join(query) or '(whole library)'}")
    lines.extend(summary_lines(result))
    if workflow_id:
        lines.append(f"workflow: {workflow_id}")
    return [f"# {_line(text)}" for text in lines if text.strip()]


def render_m3u8(
    result: SetResult,
    name: str,
    *,
    query: Sequence[str] | None = None,
    workflow_id: str | None = None,
    relative_to: str | os.PathLike[str] | None = None,
    forward_slash: bool = False,
) -> str:
    """The playlist text: header, then each track, then why the next one follows."""
    lines = ["#EXTM3U", f"#PLAYLIST:{_line(name)}"]
    lines += header_comments(result, query, workflow_id)
    for position, track in enumerate(result.tracks, 1):
        if not track.path:
            raise PlaylistError(f"track {track.id} ({track.label}) has no file path")
        if line_break_in(track.path):
            raise PlaylistError(
                f"track {track.id}: its path contains a line break ({line_break_in(track.path)})"
            )
        lines.append(_extinf(track))
        lines.append(entry_location(track.path, relative_to, forward_slash))
        if position <= len(result.transitions):
            lines += transition_comments(result.transitions[position - 1])
    return "\n".join(lines) + "\n"


def add_mix_clocks(result: SetResult, document: dict) -> dict:
    """`document` (the result's JSON dump) with `mix_clock` in each transition that has a
    mix point: its two times as m:ss (`{"out": "5:10", "in": "0:00"}`)."""
    for transition, item in zip(result.transitions, document["transitions"], strict=True):
        if transition.mix is not None:
            mix = transition.mix
            item["mix_clock"] = {"out": clock(mix.out_time), "in": clock(mix.in_time)}
    return document


def render_json(
    result: SetResult,
    name: str,
    *,
    query: Sequence[str] | None = None,
    workflow_id: str | None = None,
) -> str:
    """The full result (tracks, transitions, summary) with the run's name and query.

    A transition with a mix point also has `mix_clock`: its times as m:ss, as the DJ
    software shows them (`{"out": "5:10", "in": "0:00"}`); `mix` holds the seconds."""
    document = {
        "format": "djset_result",
        "version": 1,
        "name": name,
        "query": None if query is None else " ".join(query),
        "workflow_id": workflow_id,
        **result.model_dump(mode="json"),
    }
    add_mix_clocks(result, document)
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _error(path: Path, exc: OSError) -> PlaylistError:
    return PlaylistError(f"cannot write playlist {path}: {exc.strerror or exc}")


def check_writable(folder: str | os.PathLike[str]) -> None:
    """Fail early (before any work) when files cannot be created in `folder`."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".djset-probe-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise PlaylistError(f"cannot write playlists in {folder}: {exc.strerror or exc}") from None


def _new_file_mode(path: Path) -> int:
    try:
        return os.stat(path).st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def write_atomically(path: str | os.PathLike[str], text: str) -> None:
    """Write UTF-8 `text` to a temp file beside `path`, then rename it over `path`."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # A short temp name: the playlist's own name may already be near the length limit.
        fd, temp = tempfile.mkstemp(prefix=".djset-", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise _error(path, exc) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, _new_file_mode(path))
        os.replace(temp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        if isinstance(exc, OSError):
            raise _error(path, exc) from None
        raise
