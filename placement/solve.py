"""The placement solver: LP relaxation → exact re-solve of what the LP left open → checks.

Why this order (testing-notes §5): the LP bound is tight and LP-based methods beat
CP-SAT and a plain MIP at scale, so the LP (HiGHS) does the heavy lifting and gives the
bound the gap is reported against. Workloads the LP settled are kept; the rest are
re-solved exactly by HiGHS in chunks (`placement.chunks`). Should that find nothing in
time, the LP is rounded and greedy's machinery repairs what rounding broke. On a small
problem CP-SAT then re-solves everything, which makes `solve` exact there. The result
is never costlier than greedy's plan: if it would be, greedy's plan is returned and said
so. When the LP is infeasible, `placement.conflicts` names the policies in conflict.

Every returned plan is re-checked by `placement.validate`; a violation is a bug in this
module, so it raises `SolverBug` rather than hand back a broken plan.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import partial

from placement.chunks import lp_guided, round_workload
from placement.conflicts import explain_infeasibility
from placement.cost import plan_cost
from placement.greedy import Parts, _fits, _repair, _State, greedy
from placement.lp import LPError, LPResult, solve_lp
from placement.polish import polish
from placement.problem import Demand, Plan, Problem
from placement.validate import regions_covered, validate, zones_covered
from store.errors import InfeasiblePlacement

__all__ = ["Solution", "SolverBug", "round_workload", "solve"]

# Below this many x variables CP-SAT re-solves every workload, which is exact and fast.
SMALL_PROBLEM_VARS = 400
EPS = 1e-6
# Of the time limit: at most this share for the LP, and this share kept back for the
# fallback (rounding, repair, greedy) and the validator.
LP_SHARE = 0.6
REPAIR_SHARE = 0.15
# Greedy's eviction repair stops at this share of the time limit: it runs for the
# "never costlier than greedy" check after the LP-based plan, inside the same limit.
GREEDY_DEADLINE = 0.9


class SolverBug(RuntimeError):
    """The solver produced a plan the validator rejects."""


@dataclass(frozen=True)
class Solution:
    """`plan` has greedy's shape; `cost` and `bound` are micro-USD over the horizon;
    `gap` = (cost − bound) / bound; `solver` names the stages the plan came from."""

    plan: Plan
    cost: int
    bound: int | None
    gap: float | None
    solver: str
    seconds: float
    lp_seconds: float
    unplaced: tuple[str, ...]
    violations: tuple[str, ...]
    note: str = ""
    binding_quotas: tuple[int, ...] = ()  # quotas with a non-zero LP shadow price


def _own_rules(problem: Problem, d: Demand, parts: Parts) -> bool:
    spot = sum(n for i, n in parts if problem.offer(i).is_spot)
    return (
        sum(n for _, n in parts) == d.replicas
        and spot <= d.max_spot_replicas
        and regions_covered(problem, parts) >= d.min_regions
        and zones_covered(problem, parts) >= d.min_zones
    )


def _round_and_repair(
    problem: Problem, lp: LPResult, deadline: float | None = None
) -> tuple[dict[str, Parts], list[str]]:
    """Place each workload's rounded LP plan where it keeps every rule; repair the rest:
    stay, or greedy's cheapest fill, or greedy's eviction repair."""
    state = _State(problem)
    rounded = {d.id: round_workload(lp.x.get(d.id, ()), d.replicas) for d in problem.demands}
    order = sorted(problem.demands, key=lambda d: (len(d.eligible), -d.replicas * d.vcpu, d.id))
    pending: list[Demand] = []
    movers: list[tuple[int, str, Demand]] = []
    for d in order:
        parts = rounded[d.id]
        if not _own_rules(problem, d, parts):
            pending.append(d)
        elif state.budget_of(d, parts) != (0, 0):
            movers.append((-state.cost(d, parts), d.id, d))
        elif _fits(state, parts):
            state.put(d, parts)
        else:
            pending.append(d)
    # Budget moves by LP preference: the cheaper the rounded plan, the more it was wanted.
    for _, _, d in sorted(movers, key=lambda t: (_saving(state, t[2], rounded), t[1])):
        parts = rounded[d.id]
        if _fits(state, parts) and state.within_budget(d, parts):
            state.put(d, parts)
        else:
            pending.append(d)
    unplaced: list[str] = []
    for d in pending:
        options: list[Parts] = []
        here = ((d.current_offer_id, d.replicas),) if d.current_offer_id is not None else ()
        stay_ok = here and d.current_offer_id in d.eligible and not d.must_move
        if stay_ok and _own_rules(problem, d, here) and _fits(state, here):
            options.append(here)
        cheap = state.cheapest(d)
        if cheap is not None and state.within_budget(d, cheap):
            options.append(cheap)
        if options:
            state.put(d, min(options, key=lambda p: (state.cost(d, p), p)))
        elif (deadline is not None and time.perf_counter() > deadline) or not _repair(state, d):
            unplaced.append(d.id)  # eviction repair is slow at scale: it stops at the deadline
    return {d.id: state.plan[d.id] for d in problem.demands if d.id in state.plan}, unplaced


def _saving(state: _State, d: Demand, rounded: dict[str, Parts]) -> int:
    """Minus the saving of the rounded plan over staying (sorts largest saving first)."""
    if d.current_offer_id is None or d.current_offer_id not in d.eligible:
        return -(1 << 62)
    return state.cost(d, rounded[d.id]) - state.cost(d, ((d.current_offer_id, d.replicas),))


def solve(problem: Problem, time_limit_s: float = 30.0, seed: int = 0) -> Solution:
    """Solve `problem`; `seed` is accepted for interface stability (every stage is
    deterministic, so it changes nothing yet)."""
    del seed
    start = time.perf_counter()
    try:
        lp: LPResult | None = solve_lp(problem, time_limit_s=time_limit_s * LP_SHARE)
    except InfeasiblePlacement:
        conflict = explain_infeasibility(problem, time_limit_s=min(10.0, time_limit_s))
        if conflict.found:
            raise InfeasiblePlacement(conflict.message(), fix=conflict.fix()) from None
        raise
    except LPError:  # out of time before any LP point: greedy below, and no bound
        lp = None
    left = time_limit_s * (1 - REPAIR_SHARE) - (time.perf_counter() - start)
    deadline = start + time_limit_s * GREEDY_DEADLINE
    repair = partial(_round_and_repair, deadline=deadline)
    guided = lp_guided(problem, lp, left, repair) if lp and lp.optimal else None
    note = ""
    unplaced: list[str] = []
    plan: dict[str, Parts] = {}
    stages: list[str] = []
    if guided is not None:
        plan, stages = guided[0], ["lp", "mip"]
        note = guided[1]
    elif lp is not None:
        plan, unplaced = _round_and_repair(problem, lp, deadline)
        stages = ["lp", "round", "repair"]
        note = "the chunked MIP found no plan in time; LP rounding and repair used"
    cost = plan_cost(problem, plan).total
    base = greedy(problem, deadline=deadline)
    base_check = validate(problem, base.plan)  # its cost is greedy's plan_cost
    if lp is None:
        plan, unplaced, stages = dict(base.plan), list(base.unplaced), ["greedy"]
        cost = base_check.cost.total
        note = "the LP relaxation did not finish in time: greedy's plan, and no bound"
    elif base_check.ok and (unplaced or base_check.cost.total < cost):
        plan, unplaced, stages = dict(base.plan), list(base.unplaced), ["greedy"]
        cost = base_check.cost.total
        note = "the LP-based plan was worse than greedy's; greedy's plan returned"
    bound = lp.bound_micro_usd if lp is not None else None
    n_vars = sum(len(d.eligible) for d in problem.demands)
    left = time_limit_s - (time.perf_counter() - start)
    if n_vars <= SMALL_PROBLEM_VARS and left > 0.05:
        # Every workload is freed, so a partial plan is only a hint: CP-SAT can place
        # what rounding and greedy could not (e.g. 2 + 1 replicas over two regions).
        polished = polish(problem, plan, {d.id for d in problem.demands}, left)
        if polished.plan is not None:
            new_cost = plan_cost(problem, polished.plan).total
            better = unplaced or new_cost < cost
            if better and validate(problem, polished.plan).ok:
                plan, cost, unplaced = polished.plan, new_cost, []
                stages.append("cp-sat")
            if polished.optimal:
                bound = max(bound or 0, polished.bound_micro_usd)
    check = validate(problem, plan)
    violations = tuple(v for v in check.violations if not _is_unplaced(v, unplaced))
    if violations:
        raise SolverBug("solver plan fails validation: " + "; ".join(violations))
    # A partial plan's cost is not comparable with a bound on placing everything.
    gap = None
    if bound is not None and not unplaced:  # a bound of 0: commitments cover everything
        gap = (cost - bound) / bound if bound > 0 else (0.0 if cost <= 0 else None)
    return Solution(
        plan=plan,
        cost=cost,
        bound=bound,
        gap=gap,
        solver="+".join(stages),
        seconds=time.perf_counter() - start,
        lp_seconds=lp.seconds if lp is not None else 0.0,
        unplaced=tuple(sorted(unplaced)),
        violations=violations,
        note=note,
        binding_quotas=lp.binding_quotas if lp is not None else (),
    )


def _is_unplaced(violation: str, unplaced: list[str]) -> bool:
    """An unplaced workload is reported as such, not as a bug: every line about it
    (its missing replicas, and the spread it cannot have) follows from being unplaced;
    unplaced workloads have no replica in the plan, so no real violation is hidden."""
    return any(violation.startswith(f"{wid}: ") for wid in unplaced)
