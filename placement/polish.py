"""CP-SAT polish: re-solve some workloads exactly while every other one keeps its place.

Why: rounding an LP solution is near-optimal where the LP is integral and loses a little
where it is fractional; CP-SAT shines on small hard subproblems (testing-notes §5), so it
re-optimises the fractional workloads with the others fixed (their quota use and change
budget use become constants). Given every workload of a small problem, it is exact.

The model is the validator's, in integers: x[w,o] replicas, y[w,o] "offer o used"
(x ≤ replicas·y; y carries the once-per-offer move charge and one-off spend),
region / zone "used" booleans bounded by the replicas placed there for the spread,
and mv[w] ≥ y[w,o] for o ≠ today's offer counting moves (not for compliance moves).

Determinism: one worker and a deterministic time limit (CP-SAT's work units); the
wall-clock limit is a safety net at twice that.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass

from ortools.sat.python import cp_model

from placement.cost import unit_micro_usd
from placement.problem import Plan, Problem


@dataclass(frozen=True)
class PolishResult:
    plan: dict[str, tuple[tuple[int, int], ...]] | None  # None: nothing found
    optimal: bool  # proven optimal for the freed workloads, the others fixed
    bound_micro_usd: int  # CP-SAT's bound on the freed part + the fixed part's cost


def polish(
    problem: Problem, plan: Plan, free: Collection[str], time_limit_s: float
) -> PolishResult:
    """Re-optimise the workloads in `free`; `plan` (feasible) is the hint and the rest."""
    m = cp_model.CpModel()
    quota_room = [q.max_vcpu for q in problem.quotas]
    moves_left = problem.max_moves
    spend_left = problem.max_one_off_micro_usd
    fixed_cost = 0
    commit_fixed = [0] * len(problem.commitments)
    commit_terms: list[list[tuple[cp_model.IntVar, int]]] = [[] for _ in problem.commitments]
    budget_moves: list[cp_model.IntVar] = []
    budget_spend: list[tuple[cp_model.IntVar, int]] = []
    quota_terms: list[list[tuple[cp_model.IntVar, int]]] = [[] for _ in problem.quotas]
    objective: list[tuple[cp_model.IntVar, int]] = []
    xs: dict[str, list[tuple[int, cp_model.IntVar]]] = {}
    for d in problem.demands:
        parts = plan.get(d.id, ())
        if d.id not in free:
            for oid, n in parts:
                o = problem.offer(oid)
                fixed_cost += n * unit_micro_usd(problem, o) + d.move_cost(oid)
                pool = problem.commitment_of(oid)
                if pool is not None:
                    commit_fixed[pool] += n * problem.commitments[pool].use_per_replica(o)
                for i in problem.quotas_covering(oid):
                    quota_room[i] -= n * o.vcpu
            if not d.must_move and any(i != d.current_offer_id for i, n in parts if n > 0):
                moves_left = None if moves_left is None else moves_left - 1
                spend = sum(d.move_cost(i) for i, _ in parts)
                spend_left = None if spend_left is None else spend_left - spend
            continue
        hint = dict(parts)
        r = d.replicas
        mine: list[tuple[int, cp_model.IntVar]] = []
        region: dict[tuple[str, str], list[cp_model.IntVar]] = defaultdict(list)
        zone: dict[tuple[str, str, str], list[cp_model.IntVar]] = defaultdict(list)
        regional: list[cp_model.IntVar] = []
        spot: list[cp_model.IntVar] = []
        mv = m.new_bool_var(f"mv_{d.id}") if not d.must_move else None
        for oid in d.eligible:
            o = problem.offer(oid)
            if o.vcpu < d.vcpu or o.memory_gib < d.memory_gib:
                continue
            x = m.new_int_var(0, r, f"x_{d.id}_{oid}")
            m.add_hint(x, hint.get(oid, 0))
            mine.append((oid, x))
            objective.append((x, unit_micro_usd(problem, o)))
            pool = problem.commitment_of(oid)
            if pool is not None:
                commit_terms[pool].append((x, problem.commitments[pool].use_per_replica(o)))
            for i in problem.quotas_covering(oid):
                quota_terms[i].append((x, o.vcpu))
            region[(o.provider, o.region)].append(x)
            (zone[(o.provider, o.region, o.zone)] if o.zone else regional).append(x)
            if o.is_spot:
                spot.append(x)
            move = d.move_cost(oid)
            if oid != d.current_offer_id:
                y = m.new_bool_var(f"y_{d.id}_{oid}")
                m.add_hint(y, 1 if hint.get(oid, 0) > 0 else 0)
                m.add(x <= r * y)
                objective.append((y, move))
                if mv is not None:
                    m.add_implication(y, mv)
                    budget_spend.append((y, move))
        m.add(sum(x for _, x in mine) == r)
        m.add(sum(spot) <= d.max_spot_replicas)
        if d.min_regions > 1:
            m.add(sum(_used(m, xs_) for xs_ in region.values()) >= d.min_regions)
        if d.min_zones > 1:
            m.add(sum(_used(m, xs_) for xs_ in zone.values()) + sum(regional) >= d.min_zones)
        if mv is not None:
            budget_moves.append(mv)
        xs[d.id] = mine
    for i, terms in enumerate(quota_terms):
        if terms:
            m.add(sum(c * x for x, c in terms) <= quota_room[i])
    if moves_left is not None:
        m.add(sum(budget_moves) <= moves_left)
    if spend_left is not None:
        m.add(sum(c * y for y, c in budget_spend) <= spend_left)
    for i, c in enumerate(problem.commitments):  # credit: min(capacity, use) × rate × horizon
        if not commit_terms[i] and not commit_fixed[i]:
            continue
        covered = m.new_int_var(0, c.capacity, f"credit{i}")
        m.add(covered <= commit_fixed[i] + sum(u * x for x, u in commit_terms[i]))
        objective.append((covered, -c.rate_micro_usd * problem.horizon_hours))
    m.minimize(sum(c * v for v, c in objective))
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.random_seed = 0
    solver.parameters.max_deterministic_time = time_limit_s
    solver.parameters.max_time_in_seconds = 2 * time_limit_s
    status = solver.solve(m)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return PolishResult(None, False, 0)
    out = {wid: p for wid, p in plan.items() if wid not in free}
    for wid, mine in xs.items():
        out[wid] = tuple((oid, int(solver.value(x))) for oid, x in mine if solver.value(x) > 0)
    bound = fixed_cost + int(solver.best_objective_bound)
    return PolishResult(out, status == cp_model.OPTIMAL, bound)


def _used(m: cp_model.CpModel, xs: list[cp_model.IntVar]) -> cp_model.IntVar:
    """A boolean that may be 1 only when some replica is placed among `xs`."""
    used = m.new_bool_var("")
    m.add(sum(xs) >= 1).only_enforce_if(used)
    return used
