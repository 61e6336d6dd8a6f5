"""`GcpCollector`: one `[[sources]] type = "gcp"` entry into the store, incrementally.

Window: [watermark - restate_days, today) once the source has a watermark, else
[today - first_days, today). Each kind of data is written in its own transaction:
- spend: one parametrised BigQuery query over the window, mapped by the export file
  mapping; this source's cost records of the window are replaced (never doubled);
- prices: Compute Engine core/RAM SKUs × machine types -> `store.prices.write_offers`;
- inventory: instances (+ managed instance groups) -> workloads upserted by name;
- utilization: the window's hourly `cpu_pct` samples of those instances replaced;
- storage: buckets -> storage groups per storage class, upserted by name.
A failing kind does not stop the others (unless credentials or the network failed);
the first failure becomes the summary's status and the watermark moves only when every
kind succeeded. Cloud-side failures never raise.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import date
from functools import partial
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from collectors.cloud import Check, CollectSummary
from collectors.cloud_store import (
    WindowedCollector,
    day_start,
    finish,
    replace_costs,
    run_steps,
    table,
)
from collectors.gcp import inventory, prices, spend
from collectors.gcp.adapter import STORAGE_SERVICE, GcpApi, GcpError
from collectors.gcp.settings import GcpSource
from store.bulk import upsert_rows
from store.models import StorageGroup, UsageSample, Workload
from store.prices import write_offers
from store.types import utcnow

SOURCE_TYPE = "gcp"
T = TypeVar("T")
Step = Callable[[GcpApi, Engine, date, date, CollectSummary], None]


class GcpCollector(WindowedCollector[GcpSource]):
    def __init__(self, source: GcpSource):
        super().__init__(source)
        self._types: dict[str, list[dict[str, Any]]] = {}

    @property
    def label(self) -> str:
        return f"billing account {self.source.billing_account}"

    def check(self) -> Check:
        """The cheapest call proving access to the first enabled kind: a zero-byte
        query on the export table (bigquery.jobs.create + tables.getData), else one
        catalog page, else one instance list, else the bucket list."""
        api = GcpApi(self.source)
        src = self.source
        try:
            if src.spend and src.bigquery_table:
                api.query(f"SELECT 1 AS ok FROM `{src.bigquery_table}` WHERE FALSE", [])
                what = f"export table {src.bigquery_table}"
            elif src.prices:
                next(api.skus(), None)
                what = "Cloud Billing Catalog"
            elif (src.inventory or src.metrics) and src.projects:
                api.instances(src.projects[0])
                what = f"project {src.projects[0]}"
            elif src.storage and src.projects:
                api.buckets()
                what = "Cloud Storage"
            else:
                return Check("invalid_config", "nothing enabled to read", "enable a kind")
        except GcpError as exc:
            return exc.as_check()
        except Exception as exc:  # building a client failed (never a cloud answer)
            return Check("error", f"{type(exc).__name__}: {exc}", "run with --debug")
        finally:
            api.close()
        return Check("ok", f"{self.label}: {what}")

    # -- collect ----------------------------------------------------------------------
    def collect(self, engine: Engine, today: date | None = None) -> CollectSummary:
        summary = self.begin(engine, today)
        assert summary.window is not None
        start, end = summary.window
        src = self.source
        steps: list[tuple[bool, Step]] = [
            (src.spend, self._spend),
            (src.prices, self._prices),
            (src.inventory or src.metrics, self._compute),
            (src.storage, self._storage),
        ]
        api = GcpApi(src)
        try:
            failure = run_steps(
                (on, partial(step, api, engine, start, end, summary)) for on, step in steps
            )
        finally:
            summary.api_calls = dict(sorted(api.calls.items()))
            api.close()
        outcome = None if failure is None else failure.outcome()
        return finish(engine, self.key, SOURCE_TYPE, summary, outcome, self.label)

    # -- spend ------------------------------------------------------------------------
    def _spend(
        self, api: GcpApi, engine: Engine, start: date, end: date, s: CollectSummary
    ) -> None:
        if start >= end or self.source.bigquery_table is None:
            s.rows["cost_records"] = 0
            return
        kind = self.source.bigquery_kind
        sql, params = spend.query(
            kind, self.source.bigquery_table, start, end, self.source.billing_account
        )
        rows = api.query(sql, params)
        mapped = (spend.map_focus if kind == "focus" else spend.map_export)(rows, self.key)
        for reason, n in mapped.quarantined.items():
            s.quarantined[reason] = s.quarantined.get(reason, 0) + n
        replace_costs(engine, self.key, start, end, mapped.rows, mapped.keys)
        s.rows["cost_records"] = len(mapped.rows)

    # -- prices -----------------------------------------------------------------------
    def _machine_types(self, api: GcpApi, project: str) -> list[dict[str, Any]]:
        if project not in self._types:
            self._types[project] = api.machine_types(project)
        return self._types[project]

    def _prices(
        self, api: GcpApi, engine: Engine, start: date, end: date, s: CollectSummary
    ) -> None:
        if not self.source.projects:
            raise GcpError(
                "invalid_config", "prices need a project to list machine types in",
                "add projects = [\"<project id>\"] to the source, or set prices = false",
            )  # fmt: skip
        regions = self.source.regions
        rates = prices.sku_rates(api.skus(), regions)
        types = self._machine_types(api, self.source.projects[0])
        offers, skipped = prices.machine_offers(types, rates, regions)
        with engine.begin() as conn:
            counts = write_offers(conn, offers, utcnow())
        s.rows["price_offers"] = len(offers)
        s.rows["price_offers_changed"] = counts.written
        for reason, n in skipped.items():
            s.quarantined[f"price skipped: {reason}"] = n
        if self.source.storage:
            tiers = prices.storage_tier_prices(api.skus(STORAGE_SERVICE), regions)
            with engine.begin() as conn:
                _write_tier_prices(conn, tiers)
            s.rows["storage_tier_prices"] = len(tiers)

    # -- Compute Engine + Cloud Monitoring --------------------------------------------
    def _compute(
        self, api: GcpApi, engine: Engine, start: date, end: date, s: CollectSummary
    ) -> None:
        now = utcnow()
        regions = set(self.source.regions)
        workloads: list[dict[str, Any]] = []
        for project in self.source.projects:
            sizes = inventory.type_sizes(self._machine_types(api, project))
            migs = inventory.mig_members(api.instance_group_managers(project))
            found = [
                w for i in api.instances(project)
                if (w := inventory.instance_workload(i, project, sizes, migs, self.key, now))
                and (not regions or w["region"] in regions)
            ]  # fmt: skip
            workloads.extend(found)
            if self.source.metrics and found and start < end:
                known = {str(w["series_id"]) for w in found}
                series = api.cpu_series(project, day_start(start), day_start(end))
                n = _replace_samples(engine, sorted(known), series, self.key, start, end)
                s.rows["usage_samples"] = s.rows.get("usage_samples", 0) + n
        if self.source.inventory:
            with engine.begin() as conn:
                _upsert_by_name(conn, table(Workload), workloads)
            s.rows["workloads"] = len(workloads)

    # -- Cloud Storage ----------------------------------------------------------------
    def _storage(
        self, api: GcpApi, engine: Engine, start: date, end: date, s: CollectSummary
    ) -> None:
        now = utcnow()
        groups: list[dict[str, Any]] = []
        for bucket in api.buckets():
            groups.extend(
                inventory.storage_groups(bucket, api.objects(bucket["name"]), self.key, now)
            )
        with engine.begin() as conn:
            _upsert_by_name(conn, table(StorageGroup), groups)
        s.rows["storage_groups"] = len(groups)


def _replace_samples(
    engine: Engine,
    known: list[str],
    series: Iterable[dict[str, Any]],
    source_key: str,
    start: date,
    end: date,
) -> int:
    """The window's `cpu_pct` samples of `known` instances become those of `series`, in
    one transaction, inserted a page at a time as the pages arrive (bounded memory); a
    failing page rolls the whole replacement back."""
    t = table(UsageSample)
    lo, hi = day_start(start), day_start(end)
    written, wanted = 0, set(known)
    with engine.begin() as conn:
        for i in range(0, len(known), 500):
            conn.execute(
                sa.delete(t).where(
                    t.c.series_id.in_(known[i : i + 500]),
                    t.c.metric == inventory.CPU_METRIC,
                    t.c.ts >= lo,
                    t.c.ts < hi,
                )
            )
        for page in _chunks(series, 200):
            samples = [
                x for x in inventory.cpu_samples(page, wanted, source_key)
                if lo <= x["ts"] < hi
            ]  # fmt: skip
            if samples:
                conn.execute(sa.insert(t), samples)
                written += len(samples)
    return written


def _chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _write_tier_prices(conn: Connection, tiers: dict[tuple[str, str], dict[str, Any]]) -> None:
    """Live at-rest (and, when listed, retrieval) prices into storage_tier_price; the
    class facts the catalog does not give (minimum days, latency) are left as they are."""
    cols = ("provider", "region", "tier", "usd_per_gb_month", "retrieval_usd_per_gb", "source")
    for with_retrieval in (True, False):
        rows = [
            ("gcp", region, cls, format(p["gb_month"], "f"),
             format(p["retrieval"], "f") if with_retrieval else None, prices.STORAGE_SOURCE)
            for (region, cls), p in sorted(tiers.items())
            if "gb_month" in p and ("retrieval" in p) == with_retrieval
        ]  # fmt: skip
        update = ["usd_per_gb_month", "source"] + (
            ["retrieval_usd_per_gb"] if with_retrieval else []
        )
        if rows:
            upsert_rows(
                conn, "storage_tier_price", cols, rows, ("provider", "region", "tier"), update
            )


def _upsert_by_name(conn: Connection, t: sa.Table, rows: list[dict[str, Any]]) -> None:
    """Update the row with the same unique name, else insert (inventory)."""
    for row in rows:
        if not conn.execute(sa.update(t).where(t.c.name == row["name"]).values(**row)).rowcount:
            conn.execute(sa.insert(t).values(**row))
