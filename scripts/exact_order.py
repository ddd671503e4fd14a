"""The exact reference of the DJ-grade benchmark: the fewest unmixable transitions of any
order, proven by CP-SAT (ortools, which comes with the optional `bench` extra via djkr8).

A heuristic reference (our ILS with more effort) can only say "the best order found"; a
bar "at most the best order + 2 %" measured against it says nothing when both heuristics
miss the same orders, and a miss of the bar cannot be told from a weak search. CP-SAT
finds an order and a lower bound; when they meet, the count is the optimum.

The model: one Boolean per allowed directed transition i -> j, plus a dummy node n with
an arc n -> i (the set starts with i) and i -> n (it ends with i) for every track, under
one AddCircuit constraint: a Hamiltonian circuit through the dummy node is an open path
through all tracks. Rules are arcs left out of the model (`forbidden`: same artist back to
back, a tempo jump above the smallest possible largest jump) or a level above the
unmixable count (`level`: a jump above the tempo limit, counted and minimised first, as
the product's rule levels do when the limit cannot be kept). The objective is
`W * level + unmixable` with W = n (more than any order's unmixable count).

Benchmark code, never imported by the product.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ExactResult:
    status: str  # "optimal", "feasible" (time limit, bound below), "infeasible", "unknown"
    order: list[int] | None  # the best order found (None: none found)
    unmixable: int | None  # its unmixable transitions
    level: int | None  # its transitions on the `level` matrix (jumps above the limit)
    bound: int | None  # proven lower bound on `unmixable` (None: none proven)
    seconds: float

    @property
    def proven(self) -> bool:
        return self.status == "optimal"


def have_cpsat() -> bool:
    try:
        from ortools.sat.python import cp_model  # noqa: F401
    except ImportError:
        return False
    return True


def fewest_unmixable(
    unmixable: np.ndarray,
    forbidden: np.ndarray | None = None,
    level: np.ndarray | None = None,
    time_limit: float = 60.0,
    workers: int = 8,
    hint: list[int] | None = None,
    seed: int = 0,
) -> ExactResult:
    """The order of all tracks with the fewest `unmixable` transitions (0/1 n x n matrix)
    among those that use no `forbidden` transition and, first, the fewest `level` ones.

    `hint`: an order to start from (CP-SAT's solution hint; it changes nothing about what
    is proven). The time limit is CP-SAT's own wall-clock limit."""
    from ortools.sat.python import cp_model

    started = time.perf_counter()
    bad = np.asarray(unmixable).astype(bool)
    n = len(bad)
    if n < 2:
        order = list(range(n))
        return ExactResult("optimal", order, 0, 0, 0, 0.0)
    banned = np.zeros((n, n), dtype=bool) if forbidden is None else np.asarray(forbidden, bool)
    lvl = np.zeros((n, n), dtype=bool) if level is None else np.asarray(level, bool)
    weight = n  # one level transition outweighs every unmixable one of an order (<= n - 1)
    model = cp_model.CpModel()
    arcs, terms, arc_of = [], [], {}
    dummy = n
    for i in range(n):
        first = model.new_bool_var(f"start_{i}")
        last = model.new_bool_var(f"end_{i}")
        arcs += [(dummy, i, first), (i, dummy, last)]
        arc_of[(dummy, i)], arc_of[(i, dummy)] = first, last
        for j in range(n):
            if i == j or banned[i, j]:
                continue
            x = model.new_bool_var(f"x_{i}_{j}")
            arcs.append((i, j, x))
            arc_of[(i, j)] = x
            cost = weight * int(lvl[i, j]) + int(bad[i, j])
            if cost:
                terms.append(cost * x)
    model.add_circuit(arcs)
    model.minimize(sum(terms) if terms else 0)
    if hint is not None and _uses_allowed_arcs(hint, banned):
        path = [dummy, *hint, dummy]
        used = set(zip(path[:-1], path[1:], strict=True))
        for arc, var in arc_of.items():
            model.add_hint(var, arc in used)
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = float(time_limit)
    solver.parameters.num_workers = int(workers)
    solver.parameters.random_seed = int(seed)
    status = solver.solve(model)
    seconds = time.perf_counter() - started
    if status in (cp_model.INFEASIBLE, cp_model.MODEL_INVALID):
        return ExactResult("infeasible", None, None, None, None, seconds)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return ExactResult("unknown", None, None, None, None, seconds)
    successor = {i: j for (i, j), var in arc_of.items() if solver.boolean_value(var)}
    order, node = [], successor[dummy]
    while node != dummy:
        order.append(node)
        node = successor[node]
    assert sorted(order) == list(range(n)), "CP-SAT's circuit is not a path through all tracks"
    steps = list(zip(order[:-1], order[1:], strict=True))
    found_bad = sum(int(bad[a, b]) for a, b in steps)
    found_level = sum(int(lvl[a, b]) for a, b in steps)
    # the objective's bound, as unmixable transitions: valid once the bound shows that no
    # order has fewer level transitions than the one found (then W * level is fixed)
    total_bound = int(np.ceil(solver.best_objective_bound - 1e-6))
    bound = total_bound - weight * found_level if total_bound >= weight * found_level else None
    if status == cp_model.OPTIMAL:
        return ExactResult("optimal", order, found_bad, found_level, found_bad, seconds)
    return ExactResult("feasible", order, found_bad, found_level, bound, seconds)


def _uses_allowed_arcs(order: list[int], banned: np.ndarray) -> bool:
    return all(not banned[a, b] for a, b in zip(order[:-1], order[1:], strict=True))


@dataclass(frozen=True)
class RuleArcs:
    """The product's default rules as arcs of the exact model (see docs/dj-rules.md)."""

    same_artist: np.ndarray  # back to back by one artist: forbidden (artist gap 1)
    over_bottleneck: np.ndarray  # above the smallest possible largest jump: forbidden
    over_limit: np.ndarray  # above the limit but not above the bottleneck: the level
    threshold: float  # max(limit, bottleneck): the largest jump an order may have


def rule_arcs(
    jumps: np.ndarray, artists: list[str | None], limit: float, bottleneck: float
) -> RuleArcs:
    """Arcs that break the rules of `sequence`'s default options.

    `jumps`: n x n symmetric percent tempo jumps (NaN: unknown, never over a limit);
    `bottleneck`: a lower bound on any order's largest jump (`mixability.bottleneck_jump`).
    When the limit can be kept (bottleneck <= limit) every jump above it is forbidden;
    otherwise jumps above the bottleneck are forbidden and those between the limit and the
    bottleneck are kept as few as possible (the level). Tracks without an artist are free.
    """
    threshold = max(limit, bottleneck)
    with np.errstate(invalid="ignore"):
        over_threshold = np.asarray(jumps) > threshold + 1e-9
        over_limit = (np.asarray(jumps) > limit + 1e-9) & ~over_threshold
    names = np.array([a if a else f"\0{i}" for i, a in enumerate(artists)], dtype=object)
    same = names[:, None] == names[None, :]
    np.fill_diagonal(same, False)
    return RuleArcs(same, over_threshold, over_limit, threshold)
