"""The project's one exception base, and one-line error messages.

Every shell promises "bad input -> one line, no traceback". Every error a user can cause
(a bad tracks file, an unknown key, an unwritable playlist, an unreachable server...)
derives from `DJSetError`, whose str() is that line, so a shell needs one `except`:
the plugin turns it into beets' `UserError`, the CLI into exit status 2, the worker into
a one-line report. `first_line` and `validation_error_line` turn other exceptions (a
library's, pydantic's) into such a line.
"""

from __future__ import annotations

from pydantic import ValidationError


class DJSetError(Exception):
    """Base of every user-facing error; str() is one clear line naming what is wrong."""


_PYDANTIC_PREFIXES = ("Value error, ", "Assertion failed, ")


def first_line(exc: BaseException) -> str:
    """The first non-blank line of the exception's message, or its type name when the
    message is empty (some libraries raise errors with no text at all)."""
    try:
        text = str(exc)
    except Exception:  # a broken __str__ must not turn an error report into a crash
        text = ""
    return _first_text_line(text) or type(exc).__name__


def _first_text_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def validation_error_line(
    exc: ValidationError, *, default_field: str = "value", skip: int = 0
) -> str:
    """The first error of a pydantic ValidationError as ``field 'x.y': message``.

    `skip` drops that many leading parts of the error's location (e.g. an envelope key
    the caller names itself); `default_field` names an error with no location left,
    such as one raised by a model validator. Pydantic's "Value error, " prefix is
    dropped so the message reads as the validator wrote it.
    """
    errors = exc.errors()
    if not errors:
        return f"field '{default_field}': {first_line(exc)}"
    first = errors[0]
    field = ".".join(str(part) for part in list(first.get("loc", ()))[skip:]) or default_field
    message = _first_text_line(str(first.get("msg", "")))
    for prefix in _PYDANTIC_PREFIXES:
        message = message.removeprefix(prefix)
    message = message or "invalid value"
    return f"field '{field}': {message}"
