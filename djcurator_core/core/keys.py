"""Musical keys: parse every notation real libraries contain, render Camelot/Open Key/name.

A key is a position on the Camelot wheel: a number 1-12 and a letter, A (minor) or
B (major). Parsing accepts musical names ("C#m", "F# minor", "Bbmaj", unicode
accidentals), Camelot ("8A") and Open Key ("1m", "1d"); "o" or empty means off-key /
unknown and parses to None.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from djcurator_core.errors import DJSetError

# Pitch class (0 = C) of the tonic -> Camelot number, per mode. See NOTES.md section 1.
_MAJOR_NUMBER = {11: 1, 6: 2, 1: 3, 8: 4, 3: 5, 10: 6, 5: 7, 0: 8, 7: 9, 2: 10, 9: 11, 4: 12}
_MINOR_NUMBER = {8: 1, 3: 2, 10: 3, 5: 4, 0: 5, 7: 6, 2: 7, 9: 8, 4: 9, 11: 10, 6: 11, 1: 12}

# One spelling per key, as DJ tools display them.
_MAJOR_NAME = {
    1: "B",
    2: "F#",
    3: "Db",
    4: "Ab",
    5: "Eb",
    6: "Bb",
    7: "F",
    8: "C",
    9: "G",
    10: "D",
    11: "A",
    12: "E",
}
_MINOR_NAME = {
    1: "Abm",
    2: "Ebm",
    3: "Bbm",
    4: "Fm",
    5: "Cm",
    6: "Gm",
    7: "Dm",
    8: "Am",
    9: "Em",
    10: "Bm",
    11: "F#m",
    12: "C#m",
}

_LETTER_PC = {"c": 0, "d": 2, "e": 4, "f": 5, "g": 7, "a": 9, "b": 11}
_UNKNOWN = {"", "o", "-", "none", "unknown", "off", "off-key", "offkey", "n/a", "?"}

_CAMELOT_RE = re.compile(r"^(1[0-2]|0?[1-9])\s*([ab])$")
_OPEN_KEY_RE = re.compile(r"^(1[0-2]|0?[1-9])\s*([md])$")
_NAME_RE = re.compile(
    r"^([a-g])\s*(#|b|sharp|flat)?\s*"
    r"(m|min|minor|moll|maj|major|dur)?$"
)


class KeyParseError(DJSetError, ValueError):
    """Raised for a key text that no supported notation matches."""


@dataclass(frozen=True, order=True)
class Key:
    number: int  # Camelot number 1-12
    letter: str  # "A" minor, "B" major

    def __post_init__(self) -> None:
        if not 1 <= self.number <= 12 or self.letter not in ("A", "B"):
            raise ValueError(f"not a Camelot key: {self.number}{self.letter}")

    @property
    def is_minor(self) -> bool:
        return self.letter == "A"

    @property
    def camelot(self) -> str:
        return f"{self.number}{self.letter}"

    @property
    def open_key(self) -> str:
        return f"{(self.number + 4) % 12 + 1}{'m' if self.is_minor else 'd'}"

    @property
    def name(self) -> str:
        return (_MINOR_NAME if self.is_minor else _MAJOR_NAME)[self.number]

    @property
    def pitch_class(self) -> int:
        table = _MINOR_NUMBER if self.is_minor else _MAJOR_NUMBER
        return next(pc for pc, n in table.items() if n == self.number)

    @classmethod
    def from_pitch_class(cls, pitch_class: int, minor: bool) -> Key:
        table = _MINOR_NUMBER if minor else _MAJOR_NUMBER
        return cls(table[pitch_class % 12], "A" if minor else "B")

    def __str__(self) -> str:
        return self.camelot


ALL_KEYS: tuple[Key, ...] = tuple(Key(n, letter) for letter in "AB" for n in range(1, 13))


def _normalise(text: str) -> str:
    text = text.strip()
    for sharp in ("\u266f", "\uff03"):
        text = text.replace(sharp, "#")
    text = text.replace("\u266d", "b")
    return text


def parse_key(text: str | None) -> Key | None:
    """Parse a key in any supported notation; None for off-key/unknown markers."""
    if text is None:
        return None
    if not isinstance(text, str):
        raise KeyParseError(f"unrecognised key {text!r}")
    return _parse_text(text)


@functools.lru_cache(maxsize=4096)
def _parse_text(text: str) -> Key | None:
    """parse_key for text. Cached: a library repeats a few dozen spellings, and parsing
    100,000 tracks' keys one by one took seconds."""
    cleaned = _normalise(text)
    lowered = cleaned.lower()
    if lowered in _UNKNOWN:
        return None
    if m := _CAMELOT_RE.match(lowered):
        return Key(int(m.group(1)), m.group(2).upper())
    if m := _OPEN_KEY_RE.match(lowered):
        number = (int(m.group(1)) + 6) % 12 + 1  # inverse of open = (camelot + 4) % 12 + 1
        return Key(number, "A" if m.group(2) == "m" else "B")
    return _parse_name(cleaned, text)


def _parse_name(cleaned: str, original: str) -> Key:
    m = _NAME_RE.match(cleaned.lower())
    if not m:
        raise KeyParseError(f"unrecognised key {original!r}")
    letter, accidental, mode = m.group(1).lower(), m.group(2), m.group(3)
    pc = _LETTER_PC[letter]
    if accidental in ("#", "sharp"):
        pc += 1
    elif accidental in ("b", "flat"):
        pc -= 1
    minor = mode in ("m", "min", "minor", "moll")
    return Key.from_pitch_class(pc, minor)


def render_key(key: Key | None, notation: str = "camelot") -> str:
    """Render a key as "camelot", "openkey" or "name"; empty string for unknown."""
    if key is None:
        return ""
    if notation == "camelot":
        return key.camelot
    if notation in ("openkey", "open_key"):
        return key.open_key
    if notation in ("name", "musical"):
        return key.name
    raise ValueError(f"unknown key notation {notation!r}")


def wheel_distance(a: Key, b: Key) -> int:
    """Steps between Camelot numbers around the wheel (0-6), ignoring the letter."""
    d = abs(a.number - b.number) % 12
    return min(d, 12 - d)
