"""`python -m djcurator_core`: the script and benchmark entry point, run as a process."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest
from cli_helpers import ROOT, run_cli

from djcurator_core.core.models import load_tracks
from djcurator_core.core.options.set_options import InvalidSetOptions, parse_duration
from djcurator_core.core.rules.scoring import cost_matrix
from djcurator_core.core.solver.sequencing import path_cost

FIXTURE = ROOT / "fixtures" / "tracks_enriched.json"


def run(*args: str) -> subprocess.CompletedProcess:
    return run_cli(*args, timeout=120)


def test_sequence_json_has_order_cost_and_summary():
    proc = run("sequence", str(FIXTURE), "--json", "--solver", "greedy")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    tracks = {t.id: t for t in load_tracks(FIXTURE)}
    assert sorted(out["order"]) == sorted(tracks)
    matrix = cost_matrix(list(tracks.values()))
    index = {tid: i for i, tid in enumerate(tracks)}
    assert out["cost"] == pytest.approx(path_cost(matrix, [index[t] for t in out["order"]]))
    assert len(out["transitions"]) == 19
    assert out["mean_score"] == out["summary"]["mean_score"]
    assert out["summary"]["improvement_over_naive_pct"] > 0


def test_sequence_text_is_the_justified_set():
    proc = run("sequence", str(FIXTURE), "--solver", "greedy")
    assert proc.returncode == 0, proc.stderr
    assert "20 tracks" in proc.stdout and "better than input order" in proc.stdout
    assert proc.stdout.count("-> ") >= 19


def test_matrix_command():
    proc = run("matrix", str(FIXTURE))
    out = json.loads(proc.stdout)
    assert np.allclose(np.array(out["matrix"]), cost_matrix(load_tracks(FIXTURE)))
    assert out["ids"][0] == "t01"


@pytest.mark.parametrize(
    ("content", "args", "expected"),
    [
        ('[{"id": "a", "energy": 42}]', [], "track 0 (id 'a'): field 'energy'"),
        ("[1, 2", [], "invalid JSON at line 1"),
        (None, [], "No such file or directory"),
        ('[{"id": "a"}, {"id": "b"}]', ["--solver", "nope"], "unknown solver 'nope'"),
        ('[{"id": "a"}, {"id": "b"}]', ["--start", "zz"], "start track id 'zz'"),
    ],
)
def test_bad_input_is_one_line_exit_2(tmp_path, content, args, expected):
    path = tmp_path / "set.json"
    if content is not None:
        path.write_text(content)
    proc = run("sequence", str(path), *args)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert expected in proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("2h", 7200),
        ("1h30", 5400),  # a number after h is minutes
        ("1h30m", 5400),
        ("1h 30", 5400),
        ("90m", 5400),
        ("1m30", 90),  # a number after m is seconds
        ("1h30m15", 5415),
        ("1.5h", 5400),
        ("1:30:00", 5400),
        ("90:00", 5400),
        ("45s", 45),
        ("45", 45),
        ("5400", 5400),
        (" 5400S ", 5400),
    ],
)
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    "text", ["", "abc", "h", "90x", "-5", "1 2", "30m1h", "1h2h", "30s10", "1:2:3:4", "1h:30"]
)
def test_parse_duration_refuses_garbage_in_one_line(text):
    with pytest.raises(InvalidSetOptions) as info:
        parse_duration(text)
    assert str(info.value) == f"not a duration: {text!r} (try 90m, 1h30, 1:30:00 or seconds)"


def test_count_with_duration_is_refused_in_one_line():
    proc = run("sequence", str(FIXTURE), "--count", "5", "--duration", "20m")
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == (
        "error: set options: field 'duration': give --count or --duration, not both\n"
    )


def test_bad_duration_is_one_argparse_error():
    proc = run("sequence", str(FIXTURE), "--duration", "1h30x")
    assert proc.returncode == 2 and proc.stdout == ""
    assert "argument --duration: not a duration: '1h30x'" in proc.stderr
    assert "Traceback" not in proc.stderr
