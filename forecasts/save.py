"""Forecasts into the store, in one transaction, and the latest ones back out.

Each series gets a `forecast` row on every run: the model used, its status (ok,
fallback, failed), the reason, the backtest metrics, the repairs made to its history,
its anomalies, and a `summary` of its band that placement sizes from without reading
the points. Only the latest forecast of a series keeps its points: older rows keep their
metrics (how the choice and the accuracy moved over time) but not hundreds of points
each, so a nightly run does not grow the store by a million rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from forecasts.job import PriorChoice, SeriesForecast, SeriesSpec, Settings
from forecasts.load import Problem
from store.bulk import upsert_rows
from store.models import Forecast, ForecastPoint
from store.types import SQLITE_DATETIME_FORMAT, utcnow

FORECASTS = Forecast.__table__  # type: ignore[attr-defined]
POINTS = ForecastPoint.__table__  # type: ignore[attr-defined]
CHUNK = 500
PRIOR_KEYS = ("origins", "candidate", "baseline", "backtest_horizon_hours", "backtest_why")


def granularity_of(step: timedelta) -> str:
    return "day" if step >= timedelta(days=1) else "hour"


DAYS_PER_MONTH = 30.4375


def summary(result: SeriesForecast) -> dict[str, float]:
    """What sizing, tiering and the report read without the points: percentiles over the
    horizon (issue #4: p90 sizes), and a month's total with its band. The total's band
    treats the steps as independent normals (half-widths add in quadrature), as
    placement.tiering's `access_from_daily` does for samples, so the two agree."""
    if not len(result.p50):
        return {}
    per_month = DAYS_PER_MONTH * (timedelta(days=1) / result.step) / len(result.p50)
    total = float(np.sum(result.p50)) * per_month
    up = float(np.sqrt(np.sum((result.upper - result.p50) ** 2))) * np.sqrt(per_month)
    down = float(np.sqrt(np.sum((result.p50 - result.lower) ** 2))) * np.sqrt(per_month)
    return {
        "upper_p90": float(np.percentile(result.upper, 90)),
        "p50_p90": float(np.percentile(result.p50, 90)),
        "lower_p10": float(np.percentile(result.lower, 10)),
        "p50_mean": float(np.mean(result.p50)),
        "upper_max": float(np.max(result.upper)),
        "month_p10": max(0.0, total - down),
        "month_p50": total,
        "month_p90": total + up,
    }


def _metrics(result: SeriesForecast, settings: Settings, now: datetime) -> dict[str, Any]:
    out = dict(result.metrics)
    if "backtest_why" in out and "chosen_at" not in out:
        out["chosen_at"] = now.isoformat()  # a backtest ran in this run
    out["seconds"] = round(result.seconds, 4)
    out["level"] = settings.level
    out["horizon_hours"] = int(settings.horizon / timedelta(hours=1))
    if result.start is not None:
        out["first_ts"] = result.start.isoformat()
        out["summary"] = summary(result)
    if result.anomalies:
        out["anomalies"] = [
            {
                "ts": a.ts.isoformat(),
                "actual": a.actual,
                "lower": a.lower,
                "upper": a.upper,
                "excess": a.excess,
            }
            for a in result.anomalies
        ]
    return out


def _drop_old_points(conn: Connection, keys: set[tuple[str, str]], keep: set[int]) -> None:
    old = [
        row.id
        for row in conn.execute(
            sa.select(FORECASTS.c.id, FORECASTS.c.series_id, FORECASTS.c.metric)
        )
        if (row.series_id, row.metric) in keys and row.id not in keep
    ]
    for i in range(0, len(old), CHUNK):
        conn.execute(sa.delete(POINTS).where(POINTS.c.forecast_id.in_(old[i : i + CHUNK])))


def save(
    conn: Connection,
    results: Sequence[SeriesForecast],
    problems: Sequence[Problem],
    settings: Settings,
    run_id: int | None = None,
) -> dict[str, int]:
    """Write every result (and every series that could not be loaded, as failed)."""
    now = utcnow()
    horizon_hours = int(settings.horizon / timedelta(hours=1))
    new_ids: set[int] = set()
    points: list[tuple[int, str, float, float, float]] = []
    rows: list[tuple[str, str, str, str, str, str, dict[str, Any], SeriesForecast | None]] = [
        (r.series_id, r.metric, r.model or "none", granularity_of(r.step), r.status, r.reason,
         _metrics(r, settings, now), r)
        for r in results
    ] + [
        (p.series_id, p.metric, "none", "hour", "failed", p.reason, {}, None) for p in problems
    ]  # fmt: skip
    for sid, metric, model, gran, status, reason, metrics, result in rows:
        inserted = conn.execute(
            sa.insert(FORECASTS).values(
                run_id=run_id, series_id=sid, metric=metric, model=model, granularity=gran,
                horizon_hours=horizon_hours, created_at=now, metrics=metrics,
                reason=reason, status=status,
            )
        ).inserted_primary_key  # fmt: skip
        assert inserted is not None
        fid = int(inserted[0])
        new_ids.add(fid)
        if result is not None and result.start is not None:
            for ts, lo, mid, hi in zip(
                result.timestamps(), result.lower, result.p50, result.upper, strict=True
            ):
                points.append(
                    (fid, ts.strftime(SQLITE_DATETIME_FORMAT), float(lo), float(mid), float(hi))
                )
    # A failed run keeps the previous forecast's points: they are still the latest usable.
    _drop_old_points(conn, {(r[0], r[1]) for r in rows if r[7] is not None and r[7].start}, new_ids)
    upsert_rows(conn, "forecast_point", ("forecast_id", "ts", "p10", "p50", "p90"), points,
                ("forecast_id", "ts"))  # fmt: skip
    counts: dict[str, int] = {}
    for row in rows:
        counts[row[4]] = counts.get(row[4], 0) + 1
    counts["points"] = len(points)
    return counts


@dataclass(frozen=True)
class StoredForecast:
    id: int
    series_id: str
    metric: str
    model: str
    status: str
    reason: str | None
    created_at: datetime
    metrics: dict[str, Any]


def latest(
    conn: Connection, metrics: Sequence[str] | None = None, usable_only: bool = True
) -> dict[tuple[str, str], StoredForecast]:
    """The newest forecast of every (series, metric), usable ones only by default."""
    newest = sa.select(sa.func.max(FORECASTS.c.id).label("id")).group_by(
        FORECASTS.c.series_id, FORECASTS.c.metric
    )
    if metrics is not None:
        newest = newest.where(FORECASTS.c.metric.in_(list(metrics)))
    if usable_only:
        newest = newest.where(FORECASTS.c.status != "failed")
    query = sa.select(FORECASTS).where(FORECASTS.c.id.in_(newest.scalar_subquery()))
    out = {}
    for row in conn.execute(query):
        out[(row.series_id, row.metric)] = StoredForecast(
            row.id, row.series_id, row.metric, row.model, row.status, row.reason,
            row.created_at, row.metrics or {},
        )  # fmt: skip
    return out


def prior_of(
    model: str, status: str, metrics: dict[str, Any], chosen_at: datetime
) -> PriorChoice | None:
    """The choice a backtest made, to reuse; None when no backtest chose (a fallback, a
    failure)."""
    if status != "ok" or "backtest_why" not in metrics:
        return None
    keep = {k: metrics[k] for k in PRIOR_KEYS if k in metrics}
    return PriorChoice(model, chosen_at, str(metrics["backtest_why"]), keep)


def attach_priors(
    conn: Connection, specs: Sequence[SeriesSpec], settings: Settings, now: datetime | None = None
) -> list[SeriesSpec]:
    """The specs, each with the choice of its latest backtest when that is younger than
    `settings.reselect_days` (see forecasts.job); unchanged when reselect_days is 0."""
    if settings.reselect_days <= 0:
        return list(specs)
    cutoff = (now or utcnow()) - timedelta(days=settings.reselect_days)
    stored = latest(conn)
    out = []
    for spec in specs:
        f = stored.get((spec.series_id, spec.metric))
        chosen_at = f.metrics.get("chosen_at") if f else None
        when = datetime.fromisoformat(str(chosen_at)) if chosen_at else None
        prior = prior_of(f.model, f.status, f.metrics, when) if f and when else None
        out.append(replace(spec, prior=prior) if prior and prior.chosen_at >= cutoff else spec)
    return out


def points(conn: Connection, forecast_id: int) -> list[tuple[datetime, float, float, float]]:
    query = (
        sa.select(POINTS.c.ts, POINTS.c.p10, POINTS.c.p50, POINTS.c.p90)
        .where(POINTS.c.forecast_id == forecast_id)
        .order_by(POINTS.c.ts)
    )
    return [(r.ts, r.p10, r.p50, r.p90) for r in conn.execute(query)]
