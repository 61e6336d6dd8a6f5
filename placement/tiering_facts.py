"""Load what tiering decisions need from the store (SQLAlchemy core): storage groups,
storage-class prices merged with the defaults of `tiering_prices`, and the last 30 days
of access samples per group.

Access is next month's forecast (issue #4) where a fresh one exists for both
`gb_retrieved` and `get_requests`; otherwise the last 30 days of samples before the
newest sample in the store. The reasons say which.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from placement.lifecycle_rules import rule_effects
from placement.problem import MICRO
from placement.tiering import Access, GroupFacts, TierFacts, access_from_daily
from placement.tiering_prices import CLASSES, UNKNOWN_RETRIEVAL_PER_GB
from store.models import StorageGroup, StorageTierPrice, UsageSample
from store.types import utcnow

GROUPS = StorageGroup.__table__  # type: ignore[attr-defined]
TIERS = StorageTierPrice.__table__  # type: ignore[attr-defined]
SAMPLES = UsageSample.__table__  # type: ignore[attr-defined]
ACCESS_DAYS = 30
FRESH = timedelta(days=2)
GB_METRIC, GET_METRIC = "gb_retrieved", "get_requests"


@dataclass(frozen=True)
class TieringInput:
    group: GroupFacts
    tiers: dict[str, TierFacts]  # the classes of its provider, priced for its region
    access: Access
    notes: tuple[str, ...]  # e.g. another region's prices used


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _micro(value: Any) -> int:
    return int((Decimal(str(value)) * MICRO).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def _naive(ts: datetime) -> datetime:
    return ts.replace(tzinfo=None)


def tier_facts(provider: str, row: Any) -> TierFacts | None:
    """A `storage_tier_price` row merged with the defaults; None for a class we have no
    defaults for (its place in the waterfall is unknown)."""
    d = CLASSES.get((provider, row.tier))
    if d is None:
        return None
    notes: list[str] = []
    if row.retrieval_usd_per_gb is not None:
        retrieval = _micro(row.retrieval_usd_per_gb)
    else:
        retrieval = d.retrieval_per_gb if d.retrieval_per_gb else UNKNOWN_RETRIEVAL_PER_GB
        notes.append(
            f"the retrieval price of {row.tier} is not in the price data: "
            f"{retrieval / MICRO:g} USD/GB assumed ({d.source})"
        )
    latency = row.first_byte_latency_ms if row.first_byte_latency_ms is not None else d.latency_ms
    return TierFacts(
        tier=row.tier,
        rank=d.rank,
        storage_per_gb_month=_micro(row.usd_per_gb_month),
        retrieval_per_gb=retrieval,
        get_per_1k=d.get_per_1k,
        put_per_1k=d.put_per_1k,
        min_days=int(row.min_storage_days or 0),
        min_billable_kb=int(row.min_billable_kb or 0),
        overhead_kb_hot=d.overhead_kb_hot,
        overhead_kb_self=d.overhead_kb_self,
        latency_ms=latency,
        restore=d.restore,
        proposable=d.proposable,
        notes=tuple(notes),
    )


def _prices(conn: Connection) -> dict[tuple[str, str], dict[str, TierFacts]]:
    out: dict[tuple[str, str], dict[str, TierFacts]] = defaultdict(dict)
    for row in conn.execute(sa.select(TIERS).order_by(TIERS.c.provider, TIERS.c.region)):
        t = tier_facts(row.provider, row)
        if t is not None:
            out[row.provider, row.region][t.tier] = t
    return out


def _access(conn: Connection, series: list[str]) -> tuple[dict[str, Access], datetime | None]:
    newest = conn.execute(
        sa.select(sa.func.max(SAMPLES.c.ts, type_=SAMPLES.c.ts.type)).where(
            SAMPLES.c.metric == GB_METRIC
        )
    ).scalar()
    if newest is None or not series:
        return {}, None
    since = newest - timedelta(days=ACCESS_DAYS)
    daily: dict[tuple[str, str], list[float]] = defaultdict(list)
    query = (
        sa.select(SAMPLES.c.series_id, SAMPLES.c.metric, SAMPLES.c.value)
        .where(SAMPLES.c.metric.in_((GB_METRIC, GET_METRIC)), SAMPLES.c.ts > since)
        .where(SAMPLES.c.series_id.in_(series))
        .order_by(SAMPLES.c.series_id, SAMPLES.c.metric, SAMPLES.c.ts)
    )
    for sid, metric, value in conn.execute(query):
        daily[sid, metric].append(float(value))
    out = {
        sid: access_from_daily(daily[sid, GB_METRIC], daily[sid, GET_METRIC], ACCESS_DAYS)
        for sid in series
    }
    for sid, forecast in forecast_access(conn, newest).items():
        if sid in out:
            seen = out[sid]  # the samples still say how many days back it and how bursty
            out[sid] = Access(forecast.gb, forecast.requests, seen.days, seen.unpredictable,
                              forecast.note)  # fmt: skip
    return out, newest


def forecast_access(conn: Connection, newest: datetime) -> dict[str, Access]:
    """Per storage series, next month's reads from its latest fresh `gb_retrieved` and
    `get_requests` forecasts (p10/p50/p90 of the month's total: forecasts.save.summary).
    Fresh means it starts at most 2 days before the newest sample, as for sizing."""
    from forecasts.save import latest

    stored = latest(conn, metrics=[GB_METRIC, GET_METRIC])
    out: dict[str, Access] = {}
    for sid in sorted({sid for sid, _ in stored}):
        gb, req = stored.get((sid, GB_METRIC)), stored.get((sid, GET_METRIC))
        if gb is None or req is None:
            continue
        firsts = [f.metrics.get("first_ts") for f in (gb, req)]
        if not all(firsts) or min(datetime.fromisoformat(str(t)) for t in firsts) < newest - FRESH:
            continue
        g, r = gb.metrics.get("summary", {}), req.metrics.get("summary", {})
        if "month_p50" not in g or "month_p50" not in r:
            continue
        out[sid] = Access(
            (g["month_p10"], g["month_p50"], g["month_p90"]),
            (r["month_p10"], r["month_p50"], r["month_p90"]),
            note=f"access forecast for the next month ({gb.model} for GB read, "
            f"{req.model} for requests)",
        )
    return out


def _group(row: Any, as_of: datetime) -> GroupFacts:
    rules = _json(row.lifecycle_rules) or []
    transitions, expires = rule_effects(row.provider, row.bucket, row.prefix or "", rules)
    oldest = row.oldest_object_at
    return GroupFacts(
        name=row.name, provider=row.provider, region=row.region, bucket=row.bucket,
        prefix=row.prefix or "", tier=row.tier, bytes=int(row.bytes), objects=int(row.objects),
        median_age_days=row.median_age_days,
        oldest_age_days=None if oldest is None
        else max((_naive(as_of) - _naive(oldest)).total_seconds() / 86400, 0.0),
        tags=dict(_json(row.tags) or {}), owner=row.owner, transitions=transitions,
        expire_after_days=expires,
    )  # fmt: skip


def load_tiering_inputs(engine: Engine) -> tuple[list[TieringInput], list[str]]:
    """(one input per group we can price, the groups skipped and why)."""
    with engine.connect() as conn:
        groups = conn.execute(sa.select(GROUPS).order_by(GROUPS.c.name)).all()
        prices = _prices(conn)
        series = sorted({g.series_id for g in groups if g.series_id})
        access, newest = _access(conn, series)
    as_of = newest or utcnow()
    none = access_from_daily([], [], ACCESS_DAYS)
    out: list[TieringInput] = []
    skipped: list[str] = []
    for row in groups:
        notes: list[str] = []
        tiers = prices.get((row.provider, row.region))
        if not tiers:
            other = sorted(r for p, r in prices if p == row.provider)
            if not other:
                skipped.append(f"{row.name}: no storage prices for {row.provider}")
                continue
            tiers = prices[row.provider, other[0]]
            notes.append(f"prices: {other[0]} list prices used (none stored for {row.region})")
        if row.tier not in tiers:
            skipped.append(f"{row.name}: its class {row.tier} has no price")
            continue
        a = access.get(row.series_id or "", none)
        if not a.days:
            notes.append("access: no samples in the last 30 days; taken as no reads")
        out.append(TieringInput(_group(row, as_of), dict(tiers), a, tuple(notes)))
    return out, skipped
