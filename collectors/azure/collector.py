"""`AzureCollector`: one `[[sources]] type = "azure"` scope into the store, incrementally.

Window: [watermark - restate_days, today) once the source has a watermark, else
[today - first_days, today). Each kind of data is written in its own transaction:
- spend: two Cost Management queries (ActualCost, AmortizedCost; pages followed) joined
  into one FOCUS row per (day, subscription, service); the source's cost records of the
  window are deleted and re-inserted, so re-runs and restatements never double count;
- inventory: VMs and scale sets upserted as workloads by name;
- utilization: each VM's window of `cpu_pct` and `memory_gib` samples replaced (chunks
  of series);
- storage: storage accounts upserted as storage groups (one per access tier);
- prices: Retail Prices offers for the regions where VMs run (plus `regions`) recorded
  through store.prices.write_offers (slowly changing).
A failing kind does not stop the next ones (collectors.cloud_store.run_steps) unless it
is auth_failed or unreachable; the watermark does not move, and the summary's status
(collectors.cloud.STATUSES) says why.
Nothing is raised.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from collectors.azure import inventory_mapping as inv
from collectors.azure import mapping, prices_mapping
from collectors.azure.adapter import AzureApi, AzureError
from collectors.azure.settings import AzureSource
from collectors.cloud import Check, CollectSummary, SourceError
from collectors.cloud_store import (
    WindowedCollector,
    day_start,
    finish,
    replace_costs,
    run_steps,
    table,
)
from store import costs
from store.bulk import upsert_rows
from store.models import StorageGroup, UsageSample, Workload
from store.prices import Offer, write_offers
from store.types import utcnow

SOURCE_TYPE = "azure"
SAMPLE_CHUNK = 200  # series whose samples are replaced per transaction
SAMPLE_KEY = ("series_id", "metric", "ts")


class _Run:
    """One collect's API and what its kinds share: resource SKU sizes per region, and
    the regions where VMs run (whose prices are read)."""

    def __init__(self, api: AzureApi, subscriptions: list[str]):
        self.api = api
        self.subscriptions = subscriptions
        self.regions: set[str] = set()
        self._sizes: dict[str, inv.Sizes] = {}

    def sizes(self, subscription: str, region: Any) -> inv.Sizes:
        if not region:
            return {}
        region = str(region)
        if region not in self._sizes:
            self._sizes[region] = inv.sku_sizes(self.api.resource_skus(subscription, region))
        return self._sizes[region]


class AzureCollector(WindowedCollector[AzureSource]):
    def check(self) -> Check:
        """The cheapest calls that prove access: one day of ActualCost (first page) when
        spend is read, the VM list of the first subscription when the estate is."""
        today = datetime.now(UTC).date()
        src = self.source
        body = mapping.query_body("ActualCost", today - timedelta(days=1), today,
                                  cost_column=src.cost_column)  # fmt: skip
        subscriptions = src.inventory_subscriptions
        try:
            with AzureApi(src) as api:
                if src.spend:
                    for _ in api.query(body):
                        break
                if subscriptions and (src.inventory or src.metrics or src.storage):
                    api.virtual_machines(subscriptions[0])
        except AzureError as exc:
            return exc.as_check()
        except Exception as exc:  # building the client or credential failed
            return Check("error", f"{type(exc).__name__}: {exc}", "run with --debug")
        return Check("ok", f"scope {self.source.scope}")

    # -- collect ----------------------------------------------------------------------
    def collect(self, engine: Engine, today: date | None = None) -> CollectSummary:
        summary = self.begin(engine, today)
        assert summary.window is not None
        start, end = summary.window
        failure: SourceError | None = None
        api: AzureApi | None = None
        src = self.source
        label = f"scope {src.scope}"
        needs_subscription = src.inventory or src.metrics or src.storage or src.prices
        if needs_subscription and not src.inventory_subscriptions:
            label += "; inventory, metrics, storage and prices skipped: list `subscriptions`"
        try:
            api = AzureApi(src)
            run = _Run(api, src.inventory_subscriptions)
            steps = [
                (src.spend, self._spend),
                (src.inventory or src.metrics, self._compute),
                (src.storage, self._storage),
                (src.prices, self._prices),
            ]
            failure = run_steps(
                (on, partial(step, run, engine, start, end, summary)) for on, step in steps
            )
        except AzureError as exc:  # building the clients failed
            failure = exc
        except Exception as exc:  # the SDK refusing its settings, e.g. a bad ca_bundle
            failure = AzureError("error", f"{type(exc).__name__}: {exc}", "run with --debug")
        finally:
            if api is not None:
                summary.api_calls = dict(sorted(api.calls.items()))
                api.close()
        outcome = None if failure is None else failure.outcome()
        return finish(engine, self.key, SOURCE_TYPE, summary, outcome, label)

    # -- spend ------------------------------------------------------------------------
    def _spend(self, run: _Run, engine: Engine, start: date, end: date, s: CollectSummary) -> None:
        api = run.api
        if start >= end:  # nothing to read
            s.rows["cost_records"] = 0
            return
        sub = self.source.scope_subscription  # known: group by charge type instead
        grouping = mapping.SUBSCRIPTION_GROUPING if sub else mapping.GROUPING
        actual, amortized = (
            mapping.read_pages(
                api.query(mapping.query_body(kind, start, end, grouping, self.source.cost_column)),
                (start, end),
                sub or "",
            )
            for kind in mapping.KINDS
        )
        mapped = mapping.join(actual, amortized, self.key, self.source.scope)
        for reason, n in mapped.quarantined.items():
            s.quarantined[reason] = s.quarantined.get(reason, 0) + n
        replace_costs(engine, self.key, start, end, mapped.rows, mapped.keys)
        s.rows["cost_records"] = len(mapped.rows)

    # -- VMs, scale sets, Azure Monitor ------------------------------------------------
    def _compute(
        self, run: _Run, engine: Engine, start: date, end: date, s: CollectSummary
    ) -> None:
        now, found = utcnow(), inv.Mapped()
        group = self.source.resource_group
        for sub in run.subscriptions:
            items = [(vm, inv.vm_workload) for vm in run.api.virtual_machines(sub)]
            items += [(vmss, inv.scale_set_workload) for vmss in run.api.scale_sets(sub)]
            for item, to_workload in items:
                if not inv.in_scope(str(item.get("id", "")), group):
                    continue
                try:
                    row = to_workload(item, run.sizes(sub, item.get("location")), self.key, now)
                except ValueError as exc:
                    found.quarantine(str(exc))
                    continue
                if row is not None:
                    found.rows.append(row)
        run.regions.update(str(w["region"]) for w in found.rows)
        _add(s.quarantined, found.quarantined)
        if self.source.inventory:
            with engine.begin() as conn:
                _upsert_by_name(conn, table(Workload), found.rows)
            s.rows["workloads"] = len(found.rows)
        if self.source.metrics:
            s.rows["usage_samples"] = 0
            if start < end:
                self._usage(run, engine, found.rows, start, end, s)

    def _usage(
        self, run: _Run, engine: Engine, workloads: list[dict[str, Any]], start: date,
        end: date, s: CollectSummary,
    ) -> None:  # fmt: skip
        """One metrics.list (CPU and memory) per VM or scale set, `metrics_workers` at a
        time; samples replaced SAMPLE_CHUNK series at a time, each chunk in its own
        transaction (the window of those series, idempotent)."""
        span = inv.timespan(start, end)

        def fetch(workload: dict[str, Any]) -> dict[str, Any]:
            resource = str(workload["series_id"]).removeprefix("azure:")
            return run.api.metrics(resource, inv.USAGE_NAMES, span)

        with ThreadPoolExecutor(self.source.metrics_workers) as pool:
            for i in range(0, len(workloads), SAMPLE_CHUNK):
                chunk, samples = workloads[i : i + SAMPLE_CHUNK], inv.Mapped()
                for workload, reply in zip(chunk, pool.map(fetch, chunk), strict=True):
                    inv.usage_samples(reply, workload, self.key, samples)
                series = [str(w["series_id"]) for w in chunk]
                _replace_samples(engine, series, samples.rows, start, end)
                _add(s.quarantined, samples.quarantined)
                s.rows["usage_samples"] += len(samples.rows)

    # -- storage accounts ---------------------------------------------------------------
    def _storage(
        self, run: _Run, engine: Engine, start: date, end: date, s: CollectSummary
    ) -> None:
        now, found = utcnow(), inv.Mapped()
        span = inv.timespan(end - timedelta(days=2), end)  # capacity: the latest hourly value
        for sub in run.subscriptions:
            for account in run.api.storage_accounts(sub):
                rid, name = str(account.get("id", "")), str(account.get("name", ""))
                if not inv.in_scope(rid, self.source.resource_group):
                    continue
                if not rid or not name or not account.get("location"):
                    found.quarantine("storage account without id, name or location")
                    continue
                if str(account.get("kind", "")).lower() not in inv.BLOB_KINDS:
                    continue  # FileStorage: no blob tiers
                rules = run.api.lifecycle_rules(sub, inv.id_part(rid, "resourceGroups"), name)
                reply = run.api.metrics(f"{rid}/blobServices/default", inv.CAPACITY_NAMES,
                                        span, "Tier eq '*'")  # fmt: skip
                found.rows.extend(
                    inv.storage_groups(account, rules, inv.tier_totals(reply), self.key, now)
                )
        _add(s.quarantined, found.quarantined)
        with engine.begin() as conn:
            _upsert_by_name(conn, table(StorageGroup), found.rows)
        s.rows["storage_groups"] = len(found.rows)

    # -- Retail Prices ------------------------------------------------------------------
    def _prices(self, run: _Run, engine: Engine, start: date, end: date, s: CollectSummary) -> None:
        regions = sorted(run.regions | set(self.source.regions))
        offers: list[Offer] = []
        if regions and run.subscriptions:  # sizes come from a subscription's resource SKUs
            for region in regions:
                items = run.api.retail_prices(prices_mapping.price_filter(region))
                sizes = run.sizes(run.subscriptions[0], region)
                offers.extend(prices_mapping.offers(items, sizes, s.quarantined))
            with engine.begin() as conn:
                write_offers(conn, offers, utcnow())
        s.rows["price_offers"] = len(offers)


def totals(engine: Engine, source_key: str) -> tuple[int, Decimal, Decimal]:
    """Rows, BilledCost and EffectiveCost of one source (for tests and the CLI)."""
    with engine.connect() as conn:
        t = costs.totals(conn, source_key)
    return t.rows, t.billed_cost, t.effective_cost


def _add(into: dict[str, int], more: dict[str, int]) -> None:
    for reason, n in more.items():
        into[reason] = into.get(reason, 0) + n


def _replace_samples(
    engine: Engine, series: list[str], samples: list[tuple[Any, ...]], start: date, end: date
) -> None:
    """The window's `cpu_pct` and `memory_gib` samples of `series` become `samples`, in
    one transaction."""
    t = table(UsageSample)
    with engine.begin() as conn:
        conn.execute(
            sa.delete(t).where(
                t.c.series_id.in_(series),
                t.c.metric.in_(inv.SAMPLE_METRICS),
                t.c.ts >= day_start(start),
                t.c.ts < day_start(end),
            )
        )
        upsert_rows(conn, "usage_sample", inv.SAMPLE_COLUMNS, samples, SAMPLE_KEY)


def _upsert_by_name(conn: Connection, t: sa.Table, rows: list[dict[str, Any]]) -> None:
    """Update the rows whose unique name exists, insert the others (bulk, both ways)."""
    names = [r["name"] for r in rows]
    ids: dict[str, int] = {}
    for i in range(0, len(names), 500):
        found = conn.execute(sa.select(t.c.name, t.c.id).where(t.c.name.in_(names[i : i + 500])))
        ids.update({str(n): int(k) for n, k in found})
    updates = [{**r, "b_id": ids[r["name"]]} for r in rows if r["name"] in ids]
    inserts = [r for r in rows if r["name"] not in ids]
    if updates:
        conn.execute(sa.update(t).where(t.c.id == sa.bindparam("b_id")), updates)
    if inserts:
        conn.execute(sa.insert(t), inserts)
