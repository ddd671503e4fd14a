"""First run: the solver's numba cache falls back to a writable folder, says when it
compiles, and compiles once. Each case runs `python -m djcurator_core` as a process on a
copy of the package whose __pycache__ cannot be created (a file stands in its place), with
HOME and XDG_CACHE_HOME pointing below a file: numba's own lookup finds no folder there
and, without the fallback, fails with "cannot cache function '_rand': no locator
available". The copy's cache is cold, so these runs really compile (tens of seconds)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from djcurator_core.core.solver import solver_cache
from djcurator_core.core.solver.solver_cache import PREPARING

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "fixtures" / "tracks_enriched.json"
PREPARING_START = PREPARING.split(" (")[0]


@pytest.fixture
def package_copy(tmp_path: Path) -> Path:
    """The package copied to a folder whose solver module cannot have a __pycache__."""
    root = tmp_path / "site"
    shutil.copytree(
        ROOT / "djcurator_core",
        root / "djcurator_core",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    (root / "djcurator_core" / "core" / "solver" / "__pycache__").write_text("not a folder")
    return root


def run(package: Path, env_updates: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_")}
    env.update(PYTHONPATH=str(package), PYTHONDONTWRITEBYTECODE="1", **env_updates)
    return subprocess.run(
        [sys.executable, "-m", "djcurator_core", *args],
        cwd=package,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_unwritable_cache_falls_back_to_the_temp_folder_and_compiles_once(
    package_copy: Path, tmp_path: Path
):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {
        "HOME": str(blocker / "home"),
        "XDG_CACHE_HOME": str(blocker / "cache"),
        "TMPDIR": str(temp),
    }
    first = run(package_copy, env, "sequence", str(FIXTURE))
    assert first.returncode == 0, first.stderr
    assert "Traceback" not in first.stderr
    assert PREPARING_START in first.stderr
    assert "20 tracks" in first.stdout
    cached = list((temp / f"beets-djset-{os.getuid()}" / "numba").rglob("*.nbi"))
    assert cached, "numba wrote no cache index in the fallback folder"

    second = run(package_copy, env, "sequence", str(FIXTURE))
    assert second.returncode == 0, second.stderr
    assert PREPARING_START not in second.stderr
    assert second.stdout == first.stdout


def test_no_writable_folder_at_all_means_no_cache(tmp_path: Path, monkeypatch):
    """Every candidate folder blocked: no cache (the solver then compiles in memory with
    cache=False instead of failing at import)."""
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(blocker / "numba"))
    monkeypatch.setattr(solver_cache, "_OPTIMIZER", blocker / "core" / "optimizer.py")
    monkeypatch.setattr(solver_cache, "_user_cache", lambda: blocker / "user")
    monkeypatch.setattr(solver_cache, "_temp_cache", lambda: blocker / "tmp")
    assert solver_cache._decide() is None
    monkeypatch.setattr(solver_cache, "_temp_cache", lambda: tmp_path / "tmp")
    monkeypatch.setattr(solver_cache, "_set_numba_cache_dir", lambda folder: None)
    assert solver_cache._decide() == tmp_path / "tmp"
    assert os.environ["NUMBA_CACHE_DIR"] == str(tmp_path / "tmp")
