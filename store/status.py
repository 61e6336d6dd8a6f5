"""What the store holds, for `optimizer status`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

from store.costs import CostTotals, totals
from store.models import SourceState
from store.types import utcnow

COUNTED_TABLES = (
    "cost_record", "usage_sample", "price_offer", "region", "latency", "egress_price",
    "storage_tier_price", "workload", "storage_group", "forecast", "plan",
    "recommendation", "audit_event", "run",
)  # fmt: skip


@dataclass(frozen=True)
class SourceStatus:
    source_key: str
    source_type: str
    last_status: str
    last_success_at: datetime | None
    rows: int
    period_start: datetime | None
    period_end: datetime | None
    age_hours: float | None
    detail: str | None


@dataclass(frozen=True)
class StoreStatus:
    counts: dict[str, int]
    costs: CostTotals
    sources: list[SourceStatus]
    usage_period: tuple[datetime | None, datetime | None]


def store_status(conn: Connection) -> StoreStatus:
    meta = SQLModel.metadata
    counts = {
        name: int(
            conn.execute(sa.select(sa.func.count()).select_from(meta.tables[name])).scalar_one()
        )
        for name in COUNTED_TABLES
    }
    now = utcnow()
    st = SourceState.__table__  # type: ignore[attr-defined]
    sources = []
    for row in conn.execute(sa.select(st).order_by(st.c.source_key)).mappings():
        success = row["last_success_at"]
        sources.append(
            SourceStatus(
                source_key=row["source_key"],
                source_type=row["source_type"],
                last_status=row["last_status"],
                last_success_at=success,
                rows=row["rows"],
                period_start=row["period_start"],
                period_end=row["period_end"],
                age_hours=None if success is None else (now - success).total_seconds() / 3600,
                detail=row["detail"],
            )
        )
    usage = meta.tables["usage_sample"]
    ts_type = usage.c.ts.type
    first, last = conn.execute(
        sa.select(sa.func.min(usage.c.ts, type_=ts_type), sa.func.max(usage.c.ts, type_=ts_type))
    ).one()
    return StoreStatus(counts, totals(conn), sources, (first, last))
