"""The store's facts that policy verdicts need, loaded once for many evaluations, and
the cached verdicts and per-group offer scan the builder runs over them.

Shared by the problem builder and `optimizer policy explain`, so both judge an offer
from the same regions, measured latencies and egress prices.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from placement.problem import Offer
from policies.base import PolicyBase
from policies.evaluate import OfferFacts, RegionFacts, WorkloadFacts, evaluate
from store.models import EgressPrice, Latency, Region

REGIONS = Region.__table__  # type: ignore[attr-defined]
LATENCY = Latency.__table__  # type: ignore[attr-defined]
EGRESS = EgressPrice.__table__  # type: ignore[attr-defined]

Pair = tuple[str, str, str, str]  # src provider, src region, dst provider, dst region


@dataclass(frozen=True)
class NetworkFacts:
    regions: dict[tuple[str, str], RegionFacts]
    rtts: dict[Pair, float]  # measured only
    egress: dict[Pair, Decimal]

    def region(self, provider: str, region: str) -> RegionFacts | None:
        return self.regions.get((provider, region))

    def rtt(self, a: str, b: str, c: str, d: str) -> float | None:
        return self.rtts.get((a, b, c, d))


def load_network_facts(conn: Connection) -> NetworkFacts:
    regions = {
        (r.provider, r.region): RegionFacts(r.country_code, r.jurisdiction, r.latitude, r.longitude)
        for r in conn.execute(sa.select(REGIONS))
    }
    rtts = {
        (r.src_provider, r.src_region, r.dst_provider, r.dst_region): r.rtt_ms
        for r in conn.execute(sa.select(LATENCY).where(LATENCY.c.measured.is_(True)))
    }
    egress = {
        (r.src_provider, r.src_region, r.dst_provider, r.dst_region): Decimal(r.usd_per_gb)
        for r in conn.execute(sa.select(EGRESS))
    }
    return NetworkFacts(regions, rtts, egress)


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def workload_facts(row: Any) -> WorkloadFacts:
    """From a `workload` row (ORM object or core row: JSON columns may still be text)."""
    return WorkloadFacts(
        name=row.name,
        provider=row.provider,
        region=row.region,
        tags=dict(_json(row.tags) or {}),
        data_classification=row.data_classification,
        owner=row.owner,
        user_regions=tuple(_json(row.user_regions) or ()),
    )


def offer_facts(offer: Any) -> OfferFacts:
    """What a verdict needs of an offer: a `price_offer` row or a placement `Offer`."""
    return OfferFacts(
        offer.provider,
        offer.region,
        offer.instance_type,
        offer.purchase_option,
        offer.family,
        offer.interruption_bucket,
    )


class Verdicts:
    """`policies.evaluate` with a cache: the names of the policies that block an offer."""

    def __init__(self, facts: NetworkFacts) -> None:
        self.facts = facts
        self.cache: dict[tuple[Any, ...], tuple[str, ...]] = {}

    def blocked(
        self, chosen: list[PolicyBase], wf: WorkloadFacts, key0: tuple[Any, ...], o: Offer
    ) -> tuple[str, ...]:
        # The verdict reads only the offer's place, purchase option and bucket.
        key = (*key0, o.provider, o.region, o.purchase_option, o.interruption_bucket)
        names = self.cache.get(key)
        if names is None:
            verdict = evaluate(chosen, wf, offer_facts(o), self.facts.region, self.facts.rtt)
            names = self.cache[key] = tuple(sorted({r.policy for r in verdict.reasons}))
        return names


Groups = dict[tuple[str, str, str | None, str], list[Offer]]


def scan(
    groups: Groups,
    vcpu: int,
    memory_gib: float,
    blocked: Callable[[Offer], tuple[str, ...]],
) -> tuple[list[Offer], dict[str, int], int]:
    """(cheapest eligible fitting offer per group, offers ruled out per policy, fitting
    offers looked at: 0 means none fits) for one workload class and size."""
    kept: list[Offer] = []
    ruled: dict[str, int] = {}
    fitting = 0
    for members in groups.values():
        for o in members:
            if o.vcpu < vcpu or o.memory_gib < memory_gib:
                continue
            fitting += 1
            names = blocked(o)
            if not names:
                kept.append(o)
                break
            for n in names:
                ruled[n] = ruled.get(n, 0) + 1
            if not o.is_spot:
                break  # the whole group shares this verdict
    return kept, ruled, fitting


def scan_cached(
    scans: dict[tuple[Any, ...], tuple[list[Offer], dict[str, int], int]],
    groups: Groups,
    key0: tuple[Any, ...],
    vcpu: int,
    memory: float,
    blocked: Callable[[Offer], tuple[str, ...]],
) -> tuple[list[Offer], dict[str, int], int]:
    """`scan`, once per verdict class and size."""
    key = (*key0, vcpu, memory)
    found = scans.get(key)
    if found is None:
        found = scans[key] = scan(groups, vcpu, memory, blocked)
    return found
