"""The LP relaxation of the placement problem, solved with GLOP.

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
- moves: m[w,o] ≥ x[w,o] / replicas for o ≠ today's offer, costing move_micro_usd: the
  convex hull of "charged once when any replica uses o". The change budget counts
  Σ move·m (one-off spend) and Σ_{o ≠ today} x / replicas (moves: at most 1 per workload)
  over workloads that are not compliance moves, as the validator does.
- objective: `placement.cost` (compute + spot risk + moves), in USD rather than
  micro-USD so GLOP's tolerances apply to numbers of a sane size.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from dataclasses import dataclass

from ortools.linear_solver import pywraplp  # type: ignore[import-untyped]

from placement.cost import unit_micro_usd
from placement.problem import MICRO, Problem
from store.errors import InfeasiblePlacement

# Relative slack taken off GLOP's optimum before it is reported as a bound: GLOP works to
# ~1e-9 relative tolerances, so a floating optimum can overshoot the true one slightly.
BOUND_SLACK = 1e-7

# workload id -> ((offer id, fractional replicas), ...), zero values left out
Fractional = dict[str, tuple[tuple[int, float], ...]]


class LPError(RuntimeError):
    """GLOP found the relaxation infeasible or failed: no plan exists, or a bug."""


@dataclass(frozen=True)
class LPResult:
    """`bound_micro_usd` is a valid lower bound on every feasible plan's cost when
    `optimal`; when GLOP stopped on the time limit it is None."""

    bound_micro_usd: int | None
    objective_micro_usd: float
    x: Fractional
    optimal: bool
    seconds: float


def solve_lp(problem: Problem, time_limit_s: float = 30.0) -> LPResult:
    """Build and solve the relaxation; deterministic (GLOP is single-threaded)."""
    start = time.perf_counter()
    solver = pywraplp.Solver.CreateSolver("GLOP")
    if solver is None:  # pragma: no cover - GLOP ships with OR-Tools
        raise LPError("OR-Tools has no GLOP solver")
    solver.SetTimeLimit(max(1, int(time_limit_s * 1000)))
    inf = solver.infinity()
    objective = solver.Objective()
    xs: dict[str, list[tuple[int, object]]] = {}
    quota_terms: list[list[tuple[object, float]]] = [[] for _ in problem.quotas]
    covering = {
        o.id: [i for i, q in enumerate(problem.quotas) if q.covers(o)] for o in problem.offers
    }
    moves_row = None if problem.max_moves is None else solver.Constraint(-inf, problem.max_moves)
    spend_row = (
        None
        if problem.max_one_off_micro_usd is None
        else solver.Constraint(-inf, problem.max_one_off_micro_usd / MICRO)
    )
    for w, d in enumerate(problem.demands):
        r = float(d.replicas)
        total = solver.Constraint(r, r)
        spot = solver.Constraint(-inf, float(d.max_spot_replicas))
        region_rows: dict[tuple[str, str], object] = {}
        zone_rows: dict[tuple[str, str, str], object] = {}
        mine: list[tuple[int, object]] = []
        for k, oid in enumerate(d.eligible):
            o = problem.offer(oid)
            if o.vcpu < d.vcpu or o.memory_gib < d.memory_gib:
                continue  # the validator rejects it; the builder never emits it
            x = solver.NumVar(0.0, r, f"x{w}_{oid}")
            mine.append((oid, x))
            total.SetCoefficient(x, 1.0)
            objective.SetCoefficient(x, unit_micro_usd(problem, o) / MICRO)
            if o.is_spot:
                spot.SetCoefficient(x, 1.0)
            for i in covering[oid]:
                quota_terms[i].append((x, float(o.vcpu)))
            if d.min_regions > 1:
                key = (o.provider, o.region)
                if key not in region_rows:
                    region_rows[key] = solver.Constraint(-inf, r - d.min_regions + 1)
                region_rows[key].SetCoefficient(x, 1.0)  # type: ignore[attr-defined]
            if d.min_zones > 1 and o.zone:
                zkey = (o.provider, o.region, o.zone)
                if zkey not in zone_rows:
                    zone_rows[zkey] = solver.Constraint(-inf, r - d.min_zones + 1)
                zone_rows[zkey].SetCoefficient(x, 1.0)  # type: ignore[attr-defined]
            if oid == d.current_offer_id:
                continue
            move = d.move_micro_usd[k]
            if moves_row is not None and not d.must_move:
                moves_row.SetCoefficient(x, 1.0 / r)
            if move > 0:
                m = solver.NumVar(0.0, 1.0, f"m{w}_{oid}")
                link = solver.Constraint(0.0, inf)  # m - x / r >= 0
                link.SetCoefficient(m, 1.0)
                link.SetCoefficient(x, -1.0 / r)
                objective.SetCoefficient(m, move / MICRO)
                if spend_row is not None and not d.must_move:
                    spend_row.SetCoefficient(m, move / MICRO)
        xs[d.id] = mine
    for i, q in enumerate(problem.quotas):
        if quota_terms[i]:
            row = solver.Constraint(-inf, float(q.max_vcpu))
            coeffs: dict[object, float] = defaultdict(float)
            for var, c in quota_terms[i]:
                coeffs[var] += c
            for var, c in coeffs.items():
                row.SetCoefficient(var, c)
    objective.SetMinimization()
    status = solver.Solve()
    if status == pywraplp.Solver.INFEASIBLE:
        raise InfeasiblePlacement(
            "no plan places every replica: the quotas, spot caps, spread and change budget "
            "together leave too little room for the eligible offers",
            fix="raise a capacity quota or relax a policy; `optimizer policy explain "
            "WORKLOAD` shows what each policy rules out",
        )
    if status not in (pywraplp.Solver.OPTIMAL, pywraplp.Solver.FEASIBLE):
        raise LPError(_STATUS.get(status, f"GLOP status {status}"))
    optimal = status == pywraplp.Solver.OPTIMAL
    value = objective.Value() * MICRO
    bound = math.floor(value - BOUND_SLACK * abs(value)) if optimal else None
    frac: Fractional = {
        wid: tuple((oid, float(x.solution_value())) for oid, x in mine if x.solution_value() > 1e-9)  # type: ignore[attr-defined]
        for wid, mine in xs.items()
    }
    return LPResult(bound, value, frac, optimal, time.perf_counter() - start)


_STATUS = {
    pywraplp.Solver.INFEASIBLE: "the LP relaxation is infeasible: no plan meets every constraint",
    pywraplp.Solver.UNBOUNDED: "the LP relaxation is unbounded (a bug: costs are non-negative)",
    pywraplp.Solver.ABNORMAL: "GLOP stopped abnormally",
    pywraplp.Solver.NOT_SOLVED: "GLOP did not solve the LP (time limit before a feasible point?)",
}
