"""`AwsCollector`: one `[[sources]] type = "aws"` entry into the store, incrementally.

Window: [watermark - restate_days, today) once the source has a watermark, else
[today - first_days, today). Each kind of data is written in its own transaction:
- spend from a Data Exports export when `data_export` is set (exports_s3: each changed
  billing period replaced in its own transaction; Cost Explorer is then not called),
  else from Cost Explorer: this source's cost records whose ChargePeriodStart is in the
  window are deleted and the window re-read is inserted; either way a re-run replaces
  and restated amounts take over, never double counting;
- inventory: workloads (with Auto Scaling group and stopped state) and storage groups
  upserted by name;
- utilization: the window's `cpu_pct` samples of each instance replaced;
- prices: on-demand and spot offers through store.prices.write_offers.
The watermark moves to the window's end only when every kind succeeded. Cloud-side
failures become the summary's status (collectors.cloud.STATUSES); nothing is raised. A
failing kind does not stop the next ones unless it is auth_failed or unreachable
(collectors.cloud_store.run_steps).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from collectors.aws import exports_s3, mapping, prices_mapping, storage_mapping
from collectors.aws.adapter import AwsApi, AwsError
from collectors.aws.settings import AwsSource
from collectors.cloud import Check, CollectSummary, CostRows, SourceError
from collectors.cloud_store import (
    WindowedCollector,
    day_start,
    finish,
    replace_costs,
    run_steps,
    table,
)
from store import costs
from store.models import StorageGroup, UsageSample, Workload
from store.prices import Offer, write_offers
from store.types import utcnow

SOURCE_TYPE = "aws"


_day, _table = day_start, table


class AwsCollector(WindowedCollector[AwsSource]):
    def __init__(self, source: AwsSource):
        super().__init__(source)
        self._in_use: dict[str, list[str]] = {}  # region -> instance types running there

    def check(self) -> Check:
        """sts:GetCallerIdentity, then the data export's manifests if one is configured,
        else (if enabled) one day of Cost Explorer."""
        api = AwsApi(self.source)
        export = self.source.data_export
        try:
            account = api.account_id()
            if export is not None:
                refs = exports_s3.find_manifests(
                    api.objects(export.bucket, export.prefix, export.region), export.prefix
                )
                return Check("ok", f"account {account}; data export with {len(refs)} period(s)")
            if self.source.cost_explorer:
                today = datetime.now(UTC).date()
                for _ in api.cost_and_usage(today - timedelta(days=1), today, []):
                    break
        except AwsError as exc:
            return exc.as_check()
        except exports_s3.ExportProblem as exc:
            return Check(exc.status, exc.detail, exc.hint)
        return Check("ok", f"account {account}")

    # -- collect ----------------------------------------------------------------------
    def collect(self, engine: Engine, today: date | None = None) -> CollectSummary:
        self._in_use = {}
        summary = self.begin(engine, today)
        assert summary.window is not None
        start, end = summary.window
        api = AwsApi(self.source)
        failure: SourceError | None = None
        try:
            account = api.account_id()
        except AwsError as exc:
            failure, account = exc, ""
        export = self.source.data_export
        steps = [
            (export is not None, self._export_spend),
            (export is None and self.source.cost_explorer, self._spend),
            (self.source.inventory or self.source.metrics, self._compute),
            (self.source.s3, self._storage),
            (self.source.prices, self._prices),
        ]
        if failure is None:
            failure = run_steps(
                (on, partial(step, api, engine, account, start, end, summary)) for on, step in steps
            )
        summary.api_calls = dict(sorted(api.calls.items()))
        outcome = None if failure is None else failure.outcome()
        label = f"account {account}"
        if export is not None:
            label += (
                f"; spend from the data export s3://{export.bucket}/{export.prefix} "
                f"({export.format}), Cost Explorer not called"
            )
        return finish(engine, self.key, SOURCE_TYPE, summary, outcome, label)

    # -- spend ------------------------------------------------------------------------
    def _export_spend(
        self, api: AwsApi, engine: Engine, account: str, start: date, end: date, s: CollectSummary
    ) -> None:
        """Spend from the Data Exports files (exports_s3); the previous month is always
        looked at, as AWS restates it until the bill is final."""
        export = self.source.data_export
        assert export is not None
        b, region = export.bucket, export.region
        try:
            refs = exports_s3.find_manifests(api.objects(b, export.prefix, region), export.prefix)
        except exports_s3.ExportProblem as exc:
            raise AwsError(exc.status, exc.detail, exc.hint) from None
        since = min(start, (end.replace(day=1) - timedelta(days=1)).replace(day=1))
        if export.first_period:
            since = date.fromisoformat(f"{export.first_period}-01")
        result = exports_s3.read_export(
            engine, self.key, b, export.format, refs,
            since,
            lambda key: api.get_bytes(b, key, region),
            lambda key, path: api.download(b, key, path, region),
        )  # fmt: skip
        s.rows["cost_records"] = result.rows
        s.rows["export_periods_read"] = len(result.read)
        s.rows["export_periods_unchanged"] = len(result.skipped)
        for reason, n in result.quarantined.items():
            s.quarantined[reason] = s.quarantined.get(reason, 0) + n

    def _spend(
        self, api: AwsApi, engine: Engine, account: str, start: date, end: date, s: CollectSummary
    ) -> None:
        if start >= end:  # nothing to read (Cost Explorer refuses an empty period)
            s.rows["cost_records"] = 0
            return
        if self.source.ce_purchase_type:
            # 1 request for the purchase types present, then 1 per type, filtered on it:
            # every cost has one purchase type, so the filtered results partition spend
            found = api.cost_and_usage(start, end, ["PURCHASE_TYPE"], granularity="MONTHLY")
            mapped = CostRows()
            for ptype in mapping.purchase_types(found):
                pages = api.cost_and_usage(
                    start, end, mapping.CE_GROUP_BY, filter_=mapping.purchase_type_filter(ptype)
                )
                mapping.map_cost_pages(pages, self.key, account, ptype, mapped)
        else:
            pages = api.cost_and_usage(start, end, mapping.CE_GROUP_BY)
            mapped = mapping.map_cost_pages(pages, self.key, account)
        for reason, n in mapped.quarantined.items():
            s.quarantined[reason] = s.quarantined.get(reason, 0) + n
        replace_costs(engine, self.key, start, end, mapped.rows, mapped.keys)
        s.rows["cost_records"] = len(mapped.rows)

    # -- EC2 + CloudWatch -------------------------------------------------------------
    def _compute(
        self, api: AwsApi, engine: Engine, account: str, start: date, end: date, s: CollectSummary
    ) -> None:
        now = utcnow()
        workloads: list[dict[str, Any]] = []
        for region in self.source.regions:
            instances = api.instances(region)
            types = sorted({str(i["InstanceType"]) for i in instances if i.get("InstanceType")})
            self._in_use[region] = types
            sizes = mapping.instance_type_sizes(api.instance_types(region, types)) if types else {}
            groups: dict[str, str] = {}
            if self.source.autoscaling and self.source.inventory:
                asgs = api.auto_scaling_groups(region)
                s.rows["autoscaling_groups"] = s.rows.get("autoscaling_groups", 0) + len(asgs)
                groups = mapping.asg_members(asgs)
            found = [
                w
                for i in instances
                if (
                    w := mapping.instance_workload(i, region, account, sizes, self.key, now, groups)
                )
            ]
            workloads.extend(found)
            if self.source.metrics and found:
                ids = [str(w["series_id"]).removeprefix("aws:") for w in found]
                results = api.metric_data(region, mapping.cpu_queries(ids), _day(start), _day(end))
                samples = mapping.cpu_samples(results, ids, self.key)
                self._replace_samples(engine, [w["series_id"] for w in found], samples, start, end)
                s.rows["usage_samples"] = s.rows.get("usage_samples", 0) + len(samples)
        if self.source.inventory:
            with engine.begin() as conn:
                _upsert_by_name(conn, _table(Workload), workloads)
            s.rows["workloads"] = len(workloads)

    def _replace_samples(
        self,
        engine: Engine,
        series: list[str],
        samples: list[dict[str, Any]],
        start: date,
        end: date,
    ) -> None:
        t = _table(UsageSample)
        with engine.begin() as conn:
            conn.execute(
                sa.delete(t).where(
                    t.c.series_id.in_(series),
                    t.c.metric == mapping.CPU_METRIC,
                    t.c.ts >= _day(start),
                    t.c.ts < _day(end),
                )
            )
            if samples:
                conn.execute(sa.insert(t), samples)

    # -- S3 ---------------------------------------------------------------------------
    def _storage(
        self, api: AwsApi, engine: Engine, account: str, start: date, end: date, s: CollectSummary
    ) -> None:
        now = utcnow()
        groups: list[dict[str, Any]] = []
        for bucket in api.buckets():
            name = str(bucket["Name"])
            region = api.bucket_region(name)
            rules = api.lifecycle_rules(name)
            groups.extend(
                storage_mapping.storage_groups(
                    name, region, account, api.objects(name), rules, self.key, now
                )
            )
        with engine.begin() as conn:
            _upsert_by_name(conn, _table(StorageGroup), groups)
        s.rows["storage_groups"] = len(groups)

    # -- prices -----------------------------------------------------------------------
    def _prices(
        self, api: AwsApi, engine: Engine, account: str, start: date, end: date, s: CollectSummary
    ) -> None:
        """On-demand offers of every Linux shared type of each region (Price List Query
        API) and spot offers of the types in use plus `price_instance_types`; written in
        one transaction through store.prices.write_offers."""
        now = utcnow()
        offers: list[Offer] = []
        for region in self.source.regions:
            types = sorted({*self._in_use.get(region, []), *self.source.price_instance_types})
            sizes = mapping.instance_type_sizes(api.instance_types(region, types)) if types else {}
            found = [
                prices_mapping.on_demand_offers(
                    api.price_list(region, prices_mapping.PRICE_FILTERS), region, sizes
                )
            ]
            if types:
                latest = prices_mapping.latest_spot(api.spot_history(region, types, now))
                found.append(prices_mapping.spot_offers(latest, region, sizes))
            for f in found:
                offers.extend(f.offers)
                for reason, n in f.quarantined.items():
                    s.quarantined[reason] = s.quarantined.get(reason, 0) + n
        with engine.begin() as conn:
            counts = write_offers(conn, offers, now)
        s.rows["price_offers"] = len(offers)
        s.rows["price_offers_changed"] = counts.written


def _upsert_by_name(conn: Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """Update the row with the same unique name, else insert (few rows: inventory)."""
    for row in rows:
        updated = conn.execute(
            sa.update(table).where(table.c.name == row["name"]).values(**row)
        ).rowcount
        if not updated:
            conn.execute(sa.insert(table).values(**row))


def totals(engine: Engine, source_key: str) -> tuple[int, Decimal]:
    """Rows and BilledCost of one source (for tests and the CLI)."""
    with engine.connect() as conn:
        t = costs.totals(conn, source_key)
    return t.rows, t.billed_cost
