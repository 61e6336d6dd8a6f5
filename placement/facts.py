"""The store's facts that policy verdicts need, loaded once for many evaluations.

Shared by the problem builder and `optimizer policy explain`, so both judge an offer
from the same regions, measured latencies and egress prices.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from policies.evaluate import OfferFacts, RegionFacts, WorkloadFacts
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
