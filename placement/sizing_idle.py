"""`idle` recommendations: workloads that use (almost) nothing, per `placement.sizing`'s
idle rule, read from `Demand.idle_note` that the builder set.

Pure, like `placement.recommend`. An idle workload is still placed by the solver (nothing
is deleted on our word): this recommendation comes IN ADDITION to any placement one and
asks a human to confirm with the owner, then stop or delete. Its monthly saving is what
the workload costs today per 730-hour month (compute + expected spot restarts, as
`monthly_micro_usd` counts it), its one-off cost is 0. Its fingerprint hashes only the
kind and the workload name, so it keeps its identity across runs for as long as the
workload stays idle, whatever its price or placement.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal

from placement.problem import Problem
from placement.recommend import Parts, Recommendation, monthly_micro_usd, placement_dict, usd

KIND = "idle"


def idle_fingerprint(workload: str) -> str:
    """sha256 of "idle:" and the workload name (never equal to a placement one, which
    hashes the name and the proposed offers)."""
    return hashlib.sha256(f"{KIND}:{workload}".encode()).hexdigest()


def idle_recommendations(problem: Problem) -> list[Recommendation]:
    """One `idle` recommendation per idle demand, largest monthly saving first."""
    out: list[Recommendation] = []
    for d in problem.demands:
        if not d.idle_note:
            continue
        today: Parts = ((d.current_offer_id, d.replicas),) if d.current_offer_id is not None else ()
        monthly = usd(monthly_micro_usd(problem, today)) if today else Decimal(0)
        price = (
            f"cost: {monthly:,.2f} USD/month today (compute for {d.replicas} replica(s)), "
            "all of it saved once stopped"
            if today
            else "cost: today's offer is unknown to the price list, so no saving is counted"
        )
        current = placement_dict(problem, today) if today else {"offers": [], "replicas": 0}
        out.append(
            Recommendation(
                fingerprint=idle_fingerprint(d.id),
                kind=KIND,
                subject=d.id,
                current=current,
                proposed={
                    "offers": [],
                    "replicas": 0,
                    "monthly_usd": "0",
                    "action": "stop-or-delete",
                    "summary": "stopped or deleted, once its owner confirms it is unused",
                },
                monthly_savings=monthly,
                monthly_savings_p10=monthly,
                monthly_savings_p90=monthly,
                one_off_cost=Decimal(0),
                payback_days=0.0 if monthly > 0 else None,
                reasons=(
                    d.idle_note,
                    price,
                    "the placement plan still places it (nothing is deleted without its owner)",
                ),
                alternatives=(),
                compliance=False,
            )
        )
    out.sort(key=lambda r: (-r.monthly_savings, r.subject))
    return out
