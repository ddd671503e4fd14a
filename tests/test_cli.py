"""`python -m djcurator_core`: the script and benchmark entry point, run as a process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from djcurator_core.cli import parse_duration
from djcurator_core.models import load_tracks
from djcurator_core.scoring import cost_matrix
from djcurator_core.sequencing import path_cost

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "fixtures" / "tracks_enriched.json"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "djcurator_core", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


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
    ("text", "seconds"), [("90m", 5400), ("1h30m", 5400), ("1:30:00", 5400), ("45", 45)]
)
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds
