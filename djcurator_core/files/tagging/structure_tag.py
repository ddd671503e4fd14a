"""A track's structure (beat grid, phrases, intro/outro: core/track_structure.py) as it is
stored: compact JSON text, in the beets flexible field `djset_structure` and, with
`beet djanalyze --write`, in a file tag of the same name (ID3 TXXX:DJSET_STRUCTURE,
Vorbis DJSET_STRUCTURE, MP4 freeform ----:com.apple.iTunes:DJSET_STRUCTURE).

`null` is stored for a track that was analysed and has no beat to grid, so that the next
`beet djanalyze` does not analyse it again. Anything can end up in a field or tag (an
edit, another tool, a damaged file), so reading never trusts it: text longer than
MAX_TEXT, not JSON, or not a valid structure raises StructureTagError with one line
saying why, and the export then uses the track without structure and says so.
"""

from __future__ import annotations

from pydantic import ValidationError

from djcurator_core.core.track_structure import TrackStructure
from djcurator_core.errors import validation_error_line

STRUCTURE_FIELD = "djset_structure"  # beets flexible field
STRUCTURE_TAG = "DJSET_STRUCTURE"  # file tag (TXXX description, Vorbis name, MP4 freeform)
NO_STRUCTURE = "null"  # analysed, no beat: nothing to store but the fact
MAX_TEXT = 64 * 1024  # a real structure is well under 2 KB


class StructureTagError(ValueError):
    """Stored structure text that cannot be used; str() is one line saying why."""


def structure_text(structure: TrackStructure | None) -> str:
    """The stored form: compact JSON, or NO_STRUCTURE."""
    if structure is None:
        return NO_STRUCTURE
    return structure.model_dump_json(exclude_defaults=True)


def parse_structure(text: object) -> TrackStructure | None:
    """The structure in stored text; None for NO_STRUCTURE (or nothing stored).

    Raises StructureTagError for anything else that is not a valid structure."""
    if text is None:
        return None
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    if not isinstance(text, str):
        raise StructureTagError(f"not text ({type(text).__name__})")
    text = text.strip()
    if not text or text == NO_STRUCTURE:
        return None
    if len(text) > MAX_TEXT:
        raise StructureTagError(f"{len(text)} characters, more than a structure can have")
    try:  # pydantic-core parses and validates in one pass (JSON depth limited)
        return TrackStructure.model_validate_json(text)
    except ValidationError as exc:
        raise StructureTagError(validation_error_line(exc)) from None
    except (ValueError, TypeError, RecursionError) as exc:  # validators on odd input
        raise StructureTagError(f"not a structure ({type(exc).__name__})") from None
