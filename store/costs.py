"""Typed queries over cost records: totals that stay exact on every database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from store.models import CostRecord
from store.money import canonical
from store.types import UTCDateTime, money_sum

T = CostRecord.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class CostTotals:
    rows: int
    billed_cost: Decimal
    effective_cost: Decimal
    period_start: datetime | None
    period_end: datetime | None


@dataclass(frozen=True)
class ServiceTotal:
    provider: str
    service: str | None
    rows: int
    billed_cost: Decimal
    effective_cost: Decimal


def _where(source_key: str | None) -> list[sa.ColumnElement[bool]]:
    return [] if source_key is None else [T.c.source_key == source_key]


def count(conn: Connection) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(T)).scalar_one())


def totals(conn: Connection, source_key: str | None = None) -> CostTotals:
    stmt = sa.select(
        sa.func.count(),
        money_sum(T.c.billed_cost),
        money_sum(T.c.effective_cost),
        sa.func.min(T.c.charge_period_start, type_=UTCDateTime),
        sa.func.max(T.c.charge_period_end, type_=UTCDateTime),
    ).where(*_where(source_key))
    rows, billed, effective, start, end = conn.execute(stmt).one()
    return CostTotals(
        int(rows), canonical(billed or Decimal(0)), canonical(effective or Decimal(0)), start, end
    )


def totals_by_service(conn: Connection, source_key: str | None = None) -> list[ServiceTotal]:
    stmt = (
        sa.select(
            T.c.provider_name,
            T.c.service_name,
            sa.func.count(),
            money_sum(T.c.billed_cost),
            money_sum(T.c.effective_cost),
        )
        .where(*_where(source_key))
        .group_by(T.c.provider_name, T.c.service_name)
        .order_by(T.c.provider_name, T.c.service_name)
    )
    return [
        ServiceTotal(p, s, int(n), canonical(b or Decimal(0)), canonical(e or Decimal(0)))
        for p, s, n, b, e in conn.execute(stmt)
    ]
