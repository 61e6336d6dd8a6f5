"""Commitments already bought, from the `commitments` policies, as solver `Commitment`s.

Why a separate step: the policy states what was bought (kind, scope, size, expiry); the
solver needs what one covered unit is worth. For vCPU commitments that is the cheapest
matching on-demand price per vCPU-hour among the current offers, so the credit is never
overstated; spend commitments cover their USD per hour of on-demand price one for one.
`from_store: true` (reading commitments from billing data) is not read yet: such a
policy contributes only its listed items, and the plan's notes say so.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from placement.problem import MICRO, Commitment, Offer
from policies import CommitmentsPolicy, PolicyFile
from policies.change_rules import Commitment as Bought

# Purchase options placement may choose for a workload not already on it: a new
# commitment (commit_1y / commit_3y) is a purchase with a multi-year lock-in, decided by
# people, not a placement; a workload already on one keeps it as an option.
NEW_PURCHASE_OPTIONS = frozenset({"on_demand", "spot"})
NO_NEW_COMMITMENTS = "no new commitments"


def _scope(c: Bought, name: str, unit: str, capacity: int, rate: int) -> Commitment:
    return Commitment(
        name=name,
        provider=c.provider,
        unit=unit,
        capacity=capacity,
        rate_micro_usd=rate,
        region=c.region,
        family=c.family,
        instance_type=c.instance_type,
    )


def commitment_pools(
    policies: PolicyFile, offers: Sequence[Offer], today: date
) -> tuple[tuple[Commitment, ...], tuple[str, ...]]:
    """(the active commitments, notes on what was left out and why)."""
    pools: list[Commitment] = []
    notes: list[str] = []
    for p in policies.of_type(CommitmentsPolicy):
        if p.from_store:
            notes.append(f"{p.name}: from_store is not read yet; only its listed items count")
        for k, c in enumerate(p.items):
            name = f"{p.name}[{k}]"
            if not c.active_on(today):
                notes.append(f"{name}: expired on {c.expires}")
                continue
            if c.usd_per_hour is not None:
                capacity = int(c.usd_per_hour * MICRO)
                pools.append(_scope(c, name, "usd", capacity, 1))
                continue
            probe = _scope(c, name, "vcpu", int(c.vcpu or 0), 0)
            rates = [o.hourly_micro_usd // o.vcpu for o in offers if probe.covers(o) and o.vcpu]
            if not rates:
                notes.append(f"{name}: no current on-demand offer in its scope")
                continue
            pools.append(_scope(c, name, "vcpu", int(c.vcpu or 0), min(rates)))
    return tuple(pools), tuple(notes)
