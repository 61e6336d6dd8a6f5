"""Daily spend by cloud, service and owner, the clouds' forecast bands, and anomalies.

Spend here is what the forecasts forecast (forecasts/load.py): FOCUS EffectiveCost of
`Usage` charges, amortised commitments included, so the band and the actuals are the
same quantity. Every other charge (purchases, taxes, credits, adjustments) is totalled
apart, so nothing billed is hidden. Sums are exact (`money_sum`).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from forecasts.load import SPEND_PREFIX
from forecasts.save import latest
from optimizer.report.model import Anomaly, Band, SpendSeries, Week
from store.models import CostRecord, ForecastPoint
from store.money import canonical
from store.types import UTCDateTime, money_sum

COSTS = CostRecord.__table__  # type: ignore[attr-defined]
POINTS = ForecastPoint.__table__  # type: ignore[attr-defined]
UNTAGGED = "(untagged)"
OTHER = "other"
CHUNK = 500
ZERO = Decimal(0)


def midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def data_end(conn: Connection) -> date | None:
    """The last day with a cost record."""
    newest = conn.execute(
        sa.select(sa.func.max(COSTS.c.charge_period_start, type_=UTCDateTime))
    ).scalar()
    return None if newest is None else newest.date()


def split_series(series_id: str) -> tuple[str, str, str]:
    """`spend:<provider>:<account>:<service>` -> (provider, account, service)."""
    parts = [*series_id[len(SPEND_PREFIX) :].split(":", 2), "-", "-"]
    provider, account, service = parts[:3]
    return provider, account, service


@dataclass(frozen=True)
class Daily:
    """Exact sums per key and day, and the window's non-usage charges."""

    cloud: dict[str, dict[date, Decimal]]
    service: dict[str, dict[date, Decimal]]
    owner: dict[str, dict[date, Decimal]]
    other_charges: dict[date, Decimal]


def owner_of(tags: Any, keys: Sequence[str]) -> str:
    """The first of `keys` (case-insensitive) among the row's tags, else `(untagged)`."""
    if not isinstance(tags, dict) or not tags:
        return UNTAGGED
    lowered = {str(k).lower(): v for k, v in tags.items()}
    for key in keys:
        value = lowered.get(key.lower())
        if value not in (None, ""):
            return str(value)
    return UNTAGGED


def read_daily(conn: Connection, first: date, last: date, owner_tags: Sequence[str]) -> Daily:
    """Two grouped queries over [first, last]: by cloud × service × category, and usage
    by tag set (owners are read from the tags in Python: JSON is text on both stores)."""
    day = sa.func.date(COSTS.c.charge_period_start).label("day")
    window = (
        COSTS.c.charge_period_start >= midnight(first),
        COSTS.c.charge_period_start < midnight(last + timedelta(days=1)),
    )
    cloud: dict[str, dict[date, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    service: dict[str, dict[date, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    other: dict[date, Decimal] = defaultdict(Decimal)
    q1 = (
        sa.select(day, COSTS.c.provider_name, COSTS.c.service_name, COSTS.c.charge_category,
                  money_sum(COSTS.c.effective_cost).label("cost"))
        .where(*window)
        .group_by(day, COSTS.c.provider_name, COSTS.c.service_name, COSTS.c.charge_category)
    )  # fmt: skip
    for row in conn.execute(q1):
        d, cost = as_date(row.day), row.cost or ZERO
        if row.charge_category != "Usage":
            other[d] += cost
            continue
        cloud[row.provider_name][d] += cost
        service[f"{row.provider_name} · {row.service_name or '-'}"][d] += cost
    owner: dict[str, dict[date, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    q2 = (
        sa.select(day, COSTS.c.tags, money_sum(COSTS.c.effective_cost).label("cost"))
        .where(*window, COSTS.c.charge_category == "Usage")
        .group_by(day, COSTS.c.tags)
    )
    for row in conn.execute(q2):
        owner[owner_of(row.tags, owner_tags)][as_date(row.day)] += row.cost or ZERO
    return Daily(cloud, service, owner, other)


def week_sum(daily: dict[date, Decimal], week: Week) -> Decimal:
    return canonical(sum((daily.get(d, ZERO) for d in week.days()), ZERO))


def series(
    by_key: dict[str, dict[date, Decimal]],
    days: Sequence[date],
    week: Week,
    end: date | None,
    limit: int | None = None,
) -> tuple[SpendSeries, ...]:
    """One series per key, biggest in the week first; past `limit`, the rest is `other`."""
    previous = Week(week.start - timedelta(days=7), week.end - timedelta(days=7))
    ranked = sorted(by_key, key=lambda k: (-week_sum(by_key[k], week), -sum(by_key[k].values()), k))
    kept = ranked if limit is None or len(ranked) <= limit else ranked[: limit - 1]
    groups: list[tuple[str, list[str]]] = [(k, [k]) for k in kept]
    if len(kept) < len(ranked):
        groups.append((OTHER, ranked[len(kept) :]))
    out = []
    for name, keys in groups:
        merged: dict[date, Decimal] = defaultdict(Decimal)
        for k in keys:
            for d, v in by_key[k].items():
                merged[d] += v
        daily = tuple(
            None if end is None or d > end else canonical(merged.get(d, ZERO)) for d in days
        )
        out.append(SpendSeries(name, daily, week_sum(merged, week), week_sum(merged, previous)))
    return tuple(out)


def _forecast_points(
    conn: Connection, ids: list[int], first: date, last: date
) -> Iterable[tuple[int, date, float, float, float]]:
    for i in range(0, len(ids), CHUNK):
        query = sa.select(POINTS.c.forecast_id, POINTS.c.ts, POINTS.c.p10, POINTS.c.p50,
                          POINTS.c.p90).where(
            POINTS.c.forecast_id.in_(ids[i : i + CHUNK]),
            POINTS.c.ts >= midnight(first), POINTS.c.ts < midnight(last + timedelta(days=1)),
        )  # fmt: skip
        for row in conn.execute(query):
            yield row.forecast_id, as_date(row.ts), row.p10, row.p50, row.p90


def bands(conn: Connection, days: Sequence[date]) -> tuple[tuple[Band, ...], list[Any]]:
    """Each cloud's band: the sum of its spend series' p50, the half-widths added in
    quadrature (independent series, as forecasts.save.summary does); and the stored
    forecasts, for their anomalies."""
    stored = [f for f in latest(conn, metrics=["spend"]).values()
              if f.series_id.startswith(SPEND_PREFIX)]  # fmt: skip
    cloud_of = {f.id: split_series(f.series_id)[0] for f in stored}
    acc: dict[tuple[str, date], list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    counted: dict[str, set[int]] = defaultdict(set)
    for fid, d, p10, p50, p90 in _forecast_points(conn, sorted(cloud_of), days[0], days[-1]):
        cell = acc[cloud_of[fid], d]
        cell[0] += p50
        cell[1] += max(0.0, p50 - p10) ** 2
        cell[2] += max(0.0, p90 - p50) ** 2
        counted[cloud_of[fid]].add(fid)
    out = []
    for cloud in sorted(counted):
        lo: list[float | None] = []
        mid: list[float | None] = []
        hi: list[float | None] = []
        for d in days:
            got = acc.get((cloud, d))
            lo.append(None if got is None else max(0.0, got[0] - math.sqrt(got[1])))
            mid.append(None if got is None else got[0])
            hi.append(None if got is None else got[0] + math.sqrt(got[2]))
        out.append(Band(cloud, tuple(lo), tuple(mid), tuple(hi), len(counted[cloud])))
    return tuple(out), stored


def _dec(value: float) -> Decimal:
    return canonical(Decimal(str(round(value, 2))))


def anomalies(
    stored: Sequence[Any],
    band_list: Sequence[Band],
    clouds: Sequence[SpendSeries],
    days: Sequence[date],
    week: Week,
    min_excess: float = 0.0,
) -> tuple[Anomaly, ...]:
    """Days outside a band by at least `min_excess` USD: the forecast stage's flags (its
    last 14 days against a 95% band fitted before them), and each cloud's actual day
    outside its stored p10-p90 band where both exist. Biggest miss first."""
    first, last = days[0], days[-1]
    found: list[Anomaly] = []
    for f in stored:
        provider, _account, service = split_series(f.series_id)
        for a in f.metrics.get("anomalies", []):
            d = as_date(a["ts"])
            if first <= d <= last and a.get("excess", 0.0) >= min_excess:
                found.append(Anomaly(
                    d, f.series_id, provider, service, _dec(a["actual"]),
                    _dec(max(0.0, a["lower"])),
                    _dec(a["upper"]), _dec(a["excess"]), "backtest 95% band",
                    week.start <= d <= week.end,
                ))  # fmt: skip
    actual = {s.key: s for s in clouds}
    for band in band_list:
        spend = actual.get(band.key)
        if spend is None:
            continue
        for i, d in enumerate(days):
            a, lo, hi = spend.daily[i], band.p10[i], band.p90[i]
            if a is None or lo is None or hi is None or lo <= float(a) <= hi:
                continue
            excess = float(a) - hi if float(a) > hi else lo - float(a)
            if excess < min_excess:
                continue
            found.append(Anomaly(
                d, band.key, band.key, "all services", a, _dec(lo), _dec(hi), _dec(excess),
                "forecast p10-p90 band", week.start <= d <= week.end,
            ))  # fmt: skip
    found.sort(key=lambda x: (-x.excess, x.day, x.series))
    return tuple(found)
