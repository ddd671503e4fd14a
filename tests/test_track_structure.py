"""The shared shapes of a track's structure and a transition's mix point: their bar
arithmetic and what they refuse, since analysis, mix points and DJ formats rely on them."""

import pytest
from pydantic import ValidationError

from djcurator_core.core.mixing.mix_point import MixPoint
from djcurator_core.core.models import Track
from djcurator_core.core.track_structure import BarSpan, TrackStructure


def structure(**changes) -> TrackStructure:
    values = dict(bpm=120.0, first_downbeat=0.5, duration=200.0, phrases=[1, 17, 33])
    return TrackStructure(**(values | changes))


def test_bars_are_counted_from_the_first_downbeat():
    s = structure()
    assert s.bar_seconds == pytest.approx(2.0)  # 4 beats at 120 BPM
    assert s.time_of_bar(1) == pytest.approx(0.5)
    assert s.time_of_bar(17) == pytest.approx(32.5)
    assert s.bar_at(32.49) == 16
    assert s.bar_at(32.5) == 17
    assert s.bar_at(0.1) == 1  # before the first downbeat
    assert s.bar_count == 99  # (200 - 0.5) / 2 = 99.75 whole bars


def test_a_track_carries_its_structure_through_json():
    track = Track(id="1", structure=structure(intro=BarSpan(start=1, end=17)))
    again = Track.model_validate_json(track.model_dump_json())
    assert again.structure == track.structure
    assert again.structure.intro.bars == 16


@pytest.mark.parametrize(
    "changes",
    [
        {"phrases": [17, 1]},
        {"phrases": [1, 1]},
        {"phrases": [0]},
        {"bpm": 0},
        {"duration": float("nan")},
        {"first_downbeat": -1},
    ],
)
def test_a_malformed_structure_is_refused(changes):
    with pytest.raises(ValidationError):
        structure(**changes)


def test_a_bar_span_must_not_end_before_it_starts():
    with pytest.raises(ValidationError, match="ends"):
        BarSpan(start=9, end=9)


def test_a_mix_point_refuses_negative_times():
    with pytest.raises(ValidationError):
        MixPoint(
            out_bar=97,
            out_time=-1.0,
            in_bar=1,
            in_time=0.0,
            overlap_bars=16,
            overlap_seconds=30.0,
            tempo_change_pct=0.0,
            on_phrases=True,
        )
