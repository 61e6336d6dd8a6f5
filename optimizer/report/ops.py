"""What the pipeline found and did: savings by kind, the top recommendations with their
explanation and approval, applied and rolled-back changes, and data freshness."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from optimizer.recommendation_text import offers_text
from optimizer.report.model import AppliedRow, Freshness, KindSavings, RecRow, Week, usd
from optimizer.report.spend import as_date, midnight
from store.models import (
    AppliedChange,
    CostRecord,
    Forecast,
    IngestedFile,
    Plan,
    Recommendation,
    SourceState,
    UsageSample,
)
from store.money import canonical
from store.types import UTCDateTime

RECS = Recommendation.__table__  # type: ignore[attr-defined]
APPLIED = AppliedChange.__table__  # type: ignore[attr-defined]
COSTS = CostRecord.__table__  # type: ignore[attr-defined]
FILES = IngestedFile.__table__  # type: ignore[attr-defined]
STATES = SourceState.__table__  # type: ignore[attr-defined]
OPEN = ("proposed", "approved")
HISTORY = ("superseded",)  # replaced by a later plan: not a finding any more


def _alternative(a: dict[str, Any]) -> str:
    money = a.get("monthly_usd")
    text = f"{a.get('offer', '?')}: {usd(Decimal(str(money))) if money is not None else '–'}/month"
    if a.get("one_off_usd") not in (None, "0", "0.000000"):
        text += f", one-off {usd(Decimal(str(a['one_off_usd'])))}"
    return text


def recommendations(conn: Connection, week: Week) -> list[RecRow]:
    """Every recommendation that is still a finding (not superseded), biggest first."""
    rows = conn.execute(sa.select(RECS).where(RECS.c.status.not_in(HISTORY)))
    out = [
        RecRow(
            id=r.id, kind=r.kind, subject=r.subject, status=r.status, status_by=r.status_by,
            status_reason=r.status_reason, status_at=r.status_at, created_at=r.created_at,
            monthly_savings=canonical(r.monthly_savings),
            monthly_savings_p10=None if r.monthly_savings_p10 is None
            else canonical(r.monthly_savings_p10),
            monthly_savings_p90=None if r.monthly_savings_p90 is None
            else canonical(r.monthly_savings_p90),
            one_off_cost=canonical(r.one_off_cost), payback_days=r.payback_days,
            current=offers_text(r.current), proposed=offers_text(r.proposed),
            reasons=tuple(r.reasons or ()),
            alternatives=tuple(_alternative(a) for a in r.alternatives or ()),
        )
        for r in rows
    ]  # fmt: skip
    out.sort(key=lambda r: (-r.monthly_savings, r.id))
    return out


def savings_by_kind(recs: Sequence[RecRow]) -> tuple[KindSavings, ...]:
    acc: dict[tuple[str, str], list[Any]] = defaultdict(lambda: [0, Decimal(0)])
    for r in recs:
        cell = acc[r.kind, r.status]
        cell[0] += 1
        cell[1] += r.monthly_savings
    return tuple(
        KindSavings(kind, status, n, canonical(total))
        for (kind, status), (n, total) in sorted(acc.items(), key=lambda kv: (-kv[1][1], kv[0]))
    )


def applied(conn: Connection, week: Week) -> tuple[AppliedRow, ...]:
    """Changes made or rolled back in the week (either timestamp inside it)."""
    lo, hi = midnight(week.start), midnight(week.end + timedelta(days=1))
    query = (
        sa.select(APPLIED, RECS.c.subject)
        .join(RECS, RECS.c.id == APPLIED.c.recommendation_id)
        .where(
            sa.or_(
                sa.and_(APPLIED.c.created_at >= lo, APPLIED.c.created_at < hi),
                sa.and_(APPLIED.c.rolled_back_at >= lo, APPLIED.c.rolled_back_at < hi),
            )
        )
        .order_by(APPLIED.c.created_at, APPLIED.c.id)
    )
    return tuple(
        AppliedRow(r.id, r.recommendation_id, r.subject, r.provider, r.target, r.action,
                   r.status, r.actor, int(r.bytes or 0), int(r.objects or 0), r.created_at,
                   r.rolled_back_at, r.error)
        for r in conn.execute(query)
    )  # fmt: skip


def _age(now: datetime, when: datetime | None) -> float | None:
    return None if when is None else round((now - when).total_seconds() / 3600, 1)


def freshness(conn: Connection, now: datetime, stale_after_hours: float) -> tuple[Freshness, ...]:
    """Each billing source (source_state, its cost records and files), then the usage
    samples, the latest forecast and the latest plan: when each last succeeded and how
    far its data reaches. Stale: no success within `[run] stale_after_hours`."""
    newest_day = sa.func.max(COSTS.c.charge_period_start, type_=UTCDateTime)
    costs = {
        r.source_key: (as_date(r.newest), int(r.n))
        for r in conn.execute(
            sa.select(COSTS.c.source_key, newest_day.label("newest"), sa.func.count().label("n"))
            .group_by(COSTS.c.source_key)
        )
    }  # fmt: skip
    files: dict[str, datetime] = dict(
        conn.execute(
            sa.select(
                FILES.c.source_key, sa.func.max(FILES.c.ingested_at, type_=UTCDateTime)
            ).group_by(FILES.c.source_key)
        ).all()
    )
    out: list[Freshness] = []
    seen: set[str] = set()
    for s in conn.execute(sa.select(STATES).order_by(STATES.c.source_key)):
        seen.add(s.source_key)
        end, n = costs.get(s.source_key, (None, 0))
        success = s.last_success_at or files.get(s.source_key)
        age = _age(now, success)
        out.append(Freshness(
            s.source_key, s.source_type, s.last_status, success, end, n, age,
            age is None or age > stale_after_hours, s.detail or "",
        ))  # fmt: skip
    for key in sorted(set(costs) - seen):  # rows whose source has no state (older stores)
        end, n = costs[key]
        when = files.get(key)
        age = _age(now, when)
        out.append(
            Freshness(
                key,
                "focus",
                "unknown",
                when,
                end,
                n,
                age,
                age is None or age > stale_after_hours,
                "no source_state row",
            )
        )
    out.extend(_pipeline(conn, now, stale_after_hours))
    return tuple(out)


def _pipeline(conn: Connection, now: datetime, stale_after_hours: float) -> list[Freshness]:
    usage = UsageSample.__table__  # type: ignore[attr-defined]
    forecast = Forecast.__table__  # type: ignore[attr-defined]
    plan = Plan.__table__  # type: ignore[attr-defined]
    ts = usage.c.ts
    newest, n = conn.execute(sa.select(sa.func.max(ts, type_=ts.type), sa.func.count())).one()
    made = conn.execute(
        sa.select(sa.func.max(forecast.c.created_at, type_=UTCDateTime), sa.func.count())
    ).one()
    planned = conn.execute(
        sa.select(sa.func.max(plan.c.created_at, type_=UTCDateTime), sa.func.count())
    ).one()
    rows = []
    for name, kind, when, count, end in (
        ("usage samples", "usage", newest, n, None if newest is None else newest.date()),
        ("latest forecast", "forecast", made[0], made[1], None),
        ("latest plan", "plan", planned[0], planned[1], None),
    ):
        age = _age(now, when)
        status = "never" if when is None else "ok"
        rows.append(Freshness(name, kind, status, when, end, int(count), age,
                              age is None or age > stale_after_hours, ""))  # fmt: skip
    return rows


def new_in_week(recs: Sequence[RecRow], week: Week) -> int:
    return sum(week.start <= r.created_at.date() <= week.end for r in recs)


def open_savings(recs: Sequence[RecRow]) -> tuple[Decimal, int]:
    found = [r for r in recs if r.status in OPEN]
    return canonical(sum((r.monthly_savings for r in found), Decimal(0))), len(found)
