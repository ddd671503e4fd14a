"""The tracks_enriched format: accepted shapes and one-line errors naming track and field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from djcurator_core.core.models import (
    TrackFormatError,
    dump_tracks,
    json_schema,
    load_tracks,
    loads_tracks,
)

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "fixtures" / "tracks_enriched.json"


def _errors(text: str) -> str:
    with pytest.raises(TrackFormatError) as info:
        loads_tracks(text, "set.json")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("set.json: ")
    return message


def test_fixture_is_the_20_track_design_dataset():
    tracks = load_tracks(FIXTURE)
    assert len(tracks) == 20
    assert len({t.key for t in tracks}) >= 12
    bpms = sorted(t.bpm for t in tracks)
    assert bpms[0] < 70 and bpms[-1] >= 130  # includes a half-time track
    assert {t.energy for t in tracks} >= {3, 5, 8}


def test_envelope_and_bare_list_are_equivalent():
    bare = json.loads(FIXTURE.read_text())
    envelope = {"format": "tracks_enriched", "version": 1, "tracks": bare}
    assert loads_tracks(json.dumps(bare)) == loads_tracks(json.dumps(envelope))


def test_keys_are_camelot_after_loading_and_round_trip():
    tracks = loads_tracks('[{"id": "a", "key": "F# minor"}, {"id": "b", "key": "1d"}]')
    assert [t.key for t in tracks] == ["11A", "8B"]
    assert loads_tracks(dump_tracks(tracks)) == tracks


def test_integer_ids_become_strings_and_zero_means_missing():
    (track,) = loads_tracks('[{"id": 7, "bpm": 0, "energy": 0, "key": "o"}]')
    assert (track.id, track.bpm, track.energy, track.key) == ("7", None, None, None)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[{"id": "a"}, {"id": "a"}]', "track 1 (id 'a'): field 'id': duplicate of track 0"),
        ('[{"id": "a", "bpm": -120}]', "track 0 (id 'a'): field 'bpm'"),
        ('[{"id": "a"}, {"id": "b", "energy": 42}]', "track 1 (id 'b'): field 'energy'"),
        ('[{"id": "x", "key": "H minor"}]', "track 0 (id 'x'): field 'key': unrecognised key"),
        ('[{"id": "a", "tempo": 3}]', "track 0 (id 'a'): field 'tempo': Extra inputs"),
        ('[{"title": "no id"}]', "track 0: field 'id': Field required"),
        ("[]", "the track list is empty"),
        ('{"format": "tracks_enriched", "version": 1, "tracks": []}', "the track list is empty"),
        ('{"format": "other", "tracks": []}', "field 'format'"),
        ('{"version": 2, "tracks": [{"id": "a"}]}', "field 'version'"),
        ('{"tracks": 5}', "field 'tracks': Input should be a valid list"),
        ('{"tracks": [{"id": "a"}], "notes": 1}', "field 'notes': Extra inputs"),
        ("[5]", "track 0: field 'track': Input should be a valid dictionary"),
        ('[{"id": "a",}]', "invalid JSON at line 1 column"),
        ("\n\n  {oops", "invalid JSON at line 3 column 4"),
        ("42", "expected a JSON object or list of tracks"),
    ],
)
def test_errors_name_the_track_and_field(text, expected):
    assert expected in _errors(text)


def test_key_error_quotes_the_text():
    assert "'H minor'" in _errors('[{"id": "x", "key": "H minor"}]')


def test_missing_file_is_an_oserror(tmp_path):
    with pytest.raises(OSError):
        load_tracks(tmp_path / "nope.json")


def test_published_schema_matches_the_models():
    published = json.loads((ROOT / "schema" / "tracks_enriched.schema.json").read_text())
    assert published == json_schema()
