"""plan_order: default solver, BPM limit, energy arc, set length, errors, and the CLI."""

from __future__ import annotations

import json
import re
import time

import numpy as np
import pytest
from cli_helpers import run_cli_here
from pydantic import ValidationError

from djcurator_core.core.keys import ALL_KEYS
from djcurator_core.core.models import Track, dump_tracks
from djcurator_core.core.options.set_option_flags import DEFAULT_SOLVER
from djcurator_core.core.options.set_options import SetOptions
from djcurator_core.core.planning import planning
from djcurator_core.core.planning.planning import bpm_jumps, plan_order
from djcurator_core.core.planning.selection import POOL_EFFORT, select
from djcurator_core.core.rules.energy_arc import arc_curve, spearman
from djcurator_core.core.rules.scoring import cost_matrix
from djcurator_core.core.solver import sequencing
from djcurator_core.core.solver.optimizer import DEFAULT_EFFORT
from djcurator_core.core.solver.sequencing import SequencingError, SolverRequest, path_cost, solve
from djcurator_core.errors import validation_error_line


def pool(n: int, seed: int, *, bpm=(118, 134), durations=True) -> list[Track]:
    rng = np.random.default_rng(seed)
    return [
        Track(
            id=f"t{i:03d}",
            key=ALL_KEYS[int(rng.integers(24))].camelot,
            bpm=float(rng.uniform(*bpm)),
            energy=float(rng.integers(1, 11)),
            duration=float(rng.uniform(240, 480)) if durations else None,
        )
        for i in range(n)
    ]


def cost_of(tracks, order) -> float:
    return path_cost(cost_matrix(tracks), order)


def largest_jump(tracks, order) -> float:
    jumps = bpm_jumps(tracks, SetOptions().scoring)
    return max(float(jumps[a, b]) for a, b in zip(order, order[1:], strict=False))


def test_default_solver_is_ils_and_beats_greedy():
    tracks = pool(80, 1)
    assert DEFAULT_SOLVER == "ils"
    plan = plan_order(tracks)
    assert sorted(plan.order) == list(range(80)) and plan.notes == []
    greedy = plan_order(tracks, SetOptions(solver="greedy"))
    naive = plan_order(tracks, SetOptions(solver="naive"))
    assert naive.order == list(range(80))
    assert cost_of(tracks, plan.order) < cost_of(tracks, greedy.order)


def test_pins_by_track_id():
    tracks = pool(40, 2)
    plan = plan_order(tracks, SetOptions(start="t005", end="t017"))
    assert plan.order[0] == 5 and plan.order[-1] == 17


# --- BPM limit ---------------------------------------------------------------------------


def test_max_bpm_jump_is_avoided_when_an_order_avoids_it():
    # tempos from 100 to 140 in ~1 % steps, shuffled: a sorted order keeps every jump < 1.5 %
    rng = np.random.default_rng(3)
    bpms = rng.permutation(np.linspace(100, 140, 35))
    tracks = [
        Track(id=f"b{i}", bpm=float(b), key=ALL_KEYS[i % 24].camelot, energy=5.0)
        for i, b in enumerate(bpms)
    ]
    unlimited = plan_order(tracks)
    assert largest_jump(tracks, unlimited.order) > 1.5  # the limit changes something
    plan = plan_order(tracks, SetOptions(max_bpm_jump=1.5))
    assert largest_jump(tracks, plan.order) <= 1.5
    assert plan.notes == []


def test_max_bpm_jump_counts_half_and_double_time():
    tracks = [
        Track(id="a", bpm=128.0, key="8A"),
        Track(id="b", bpm=64.0, key="8A"),
        Track(id="c", bpm=129.0, key="8A"),
    ]
    plan = plan_order(tracks, SetOptions(max_bpm_jump=1.0))
    assert plan.notes == []  # 64 -> 128 is 0 % at double time


def test_max_bpm_jump_that_no_order_avoids_is_reported():
    tracks = pool(20, 4, bpm=(124, 128)) + [Track(id="odd", bpm=150.0, key="8A", energy=5)]
    plan = plan_order(tracks, SetOptions(max_bpm_jump=4.0))
    assert sorted(plan.order) == list(range(21))
    assert len(plan.notes) == 1
    note = plan.notes[0]
    assert "max BPM jump 4%" in note and "1 transition(s)" in note and "odd" in note
    # the odd track sits at an end: one violation, not two
    assert plan.order.index(20) in (0, 20)


# --- energy arc ---------------------------------------------------------------------------


def energies(tracks, order):
    return [tracks[i].energy for i in order]


@pytest.mark.parametrize("seed", [5, 6])
def test_rise_follows_the_arc(seed):
    tracks = pool(40, seed)
    plan = plan_order(tracks, SetOptions(energy_arc="rise", seed=seed))
    assert sorted(plan.order) == list(range(40))
    assert spearman(energies(tracks, plan.order)) >= 0.8
    assert spearman(energies(tracks, plan_order(tracks).order)) < 0.8  # the arc did it


def test_arc_weight_trades_transitions_for_the_arc():
    tracks = pool(40, 7)
    light = plan_order(tracks, SetOptions(energy_arc="rise", arc_weight=0.05))
    heavy = plan_order(tracks, SetOptions(energy_arc="rise", arc_weight=3.0))
    assert spearman(energies(tracks, heavy.order)) > spearman(energies(tracks, light.order))
    assert cost_of(tracks, heavy.order) > cost_of(tracks, light.order)


def test_no_arc_is_pure_ordering():
    # relaxed, without tempo limit and artist gap: the plain ils order of the scores
    tracks = pool(50, 8)
    plain = {"harmonic": "relaxed", "max_bpm_jump": None, "artist_gap": 0, "seed": 3}
    plan = plan_order(tracks, SetOptions(energy_arc="none", **plain))
    assert plan.order == solve(cost_matrix(tracks), "ils", SolverRequest(seed=3))
    weightless = plan_order(tracks, SetOptions(energy_arc="rise", arc_weight=0, **plain))
    assert weightless.order == plan.order


def test_peak_builds_then_releases():
    tracks = pool(60, 9)
    order = plan_order(tracks, SetOptions(energy_arc="peak", arc_weight=2.0)).order
    e = np.array(energies(tracks, order))
    top = e[int(0.7 * 60) : int(0.9 * 60)].mean()
    assert top > e[:12].mean() + 2 and top > e[-6:].mean()
    curve = arc_curve("peak", 11)
    assert curve[0] == 0 and curve[8] == pytest.approx(1) and curve[-1] == pytest.approx(0.5)


def test_arc_with_a_baseline_solver_is_noted():
    plan = plan_order(pool(12, 1), SetOptions(solver="greedy", energy_arc="rise"))
    assert any("only the ils solver follows an arc" in n for n in plan.notes)


def test_arc_without_energies_is_noted():
    tracks = [Track(id=f"x{i}", bpm=120.0 + i, key="8A") for i in range(6)]
    plan = plan_order(tracks, SetOptions(energy_arc="wave"))
    assert sorted(plan.order) == list(range(6))
    assert any("fewer than two distinct energy values" in n for n in plan.notes)


def test_spearman():
    assert spearman([1, 2, 3, 4]) == pytest.approx(1.0)
    assert spearman([4, 3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1, 1, 2, 2]) == pytest.approx(0.894, abs=1e-3)


# --- set length ---------------------------------------------------------------------------


def mean_cost(tracks, order) -> float:
    return cost_of(tracks, order) / (len(order) - 1)


def test_count_chooses_a_better_set_than_the_first_tracks():
    tracks = pool(120, 10)
    plan = plan_order(tracks, SetOptions(count=12, start="t050", end="t090"))
    order = plan.order
    assert len(order) == 12 and len(set(order)) == 12
    assert order[0] == 50 and order[-1] == 90
    first = plan_order(tracks[:12])  # the first 12 tracks, well ordered
    assert mean_cost(tracks, order) < 0.7 * mean_cost(tracks[:12], first.order)


def test_duration_fills_the_slot_without_running_over():
    tracks = pool(120, 11)
    slot = 45 * 60
    plan = plan_order(tracks, SetOptions(duration=slot, start="t003"))
    total = sum(tracks[i].duration for i in plan.order)
    assert total <= slot
    assert total >= slot - max(t.duration for t in tracks)
    assert plan.order[0] == 3 and len(set(plan.order)) == len(plan.order)


def test_duration_longer_than_the_pool_takes_everything_and_says_so():
    tracks = pool(10, 12)
    plan = plan_order(tracks, SetOptions(duration=10 * 3600))
    assert sorted(plan.order) == list(range(10))
    assert "every track is in the set" in plan.notes[0]


def test_count_with_arc_and_bpm_limit():
    tracks = pool(90, 13)
    plan = plan_order(
        tracks, SetOptions(count=25, energy_arc="rise", arc_weight=2.0, max_bpm_jump=5.0)
    )
    assert len(plan.order) == 25
    assert largest_jump(tracks, plan.order) <= 5.0
    assert spearman(energies(tracks, plan.order)) >= 0.8


# --- errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (SetOptions(count=31), "count 31 is larger than the 30 tracks available"),
        (SetOptions(start="nope"), "start track id 'nope' is not among the tracks"),
        (SetOptions(end="t099"), "end track id 't099' is not among the tracks"),
        (SetOptions(start="t001", end="t001"), "track 't001' cannot be pinned both first and last"),
        (SetOptions(solver="magic"), "unknown solver 'magic'"),
        (SetOptions(count=1, start="t001", end="t002"), "leaves no room for the 2 pinned"),
        (SetOptions(duration=60, start="t001"), "pinned tracks last"),
        (SetOptions(duration=120), "a set of 2.0 min is shorter than every track"),
    ],
)
def test_impossible_options_raise_one_line(options, message):
    with pytest.raises(SequencingError, match=message) as info:
        plan_order(pool(30, 14), options)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("data", [{"count": 10, "duration": 1200}, {"duration": 3600, "count": 3}])
def test_count_and_duration_together_are_refused(data):
    # both at once used to obey neither (10 tracks lasting 3825 s for 1200 s)
    with pytest.raises(ValidationError) as info:
        SetOptions.model_validate(data)
    assert validation_error_line(info.value) == (
        "field 'duration': give --count or --duration, not both"
    )
    tracks = pool(30, 14)
    with pytest.raises(SequencingError, match="a count or a duration, not both"):
        select(
            cost_matrix(tracks),
            count=data["count"],
            duration=data["duration"],
            durations=[t.duration for t in tracks],
        )


def test_duration_needs_durations():
    with pytest.raises(SequencingError, match="track 't000' has no duration"):
        plan_order(pool(10, 15, durations=False), SetOptions(duration=1800))


def test_time_budget_covers_selection_and_order():
    # Without a budget both searches run to their effort (measured: the pool search stops
    # with no new best after ~50,000 of 64,000 kicks, the final order uses all 25,000 kicks;
    # ~5 s). With 0.5 s, 70 % goes to the selection (half of it to ordering the pool) and
    # 30 % to the final order; each search must say the budget stopped it, well before
    # its effort (measured: ~3,000 and ~5,000 kicks).
    tracks = pool(800, 19)
    messages: list[str] = []
    plan = plan_order(
        tracks, SetOptions(count=250, time_budget=0.5, seed=1), progress=messages.append
    )
    assert len(plan.order) == 250 and len(set(plan.order)) == 250
    stops = [m for m in messages if m.startswith("search stopped")]
    assert len(stops) == 2, messages
    pool_stop, order_stop = stops
    assert pool_stop.startswith("search stopped (time limit): 800 tracks"), pool_stop
    assert order_stop.startswith("search stopped (time limit): 250 tracks"), order_stop
    assert f"of {POOL_EFFORT.kicks(800)} kicks" in pool_stop
    assert f"of {DEFAULT_EFFORT.kicks(250)} kicks" in order_stop
    for stop in stops:
        done, limit = (int(v) for v in re.search(r"(\d+) of (\d+) kicks", stop).groups())
        assert done < limit
    assert messages.index(pool_stop) < messages.index("selection: pool ordered")


def test_progress_reaches_the_callback():
    messages: list[str] = []
    plan_order(pool(300, 16), SetOptions(count=40), progress=messages.append)
    assert any(m.startswith("selection") for m in messages)


# --- command line ------------------------------------------------------------------------


def test_cli_count_pin_arc_and_limit(tmp_path):
    tracks = pool(60, 17)
    path = tmp_path / "pool.json"
    path.write_text(dump_tracks(tracks))
    proc = run_cli_here(
        "sequence", str(path), "--json", "--count", "10", "--start", "t007",
        "--energy-arc", "rise", "--max-bpm-jump", "6", "--seed", "2",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert len(out["order"]) == 10 and out["order"][0] == "t007"
    assert out["solver"] == "ils"


def test_cli_impossible_count_is_one_line(tmp_path):
    path = tmp_path / "pool.json"
    path.write_text(dump_tracks(pool(5, 18)))
    proc = run_cli_here("sequence", str(path), "--count", "9")
    assert proc.returncode == 2
    assert proc.stderr.strip() == "error: count 9 is larger than the 5 tracks available"


def test_time_budget_covers_the_cost_matrix(monkeypatch):
    """A pool whose matrix takes long leaves the solver only the rest of the budget."""
    seen: list[float | None] = []

    def recording_solver(matrix, request):
        seen.append(request.time_budget)
        return list(range(len(matrix)))

    def slow_matrix(tracks, config):
        slow_matrix.calls += 1
        time.sleep(0.3)
        return cost_matrix(tracks, config)

    slow_matrix.calls = 0
    monkeypatch.setitem(sequencing.SOLVERS, "recording", recording_solver)
    monkeypatch.setattr(planning, "cost_matrix", slow_matrix)
    tracks = [Track(id=str(i), bpm=120 + i, key="8A") for i in range(5)]
    plan_order(tracks, SetOptions(solver="recording", time_budget=1.0))
    plan_order(tracks, SetOptions(solver="recording", time_budget=0.2))
    assert slow_matrix.calls == 2
    assert seen[0] is not None and seen[0] <= 0.7
    assert seen[1] == planning.MIN_SEARCH_BUDGET
    plan_order(tracks, SetOptions(solver="recording"))
    assert seen[2] is None  # no budget: the solver's own limits
