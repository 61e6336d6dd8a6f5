"""MIP polish on the LP's own shortlist: HiGHS re-solves the exact model over the few
offers per workload that the relaxation says are worth having.

Why: rounding the LP and repairing what breaks (quotas over by a few vCPU, a change
budget over by a few moves) lost 1–2% on the bench instances although the LP itself was
almost integral; the whole exact MIP is too big for HiGHS at 10k workloads in the time
we have (testing-notes §5). The LP's reduced costs say how much dearer each unused
option is than the relaxation's choice; keeping, per workload, the options the LP uses,
today's offer and the few with the smallest reduced cost gives a MIP whose columns are a
small fraction of the full one, where most workloads have one obvious choice that
presolve fixes, and HiGHS spends its time on the few that interact through quotas and
the change budget. Any plan it finds is feasible for the full problem (it only has fewer
options), and is re-checked by `placement.validate` in `solve`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np
from ortools.linear_solver.python import model_builder as mb

from placement.lp import HIGHS_QUIET, LPResult
from placement.model import build_model
from placement.problem import Demand, Plan, Problem

# Options kept per workload beyond those the LP uses and today's offer.
EXTRA_PER_WORKLOAD = 2
# Stop when the shortlist MIP is proven this close to its own optimum.
MIP_REL_GAP = 0.01


@dataclass(frozen=True)
class MipResult:
    plan: dict[str, tuple[tuple[int, int], ...]] | None  # None: no plan in time
    optimal: bool  # optimal for the shortlist (not for the full problem)
    columns: int
    seconds: float


def shortlist(problem: Problem, lp: LPResult, extra: int = EXTRA_PER_WORKLOAD) -> Problem:
    """`problem` with each workload's eligible offers cut to the LP's shortlist."""
    if lp.layout is None or lp.reduced_usd is None:
        return problem
    layout, reduced = lp.layout, lp.reduced_usd
    used = {(wid, oid) for wid, parts in lp.x.items() for oid, _ in parts}
    order = np.lexsort((reduced, layout.workload))  # by workload, then reduced cost
    starts = np.searchsorted(layout.workload[order], np.arange(len(problem.demands) + 1))
    demands = []
    for w, d in enumerate(problem.demands):
        cols = order[starts[w] : starts[w + 1]]
        offer_ids = [problem.offers[int(layout.offer[j])].id for j in cols]
        keep = {oid for oid in offer_ids if (d.id, oid) in used}
        if d.current_offer_id in d.eligible:
            keep.add(d.current_offer_id)
        target = max(len(keep) + extra, _room(d) + extra)
        for oid in offer_ids:
            if len(keep) >= target:
                break
            keep.add(oid)
        idx = [i for i, oid in enumerate(d.eligible) if oid in keep]
        demands.append(
            replace(
                d,
                eligible=tuple(d.eligible[i] for i in idx),
                move_micro_usd=tuple(d.move_micro_usd[i] for i in idx),
            )
        )
    return replace(problem, demands=tuple(demands))


def _room(d: Demand) -> int:
    """Options a workload needs to be placeable at all: one per required region or zone,
    and one more when a spot cap may force a split."""
    return max(d.min_regions, d.min_zones) + (1 if d.spot_share_cap < 1.0 else 0)


def mip_polish(problem: Problem, start: Plan, time_limit_s: float) -> MipResult:
    """Solve the exact model of `problem` (already shortlisted) with HiGHS, hinted with
    `start`; deterministic (HiGHS's MIP is run single-threaded by default here)."""
    began = time.perf_counter()
    model, layout = build_model(problem, integral=True)
    index = {
        (int(w), problem.offers[int(o)].id): j
        for j, (w, o) in enumerate(zip(layout.workload, layout.offer, strict=True))
    }
    variables = model.get_variables()
    del start, index  # HiGHS through the model builder crashes on hints (OR-Tools 9.15)
    solver = mb.Solver("highs")
    if not solver.solver_is_supported():  # pragma: no cover - HiGHS ships with OR-Tools
        return MipResult(None, False, layout.n_x, 0.0)
    solver.set_solver_specific_parameters(f"{HIGHS_QUIET}\nmip_rel_gap={MIP_REL_GAP}")
    solver.set_time_limit_in_seconds(max(0.1, time_limit_s - (time.perf_counter() - began)))
    status = solver.solve(model)
    if status not in (mb.SolveStatus.OPTIMAL, mb.SolveStatus.FEASIBLE):
        return MipResult(None, False, layout.n_x, time.perf_counter() - began)
    xs = np.rint(np.asarray(solver.values(variables), dtype=np.float64)[: layout.n_x])
    plan: dict[str, list[tuple[int, int]]] = {}
    for j in np.nonzero(xs > 0)[0]:
        wid = problem.demands[int(layout.workload[j])].id
        plan.setdefault(wid, []).append((problem.offers[int(layout.offer[j])].id, int(xs[j])))
    return MipResult(
        {wid: tuple(sorted(parts)) for wid, parts in plan.items()},
        status == mb.SolveStatus.OPTIMAL,
        layout.n_x,
        time.perf_counter() - began,
    )
