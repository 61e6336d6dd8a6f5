"""The LP relaxation of the placement problem, solved with HiGHS (GLOP as a fallback).

Why an LP: on these problems the relaxation is very tight (testing-notes §5: within
0.2% of the optimum), so it gives both a lower bound to report a gap against and a
fractional plan that rounds into a near-optimal one, faster than CP-SAT at scale.

The model is the problem `placement.validate` checks, relaxed:

- x[w,o] ≥ 0: replicas of workload w on eligible offer o (continuous); Σ_o x = replicas.
- quotas: Σ vcpu(o)·x[w,o] over covered offers ≤ max_vcpu.
- spot share: Σ_{spot o} x[w,o] ≤ max_spot_replicas.
- spread: a plan over ≥ k regions leaves at most replicas − (k − 1) replicas in any one
  region (each other region holds one), so x summed per region ≤ replicas − k + 1; the
  same per explicit zone for min_zones. (replicas / k, greedy's rule, would cut off
  feasible unbalanced plans such as 2 + 1 over two regions, so it is not a relaxation.)
- moves: "charged once when any replica uses o" relaxes to m[w,o] ≥ x[w,o] / replicas,
  and at the optimum m = x / replicas, so the move cost is folded into x's coefficient
  (move / replicas per replica) and m is not a variable. The change budget counts
  Σ move·x / replicas (one-off spend) and Σ_{o ≠ today} x / replicas (moves: at most 1
  per workload) over workloads that are not compliance moves, as the validator does.
- objective: `placement.cost` (compute + spot risk + moves), in USD rather than
  micro-USD so the solver's tolerances apply to numbers of a sane size.

The matrix is built by `placement.model`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
from ortools.linear_solver.python import model_builder as mb

from placement.model import build_model
from placement.model_rows import Layout
from placement.problem import MICRO, Problem
from store.errors import InfeasiblePlacement

# Relative slack taken off the LP optimum before it is reported as a bound: simplex codes
# work to ~1e-9 relative tolerances, so a floating optimum can overshoot the true one.
BOUND_SLACK = 1e-7
# HiGHS's dual simplex solved the 10k-workload relaxation 6x faster than GLOP here
# (bench/RESULTS.md); GLOP stays as the fallback for a build of OR-Tools without HiGHS.
SOLVERS = ("highs", "glop")
# HiGHS prints a banner on stdout unless told not to, which broke `plan --json`.
HIGHS_QUIET = "output_flag=false"

# workload id -> ((offer id, fractional replicas), ...), zero values left out
Fractional = dict[str, tuple[tuple[int, float], ...]]


class LPError(RuntimeError):
    """The LP solver failed: a bug, or a time limit too short to find any point."""


@dataclass(frozen=True)
class LPResult:
    """`bound_micro_usd` is a valid lower bound on every feasible plan's cost when
    `optimal`; when the solver stopped on the time limit it is None. `binding_quotas`
    holds the indexes (into `problem.quotas`) of quotas with a non-zero shadow price:
    the capacity rules that cost money in this plan."""

    bound_micro_usd: int | None
    objective_micro_usd: float
    x: Fractional
    optimal: bool
    seconds: float
    solver: str = "highs"
    binding_quotas: tuple[int, ...] = ()
    # Per x column (see `placement.model.Layout`): the reduced cost in USD, which says how
    # much dearer than the LP optimum each unused option is; None when not optimal.
    layout: Layout | None = field(default=None, compare=False, repr=False)
    reduced_usd: np.ndarray | None = field(default=None, compare=False, repr=False)


def _solver() -> tuple[str, mb.Solver]:
    for name in SOLVERS:
        solver = mb.Solver(name)
        if solver.solver_is_supported():
            return name, solver
    raise LPError("this OR-Tools build has neither HiGHS nor GLOP")  # pragma: no cover


def solve_lp(problem: Problem, time_limit_s: float = 30.0) -> LPResult:
    """Build and solve the relaxation; deterministic (single-threaded simplex)."""
    start = time.perf_counter()
    model, layout = build_model(problem, integral=False)
    name, solver = _solver()
    if name == "highs":
        solver.set_solver_specific_parameters(HIGHS_QUIET)
    solver.set_time_limit_in_seconds(max(0.1, time_limit_s - (time.perf_counter() - start)))
    status = solver.solve(model)
    if status == mb.SolveStatus.INFEASIBLE:
        raise InfeasiblePlacement(
            "no plan places every replica: the quotas, spot caps, spread and change budget "
            "together leave too little room for the eligible offers",
            fix="raise a capacity quota or relax a policy; `optimizer policy explain "
            "WORKLOAD` shows what each policy rules out",
        )
    if status not in (mb.SolveStatus.OPTIMAL, mb.SolveStatus.FEASIBLE):
        raise LPError(f"{name} could not solve the LP relaxation: {status.name}")
    optimal = status == mb.SolveStatus.OPTIMAL
    value = float(solver.objective_value) * MICRO
    bound = math.floor(value - BOUND_SLACK * abs(value)) if optimal else None
    xs = np.asarray(solver.values(model.get_variables()), dtype=np.float64)[: layout.n_x]
    frac: dict[str, list[tuple[int, float]]] = {}
    for j in np.nonzero(xs > 1e-9)[0]:
        wid = problem.demands[int(layout.workload[j])].id
        frac.setdefault(wid, []).append((problem.offers[int(layout.offer[j])].id, float(xs[j])))
    binding: tuple[int, ...] = ()
    reduced = _reduced(solver, model) if optimal else None
    if reduced is not None:
        reduced = reduced[: layout.n_x]
    if optimal and len(layout.quota_rows):
        duals = _duals(solver, model)
        binding = tuple(
            i for i, row in enumerate(layout.quota_rows) if row >= 0 and abs(duals[row]) > 1e-9
        )
    return LPResult(
        bound,
        value,
        {wid: tuple(parts) for wid, parts in frac.items()},
        optimal,
        time.perf_counter() - start,
        name,
        binding,
        layout,
        reduced,
    )


def _reduced(solver: mb.Solver, model: mb.Model) -> np.ndarray | None:
    try:
        return np.asarray(solver.reduced_costs(model.get_variables()), dtype=np.float64)
    except Exception:
        return None


def _duals(solver: mb.Solver, model: mb.Model) -> np.ndarray:
    try:
        return np.asarray(solver.dual_values(model.get_linear_constraints()), dtype=np.float64)
    except Exception:
        return np.zeros(model.num_constraints)
