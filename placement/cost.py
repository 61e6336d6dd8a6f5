"""The solver-independent objective, in integer micro-USD over the problem's horizon.

cost(plan) = Σ_w Σ_(o, n) [ n × hourly(o) × horizon          compute
                          + n × risk(o)                         spot risk ]
           + Σ_w Σ_(distinct o ≠ current(w)) move(w, o)         one-off moves

- compute: the offer's hourly price per instance × replicas × horizon hours.
- spot risk (spot offers only): expected interruptions per replica over the horizon ×
  `Problem.restart_micro_usd`. Interruption buckets are monthly (730 h) frequencies,
  valued at their midpoints 2.5%, 7.5%, 12.5%, 17.5% and 25%; an unknown bucket counts as
  the riskiest. The default restart cost is 20 USD per interrupted replica: lost
  in-flight work, a cold cache and the re-provisioning time of an automated restart.
- move: egress of the workload's data to the new region + a fixed move cost, charged
  once per distinct offer that is not today's (see `Demand.move_micro_usd`).
- commitment credit (subtracted): for each commitment already bought, the matching
  on-demand use it covers, min(capacity, use) per hour × its rate × horizon. Each offer
  counts towards its most specific commitment only (`Problem.commitment_of`), so the
  credit is linear in the plan, identical in every solver, and never double counted.
"""

from __future__ import annotations

from dataclasses import dataclass

from placement.problem import Offer, Plan, Problem

# Midpoint interruption probability per month, per bucket, in parts per million.
BUCKET_PPM = (25_000, 75_000, 125_000, 175_000, 250_000)
HOURS_PER_MONTH = 730


def risk_micro_usd(offer: Offer, horizon_hours: int, restart_micro_usd: int) -> int:
    """Expected restart cost of one replica on `offer` over the horizon (0 unless spot)."""
    if not offer.is_spot:
        return 0
    bucket = len(BUCKET_PPM) - 1 if offer.interruption_bucket is None else offer.interruption_bucket
    ppm = BUCKET_PPM[min(max(bucket, 0), len(BUCKET_PPM) - 1)]
    return ppm * horizon_hours * restart_micro_usd // (1_000_000 * HOURS_PER_MONTH)


def unit_micro_usd(problem: Problem, offer: Offer) -> int:
    """Recurring cost of one replica on `offer` over the horizon: compute + spot risk."""
    return offer.hourly_micro_usd * problem.horizon_hours + risk_micro_usd(
        offer, problem.horizon_hours, problem.restart_micro_usd
    )


@dataclass(frozen=True)
class Cost:
    """A plan's objective split into its parts, all micro-USD over the horizon."""

    compute: int
    risk: int
    moves: int
    credit: int = 0  # commitments already paid for, subtracted

    @property
    def total(self) -> int:
        return self.compute + self.risk + self.moves - self.credit


def commitment_credit(problem: Problem, use: list[int]) -> int:
    """Credit over the horizon for `use[i]` units per hour of commitment i."""
    return sum(
        min(c.capacity, u) * c.rate_micro_usd * problem.horizon_hours
        for c, u in zip(problem.commitments, use, strict=True)
    )


def plan_cost(problem: Problem, plan: Plan) -> Cost:
    """The objective of `plan`; offers unknown to a demand's eligibility cost no move
    (the validator reports them)."""
    compute = risk = moves = 0
    use = [0] * len(problem.commitments)
    demands = {d.id: d for d in problem.demands}
    for wid, parts in plan.items():
        d = demands.get(wid)
        seen: set[int] = set()
        for offer_id, n in parts:
            o = problem.offer(offer_id)
            pool = problem.commitment_of(offer_id)
            if pool is not None:
                use[pool] += n * problem.commitments[pool].use_per_replica(o)
            compute += n * o.hourly_micro_usd * problem.horizon_hours
            risk += n * risk_micro_usd(o, problem.horizon_hours, problem.restart_micro_usd)
            if d is not None and offer_id not in seen and offer_id in d.eligible:
                moves += d.move_cost(offer_id)
            seen.add(offer_id)
    return Cost(compute, risk, moves, commitment_credit(problem, use))
