"""The solver's modules import each other without a cycle, and a run that orders tracks
with the C kernel does not import numba (whose import alone costs about a second)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from djcurator_core.core.solver import native_search

SOLVER = Path(__file__).resolve().parent.parent / "djcurator_core" / "core" / "solver"
PACKAGE = "djcurator_core.core.solver"


def imported_solver_modules(path: Path) -> set[str]:
    """The modules of core/solver/ that `path` imports anywhere (functions included)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == PACKAGE:
                found.update(alias.name for alias in node.names)
            elif node.module.startswith(PACKAGE + "."):
                found.add(node.module.removeprefix(PACKAGE + ".").split(".")[0])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith(PACKAGE + "."):
                    found.add(alias.name.removeprefix(PACKAGE + ".").split(".")[0])
    return found


def test_no_import_cycle_among_the_solver_modules():
    graph = {path.stem: imported_solver_modules(path) for path in SOLVER.glob("*.py")}
    assert "solver_cache" not in graph["optimizer"]
    assert "optimizer" in graph["solver_cache"]  # the check below has an edge to find

    def visit(module: str, trail: tuple[str, ...]) -> None:
        for target in sorted(graph.get(module, ())):
            assert target not in trail, f"import cycle: {' -> '.join((*trail, target))}"
            visit(target, (*trail, target))

    for module in graph:
        visit(module, (module,))


@pytest.mark.skipif(native_search.compiler() is None, reason="no C compiler: numba only")
def test_ordering_tracks_with_the_c_kernel_imports_no_numba(tmp_path):
    code = (
        "import sys, numpy as np\n"
        "from djcurator_core.core.solver.optimizer import optimise\n"
        "m = np.random.default_rng(0).random((40, 40))\n"
        "order = optimise(m)\n"
        "assert sorted(order) == list(range(40))\n"
        "print('numba' in sys.modules, 'scipy' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=SOLVER.parents[2],
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "False"]
