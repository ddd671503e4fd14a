"""The one-line error helpers every shell uses."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, Field, ValidationError, model_validator

from djcurator_core.errors import first_line, validation_error_line


class _Inner(BaseModel):
    bpm: float = Field(gt=0)


class _Outer(BaseModel):
    tracks: list[_Inner]
    name: str = ""

    @model_validator(mode="after")
    def _named(self) -> _Outer:
        if self.name == "bad":
            raise ValueError("the name 'bad' is not allowed")
        return self


class _Silent(Exception):
    pass


class _BrokenStr(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no text")


def test_first_line_takes_the_first_non_blank_line():
    assert first_line(ValueError("\n  first  \nsecond")) == "first"


@pytest.mark.parametrize("exc", [_Silent(), _Silent(""), _Silent("  \n "), _BrokenStr()])
def test_first_line_of_an_empty_message_is_the_type_name(exc):
    assert first_line(exc) == type(exc).__name__


def _error(data) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        _Outer.model_validate(data)
    return info.value


def test_validation_error_line_names_the_nested_field():
    exc = _error({"tracks": [{"bpm": 120}, {"bpm": -1}]})
    assert validation_error_line(exc) == "field 'tracks.1.bpm': Input should be greater than 0"
    assert validation_error_line(exc, skip=1) == "field '1.bpm': Input should be greater than 0"


def test_validation_error_line_drops_the_value_error_prefix():
    line = validation_error_line(_error({"tracks": [], "name": "bad"}), default_field="options")
    assert line == "field 'options': the name 'bad' is not allowed"


def test_validation_error_line_is_one_line():
    exc = _error({"tracks": 5})
    line = validation_error_line(exc)
    assert "\n" not in line
    assert line.startswith("field 'tracks': ")
