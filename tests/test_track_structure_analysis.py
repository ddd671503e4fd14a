"""The beat grid, downbeat, phrases, intro and outro (core/analysis/structure.py) on
rendered tracks of known structure (tests/structured_music.py): pure code, no files."""

from __future__ import annotations

import numpy as np
import pytest
from structured_music import (
    CHORDS,
    DEFAULT_LAYOUT,
    LEAD,
    LONG_LAYOUT,
    Section,
    StructuredSpec,
    render,
)

from djcurator_core.core.analysis.structure import analyse_structure
from djcurator_core.core.track_structure import TrackStructure

RATE = 11025  # what files/audio_decode.py hands the structure analysis

CASES = {
    "house 124, 0.37 s lead-in": StructuredSpec(bpm=124.0, lead_in=0.37, seed=2),
    "house 128 from 0": StructuredSpec(bpm=128.0, lead_in=0.0, seed=1),
    "techno 138, 1.3 s": StructuredSpec(bpm=138.0, lead_in=1.3, seed=4, tonic=2),
    "dnb 174, 0.6 s": StructuredSpec(bpm=174.0, lead_in=0.6, seed=3, minor=False),
    "long 124, lead-in over a bar": StructuredSpec(
        bpm=124.0, lead_in=2.2, seed=5, layout=LONG_LAYOUT
    ),
}


def structure_of(spec: StructuredSpec, hint: float = 1.003) -> TrackStructure | None:
    """The analysis of the rendered track, the grid started from a tempo estimate that is
    off by `hint` (the excerpt estimate is close, not exact)."""
    return analyse_structure(render(spec, RATE), RATE, round(spec.bpm * hint, 2))


@pytest.fixture(scope="module")
def analysed() -> dict[str, TrackStructure]:
    return {name: structure_of(spec) for name, spec in CASES.items()}


@pytest.mark.parametrize("name", CASES)
def test_the_grid_is_within_20_ms_of_every_beat(analysed, name):
    spec, found = CASES[name], analysed[name]
    assert found is not None and found.steady
    truth = spec.beat_times()
    grid = found.first_downbeat + np.arange(truth.size) * 60.0 / found.bpm
    assert np.abs(grid - truth).max() < 0.020, (name, found.first_downbeat, found.bpm)
    assert abs(found.first_downbeat - spec.first_downbeat) < 0.020
    assert found.bpm == pytest.approx(spec.bpm, abs=0.01)
    assert found.beats_per_bar == 4
    assert found.bar_count == spec.bars


@pytest.mark.parametrize("name", CASES)
def test_phrase_boundaries_are_within_one_beat(analysed, name):
    spec, found = CASES[name], analysed[name]
    beat = 60.0 / spec.bpm
    starts = spec.bar_starts()
    for bar in spec.section_starts():  # every true section start was found there
        nearest = min(found.sections, key=lambda b: abs(found.time_of_bar(b) - starts[bar - 1]))
        assert abs(found.time_of_bar(nearest) - starts[bar - 1]) <= beat, (name, bar)
    assert found.sections == spec.section_starts()  # and nothing else
    assert found.phrases == spec.phrase_starts()  # every 8 bars within each section


@pytest.mark.parametrize("name", CASES)
def test_intro_and_outro_are_the_mixable_ends(analysed, name):
    spec, found = CASES[name], analysed[name]
    assert (found.intro.start, found.intro.end) == spec.intro
    assert (found.outro.start, found.outro.end) == spec.outro


def test_a_track_opening_with_melody_has_its_intro_before_the_first_break():
    layout = (
        Section("hook", 16, frozenset({"drums", "bass", CHORDS, LEAD})),
        *DEFAULT_LAYOUT[2:],
    )
    spec = StructuredSpec(bpm=126.0, lead_in=0.2, seed=8, layout=layout)
    found = structure_of(spec)
    assert found.sections == spec.section_starts()
    assert (found.intro.start, found.intro.end) == (1, 17)  # up to the break at bar 17


def test_an_estimate_off_by_one_and_a_half_percent_still_gives_the_grid():
    spec = CASES["house 128 from 0"]
    for hint in (0.985, 1.015):
        found = structure_of(spec, hint)
        assert found.bpm == pytest.approx(128.0, abs=0.01), hint
        assert found.sections == spec.section_starts()


def test_a_tempo_change_is_not_a_steady_grid():
    spec = StructuredSpec(bpm=124.0, seed=6, tempo_change=(57, 128.0))
    found = structure_of(spec)
    assert found is not None and not found.steady
    assert found.phrases == [] and found.intro is None and found.outro is None


@pytest.mark.parametrize("tonic", [9, 0])  # chord roots at A3 and at C3 (near the kick band)
def test_pads_and_melody_without_drums_have_no_intro_or_outro(tonic):
    layout = (Section("pads", 48, frozenset({CHORDS, LEAD})),)
    found = structure_of(StructuredSpec(bpm=120.0, layout=layout, seed=9, tonic=tonic))
    # the melody's eighth notes are a pulse to grid, but nothing is there to mix over
    assert found is None or (found.intro is None and found.outro is None)


def test_silence_and_noise_have_no_structure():
    assert analyse_structure(np.zeros(RATE * 60, dtype=np.float32), RATE, 128.0) is None
    noise = np.random.default_rng(1).standard_normal(RATE * 60).astype(np.float32) * 0.1
    found = analyse_structure(noise, RATE, 128.0)
    assert found is None or not found.steady
    assert analyse_structure(np.zeros(0, dtype=np.float32), RATE, 128.0) is None
