"""First run: the compiled solver's cache falls back to a writable folder, says when it
compiles, and compiles once. Each case runs `python -m djcurator_core` as a process on a
copy of the package whose __pycache__ cannot be created (a file stands in its place), with
HOME and XDG_CACHE_HOME pointing below a file: numba's own lookup finds no folder there
and, without the fallback, fails with "cannot cache function '_rand': no locator
available". The copy's cache is cold, so these runs really compile: the C kernel in about
a second, numba's (DJSET_SOLVER_KERNEL=numba, as without a C compiler) in tens of
seconds."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from djcurator_core.core.solver import cache_folder, native_search, optimizer, solver_cache
from djcurator_core.core.solver.solver_cache import PREPARING

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "fixtures" / "tracks_enriched.json"
NEEDS_CC = pytest.mark.skipif(native_search.compiler() is None, reason="no C compiler")


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
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NUMBA_", "DJSET_"))}
    env.update(PYTHONPATH=str(package), PYTHONDONTWRITEBYTECODE="1", **env_updates)
    return subprocess.run(
        [sys.executable, "-m", "djcurator_core", *args],
        cwd=package,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.parametrize(
    ("kernel", "cached_file"),
    [pytest.param("native", "djset-search-*.so", marks=NEEDS_CC), ("numba", "*.nbi")],
)
def test_unwritable_cache_falls_back_to_the_temp_folder_and_compiles_once(
    package_copy: Path, tmp_path: Path, kernel: str, cached_file: str
):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {
        "HOME": str(blocker / "home"),
        "XDG_CACHE_HOME": str(blocker / "cache"),
        "TMPDIR": str(temp),
        native_search.KERNEL_ENV: kernel,
    }
    first = run(package_copy, env, "sequence", str(FIXTURE))
    assert first.returncode == 0, first.stderr
    assert "Traceback" not in first.stderr
    expected = solver_cache.IN_C if kernel == "native" else solver_cache.WITH_NUMBA
    assert f"{PREPARING} {expected}" in first.stderr
    assert "20 tracks" in first.stdout
    cached = list((temp / f"beets-djset-{os.getuid()}" / "numba").rglob(cached_file))
    assert cached, f"no {cached_file} in the fallback folder"

    second = run(package_copy, env, "sequence", str(FIXTURE))
    assert second.returncode == 0, second.stderr
    assert PREPARING not in second.stderr
    assert second.stdout == first.stdout


def test_no_writable_folder_at_all_means_no_cache(tmp_path: Path, monkeypatch):
    """Every candidate folder blocked: no cache (the solver then compiles in memory with
    cache=False instead of failing at import)."""
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(blocker / "numba"))
    monkeypatch.setattr(cache_folder, "_PACKAGE_CACHE", blocker / "core" / "__pycache__")
    monkeypatch.setattr(cache_folder, "_user_cache", lambda: blocker / "user")
    monkeypatch.setattr(cache_folder, "_temp_cache", lambda: blocker / "tmp")
    assert cache_folder._decide() is None
    monkeypatch.setattr(cache_folder, "_temp_cache", lambda: tmp_path / "tmp")
    monkeypatch.setattr(cache_folder, "_set_numba_cache_dir", lambda folder: None)
    assert cache_folder._decide() == tmp_path / "tmp"
    assert os.environ["NUMBA_CACHE_DIR"] == str(tmp_path / "tmp")


def test_without_a_c_compiler_the_search_is_numbas(monkeypatch):
    """No compiler: the C kernel is not built and the search falls back to numba (here
    asked for with DJSET_SOLVER_KERNEL=numba, which every run honours the same way)."""
    monkeypatch.setattr(native_search, "_loaded", [])
    monkeypatch.setattr(native_search, "compiler", lambda: None)
    assert native_search.kernel() is None
    assert native_search.build() is None
    assert optimizer.search_kernel().__name__.endswith("compiled_search")
    assert not solver_cache._native()
    monkeypatch.setattr(native_search, "_loaded", [])
    monkeypatch.setenv(native_search.KERNEL_ENV, "numba")
    monkeypatch.setattr(native_search, "compiler", lambda: ["cc"])
    assert native_search.kernel() is None
    assert optimizer.search_kernel().__name__.endswith("compiled_search")


@NEEDS_CC
def test_a_failing_compiler_leaves_no_library_and_no_partial_file(tmp_path, monkeypatch):
    """A compiler that fails (here `false`) builds nothing: no library, no half-written
    file in the cache folder, and the search uses numba."""
    monkeypatch.setattr(native_search, "compiler", lambda: [shutil.which("false")])
    monkeypatch.setattr(native_search, "cache_dir", lambda: tmp_path)
    assert native_search.build() is None
    assert list(tmp_path.iterdir()) == []
