"""One comment per track of a set, for the formats that keep a comment field per track
(Rekordbox XML `Comments`, Traktor NML `COMMENT`) instead of free comment lines.

Track N's note says how the set gets into it: the facts of the transition from track
N-1 (key move, BPM, energy, score) and the sentence that justifies it, the same text
as the M3U8's comment lines between the two entries. The DJ looks at the next track
while the current one plays, so that is where the advice on the blend belongs. The
opening track's note says that it opens the set.
"""

from __future__ import annotations

from djcurator_core.core.report.justify import SetResult
from djcurator_core.files.dj_formats.playlist import transition_comments


def track_notes(result: SetResult) -> list[str]:
    """A one-line note per track, in set order."""
    count = len(result.tracks)
    notes = [f"1/{count}: opens the set"] if count else []
    for transition in result.transitions[: max(count - 1, 0)]:
        facts, sentence = (line.removeprefix("# ") for line in transition_comments(transition))
        notes.append(f"{transition.position + 1}/{count}: {facts} | {sentence}")
    return notes
