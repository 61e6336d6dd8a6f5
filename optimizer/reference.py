"""The shipped public reference facts, for a store filled by the cloud collectors.

The collectors read spend, inventory, utilization and live prices, but no cloud API gives
the facts placement also needs: region locations and jurisdictions, measured inter-region
latency, egress prices and storage tier facts. Those come from the public snapshot that
ships with optimizer (optimizer/demo/snapshot, attributed in its NOTICE.md). Its list
prices only fill offers no collector has priced: a live catalog price is never replaced
by the dated snapshot (`store.prices.write_offers(fill_only=True)`).
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from optimizer.audit_events import collected
from optimizer.demo.snapshot_loader import Snapshot, load_snapshot, write_facts
from store.models import Region
from store.prices import Offer, write_offers
from store.types import utcnow

REGIONS: sa.Table = Region.__table__  # type: ignore[attr-defined]
SOURCE = "reference-snapshot"


def has_reference(engine: Engine) -> bool:
    """Whether the store has region facts (the demo or `collect reference` wrote them)."""
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(REGIONS)).scalar_one() > 0


def _offers(snap: Snapshot) -> list[Offer]:
    return [
        Offer(
            provider=o.provider, region=o.region, instance_type=o.instance_type, vcpu=o.vcpu,
            memory_gib=o.memory_gib, purchase_option=o.purchase_option,
            usd_per_hour=o.usd_per_hour, source=o.source or SOURCE, family=o.family,
            category=o.category, interruption_bucket=o.interruption_bucket,
        )
        for o in snap.offers
    ]  # fmt: skip


def load_reference(engine: Engine, at: datetime | None = None) -> dict[str, int]:
    """Write the snapshot's facts, and its offers where no open price exists, in one
    transaction with its audit event; returns rows per table (`price_offer` counts only
    new offers)."""
    snap = load_snapshot()
    with engine.begin() as conn:
        counts = write_facts(conn, snap)
        offered = write_offers(conn, _offers(snap), at or utcnow(), fill_only=True)
        counts["price_offer"] = offered.new
        counts["price_offer_already_priced"] = offered.unchanged
        collected(conn, "reference", SOURCE, "ok", dict(counts), None)
    return counts
