"""Choosing a transition's mix point from two constructed structures (no audio): on
phrase boundaries, with an overlap that fits both tracks, B at A's tempo, and a mix point
with a note (never an error) for structures that are not clean or are hostile."""

from __future__ import annotations

import random

import pytest

from djcurator_core.core.mixing.mix_points import (
    OVERLAPS,
    mix_point,
    mix_points,
    planned_length,
    played_length,
    ridden_tempo,
)
from djcurator_core.core.models import Track
from djcurator_core.core.options.set_options import SetOptions
from djcurator_core.core.planning.planning import plan_order
from djcurator_core.core.report.justify import justify, justify_for_options
from djcurator_core.core.report.report import summary_lines
from djcurator_core.core.track_structure import BarSpan, TrackStructure


def structure(
    bars=128,
    bpm=124.0,
    intro=16,
    outro=32,
    phrase=16,
    first_downbeat=0.0,
    tail=0.0,
    **changes,
) -> TrackStructure:
    """`bars` whole bars from the first downbeat, phrases every `phrase` bars from bar 1,
    an intro of `intro` bars at the start and an outro of `outro` bars at the end."""
    bar = 4 * 60 / bpm
    values = dict(
        bpm=bpm,
        first_downbeat=first_downbeat,
        duration=first_downbeat + bars * bar + tail,
        phrases=list(range(1, bars + 1, phrase)) if phrase else [],
        intro=BarSpan(start=1, end=1 + intro) if intro else None,
        outro=BarSpan(start=bars + 1 - outro, end=bars + 1) if outro else None,
    )
    return TrackStructure(**(values | changes))


def track(name: str, s: TrackStructure | None, **fields) -> Track:
    values = dict(id=name, title=name, artist="DJ", bpm=s.bpm if s else 124.0, key="8A")
    values["duration"] = s.duration if s else 300.0
    return Track(**(values | fields), structure=s)


def test_the_blend_starts_on_phrases_and_fits_both_tracks():
    a = track("a", structure(outro=32))  # outro: bars 97..128
    b = track("b", structure(intro=16))  # intro: bars 1..16
    mix = mix_point(a, b)
    assert (mix.out_bar, mix.in_bar, mix.overlap_bars) == (113, 1, 16)
    assert mix.on_phrases and mix.note == ""
    assert mix.out_bar in a.structure.phrases and mix.in_bar in b.structure.phrases
    assert mix.out_time == pytest.approx(a.structure.time_of_bar(113), abs=1e-3)
    assert mix.in_time == pytest.approx(0.0)
    assert mix.overlap_seconds == pytest.approx(16 * 4 * 60 / 124, abs=1e-3)
    assert mix.tempo_change_pct == 0.0


@pytest.mark.parametrize(
    ("outro", "intro", "bars", "out_bar"),
    [
        (32, 32, 32, 97),  # both take 32: the outro's start
        (32, 16, 16, 113),  # B's intro limits the blend
        (16, 32, 16, 113),  # A's outro limits it
        (8, 32, 8, 121),
        (64, 32, 32, 97),  # the latest phrase that leaves room: A plays most of itself
    ],
)
def test_the_longest_overlap_both_hold(outro, intro, bars, out_bar):
    mix = mix_point(track("a", structure(outro=outro)), track("b", structure(intro=intro)))
    assert (mix.overlap_bars, mix.out_bar, mix.in_bar, mix.on_phrases) == (bars, out_bar, 1, True)


def test_random_structures_keep_the_rules():
    """The rules as an oracle over many structures: where the mix point is on phrases,
    both ends are phrase boundaries, the overlap is 8/16/32 bars and lies inside A's
    outro and B's intro; the times are the bars' times on each grid."""
    rng = random.Random(19)
    clean = 0
    for _ in range(400):
        bars_a, bars_b = rng.randint(60, 200), rng.randint(60, 200)
        sa = structure(
            bars=bars_a,
            bpm=rng.uniform(90, 150),
            outro=rng.choice([4, 8, 12, 16, 24, 32, 48]),
            phrase=rng.choice([8, 16, 32]),
            first_downbeat=rng.uniform(0, 2),
        )
        sb = structure(
            bars=bars_b,
            bpm=rng.uniform(90, 150),
            intro=rng.choice([4, 8, 12, 16, 24, 32, 48]),
            phrase=rng.choice([8, 16, 32]),
            first_downbeat=rng.uniform(0, 2),
        )
        mix = mix_point(track("a", sa), track("b", sb))
        assert mix.out_time == pytest.approx(sa.time_of_bar(mix.out_bar), abs=1e-3)
        assert mix.in_time == pytest.approx(sb.time_of_bar(mix.in_bar), abs=1e-3)
        assert sa.outro.start <= mix.out_bar
        assert mix.out_bar + mix.overlap_bars <= sa.outro.end
        assert sb.intro.start <= mix.in_bar
        assert mix.in_bar + mix.overlap_bars <= sb.intro.end
        if mix.on_phrases:
            clean += 1
            assert mix.overlap_bars in OVERLAPS
            assert mix.out_bar in set(sa.phrases) | {sa.outro.start}
            assert mix.in_bar in set(sb.phrases) | {sb.intro.start}
        else:
            assert mix.note  # never off-phrase without saying why
    assert clean > 200


def test_no_structure_on_either_side_is_no_mix_point():
    s = structure()
    assert mix_point(track("a", None), track("b", s)) is None
    assert mix_point(track("a", s), track("b", None)) is None
    assert mix_points([track("a", s), track("b", None), track("c", s)])[0] is None


def test_no_phrases_counts_bars_in_eights_and_says_so():
    a = track("a", structure(phrase=0, outro=20))  # outro bars 109..128, no phrases
    b = track("b", structure(phrase=0, intro=16))
    mix = mix_point(a, b)
    assert not mix.on_phrases
    assert "a has no phrase boundaries" in mix.note and "b has no phrase boundaries" in mix.note
    assert (mix.out_bar - a.structure.outro.start) % 8 == 0
    assert mix.overlap_bars == 16 and mix.out_bar + 16 <= 129


def test_no_outro_and_no_intro_mix_over_the_track_ends_with_a_shorter_blend():
    a = track("a", structure(outro=0))
    b = track("b", structure(intro=0))
    mix = mix_point(a, b)
    assert "a: no outro" in mix.note and "b: no intro" in mix.note
    assert mix.overlap_bars == 16  # at most 16 bars over a track's body
    assert (mix.out_bar, mix.in_bar) == (113, 1) and mix.on_phrases


def test_an_intro_shorter_than_eight_bars_gives_a_short_blend():
    mix = mix_point(track("a", structure(outro=32)), track("b", structure(intro=4)))
    assert mix.overlap_bars == 4 and not mix.on_phrases
    assert mix.out_bar == 125 and "4 bars only" in mix.note


def test_b_rides_at_a_tempo_also_at_half_time():
    a, b = track("a", structure(bpm=124.0)), track("b", structure(bpm=126.0))
    mix = mix_point(a, b)
    assert mix.tempo_change_pct == pytest.approx((124 / 126 - 1) * 100, abs=1e-3)
    assert mix.overlap_seconds == pytest.approx(16 * 4 * 60 / 124, abs=1e-3)  # A's tempo
    assert ridden_tempo(140.0, 70.0) == (0.0, True)
    half = mix_point(track("a", structure(bpm=140.0)), track("b", structure(bpm=71.0)))
    assert half.tempo_change_pct == pytest.approx((70 / 71 - 1) * 100, abs=1e-3)
    assert "half/double" in half.note
    far = mix_point(track("a", structure(bpm=124.0)), track("b", structure(bpm=110.0)))
    assert far.tempo_change_pct == pytest.approx(12.727, abs=1e-3) and "pitch fader" in far.note


@pytest.mark.parametrize(
    ("sa", "sb", "expected_note"),
    [
        # six bars in all, no intro or outro: a blend as long as the tracks
        (structure(bars=6, outro=0, intro=0), structure(bars=6, intro=0, outro=0), "short blend"),
        # a first downbeat after the end of the track: no whole bar
        (structure(first_downbeat=900.0, duration=300.0), structure(), "a cut"),
        # a tempo so slow that the track holds no whole bar
        (structure(bpm=0.01, duration=300.0), structure(), "a cut"),
        (structure(), structure(bpm=0.01, duration=300.0), "a cut"),
        (structure(bpm=1000.0), structure(bpm=1000.0), ""),
        (structure(beats_per_bar=3), structure(), "bars differ"),
        (structure(steady=False), structure(), "drifts"),
    ],
)
def test_hostile_structures_give_a_mix_point_with_a_note(sa, sb, expected_note):
    a, b = track("a", sa, duration=None), track("b", sb, duration=None)
    mix = mix_point(a, b)
    assert 0 <= mix.out_time <= sa.duration and 0 <= mix.in_time <= sb.duration
    assert expected_note in mix.note
    if expected_note == "a cut":
        assert mix.overlap_bars == 0 and not mix.on_phrases
    if "drifts" in expected_note:
        assert not mix.on_phrases


def test_spans_past_the_grid_and_phrases_past_it_are_ignored():
    s = structure(bars=64)  # 64 bars of grid
    wide = s.model_copy(
        update={
            "outro": BarSpan(start=200, end=232),
            "intro": BarSpan(start=1, end=500),
            "phrases": [1, 17, 33, 49, 300, 400],
        }
    )
    mix = mix_point(track("a", wide), track("b", wide))
    assert "its outro lies past the end of its grid" in mix.note
    assert mix.out_bar + mix.overlap_bars <= 65 and mix.in_bar + mix.overlap_bars <= 65
    assert mix.out_time <= wide.duration


def test_the_played_length_counts_each_overlap_once():
    same = dict(bars=128, bpm=125.0, intro=16, outro=32)  # the grid fills each file
    tracks = [track(name, structure(**same)) for name in "abc"]
    mixes = mix_points(tracks)
    total = sum(t.duration for t in tracks)
    overlaps = sum(m.overlap_seconds for m in mixes)
    # the outro's end is the file's end, so a blend ends where A ends: only the overlaps go
    assert played_length(tracks, mixes) == pytest.approx(total - overlaps, abs=0.01)
    back_to_back = [None, None]
    assert played_length(tracks, back_to_back) == pytest.approx(total)


def test_a_track_without_structure_plans_its_whole_length():
    plain = track("p", None, duration=333.0)
    assert planned_length(plain) == 333.0
    assert planned_length(track("q", None, duration=None)) is None
    s = structure(bars=128, bpm=128.0, outro=32, intro=16)
    assert planned_length(track("s", s)) == pytest.approx(s.time_of_bar(113))
    # a track length shorter than its structure's (a wrong tag): never more than it lasts
    assert planned_length(track("short", s, duration=60.0)) == pytest.approx(60.0)
    late = structure(first_downbeat=50.0).model_copy(update={"duration": 120.0})
    assert 0 < planned_length(track("late", late, duration=40.0)) <= 40.0


def pool(n: int, seed: int = 3) -> list[Track]:
    rng = random.Random(seed)
    keys = ["8A", "9A", "8B", "7A", "9B"]
    return [
        Track(
            id=f"t{i}",
            title=f"T{i}",
            artist=f"Artist {i}",
            key=rng.choice(keys),
            bpm=(bpm := 124.0 + rng.choice([-1, 0, 1])),
            energy=rng.randint(3, 8),
            duration=(s := structure(bars=rng.choice([160, 176, 192]), bpm=bpm)).duration,
            structure=s,
        )
        for i in range(n)
    ]


def test_a_duration_is_the_set_as_played():
    """A 30-minute set of structured tracks is 30 minutes as played: with the overlaps
    counted once it holds more tracks than the sum of their lengths would allow."""
    tracks = pool(30)
    options = SetOptions(duration=30 * 60, seed=1, time_budget=2.0)
    plan = plan_order(tracks, options)
    result = justify_for_options(tracks, plan.order, options, plan.notes)
    s = result.summary
    assert s.mix_points == len(result.transitions) and s.no_mix_points == []
    assert s.total_duration > 30 * 60  # the files add up to more...
    assert s.played_duration <= 30 * 60  # ...the set as played fits
    longest = max(planned_length(t) for t in tracks)
    assert s.played_duration >= 30 * 60 - longest  # and fills it, within one track
    assert any("as played" in line for line in summary_lines(result))


def test_the_sentence_names_the_mix_point_and_the_summary_the_gaps():
    a, b = track("a", structure(outro=32)), track("b", structure(intro=16))
    plain = track("c", None)
    result = justify([a, b, plain], [0, 1, 2])
    first, second = result.transitions
    assert "mix out at 3:37, bar 113 -> in at 0:00, bar 1, 16 bars" in first.sentence
    assert first.mix is not None and second.mix is None and "mix" not in second.sentence
    assert result.summary.mix_points == 1 and result.summary.no_mix_points == [2]
    (line,) = [line for line in summary_lines(result) if line.startswith("mix points")]
    assert "mix points for 1 of 2 transitions (none for 2 -> 3" in line


def test_a_set_without_structures_is_reported_as_before():
    tracks = [track(name, None) for name in "abc"]
    result = justify(tracks, [0, 1, 2])
    assert result.summary.mix_points is None and result.summary.played_duration is None
    assert all(t.mix is None for t in result.transitions)
    assert not any("mix points" in line for line in summary_lines(result))


def test_hostile_structures_still_render_every_format():
    """Degenerate structures in one set: the set is justified and every format renders
    (the XML parses, the M3U8's added lines are comments); nothing raises."""
    import xml.etree.ElementTree as ET

    from djcurator_core.files.dj_formats.formats import FORMAT_NAMES, render_playlist

    shapes = [
        structure(first_downbeat=900.0, duration=300.0),
        structure(bpm=0.01, duration=300.0),
        structure(bars=6, intro=0, outro=0),
        structure(steady=False, phrase=0, intro=0, outro=0),
        structure(bpm=1000.0),
        structure(beats_per_bar=3),
    ]
    tracks = [
        track(f"h{i}", s, path=f"/music/h{i}.mp3", duration=None) for i, s in enumerate(shapes)
    ]
    result = justify(tracks, list(range(len(tracks))))
    assert result.summary.mix_points == len(tracks) - 1
    for fmt in FORMAT_NAMES:
        text = render_playlist(result, "hostile", fmt)
        if fmt in ("rekordbox", "nml"):
            ET.fromstring(text.split("\n", 1)[1])
        if fmt == "m3u8":
            lines = text.splitlines()
            assert all(
                line.startswith(("#EXTM3U", "#PLAYLIST:", "#EXTINF:", "# ", "/")) for line in lines
            )
