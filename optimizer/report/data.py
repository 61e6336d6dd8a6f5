"""Gather one week's report from the store, in one read transaction.

The week is an ISO week (Monday to Sunday). By default it is the last complete week in
the store's data: the week ending on the newest day with cost records when that day is
a Sunday, else the week before. With no cost records at all, the last complete week
before today.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy.engine import Engine

from optimizer.report import ops, spend
from optimizer.report.model import ReportData, Totals, Week
from optimizer.report.settings import ReportSettings
from store.types import utcnow


def default_week(end: date | None, today: date) -> Week:
    """The last complete week of data (see the module doc)."""
    last = end if end is not None else today - timedelta(days=1)
    sunday = last if last.weekday() == 6 else last - timedelta(days=last.weekday() + 1)
    return Week.containing(sunday)


def gather(
    engine: Engine,
    settings: ReportSettings,
    week_of: date | None = None,
    stale_after_hours: float = 48.0,
    now: datetime | None = None,
) -> ReportData:
    """Everything the report shows, read in one transaction so the parts agree."""
    now = now or utcnow()
    with engine.connect() as conn, conn.begin():
        end = spend.data_end(conn)
        week = Week.containing(week_of) if week_of else default_week(end, now.date())
        first = week.end - timedelta(days=7 * settings.weeks - 1)
        last = week.end + timedelta(days=settings.ahead_days)
        days = tuple(first + timedelta(days=i) for i in range((last - first).days + 1))
        read_from = min(first, week.start - timedelta(days=7))  # the previous week too
        daily = spend.read_daily(conn, read_from, last, settings.owner_tags)
        clouds = spend.series(daily.cloud, days, week, end)
        services = spend.series(daily.service, days, week, end, settings.series_limit)
        owners = spend.series(daily.owner, days, week, end, settings.series_limit)
        band_list, stored = spend.bands(conn, days)
        anomalies = spend.anomalies(stored, band_list, clouds, days, week, settings.anomaly_min_usd)
        recs = ops.recommendations(conn, week)
        applied = ops.applied(conn, week)
        fresh = ops.freshness(conn, now, stale_after_hours)
    previous = Week(week.start - timedelta(days=7), week.end - timedelta(days=7))
    open_total, open_count = ops.open_savings(recs)
    totals = Totals(
        week=spend.week_sum(_total(daily.cloud), week),
        previous_week=spend.week_sum(_total(daily.cloud), previous),
        other_charges_week=spend.week_sum(daily.other_charges, week),
        open_savings=open_total,
        open_recommendations=open_count,
        new_recommendations=ops.new_in_week(recs, week),
        anomalies_in_week=sum(a.in_week for a in anomalies),
        applied_in_week=sum(
            week.start <= a.created_at.date() <= week.end and a.status != "failed" for a in applied
        ),
        rolled_back_in_week=sum(
            a.rolled_back_at is not None and week.start <= a.rolled_back_at.date() <= week.end
            for a in applied
        ),
        stale_sources=sum(f.stale for f in fresh),
    )
    return ReportData(
        generated_at=now,
        week=week,
        days=days,
        data_end=end,
        totals=totals,
        by_cloud=clouds,
        by_service=services,
        by_owner=owners,
        owner_tags=tuple(settings.owner_tags),
        bands=band_list,
        anomalies=anomalies,
        savings=ops.savings_by_kind(recs),
        recommendations=tuple(recs[: settings.top]),
        applied=applied,
        freshness=fresh,
    )


def _total(by_key: dict[str, dict[date, Decimal]]) -> dict[date, Decimal]:
    out: dict[date, Decimal] = {}
    for daily in by_key.values():
        for d, v in daily.items():
            out[d] = out.get(d, Decimal(0)) + v
    return out
