"""Plan one copy of the store and say what the plan means: monthly cost (total and per
cloud), moves, savings, the policies that bind, workloads left infeasible or unplaced.

It builds and solves directly (`placement.build_problem` + `placement.solve`), the same
calls as `optimizer plan`, but records nothing: no plan row, no recommendations, no
audit event, not even in the copy.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy.engine import Engine

from optimizer.planning import plan_tiering
from optimizer.simulate.policy_edits import COMMITMENT_PREFIX
from placement.build import build_problem
from placement.cost import plan_cost, risk_micro_usd
from placement.problem import MICRO, Problem
from placement.recommend import recommend
from placement.sizing import SizingSettings
from placement.solve import Solution, solve
from policies import PolicyFile
from store.errors import InfeasiblePlacement

ACTING = ("move", "purchase-option", "resize")


def usd(micro: int) -> Decimal:
    return (Decimal(micro) / MICRO).quantize(Decimal("0.01"))


@dataclass(frozen=True)
class Outcome:
    """One plan, summarised; money is USD per 730-hour month unless named one-off."""

    status: str  # ok | partial | infeasible
    monthly_cost: Decimal = Decimal(0)  # compute + spot risk − commitment credit + new fees
    one_off_usd: Decimal = Decimal(0)  # moves (egress + fixed cost)
    current_monthly_cost: Decimal = Decimal(0)  # today's placement, where its offer exists
    per_cloud: dict[str, Decimal] = field(default_factory=dict)
    placed: dict[str, int] = field(default_factory=dict)  # "aws:eu-west-1" -> replicas
    where: dict[str, str] = field(default_factory=dict)  # workload -> its planned offers
    moves: int = 0
    monthly_savings: Decimal = Decimal(0)  # placement recommendations
    tiering_savings: Decimal = Decimal(0)
    commitment_fees: Decimal = Decimal(0)
    commitments: tuple[dict[str, Any], ...] = ()  # each one's use and credit in this plan
    infeasible: tuple[dict[str, Any], ...] = ()
    unplaced: tuple[str, ...] = ()
    binding: tuple[dict[str, str], ...] = ()
    restricting: dict[str, int] = field(default_factory=dict)
    solver: str = ""
    gap: float | None = None
    seconds: float = 0.0
    notes: tuple[str, ...] = ()
    error: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            k: (str(v) if isinstance(v, Decimal) else v)
            for k, v in self.__dict__.items()
            if k not in ("per_cloud", "commitments", "where")
        } | {
            "per_cloud": {k: str(v) for k, v in self.per_cloud.items()},
            "commitments": [{**c, "credit": str(c["credit"])} for c in self.commitments],
        }


def plan_copy(
    engine: Engine,
    policy_file: PolicyFile,
    time_limit_s: float,
    sizing: SizingSettings | None = None,
    discounts: dict[str, Decimal] | None = None,
) -> Outcome:
    """Plan `engine` (a copy) under `policy_file`; `discounts` maps a bought commitment's
    policy name to its discount off on-demand (its fee joins the monthly cost)."""
    problem = build_problem(engine, policy_file, sizing=sizing)
    infeasible = tuple(
        {"workload": i.demand, "policies": list(i.policies), "text": i.text}
        for i in problem.infeasible
    )
    try:
        solution = solve(problem, time_limit_s=time_limit_s)
    except InfeasiblePlacement as exc:
        return Outcome("infeasible", infeasible=infeasible, error=str(exc), notes=problem.notes)
    recs = recommend(problem, solution)
    tiering, _ = plan_tiering(engine, policy_file)
    cost = plan_cost(problem, solution.plan)
    fees = _fees(problem, discounts or {})
    per_cloud, placed, pools = _per_cloud(problem, solution)
    acting = [r for r in recs if r.kind in ACTING]
    return Outcome(
        status="partial" if solution.unplaced or problem.infeasible else "ok",
        monthly_cost=usd(cost.compute + cost.risk - cost.credit + fees),
        one_off_usd=usd(cost.moves),
        current_monthly_cost=usd(_current(problem)),
        per_cloud=per_cloud,
        placed=placed,
        where=_where(problem, solution),
        moves=len(acting),
        monthly_savings=sum((r.monthly_savings for r in acting), Decimal(0)).quantize(
            Decimal("0.01")
        ),
        tiering_savings=sum((r.monthly_savings for r in tiering), Decimal(0)).quantize(
            Decimal("0.01")
        ),
        commitment_fees=usd(fees),
        commitments=pools,
        infeasible=infeasible,
        unplaced=tuple(solution.unplaced),
        binding=_binding(problem, solution, acting),
        restricting=_restricting(problem),
        solver=solution.solver,
        gap=solution.gap,
        seconds=round(solution.seconds, 3),
        notes=problem.notes,
    )


def _fees(problem: Problem, discounts: dict[str, Decimal]) -> int:
    """Monthly fee of the commitments a scenario buys: what they cover at on-demand
    price, less their discount."""
    total = 0
    for c in problem.commitments:
        name = c.name.split("[")[0]
        if name.startswith(COMMITMENT_PREFIX) and name in discounts:
            value = c.capacity * c.rate_micro_usd * problem.horizon_hours
            total += int(value * (1 - discounts[name] / 100))
    return total


def _per_cloud(
    problem: Problem, solution: Solution
) -> tuple[dict[str, Decimal], dict[str, int], tuple[dict[str, Any], ...]]:
    money: dict[str, int] = defaultdict(int)
    placed: dict[str, int] = defaultdict(int)
    use = [0] * len(problem.commitments)
    for parts in solution.plan.values():
        for offer_id, n in parts:
            o = problem.offer(offer_id)
            money[o.provider] += n * (
                o.hourly_micro_usd * problem.horizon_hours
                + risk_micro_usd(o, problem.horizon_hours, problem.restart_micro_usd)
            )
            placed[f"{o.provider}:{o.region}"] += n
            pool = problem.commitment_of(offer_id)
            if pool is not None:
                use[pool] += n * problem.commitments[pool].use_per_replica(o)
    pools: list[dict[str, Any]] = []
    for c, u in zip(problem.commitments, use, strict=True):
        credit = min(c.capacity, u) * c.rate_micro_usd * problem.horizon_hours
        money[c.provider] -= credit
        share = min(c.capacity, u) / c.capacity if c.capacity else 0.0
        pools.append(
            {"name": c.name, "unit": c.unit, "used": round(share, 4), "credit": usd(credit)}
        )
    per_cloud = {k: usd(v) for k, v in sorted(money.items())}
    return per_cloud, dict(sorted(placed.items())), tuple(pools)


def _where(problem: Problem, solution: Solution) -> dict[str, str]:
    """Each placed workload's plan in words: `aws:us-east-1 m5.large on_demand ×2`."""
    out: dict[str, str] = {}
    for wid, parts in sorted(solution.plan.items()):
        words = []
        for offer_id, n in sorted(parts):
            o = problem.offer(offer_id)
            words.append(
                f"{o.provider}:{o.zone or o.region} {o.instance_type} {o.purchase_option} ×{n}"
            )
        if words:
            out[wid] = "; ".join(words)
    return out


def _current(problem: Problem) -> int:
    """Today's placement at the prices (and commitment credit) of this problem; workloads
    whose offer is gone (a lost region) or that are infeasible are not in it."""
    today = {
        d.id: ((d.current_offer_id, d.replicas),)
        for d in problem.demands
        if d.current_offer_id is not None
    }
    cost = plan_cost(problem, today)
    return cost.compute + cost.risk - cost.credit


def _binding(problem: Problem, solution: Solution, acting: list[Any]) -> tuple[dict[str, str], ...]:
    """Policies at their limit in this plan: quotas that are full, the
    change budget used up, spot caps reached, and policies that leave a workload nowhere
    to go."""
    out: dict[str, str] = {}
    used: dict[int, int] = defaultdict(int)
    for parts in solution.plan.values():
        for offer_id, n in parts:
            for k in problem.quotas_covering(offer_id):
                used[k] += n * problem.offer(offer_id).vcpu
    for i, quota in enumerate(problem.quotas):
        if used[i] >= quota.max_vcpu:  # full (an LP shadow price alone is not shown)
            where = f"{quota.provider}:{quota.region}"
            out.setdefault(quota.policy, f"quota {where} at {used[i]}/{quota.max_vcpu} vCPU")
    budgeted = [r for r in acting if not r.compliance]
    if problem.max_moves is not None and len(budgeted) >= problem.max_moves:
        out.setdefault(problem.change_budget_policy, f"all {problem.max_moves} moves used")
    spend = sum((r.one_off_cost for r in budgeted), Decimal(0))
    if problem.max_one_off_micro_usd is not None:
        cap = Decimal(problem.max_one_off_micro_usd) / MICRO
        if spend >= cap * Decimal("0.99"):
            out.setdefault(
                problem.spend_budget_policy, f"one-off {spend:.0f} of {cap:.0f} USD used"
            )
    for d in problem.demands:
        spot = sum(n for oid, n in solution.plan.get(d.id, ()) if problem.offer(oid).is_spot)
        if d.spot_policy and d.spot_share_cap < 1 and spot and spot >= d.max_spot_replicas:
            out.setdefault(d.spot_policy, f"spot share cap reached ({d.id})")
    for item in problem.infeasible:
        for name in item.policies:
            out.setdefault(name, f"no offer left for {item.demand}")
    return tuple({"policy": k, "why": v} for k, v in sorted(out.items()) if k)


def _restricting(problem: Problem) -> dict[str, int]:
    """Per policy, how many workloads it denied at least one fitting offer."""
    counts: dict[str, int] = defaultdict(int)
    for d in problem.demands:
        for name in d.restricted_by:
            counts[name] += 1
    return dict(sorted(counts.items()))
