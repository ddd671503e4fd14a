"""Text that is safe to show and to write one per line: tags, ids and file paths.

Tags and file names come from files anyone can make, and end up in a playlist (one entry
per line), in a terminal and in JSON. Three hazards, one function each:

- control characters in tags (an ANSI escape such as ``ESC[2J`` clears the screen of
  whoever prints the set): `clean_text` removes escape sequences and replaces the other
  control characters;
- line breaks in a path: a reader that splits on any Unicode line break (Python's
  `str.splitlines`, and so do several DJ tools) would see one entry as several, so
  `line_break_in` finds them (VT, FF, FS/GS/RS, NEL, U+2028 and U+2029 besides CR/LF);
- text that is not valid Unicode (a lone surrogate from JSON's ``"\\ud800"``, or a file
  name with non-UTF-8 bytes decoded with surrogateescape) cannot be written as UTF-8:
  `utf8_problem` says so, and `shown` renders any such text printable, for messages.
"""

from __future__ import annotations

import re

# Everything str.splitlines() splits on.
LINE_BREAKS = "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"
_LINE_BREAK = re.compile(f"[{re.escape(LINE_BREAKS)}]")
# ESC-introduced sequences: CSI (ESC [ ... final), OSC (ESC ] ... BEL or ESC \), and
# two-character escapes; the 8-bit CSI (U+009B) too.
_ESCAPE_SEQUENCE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"  # CSI
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC
    r"|\x1b[@-Z\\-_]"  # two-character escapes
)
REPLACEMENT = "\ufffd"


# C0 and C1 controls and DEL (Unicode category Cc), the line and paragraph separators
# (Zl, Zp): one regular expression, as fast on clean text as a plain scan.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
SPACE_LIKE = "\t" + LINE_BREAKS  # controls that separate words: they become a space


def clean_text(text: str) -> str:
    """`text` without terminal escape sequences; tabs and line breaks become spaces and
    any other control character becomes U+FFFD (visible, and harmless to print)."""
    if _CONTROL.search(text) is None:
        return text
    text = _ESCAPE_SEQUENCE.sub("", text)
    return _CONTROL.sub(lambda m: " " if m.group() in SPACE_LIKE else REPLACEMENT, text)


def line_break_in(text: str) -> str | None:
    """The first line-breaking character in `text` (as a name like 'U+2028'), or None."""
    match = _LINE_BREAK.search(text)
    return None if match is None else f"U+{ord(match.group()):04X}"


def utf8_problem(text: str) -> str | None:
    """Why `text` cannot be written as UTF-8 (a lone surrogate, or a byte that was not
    UTF-8 in a file name), or None when it can."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        char = text[exc.start]
        if 0xDC80 <= ord(char) <= 0xDCFF:  # os.fsdecode's surrogateescape of a byte
            return f"byte 0x{ord(char) - 0xDC00:02X} that is not UTF-8"
        return f"a lone surrogate U+{ord(char):04X} that is not valid Unicode"
    return None


def shown(text: str) -> str:
    """`text` for a one-line message: bytes of a non-UTF-8 file name as \\xNN, other
    surrogates and non-printable characters as \\uNNNN (or \\n, \\r, \\t, \\xNN)."""
    if text.isprintable() and utf8_problem(text) is None:
        return text
    parts = []
    for char in text:
        code = ord(char)
        if 0xDC80 <= code <= 0xDCFF:
            parts.append(f"\\x{code - 0xDC00:02x}")
        elif char.isprintable() and not 0xD800 <= code <= 0xDFFF:
            parts.append(char)
        else:
            escaped = char.encode("unicode_escape").decode("ascii")
            parts.append(escaped if escaped != char else f"\\u{code:04x}")
    return "".join(parts)
