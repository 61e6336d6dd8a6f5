"""`plan --export-mps`: the exact model, written as MPS, gives the same optimum when an
auditor solves it with another solver (HiGHS here, reading the file back)."""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path

import pytest
from ortools.linear_solver.python import model_builder as mb
from sqlalchemy.engine import Engine

from placement.mps import write_mps
from placement.problem import Problem
from placement.solve import solve
from tests.conftest import run_cli
from tests.test_placement import tiny
from tests.test_plan import POLICIES


def _audit(path: Path) -> float:
    """Optimum of the MPS file (micro-USD), solved from the file alone."""
    model = mb.Model()  # type: ignore[no-untyped-call]
    model.import_from_mps_file(str(path))
    solver = mb.Solver("highs")
    solver.set_solver_specific_parameters("output_flag=false")
    assert solver.solve(model) == mb.SolveStatus.OPTIMAL
    return float(solver.objective_value)


@pytest.mark.parametrize("seed", range(6))
def test_mps_optimum_equals_the_exact_solver(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    base = tiny()
    demands = tuple(replace(d, replicas=rng.randint(1, 3)) for d in base.demands)
    problem: Problem = replace(base, demands=demands, max_moves=rng.choice((None, 0, 1)))
    path = tmp_path / "plan.mps"
    columns = write_mps(problem, path)
    text = path.read_text()
    assert columns > 0 and "x_web_" in text and "x_db_" in text
    solution = solve(problem, time_limit_s=10)  # tiny: CP-SAT proves the optimum
    assert solution.gap is not None and solution.gap <= 1e-9
    assert _audit(path) == pytest.approx(solution.cost, abs=0.5)  # whole micro-USD


def test_plan_cli_exports_mps(demo_store: Engine, tmp_path: Path) -> None:
    db = str(demo_store.url.database)
    mps = tmp_path / "demo.mps"
    out = run_cli("--db", db, "plan", "--policies", str(POLICIES), "--export-mps", str(mps))
    assert out.returncode == 0, out.stderr
    head = mps.read_text().splitlines()[:3]
    assert any("optimizer-placement" in line for line in head)
    assert sum(1 for line in mps.read_text().splitlines() if line.startswith(" x_")) > 0
