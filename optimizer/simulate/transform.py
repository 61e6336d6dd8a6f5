"""A scenario's store changes, applied to a COPY (never the live store): prices, storage
prices, demand, and regions or clouds lost.

A change that matches nothing is an error, not a silent no-op: an unknown cloud, region,
family or tier is almost always a typo, so the error says which names exist.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from decimal import Decimal
from fnmatch import fnmatchcase
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from optimizer.simulate.load import LoadedScenario, ScenarioError
from optimizer.simulate.scenario import (
    DemandChange,
    PriceChange,
    RegionLoss,
    StoragePriceChange,
    WorkloadSelector,
)
from store.models import PriceOffer, StorageTierPrice, UsageSample, Workload
from store.models.operations import Forecast, ForecastPoint

OFFERS = PriceOffer.__table__  # type: ignore[attr-defined]
TIERS = StorageTierPrice.__table__  # type: ignore[attr-defined]
WORKLOADS = Workload.__table__  # type: ignore[attr-defined]
SAMPLES = UsageSample.__table__  # type: ignore[attr-defined]
FORECASTS = Forecast.__table__  # type: ignore[attr-defined]
POINTS = ForecastPoint.__table__  # type: ignore[attr-defined]
PLACES = Decimal("1e-10")  # prices keep ten decimals
OPTIONS = {"commitment": ("commit_1y", "commit_3y")}


def _names(values: Sequence[Any], limit: int = 30) -> str:
    uniq = sorted({str(v) for v in values if v is not None})
    more = f", … ({len(uniq) - limit} more)" if len(uniq) > limit else ""
    return ", ".join(uniq[:limit]) + more


def _check_place(
    conn: Connection,
    table: sa.Table,
    cloud: str | None,
    region: str | None,
    where: str,
    label: str,
) -> None:
    """An unknown cloud or region in a scenario: say which exist."""
    clouds = [r[0] for r in conn.execute(sa.select(table.c.provider).distinct())]
    if cloud is not None and cloud not in clouds:
        raise ScenarioError(
            f"{where}: {label}: the store has no {cloud!r} {table.name} rows",
            where=where,
            fix=f"clouds with {table.name} rows: {_names(clouds) or 'none'}",
        )
    if region is None:
        return
    q = sa.select(table.c.region).distinct()
    if cloud is not None:
        q = q.where(table.c.provider == cloud)
    regions = [r[0] for r in conn.execute(q)]
    if region not in regions:
        scope = f"{cloud} " if cloud else ""
        raise ScenarioError(
            f"{where}: {label}: unknown {scope}region {region!r}",
            where=where,
            fix=f"{scope}regions in the store: {_names(regions)}",
        )


def _matching(conn: Connection, table: sa.Table, keep: Callable[[Any], bool]) -> list[Any]:
    query = sa.select(table)
    if "valid_to" in table.c:
        query = query.where(table.c.valid_to.is_(None))
    return [r for r in conn.execute(query) if keep(r)]


def change_prices(conn: Connection, c: PriceChange, where: str) -> str:
    _check_place(conn, OFFERS, c.cloud, c.region, where, "price")
    options = OPTIONS.get(c.purchase_option or "", (c.purchase_option,))

    def keep(r: Any) -> bool:
        return (
            c.cloud in (None, r.provider)
            and c.region in (None, r.region)
            and c.family in (None, r.family)
            and (c.instance_type is None or fnmatchcase(r.instance_type, c.instance_type))
            and (c.purchase_option is None or r.purchase_option in options)
        )

    rows = _matching(conn, OFFERS, keep)
    if not rows:
        families = [r.family for r in _matching(conn, OFFERS, lambda r: True)]
        raise ScenarioError(
            f"{where}: price: no current offer matches {c.model_dump(exclude_none=True)}",
            where=where,
            fix=f"check family / instance_type / purchase_option; families: {_names(families)}",
        )
    for r in rows:
        new = c.set_usd_per_hour if c.multiply is None else Decimal(r.usd_per_hour) * c.multiply
        assert new is not None
        conn.execute(
            OFFERS.update().where(OFFERS.c.id == r.id).values(usd_per_hour=new.quantize(PLACES))
        )
    return f"{len(rows)} price offer(s) repriced"


def change_storage_prices(conn: Connection, c: StoragePriceChange, where: str) -> str:
    _check_place(conn, TIERS, c.cloud, c.region, where, "storage_price")

    def keep(r: Any) -> bool:
        return (
            c.cloud in (None, r.provider)
            and c.region in (None, r.region)
            and (c.tier is None or r.tier == c.tier)
        )

    rows = _matching(conn, TIERS, keep)
    if not rows:
        tiers = [r.tier for r in _matching(conn, TIERS, lambda r: c.cloud in (None, r.provider))]
        raise ScenarioError(
            f"{where}: storage_price: no storage class matches {c.model_dump(exclude_none=True)}",
            where=where,
            fix=f"storage classes: {_names(tiers)}",
        )
    for r in rows:
        new = (
            c.set_usd_per_gb_month
            if c.multiply is None
            else Decimal(r.usd_per_gb_month) * c.multiply
        )
        assert new is not None
        conn.execute(
            TIERS.update().where(TIERS.c.id == r.id).values(usd_per_gb_month=new.quantize(PLACES))
        )
    return f"{len(rows)} storage price(s) changed"


def selects(s: WorkloadSelector, row: Any) -> bool:
    """The selector's verdict on a `workload` row (AND of what is given)."""
    if s.all:
        return True
    tags = row.tags or {}
    if s.owners is not None and row.owner not in s.owners:
        return False
    if s.names is not None and not any(fnmatchcase(row.name, g) for g in s.names):
        return False
    for key, want in (s.tags or {}).items():
        allowed = want if isinstance(want, list) else [want]
        if str(tags.get(key)) not in [str(a) for a in allowed]:
            return False
    return True


def change_demand(conn: Connection, c: DemandChange, where: str) -> str:
    rows = [r for r in conn.execute(sa.select(WORKLOADS)) if selects(c.select, r)]
    if not rows:
        owners = [r.owner for r in conn.execute(sa.select(WORKLOADS.c.owner).distinct())]
        raise ScenarioError(
            f"{where}: demand: the selector matches no workload",
            where=where,
            fix=f"check owners, tags and name globs; owners in the store: {_names(owners)}",
        )
    f = float(c.multiplier)
    for r in rows:
        if c.grow == "replicas":
            replicas = max(1, math.ceil(r.replicas * f - 1e-9))
            scale = replicas / r.replicas
            values: dict[str, Any] = {"replicas": replicas}
        else:
            scale = f
            values = {"vcpu": max(1, math.ceil(r.vcpu * f - 1e-9)), "memory_gib": r.memory_gib * f}
        conn.execute(WORKLOADS.update().where(WORKLOADS.c.id == r.id).values(**values))
        if r.series_id:
            _scale_series(conn, r.series_id, scale)
    return f"{len(rows)} workload(s) × {c.multiplier} ({c.grow})"


def _scale_series(conn: Connection, series_id: str, scale: float) -> None:
    """Absolute utilization (cores, GiB) and its forecasts grow with demand; `cpu_pct` is
    relative to the recorded size, which grew already (or to replicas, which did)."""
    conn.execute(
        SAMPLES.update()
        .where(SAMPLES.c.series_id == series_id, SAMPLES.c.metric.in_(("cpu_cores", "memory_gib")))
        .values(value=SAMPLES.c.value * scale)
    )
    for fc in conn.execute(sa.select(FORECASTS).where(FORECASTS.c.series_id == series_id)):
        metrics = dict(fc.metrics or {})
        summary = metrics.get("summary")
        if isinstance(summary, dict):
            metrics["summary"] = {
                k: v * scale if isinstance(v, int | float) else v for k, v in summary.items()
            }
            conn.execute(FORECASTS.update().where(FORECASTS.c.id == fc.id).values(metrics=metrics))
        conn.execute(
            POINTS.update()
            .where(POINTS.c.forecast_id == fc.id)
            .values(p10=POINTS.c.p10 * scale, p50=POINTS.c.p50 * scale, p90=POINTS.c.p90 * scale)
        )


def lose_region(conn: Connection, c: RegionLoss, where: str) -> str:
    _check_place(conn, OFFERS, c.cloud, c.region, where, "lose_region")
    gone = conn.execute(
        OFFERS.delete().where(OFFERS.c.provider == c.cloud, OFFERS.c.region == c.region)
    ).rowcount
    return f"{gone} offer(s) in {c.cloud}:{c.region} removed"


def lose_cloud(conn: Connection, cloud: str, where: str) -> str:
    _check_place(conn, OFFERS, cloud, None, where, "lose_cloud")
    gone = conn.execute(OFFERS.delete().where(OFFERS.c.provider == cloud)).rowcount
    return f"{gone} {cloud} offer(s) removed"


def apply_store_changes(conn: Connection, loaded: LoadedScenario) -> list[str]:
    """Apply every store change in order; (one note per change applied)."""
    notes: list[str] = []
    for i, change in enumerate(loaded.scenario.changes):
        where, v = loaded.where(i), change.value
        if isinstance(v, PriceChange):
            notes.append(change_prices(conn, v, where))
        elif isinstance(v, StoragePriceChange):
            notes.append(change_storage_prices(conn, v, where))
        elif isinstance(v, DemandChange):
            notes.append(change_demand(conn, v, where))
        elif isinstance(v, RegionLoss):
            notes.append(lose_region(conn, v, where))
        elif change.kind == "lose_cloud":
            notes.append(lose_cloud(conn, str(v), where))
    return notes
