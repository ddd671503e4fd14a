"""The estimates DJs rely on, on short clips rendered with numpy (tests/synth_music.py):
the key with its tuning and confidence, a key change, the tempo's octave from the genre,
whole-number tempos on steady tracks; and how they travel into beets fields and tags."""

from __future__ import annotations

import mutagen
import numpy as np
import pytest
from audiofiles import encode_audio
from synth_music import TrackSpec, render

from djcurator_core.core.analysis import key_estimation, tempo_prior
from djcurator_core.core.analysis.audio_analysis import analyse
from djcurator_core.core.analysis.key_estimation import LOW_CONFIDENCE, estimate_key
from djcurator_core.pipeline.contracts import LOW_KEY_CONFIDENCE, AnalysedTrack

# --- tempo: genre, octave, whole numbers ---------------------------------------------


@pytest.mark.parametrize(
    ("genre", "expected"),
    [
        ("Drum & Bass", (160.0, 180.0)),
        ("Electronic; Drum and Bass", (160.0, 180.0)),
        ("dubstep", (135.0, 150.0)),
        ("Deep House", (110.0, 132.0)),
        ("Hip-Hop", (80.0, 115.0)),
        ("Trap", (130.0, 160.0)),
        ("Polka", None),
        ("", None),
        (None, None),
    ],
)
def test_genre_names_map_to_their_usual_range(genre, expected):
    assert tempo_prior.genre_range(genre) == expected


@pytest.mark.parametrize(
    ("bpm", "genre", "expected"),
    [
        (70.0, "dubstep", 140.0),  # half-time read at half speed
        (87.0, "drum and bass", 174.0),
        (62.5, "house", 125.0),
        (172.0, "hip hop", 86.0),
        (128.0, "house", 128.0),  # already in range: unchanged
        (70.0, None, 70.0),  # no genre: the estimator's own rule stands
    ],
)
def test_the_genre_picks_the_octave(bpm, genre, expected):
    assert tempo_prior.octave_for_genre(bpm, tempo_prior.genre_range(genre)) == expected


def test_a_steady_tempo_near_a_whole_number_is_that_number():
    assert tempo_prior.round_value(127.98, steady=True) == 128.0
    assert tempo_prior.round_value(127.98, steady=False) == 127.98
    assert tempo_prior.round_value(127.6, steady=True) == 127.6  # not near a whole number
    assert tempo_prior.is_steady([128.0, 128.1])
    assert not tempo_prior.is_steady([128.0, 131.0])


def test_half_time_is_counted_in_the_genres_octave():
    clip = render(TrackSpec(bpm=70.0, tonic=0, minor=True, seconds=24, seed=3, style="hiphop"))
    assert analyse([clip]).bpm == pytest.approx(70.0, abs=0.2)
    assert analyse([clip], genre="Dubstep").bpm == pytest.approx(140.0, abs=0.4)


def test_a_steady_house_track_reads_a_whole_number():
    clip = render(TrackSpec(bpm=128.0, tonic=9, minor=True, seconds=30, seed=5))
    result = analyse([clip[: clip.size // 2], clip[clip.size // 2 :]])
    assert result.bpm == 128.0
    assert result.steady
    assert result.bpm_start is None and result.bpm_end is None


def test_a_tempo_change_reports_the_first_and_last_tempo():
    first = render(TrackSpec(bpm=124.0, tonic=2, minor=True, seconds=20, seed=1))
    last = render(TrackSpec(bpm=140.0, tonic=2, minor=True, seconds=20, seed=2))
    result = analyse([first, last])
    assert result.bpm_start == pytest.approx(124.0, abs=0.5)
    assert result.bpm_end == pytest.approx(140.0, abs=0.5)
    assert not result.steady


# --- key: profiles, tuning, confidence, key change ------------------------------------


def _pitch_shift(y: np.ndarray, cents: float) -> np.ndarray:
    """Resampled so that it plays `cents` higher (and a little faster, as a pitched-up
    record does)."""
    ratio = 2 ** (cents / 1200)
    positions = np.arange(0, y.size - 1, ratio)
    return np.interp(positions, np.arange(y.size), y).astype(np.float32)


@pytest.mark.parametrize(("tonic", "minor"), [(0, False), (9, True), (4, True), (7, False)])
def test_key_and_tuning_of_a_detuned_clip(tonic, minor):
    clip = render(
        TrackSpec(bpm=124.0, tonic=tonic, minor=minor, seconds=20, seed=tonic, progression=1)
    )
    result = estimate_key([_pitch_shift(clip, 30.0)])
    assert (result.tonic, result.minor) == (tonic, minor)
    assert result.tuning_cents == pytest.approx(30.0, abs=6.0)


def test_the_tuning_correction_sharpens_the_profile_of_a_detuned_record():
    clip = _pitch_shift(
        render(TrackSpec(bpm=124.0, tonic=9, minor=True, seconds=20, seed=2, progression=1)),
        45.0,
    )
    tuned, tuning = key_estimation.pitch_class_frames(clip)
    untuned, _ = key_estimation.pitch_class_frames(clip, tuning=0.0)
    assert tuning == pytest.approx(0.45, abs=0.06)
    best = key_estimation.key_correlations(tuned.mean(axis=0))
    assert int(np.argmax(best)) == 12 + 9  # A minor
    assert best.max() > key_estimation.key_correlations(untuned.mean(axis=0)).max()


def test_a_clear_key_is_confident_and_noise_is_not():
    clip = render(TrackSpec(bpm=120.0, tonic=2, minor=True, seconds=30, seed=4, progression=1))
    clear = estimate_key([clip])
    noise = np.random.default_rng(0).standard_normal(30 * 22050).astype(np.float32) * 0.1
    unclear = estimate_key([noise])
    assert clear.confidence >= LOW_CONFIDENCE and not clear.uncertain
    assert unclear.confidence < LOW_CONFIDENCE and unclear.uncertain
    assert 0.0 <= unclear.confidence <= clear.confidence <= 1.0


def test_a_key_change_reports_the_opening_and_the_ending_key():
    a_minor = render(TrackSpec(bpm=126.0, tonic=9, minor=True, seconds=30, seed=6, progression=1))
    c_sharp = render(TrackSpec(bpm=126.0, tonic=1, minor=True, seconds=30, seed=7, progression=1))
    changing = estimate_key([a_minor, c_sharp])
    assert changing.changes
    assert changing.start == (9, True) and changing.end == (1, True)
    steady = estimate_key([a_minor, a_minor[::-1].copy()])
    assert not steady.changes and steady.start is None


def test_the_edm_profiles_are_the_published_numbers():
    # Faraldo's profiles as Essentia publishes them: the tonic weighs 1, the fifth next.
    assert key_estimation.EDMA_MINOR[0] == 1.0 and key_estimation.EDMA_MINOR[7] == 0.78
    assert key_estimation.BGATE_MAJOR[1] == 0.0 and key_estimation.BGATE_MAJOR[7] == 0.77
    assert key_estimation.DEFAULT_PROFILE in key_estimation.PROFILES


def test_the_contracts_threshold_is_the_estimators():
    assert LOW_KEY_CONFIDENCE == LOW_CONFIDENCE


# --- the results on their way to beets and the files ------------------------------------


def test_key_details_and_tempo_change_become_beets_fields_and_are_cleared_again():
    from beets.library import Item

    from djcurator_core.pipeline.analysis.analysis_activities import (
        store_key_details,
        store_tempo_change,
    )

    item = Item(path=b"/music/a.mp3")
    changing = AnalysedTrack(
        item_id=1, path="/music/a.mp3", bpm=124.0, key="Am", energy=6, key_confidence=0.21,
        key_start="Am", key_end="C#m", bpm_start=124.0, bpm_end=140.0,
    )  # fmt: skip
    store_key_details(item, changing)
    store_tempo_change(item, changing)
    assert item["key_confidence"] == 0.21
    assert (item["key_start"], item["key_end"]) == ("Am", "C#m")
    assert (item["bpm_start"], item["bpm_end"]) == (124.0, 140.0)
    steady = AnalysedTrack(item_id=1, path="/music/a.mp3", bpm=124.0, key="Am", key_confidence=0.8)
    store_key_details(item, steady)
    store_tempo_change(item, steady)
    assert item["key_confidence"] == 0.8
    stale = {"key_start", "key_end", "bpm_start", "bpm_end"} & set(item.keys(computed=False))
    assert not stale


def test_the_export_carries_the_confidence_of_an_estimated_key_only():
    from beets.library import Item

    from djcurator_core.files.export import item_to_track
    from djcurator_core.files.tagging.tags import DJTags

    item = Item(path=b"/music/a.mp3", title="A", bpm=124, initial_key="Am")
    item["key_confidence"] = "0.21"  # flexible fields come back as text without item_types
    estimated, _ = item_to_track(item, DJTags())
    assert estimated.extra == {"key_confidence": 0.21}
    tagged, _ = item_to_track(item, DJTags(key="Dm"))  # the file's own key tag wins
    assert tagged.extra == {}


@pytest.mark.parametrize("ext", ["mp3", "flac", "m4a", "ogg"])
def test_the_key_confidence_tag_sits_beside_a_valid_key(tmp_path, ext):
    from djcurator_core.files.tagging.tag_writer import write_dj_tags
    from djcurator_core.files.tagging.tags import read_dj_tags

    path = encode_audio(tmp_path / f"a.{ext}", np.zeros(22050, dtype=np.float32))
    write_dj_tags(path, bpm=124.0, key="Am", energy=6, key_confidence=0.214)
    assert read_dj_tags(str(path)).key == "Am"  # the key tag stays a plain key
    tags = mutagen.File(path).tags
    texts = {str(k).lower(): str(v[0] if isinstance(v, list) else v) for k, v in tags.items()}
    found = [v for k, v in texts.items() if "keyconfidence" in k.replace(" ", "")]
    assert found and found[0].strip("b'") == "0.21", texts


def test_djanalyze_names_the_start_and_end_of_a_change():
    from beetsplug.djset.analyze_commands import change_line

    track = AnalysedTrack(
        item_id=1, path="/music/a.mp3", bpm=128.0, key="Am", key_start="Am", key_end="Dm",
        bpm_start=124.0, bpm_end=140.0,
    )  # fmt: skip
    assert track.changes
    assert change_line(track) == (
        "/music/a.mp3: changes key Am -> Dm, tempo 124 -> 140 BPM (start -> end)"
    )
    assert not AnalysedTrack(item_id=2, path="/music/b.mp3", bpm=128.0, key="Am").changes


def test_djset_reports_uncertain_estimated_keys_and_lists_them_with_verbose():
    import logging

    from beetsplug.djset.analyze_commands import report_key_confidence
    from djcurator_core.core.models import Track

    records: list[logging.LogRecord] = []
    log = logging.getLogger("djset-test-confidence")
    log.setLevel(logging.DEBUG)
    log.propagate = False  # beets formats with {}: keep the records from %-style handlers
    handler = logging.Handler()
    handler.emit = records.append
    log.addHandler(handler)
    tracks = [
        Track(id="1", path="/m/a.mp3", key="8A", extra={"key_confidence": 0.21}),
        Track(id="2", path="/m/b.mp3", key="9A", extra={"key_confidence": 0.8}),
        Track(id="3", path="/m/c.mp3", key="5A"),  # a tagged key: no confidence
    ]
    report_key_confidence(log, tracks)
    lines = [r.msg.format(*r.args) for r in records]
    assert lines[0].startswith("1 of 3 tracks have an uncertain estimated key")
    assert "key 8A estimated with confidence 0.21 (uncertain): /m/a.mp3" in lines
    assert "key 9A estimated with confidence 0.80 (confident): /m/b.mp3" in lines
    assert not any("/m/c.mp3" in line for line in lines)
