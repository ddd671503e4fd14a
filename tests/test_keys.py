"""Key parsing and rendering: every notation real libraries contain."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from djcurator_core.core.keys import ALL_KEYS, Key, KeyParseError, parse_key, render_key

# The Camelot / Open Key table of NOTES.md section 1, row by row.
TABLE = [
    ("1A", "6m", ["G#m", "Abm"]),
    ("1B", "6d", ["B"]),
    ("2A", "7m", ["D#m", "Ebm"]),
    ("2B", "7d", ["F#", "Gb"]),
    ("3A", "8m", ["A#m", "Bbm"]),
    ("3B", "8d", ["C#", "Db"]),
    ("4A", "9m", ["Fm"]),
    ("4B", "9d", ["G#", "Ab"]),
    ("5A", "10m", ["Cm"]),
    ("5B", "10d", ["D#", "Eb"]),
    ("6A", "11m", ["Gm"]),
    ("6B", "11d", ["A#", "Bb"]),
    ("7A", "12m", ["Dm"]),
    ("7B", "12d", ["F"]),
    ("8A", "1m", ["Am"]),
    ("8B", "1d", ["C"]),
    ("9A", "2m", ["Em"]),
    ("9B", "2d", ["G"]),
    ("10A", "3m", ["Bm"]),
    ("10B", "3d", ["D"]),
    ("11A", "4m", ["F#m", "Gbm"]),
    ("11B", "4d", ["A"]),
    ("12A", "5m", ["C#m", "Dbm"]),
    ("12B", "5d", ["E"]),
]


@pytest.mark.parametrize(("camelot", "open_key", "names"), TABLE)
def test_table_of_notes(camelot, open_key, names):
    key = parse_key(camelot)
    assert key.camelot == camelot
    assert key.open_key == open_key
    assert parse_key(open_key) == key
    for name in names:
        assert parse_key(name) == key, name
    assert key.name in names


@pytest.mark.parametrize(
    ("text", "camelot"),
    [
        ("C", "8B"),
        ("Am", "8A"),
        ("C#m", "12A"),
        ("Dbm", "12A"),
        ("A#", "6B"),
        ("F# minor", "11A"),
        ("Db major", "3B"),
        ("A min", "8A"),
        ("Bbmaj", "6B"),
        ("F\u266fm", "11A"),
        ("B\u266d", "6B"),
        ("E\u266d minor", "2A"),
        ("am", "8A"),
        ("AM", "8A"),
        ("c#M", "12A"),
        ("8a", "8A"),
        ("12b", "12B"),
        ("1M", "8A"),
        ("01A", "1A"),
        (" 9A ", "9A"),
        ("Cb", "1B"),
        ("E#m", "4A"),
        ("G sharp minor", "1A"),
        ("B flat major", "6B"),
    ],
)
def test_spellings(text, camelot):
    assert parse_key(text).camelot == camelot


@pytest.mark.parametrize("text", ["", "o", "O", "  ", None, "unknown"])
def test_unknown_markers_are_not_errors(text):
    assert parse_key(text) is None


@pytest.mark.parametrize("text", ["H", "13A", "0B", "Am7", "C minor major", "xyz", "8C"])
def test_garbage_raises_with_the_text(text):
    with pytest.raises(KeyParseError, match=repr(text).replace("(", r"\(")):
        parse_key(text)


@given(st.sampled_from(ALL_KEYS), st.sampled_from(["camelot", "openkey", "name"]))
def test_every_key_round_trips_through_every_notation(key, notation):
    assert parse_key(render_key(key, notation)) == key


@given(st.sampled_from(ALL_KEYS), st.sampled_from([str.lower, str.upper, str]))
def test_round_trip_any_case(key, case):
    for text in (key.camelot, key.open_key, key.name):
        assert parse_key(case(text)) == key


def test_pitch_class_and_mode():
    assert Key.from_pitch_class(9, minor=True).camelot == "8A"
    assert Key.from_pitch_class(0, minor=False).camelot == "8B"
    assert all(Key.from_pitch_class(k.pitch_class, k.is_minor) == k for k in ALL_KEYS)


def test_render_unknown_is_empty():
    assert render_key(None) == ""
    with pytest.raises(ValueError):
        render_key(ALL_KEYS[0], "klingon")
