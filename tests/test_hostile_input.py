"""Hostile files and text without a server: special files, non-UTF-8 and line-breaking
file names, control characters in tags, extreme JSON and options (docs/hardening.md).

Real files throughout: FIFOs from os.mkfifo, /dev/zero, audio files generated and tagged
with mutagen under names made as bytes paths.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest
from audiofiles import DJTagSpec, make_audio_file
from beets.library import Item
from cli_helpers import run_cli, run_cli_here

from djcurator_core.core.models import (
    Track,
    TrackFormatError,
    load_tracks,
    loads_tracks,
    read_text_file,
)
from djcurator_core.core.report.justify import justify
from djcurator_core.core.report.report import render_text
from djcurator_core.core.rules.scoring import ScoringConfig
from djcurator_core.core.text import LINE_BREAKS, clean_text, shown
from djcurator_core.files.dj_formats.playlist import (
    MAX_NAME_BYTES,
    PlaylistError,
    check_relative_to,
    name_from_query,
    render_m3u8,
    write_atomically,
)
from djcurator_core.files.export import export_items
from djcurator_core.files.tagging.tags import NotAPlainFile, read_dj_tags

TAGS = DJTagSpec(title="Fine", artist="Artist", bpm="124", key="8A", energy="6")
ANSI = "\x1b[2J\x1b[31mRed\x1b[0m\x07"


def two_tracks(**first) -> list[dict]:
    return [
        {"id": "a", "bpm": 120, "key": "8A", "duration": 200, **first},
        {"id": "b", "bpm": 122, "key": "9A", "duration": 210},
    ]


def within(seconds: float, function, *args):
    """Call `function` in a thread; fail (instead of hanging the suite) if it blocks."""
    outcome: dict = {}

    def target() -> None:
        try:
            outcome["value"] = function(*args)
        except BaseException as exc:  # handed to the test
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"{function.__name__} blocked for {seconds} s"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


# --- python -m djcurator_core sequence: one line, exit 2 --------------------------------


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


CLI_FILES = {
    "infinity": (
        '[{"id": "a", "bpm": 120, "key": "8A", "duration": Infinity}]',
        "Infinity is not a number JSON allows",
    ),
    "5000-digit integer": (
        json.dumps(two_tracks()).replace('"duration": 200', '"duration": ' + "9" * 5000),
        "Exceeds the limit (4300 digits)",
    ),
    "5000-digit float": (
        json.dumps(two_tracks()).replace('"duration": 200', '"duration": ' + "9" * 5000 + ".5"),
        "field 'duration': Input should be a finite number",
    ),
    "nested 100,000 deep": ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    "lone surrogate": (
        json.dumps(two_tracks(title="x\ud800y")),
        "field 'title': 'x\\ud800y' contains a lone surrogate U+D800",
    ),
    "NaN in extra": (
        json.dumps(two_tracks()).replace('"duration": 200', '"duration": 200, "extra": {"x": NaN}'),
        "NaN is not a number JSON allows",
    ),
}


@pytest.mark.parametrize("case", sorted(CLI_FILES))
def test_cli_refuses_hostile_json_in_one_line(case, tmp_path):
    text, expected = CLI_FILES[case]
    done = run_cli_here("sequence", str(_write(tmp_path / "t.json", text)))
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: "), done.stderr
    assert expected in done.stderr


@pytest.mark.parametrize(
    ("option", "expected"),
    [
        (["--arc-weight", "inf", "--energy-arc", "rise"], "'arc_weight': Input should be a finite"),
        (["--time-budget", "nan"], "'time_budget': Input should be a finite number"),
        (["--seed", "-5"], "'seed': Input should be greater than or equal to 0"),
    ],
)
def test_cli_refuses_hostile_options_in_one_line(option, expected, tmp_path):
    path = _write(tmp_path / "t.json", json.dumps(two_tracks()))
    done = run_cli_here("sequence", str(path), *option)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("error: set options: field ") and expected in done.stderr
    assert done.stderr.count("\n") == 1, done.stderr


@pytest.mark.parametrize("kind", ["fifo", "/dev/zero", "folder"])
def test_cli_refuses_special_tracks_files_without_reading(kind, tmp_path):
    if kind == "fifo":
        path = tmp_path / "tracks.json"
        os.mkfifo(path)
    elif kind == "folder":
        path = tmp_path
    else:
        path = Path(kind)
    done = run_cli("sequence", str(path), timeout=30)  # a blocked read would time out
    assert done.returncode == 2
    expected = {
        "fifo": "not a regular file (a FIFO)",
        "/dev/zero": "not a regular file (a character device)",
        "folder": "Is a directory",
    }
    assert done.stderr == f"error: {path}: {expected[kind]}\n"


def test_tracks_file_reads_are_size_limited(tmp_path):
    path = _write(tmp_path / "big.json", json.dumps(two_tracks()))
    with pytest.raises(TrackFormatError, match=r"big.json: \d+ bytes, over the 64-byte limit"):
        read_text_file(path, limit=64)
    assert len(load_tracks(path)) == 2  # the default limit is far above real files


def test_track_text_is_cleaned_and_paths_stay_on_one_line():
    track = Track(id="a", title=ANSI, artist="Tab\there", genre="a\u2028b")
    assert (track.title, track.artist, track.genre) == ("Red\ufffd", "Tab here", "a b")
    for char in LINE_BREAKS:
        with pytest.raises(ValueError, match="contains a line break"):
            Track(id="a", path=f"/music/a{char}b.mp3")
    with pytest.raises(ValueError, match="contains a control character"):
        Track(id="a\x1b[2J")
    with pytest.raises(TrackFormatError, match="byte 0xFF that is not UTF-8"):
        loads_tracks(json.dumps(two_tracks(path=os.fsdecode(b"/music/\xff.mp3"))))


def test_clean_text_and_shown():
    assert clean_text("plain Ünïcode") == "plain Ünïcode"
    assert clean_text("\x1b]0;title\x07x\x9b31my\x7f") == "xy\ufffd"
    assert shown(os.fsdecode(b"/m/\xff\n.mp3")) == "/m/\\xff\\n.mp3"


# --- export: special files and names that cannot be entries ------------------------------


def _item(path: bytes | str, item_id: int, **tags) -> Item:
    values = {"title": "T", "artist": "A", "bpm": 124, "initial_key": "Am", "length": 1.0}
    values.update(tags)
    return Item(id=item_id, path=os.fsencode(path), **values)


def test_export_leaves_out_a_fifo_with_a_warning_and_never_blocks(tmp_path):
    fine = make_audio_file(tmp_path / "fine.mp3", TAGS)
    fifo = tmp_path / "fifo.mp3"
    os.mkfifo(fifo)
    export = within(20, export_items, [_item(fine, 1), _item(fifo, 2, title="Pipe")])
    assert [t.id for t in export.tracks] == ["1"]
    assert [s.item_id for s in export.skipped] == ["2"]
    assert export.warnings == [f"left out A - Pipe ({fifo}): not a regular file (a FIFO)"]
    with pytest.raises(NotAPlainFile, match="a FIFO"):
        within(20, read_dj_tags, fifo)
    with pytest.raises(NotAPlainFile, match="a character device"):
        within(20, read_dj_tags, "/dev/zero")


@pytest.mark.parametrize(
    "name",
    [b"bad \xff\xfe name.mp3", b"new\nline.mp3", b"carriage\rreturn.mp3", b"vt\x0bff\x0c.mp3"]
    + [f"sep{char}arator.mp3".encode() for char in "\x85\u2028\u2029\x1c"],
)
def test_export_leaves_out_names_that_cannot_be_one_entry(name, tmp_path):
    folder = os.fsencode(tmp_path)
    bad = folder + b"/" + name
    make_audio_file(Path(os.fsdecode(bad)), TAGS)
    fine = make_audio_file(tmp_path / "fine.mp3", TAGS)
    export = export_items([_item(bad, 1, title="Odd"), _item(fine, 2)])
    assert [t.id for t in export.tracks] == ["2"]
    (warning,) = export.warnings
    assert warning.startswith("left out A - Odd (") and "rename the file" in warning
    assert shown(os.fsdecode(bad)) in warning
    assert warning.isprintable()  # one line, nothing raw reaches the terminal
    json.dumps([t.model_dump() for t in export.tracks], ensure_ascii=False).encode("utf-8")


def test_export_cleans_control_characters_in_tags(tmp_path):
    path = make_audio_file(tmp_path / "x.mp3", TAGS)
    export = export_items([_item(path, 1, title=ANSI, artist="Evil\x00Co")])
    (track,) = export.tracks
    assert (track.title, track.artist) == ("Red\ufffd", "Evil\ufffdCo")


# --- playlist entries ----------------------------------------------------------------------


def _result(tracks: list[Track]):
    return justify(tracks, list(range(len(tracks))), ScoringConfig())


def _lines_any_break(text: str) -> list[str]:
    """Entry lines for a reader that splits on every Unicode line break."""
    return [line for line in text.splitlines() if line.strip() and not line.startswith("#")]


def test_hash_names_stay_entries_with_relative_paths(tmp_path):
    music = tmp_path / "music"
    names = ["#1 hit.mp3", "# comment-like.mp3", "#EXTINF.mp3", "plain.mp3"]
    tracks = [
        Track(id=str(i), path=str(music / name), title=ANSI, artist="DJ\u2028X", bpm=120, key="8A")
        for i, name in enumerate(names)
    ]
    text = render_m3u8(_result(tracks), "set", relative_to=music)
    assert _lines_any_break(text) == [f"./{name}" for name in names[:3]] + ["plain.mp3"]
    text = render_m3u8(_result(tracks), "set", relative_to=tmp_path)
    assert _lines_any_break(text) == [f"music/{name}" for name in names]
    assert "\x1b" not in text and "\x07" not in text
    assert "#EXTINF:-1,DJ X - Red\ufffd" in text.splitlines()
    terminal = render_text(_result(tracks))
    assert "\x1b" not in terminal and all(line.isprintable() for line in terminal.splitlines())


def test_every_track_is_one_entry_for_any_line_splitter(tmp_path):
    tracks = [
        Track(id=str(i), path=str(tmp_path / f"t{i}.mp3"), title=f"A{c}B", bpm=120, key="8A")
        for i, c in enumerate(LINE_BREAKS)
    ]
    text = render_m3u8(_result(tracks), f"set{LINE_BREAKS}name")
    assert _lines_any_break(text) == [t.path for t in tracks]
    assert text.splitlines() == text.split("\n")[:-1]  # no extra breaks anywhere


def test_relative_to_must_exist(tmp_path):
    check_relative_to(tmp_path)
    with pytest.raises(PlaylistError, match="relative_to folder .*playlsit does not exist"):
        check_relative_to(tmp_path / "playlsit")


def test_long_multibyte_names_fit_a_file_name(tmp_path):
    name = name_from_query(["ä" * 300])
    assert len(name.encode()) <= MAX_NAME_BYTES and name == "ä" * (MAX_NAME_BYTES // 2)
    assert name_from_query(["🎧" * 100]) == "🎧" * (MAX_NAME_BYTES // 4)
    assert name_from_query(["\x1b[31m", "x"]) == "x"
    for suffix in (".m3u8", ".json"):
        target = tmp_path / f"{name_from_query(['€' * 500])}{suffix}"
        write_atomically(target, "#EXTM3U\n")  # no "File name too long"
        assert target.read_text() == "#EXTM3U\n"


# --- payloads: a gzip "bomb" in a workflow input -----------------------------------------


async def test_gzip_payloads_are_decoded_up_to_a_limit(monkeypatch):
    from temporalio.api.common.v1 import Payload

    from djcurator_core.pipeline import codec

    big = Payload(metadata={"encoding": b"json/plain"}, data=b"0" * 100_000)
    (encoded,) = await codec.GzipPayloadCodec(threshold=0).encode([big])
    assert len(encoded.data) < 1000  # 100 kB of zeros compress to almost nothing
    assert await codec.GzipPayloadCodec().decode([encoded]) == [big]
    monkeypatch.setattr(codec, "MAX_DECODED_BYTES", 10_000)
    with pytest.raises(codec.PayloadCodecError, match="decompresses beyond 10000 bytes"):
        await codec.GzipPayloadCodec().decode([encoded])
    broken = Payload(metadata={"encoding": codec.ENCODING}, data=b"not gzip")
    with pytest.raises(codec.PayloadCodecError, match="binary/gzip payload"):
        await codec.GzipPayloadCodec().decode([broken])
