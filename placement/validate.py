"""Re-check any plan against every constraint, independently of the solver that made it.

Checks: every replica placed (no more, no fewer), only eligible offers, vCPU quotas per
provider × region (× family), the spot share per workload, spread over distinct regions
and zones, and the change budget (moves counted per workload that leaves today's offer,
with one-off spend, except compliance moves, see `Demand.must_move`).
Violations come back as plain sentences, with the recomputed cost.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from placement.cost import Cost, plan_cost
from placement.problem import MICRO, Demand, Plan, Problem


@dataclass(frozen=True)
class Validation:
    violations: tuple[str, ...]
    cost: Cost

    @property
    def ok(self) -> bool:
        return not self.violations


def zones_covered(problem: Problem, parts: tuple[tuple[int, int], ...]) -> int:
    """Distinct zones a workload's replicas span. A regional offer (zone "") lets the
    provider spread its instances, so each replica on one counts as its own zone."""
    explicit: set[tuple[str, str, str]] = set()
    regional = 0
    for offer_id, n in parts:
        o = problem.offer(offer_id)
        if o.zone:
            explicit.add((o.provider, o.region, o.zone))
        else:
            regional += n
    return len(explicit) + regional


def regions_covered(problem: Problem, parts: tuple[tuple[int, int], ...]) -> int:
    return len({(problem.offer(i).provider, problem.offer(i).region) for i, n in parts if n > 0})


def is_move(d: Demand, parts: tuple[tuple[int, int], ...]) -> bool:
    return any(i != d.current_offer_id and n > 0 for i, n in parts)


def _usd(micro: int) -> str:
    return f"{micro / MICRO:,.2f} USD"


def validate(problem: Problem, plan: Plan) -> Validation:
    out: list[str] = []
    known = {d.id for d in problem.demands}
    out.extend(f"{wid} is not a workload of this problem" for wid in sorted(set(plan) - known))
    used: dict[int, int] = defaultdict(int)  # offer id -> instance vCPU in use
    moves = 0
    one_off = 0
    for d in problem.demands:
        parts = tuple(p for p in plan.get(d.id, ()) if p[1] != 0)
        placed = sum(n for _, n in parts)
        if any(n < 0 for _, n in parts):
            out.append(f"{d.id}: a negative replica count")
        if placed != d.replicas:
            out.append(f"{d.id}: {placed} of {d.replicas} replicas placed")
        bad = [str(i) for i, _ in parts if i not in d.eligible]
        if bad:
            out.append(f"{d.id}: offer(s) {', '.join(bad)} not eligible")
        unknown = [i for i, _ in parts if i not in {o.id for o in problem.offers}]
        if unknown:
            out.append(f"{d.id}: unknown offer(s) {unknown}")
            continue
        for i, n in parts:
            o = problem.offer(i)
            used[i] += n * o.vcpu
            if o.vcpu < d.vcpu or o.memory_gib < d.memory_gib:
                out.append(f"{d.id}: {o.instance_type} is too small for one replica")
        spot = sum(n for i, n in parts if problem.offer(i).is_spot)
        if spot > d.max_spot_replicas:
            out.append(
                f"{d.id}: {spot} replicas on spot, at most {d.max_spot_replicas} "
                f"({d.spot_share_cap:.0%}) allowed"
            )
        regions = regions_covered(problem, parts)
        if regions < d.min_regions:
            out.append(f"{d.id}: spread over {regions} region(s), at least {d.min_regions} asked")
        zones = zones_covered(problem, parts)
        if zones < d.min_zones:
            out.append(f"{d.id}: spread over {zones} zone(s), at least {d.min_zones} asked")
        if is_move(d, parts) and not d.must_move:
            moves += 1
            one_off += sum(d.move_cost(i) for i, _ in parts if i in d.eligible)
    for q in problem.quotas:
        total = sum(v for i, v in used.items() if q.covers(problem.offer(i)))
        if total > q.max_vcpu:
            what = f"{q.provider}:{q.region}" + (f" family {q.family}" if q.family else "")
            by = f" ({q.policy})" if q.policy else ""
            out.append(f"quota{by}: {total} vCPU on {what}, at most {q.max_vcpu}")
    if problem.max_moves is not None and moves > problem.max_moves:
        out.append(f"change budget: {moves} moves, at most {problem.max_moves} per run")
    if problem.max_one_off_micro_usd is not None and one_off > problem.max_one_off_micro_usd:
        out.append(
            f"change budget: {_usd(one_off)} one-off spend, "
            f"at most {_usd(problem.max_one_off_micro_usd)} per run"
        )
    return Validation(tuple(out), plan_cost(problem, plan))
