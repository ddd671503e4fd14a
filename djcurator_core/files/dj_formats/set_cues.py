"""The beat grid and the memory cues a set writes into each of its tracks, for the DJ
formats that carry them (Rekordbox XML, Traktor NML).

A track of a set takes part in at most two transitions: the one into it (its mix-in cue)
and the one out of it (its mix-out cue). Each cue is named after its transition, so a DJ
who loads track 5 sees "4->5 mix in, bar 1" and "5->6 mix out, bar 97" on its waveform.
The grid is the track's analysed one (`TrackStructure`: first downbeat, tempo, meter),
written only where one grid fits the whole track (`steady`): a single grid entry for a
drifting track would misplace every later beat. Tracks without a structure get neither.
"""

from __future__ import annotations

from dataclasses import dataclass

from djcurator_core.core.report.justify import SetResult
from djcurator_core.core.track_structure import TrackStructure


@dataclass(frozen=True)
class Cue:
    name: str
    seconds: float  # from the start of the file


@dataclass(frozen=True)
class TrackCues:
    grid: TrackStructure | None  # the steady grid to write, if any
    cues: tuple[Cue, ...]  # in time order


def set_cues(result: SetResult) -> list[TrackCues]:
    """The grid and mix cues of each track of the set, in set order."""
    count = len(result.tracks)
    cues: list[list[Cue]] = [[] for _ in range(count)]
    for t in result.transitions:
        if t.mix is None or not 1 <= t.position < count:
            continue
        step = f"{t.position}->{t.position + 1}"
        cues[t.position - 1].append(Cue(f"{step} mix out, bar {t.mix.out_bar}", t.mix.out_time))
        cues[t.position].append(Cue(f"{step} mix in, bar {t.mix.in_bar}", t.mix.in_time))
    return [
        TrackCues(
            grid=track.structure if track.structure and track.structure.steady else None,
            cues=tuple(sorted(cues[index], key=lambda cue: cue.seconds)),
        )
        for index, track in enumerate(result.tracks)
    ]
