"""What `pip install .` installs: the djset-worker console script, the plugin package in
beets' `beetsplug` namespace, and no top-level `worker` module in site-packages."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_contents(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
        + ["-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
    )
    [wheel] = tmp_path.glob("beets_djset-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top_level = {name.split("/")[0] for name in names if not name.endswith(".dist-info")}
    assert {"beetsplug", "djcurator_core"} <= top_level
    assert not any(name in ("worker.py", "beetsplug/__init__.py") for name in names)
    assert "beetsplug/djset/__init__.py" in names
    assert "djcurator_core/pipeline/contracts.py" in names
    assert "djcurator_core/core/solver/search_kernel.c" in names  # built on first use
    [entry_points] = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "djset-worker = djcurator_core.pipeline.workers.worker_command:main" in text
