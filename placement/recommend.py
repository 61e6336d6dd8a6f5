"""Recommendations from a solved placement: one per workload whose plan differs from today.

Pure: reads a `Problem` and a `Solution`, touches no store. Money here is `Decimal` USD
(exact: micro-USD / 10^6), per month of 730 hours:

- monthly cost of a placement = Σ replicas × (hourly price × 730 + expected spot restart
  cost per month), the recurring part of the solver's objective (see `placement.cost`);
- monthly savings = today's monthly cost − the proposed one (0 when today's offer is
  unknown); the p10–p90 range equals p50: instance-hours cost the same whatever the
  demand, which the forecast already used to size the instance;
- one-off cost = the move cost of every distinct new offer (egress + fixed move cost);
- payback days = one-off / daily saving (daily = monthly × 12 / 365), None with no saving.

Kinds: `move` (another provider or region, or today's offer unknown; a move that also
changes size stays a `move`, its reasons carry the sizing), `purchase-option` (same
region and instance type, another purchase option) and `resize` (same region, another
instance type: a smaller or bigger one when sizing from utilization asks for it, see
`placement.sizing`). Idle workloads get an `idle` recommendation on top, see
`placement.sizing_idle`. `fingerprint` hashes the workload name and the proposed offers
(by what they are, not by price-row id) so a recommendation keeps its identity across runs.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from placement.cost import BUCKET_PPM, HOURS_PER_MONTH, risk_micro_usd
from placement.problem import MICRO, Demand, Offer, Problem
from placement.solve import Solution
from placement.validate import regions_covered, zones_covered

Parts = tuple[tuple[int, int], ...]
MAX_ALTERNATIVES = 3


@dataclass(frozen=True)
class Recommendation:
    fingerprint: str
    kind: str  # move | purchase-option | resize | idle
    subject: str  # the workload's name
    current: dict[str, Any]
    proposed: dict[str, Any]
    monthly_savings: Decimal
    monthly_savings_p10: Decimal
    monthly_savings_p90: Decimal
    one_off_cost: Decimal
    payback_days: float | None
    reasons: tuple[str, ...]
    alternatives: tuple[dict[str, Any], ...]
    compliance: bool  # required by policy (`Demand.must_move`)


def usd(micro: int) -> Decimal:
    """Integer micro-USD to exact Decimal USD."""
    return Decimal(micro) / MICRO


def describe(offer: Offer) -> str:
    """`aws us-east-1a m5.large on_demand`: provider, region (or zone), type, option."""
    where = offer.zone or offer.region
    return f"{offer.provider} {where} {offer.instance_type} {offer.purchase_option}"


def monthly_micro_usd(problem: Problem, parts: Parts) -> int:
    """Recurring cost of `parts` per 730-hour month: compute + expected spot restarts."""
    total = 0
    for offer_id, n in parts:
        o = problem.offer(offer_id)
        risk = risk_micro_usd(o, HOURS_PER_MONTH, problem.restart_micro_usd)
        total += n * (o.hourly_micro_usd * HOURS_PER_MONTH + risk)
    return total


def placement_dict(problem: Problem, parts: Parts) -> dict[str, Any]:
    """One side of a recommendation (today or proposed) as JSON-ready data."""
    return {
        "offers": [
            {
                "offer_id": oid,
                "offer": describe(problem.offer(oid)),
                "provider": problem.offer(oid).provider,
                "region": problem.offer(oid).region,
                "zone": problem.offer(oid).zone,
                "instance_type": problem.offer(oid).instance_type,
                "purchase_option": problem.offer(oid).purchase_option,
                "usd_per_hour": str(usd(problem.offer(oid).hourly_micro_usd)),
                "replicas": n,
            }
            for oid, n in parts
        ],
        "replicas": sum(n for _, n in parts),
        "monthly_usd": str(usd(monthly_micro_usd(problem, parts))),
    }


def _kind(problem: Problem, current: Offer | None, parts: Parts) -> str:
    if current is None:
        return "move"
    offers = [problem.offer(oid) for oid, _ in parts]
    if any((o.provider, o.region) != (current.provider, current.region) for o in offers):
        return "move"
    if all(o.instance_type == current.instance_type for o in offers):
        return "purchase-option"
    return "resize"


def fingerprint(problem: Problem, workload: str, parts: Parts) -> str:
    """sha256 of the workload name and the proposed offers with their replicas."""
    proposed = sorted(f"{describe(problem.offer(oid))}×{n}" for oid, n in parts)
    text = "\n".join([workload, *proposed])
    return hashlib.sha256(text.encode()).hexdigest()


def _one_off(d: Demand, parts: Parts) -> int:
    return sum(d.move_cost(oid) for oid in {oid for oid, n in parts if n > 0})


def _alternatives(problem: Problem, d: Demand, parts: Parts) -> tuple[dict[str, Any], ...]:
    """Up to 3 other eligible offers that can host the whole workload within its own
    rules (spot share, spread), cheapest per month first."""
    proposed = {oid for oid, _ in parts}
    options: list[tuple[int, int, int]] = []
    for oid in d.eligible:
        if oid in proposed:
            continue
        whole = ((oid, d.replicas),)
        spot = d.replicas if problem.offer(oid).is_spot else 0
        if (
            spot > d.max_spot_replicas
            or regions_covered(problem, whole) < d.min_regions
            or zones_covered(problem, whole) < d.min_zones
        ):
            continue
        options.append((monthly_micro_usd(problem, whole), d.move_cost(oid), oid))
    options.sort()
    return tuple(
        {
            "offer_id": oid,
            "offer": describe(problem.offer(oid)),
            "replicas": d.replicas,
            "monthly_usd": str(usd(monthly)),
            "one_off_usd": str(usd(move)),
            "stays": oid == d.current_offer_id,
        }
        for monthly, move, oid in options[:MAX_ALTERNATIVES]
    )


def _money(value: Decimal) -> str:
    return f"{value:,.2f} USD"


def _binding(problem: Problem, d: Demand, parts: Parts, binding: tuple[int, ...]) -> list[str]:
    """The policies that shaped this choice: the spot and spread policies that set its
    limits, quotas the LP found full (non-zero shadow price) where it runs or could run,
    and the policies that ruled out other offers for it."""
    out: list[str] = []
    if d.spot_policy and d.spot_share_cap < 1.0:
        out.append(
            f"binding policy `{d.spot_policy}`: at most {d.max_spot_replicas} of "
            f"{d.replicas} replicas on spot"
        )
    if d.spread_policy and d.min_regions > 1:
        out.append(f"binding policy `{d.spread_policy}`: at least {d.min_regions} regions")
    places = {(problem.offer(o).provider, problem.offer(o).region) for o in d.eligible}
    full = sorted(
        {
            (q.policy, f"{q.provider}:{q.region}")
            for i in binding
            if (q := problem.quotas[i]) and (q.provider, q.region) in places
        }
    )
    for name, where in full[:3]:
        out.append(f"binding policy `{name}`: the vCPU quota on {where} is full in this plan")
    if d.restricted_by:
        names = ", ".join(f"`{n}`" for n in d.restricted_by)
        out.append(f"other offers ruled out by {names} (see `optimizer policy explain {d.id}`)")
    return out


def _reasons(
    problem: Problem,
    d: Demand,
    parts: Parts,
    today_monthly: int | None,
    new_monthly: int,
    binding: tuple[int, ...] = (),
) -> tuple[str, ...]:
    out: list[str] = []
    if today_monthly is None:
        out.append(
            f"price: today's offer is unknown to the price list; proposed "
            f"{_money(usd(new_monthly))}/month"
        )
    else:
        delta = today_monthly - new_monthly
        out.append(
            f"price: {_money(usd(today_monthly))}/month today → {_money(usd(new_monthly))}"
            f"/month proposed ({'−' if delta >= 0 else '+'}{_money(abs(usd(delta)))}/month)"
        )
    if d.must_move and d.undersized:
        today = problem.offer(d.current_offer_id) if d.current_offer_id is not None else None
        has = f"{today.vcpu} vCPU / {today.memory_gib:g} GiB" if today else "unknown"
        out.append(
            f"required by sizing: today's instance ({has}) is smaller than one replica "
            f"needs ({d.vcpu} vCPU / {d.memory_gib:g} GiB)"
        )
    elif d.must_move:
        out.append(
            "required by policy: today's placement breaks this workload's policies "
            "(ineligible or unknown offer, too much spot, or too little spread)"
        )
    spot = [(problem.offer(oid), n) for oid, n in parts if problem.offer(oid).is_spot]
    if spot:
        n_spot = sum(n for _, n in spot)
        risk = sum(
            n * risk_micro_usd(o, HOURS_PER_MONTH, problem.restart_micro_usd) for o, n in spot
        )
        buckets = sorted(
            {o.interruption_bucket for o, _ in spot}, key=lambda b: -1 if b is None else b
        )
        rates = ", ".join(
            "unknown (counted as the riskiest)"
            if b is None
            else f"~{BUCKET_PPM[min(max(b, 0), len(BUCKET_PPM) - 1)] / 10_000:g}%/month"
            for b in buckets
        )
        out.append(
            f"spot risk: {n_spot} of {d.replicas} replicas on spot, interruptions {rates}; "
            f"expected restart cost {_money(usd(risk))}/month is included"
        )
    if d.min_regions > 1 or d.min_zones > 1:
        out.append(f"spread: at least {d.min_regions} region(s) and {d.min_zones} zone(s) kept")
    out.extend(_binding(problem, d, parts, binding))
    if d.sizing_note:
        out.append(
            d.sizing_note if d.sizing_note.startswith("sized ") else f"sizing: {d.sizing_note}"
        )
    out.append(
        "range: p10 = p90 = p50: the instances cost the same at any demand (the forecast, "
        "where there is one, chose their size)"
    )
    return tuple(out)


def recommend(problem: Problem, solution: Solution) -> list[Recommendation]:
    """One recommendation per placed workload whose plan differs from today, largest
    monthly saving first (ties: workload name)."""
    out: list[Recommendation] = []
    for d in problem.demands:
        parts: Parts = tuple(sorted(p for p in solution.plan.get(d.id, ()) if p[1] > 0))
        if not parts:
            continue  # unplaced: reported by the plan, not as a recommendation
        today: Parts = ((d.current_offer_id, d.replicas),) if d.current_offer_id is not None else ()
        if parts == today:
            continue
        current = problem.offer(d.current_offer_id) if d.current_offer_id is not None else None
        new_monthly = monthly_micro_usd(problem, parts)
        today_monthly = monthly_micro_usd(problem, today) if today else None
        saving = usd(today_monthly - new_monthly) if today_monthly is not None else Decimal(0)
        one_off = usd(_one_off(d, parts))
        daily = saving * 12 / 365
        payback = float(one_off / daily) if daily > 0 else None
        out.append(
            Recommendation(
                fingerprint=fingerprint(problem, d.id, parts),
                kind=_kind(problem, current, parts),
                subject=d.id,
                current=placement_dict(problem, today) if today else {"offers": [], "replicas": 0},
                proposed=placement_dict(problem, parts),
                monthly_savings=saving,
                monthly_savings_p10=saving,
                monthly_savings_p90=saving,
                one_off_cost=one_off,
                payback_days=payback,
                reasons=_reasons(
                    problem, d, parts, today_monthly, new_monthly, solution.binding_quotas
                ),
                alternatives=_alternatives(problem, d, parts),
                compliance=d.must_move,
            )
        )
    out.sort(key=lambda r: (-r.monthly_savings, r.subject))
    return out
