"""The Azure collector's estate kinds: VM and scale-set inventory (ComputeManagementClient),
Azure Monitor CPU (MonitorManagementClient), storage accounts (StorageManagementClient +
BlobCapacity by tier) and Retail Prices (azure-core PipelineClient), all real clients
against the HTTPS fake of tests/azure_fake.py."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from collectors.azure.collector import AzureCollector
from collectors.azure.settings import AzureSource
from store.models import PriceOffer, SourceState, StorageGroup, UsageSample, Workload
from tests.azure_fake import (  # noqa: F401
    FakeAzure,
    account,
    azure_ca,
    azure_fixture,
    hourly,
    price,
    sku,
    vm,
    vmss,
)

TODAY = date(2024, 3, 10)
SUB = "00000000-0000-0000-0000-000000000001"
RULES = [{"enabled": True, "name": "cool-after-30", "type": "Lifecycle", "definition": {
    "actions": {"baseBlob": {"tierToCool": {"daysAfterModificationGreaterThan": 30}}},
    "filters": {"blobTypes": ["blockBlob"]}}}]  # fmt: skip


def at(days_ago: int, hour: int = 0) -> datetime:
    d = TODAY - timedelta(days=days_ago)
    return datetime(d.year, d.month, d.day, hour, tzinfo=UTC)


def source(azure: FakeAzure, **kw: Any) -> AzureSource:
    base: dict[str, Any] = {"type": "azure", "name": "corp", "scope": f"/subscriptions/{SUB}",
                            "endpoint_url": azure.url, "ca_bundle": azure.ca_path,
                            "retail_prices_url": f"{azure.url}/api/retail/prices",
                            "first_days": 2, "max_attempts": 2, "spend": False}  # fmt: skip
    return AzureSource(**{**base, **kw})


def seed(azure: FakeAzure) -> dict[str, str]:
    """Two VMs (one spot), a 3-instance scale set, a VM without a size, two storage
    accounts (one with a lifecycle policy), prices for eastus; 2 days of hourly CPU (and
    memory for web-1)."""
    web = vm(SUB, "RG-Web", "web-1", "Standard_D2s_v3", tags={"owner": "web", "env": "prod"})
    batch = vm(SUB, "rg-batch", "batch-1", "Standard_D4s_v3", spot=True)
    broken = vm(SUB, "rg-batch", "broken", None)
    pool = vmss(SUB, "rg-pool", "pool", "Standard_D2s_v3", 3)
    azure.vms[SUB] = [web, batch, broken]
    azure.scale_sets[SUB] = [pool]
    azure.skus = [sku("Standard_D2s_v3", 2, 8, ["eastus", "westeurope"]),
                  sku("Standard_D4s_v3", 4, 16, ["eastus"])]  # fmt: skip
    azure.add_series(web["id"], "Percentage CPU", hourly(at(2), [10.0, None, 30.5] + [20.0] * 45))
    azure.add_series(web["id"], "Available Memory Bytes", hourly(at(2), [2.0 * 2**30] * 48))
    azure.add_series(pool["id"], "Percentage CPU", hourly(at(2), [50.0] * 48))
    azure.add_series(batch["id"], "Percentage CPU", hourly(at(9), [99.0] * 24))  # out of window
    logs, archive = account(SUB, "rg-data", "logs"), account(SUB, "rg-data", "archive", tier="Cool")
    files = account(SUB, "rg-data", "share", kind="FileStorage")
    azure.accounts[SUB] = [logs, archive, files]
    azure.policies[logs["id"].lower()] = RULES
    blob = f"{logs['id']}/blobServices/default"
    for tier, size, count in (("Hot", 5 * 2**30, 1200), ("Cool", 2**40, 300), ("Archive", 7, 1)):
        azure.add_series(blob, "BlobCapacity", hourly(at(1), [size - 1, size]), {"Tier": tier})
        azure.add_series(blob, "BlobCount", hourly(at(1), [count]), {"Tier": tier})
    azure.prices = [
        price("eastus", "Standard_D2s_v3", 0.096), price("eastus", "Standard_D2s_v3", 0.0192, True),
        price("eastus", "Standard_D4s_v3", 0.192), price("eastus", "Standard_D4s_v3", 0.0384, True),
        price("eastus", "Standard_D2s_v3", 0.188, product="Virtual Machines DSv3 Series Windows"),
        price("eastus", "Standard_D2s_v3", 0.01, sku_name="D2s v3 Low Priority"),
        price("eastus", "Standard_D4s_v3", None),  # no unit price: quarantined
        price("westeurope", "Standard_D2s_v3", 0.11),  # another region: not asked for
    ]  # fmt: skip
    return {"web": web["id"], "pool": pool["id"], "batch": batch["id"]}


def rows(engine: Engine, model: Any, *order: str) -> list[Any]:
    t = model.__table__
    with engine.connect() as conn:
        return list(conn.execute(sa.select(t).order_by(*(t.c[c] for c in order))))


def test_estate_lands_in_the_store(azure: FakeAzure, engine: Engine) -> None:
    ids = seed(azure)
    azure.page_size = 2  # ARM nextLink and Retail Prices NextPageLink followed
    s = AzureCollector(source(azure)).collect(engine, TODAY)
    assert s.status == "ok", s
    assert s.rows == {"workloads": 3, "usage_samples": 143, "storage_groups": 4,
                      "price_offers": 4}  # fmt: skip
    assert s.quarantined == {"VM without a size": 1, "price without a unit price": 1}
    assert s.api_calls == {
        "virtual_machines.list_all": 2, "virtual_machine_scale_sets.list_all": 1,
        "resource_skus.list": 1, "metrics.list Percentage CPU,Available Memory Bytes": 3,
        "storage_accounts.list": 2, "management_policies.get": 2,
        "metrics.list BlobCapacity,BlobCount": 2, "retail_prices": 4,
    }  # fmt: skip
    by_name = {w.name: w for w in rows(engine, Workload, "name")}
    web = by_name[f"azure:{SUB}/rg-web/web-1"]
    assert (web.provider, web.region, web.instance_type, web.purchase_option) == (
        "azure", "eastus", "Standard_D2s_v3", "on_demand")  # fmt: skip
    assert (web.vcpu, web.memory_gib, web.replicas, web.account_id) == (2, 8.0, 1, SUB)
    assert web.owner == "web" and web.tags == {"owner": "web", "env": "prod"}
    assert web.series_id == f"azure:{ids['web'].lower()}" and web.source_key == "corp"
    batch = by_name[f"azure:{SUB}/rg-batch/batch-1"]
    assert (batch.purchase_option, batch.vcpu, batch.memory_gib) == ("spot", 4, 16.0)
    assert by_name[f"azure:{SUB}/rg-pool/pool"].replicas == 3
    samples = rows(engine, UsageSample, "series_id", "ts")
    web_samples = [x for x in samples if x.series_id == web.series_id and x.metric == "cpu_pct"]
    assert len(web_samples) == 47 and web_samples[1].value == 30.5  # the empty hour skipped
    memory = [x.value for x in samples if x.metric == "memory_gib"]
    assert memory == [6.0] * 48  # web-1: 8 GiB less 2 GiB available
    cpu_get = next(g for g in azure.gets if g["api"] == "metrics")["query"]
    assert (cpu_get["metricnames"], cpu_get["interval"], cpu_get["aggregation"]) == (
        "Percentage CPU,Available Memory Bytes", "PT1H", "Average")  # fmt: skip
    assert cpu_get["timespan"] == "2024-03-08T00:00:00Z/2024-03-10T00:00:00Z"
    groups = {g.name: g for g in rows(engine, StorageGroup, "name")}
    assert set(groups) == {"azure:logs:Hot", "azure:logs:Cool", "azure:logs:Archive",
                           "azure:archive:Cool"}  # fmt: skip
    assert (groups["azure:logs:Hot"].bytes, groups["azure:logs:Hot"].objects) == (5 * 2**30, 1200)
    assert groups["azure:logs:Cool"].lifecycle_rules == RULES
    assert (
        groups["azure:archive:Cool"].bytes == 0 and not groups["azure:archive:Cool"].lifecycle_rules
    )
    offers = {(o.instance_type, o.purchase_option): o for o in rows(engine, PriceOffer, "id")}
    assert {k: Decimal(str(o.usd_per_hour)) for k, o in offers.items()} == {
        ("Standard_D2s_v3", "on_demand"): Decimal("0.096"),
        ("Standard_D2s_v3", "spot"): Decimal("0.0192"),
        ("Standard_D4s_v3", "on_demand"): Decimal("0.192"),
        ("Standard_D4s_v3", "spot"): Decimal("0.0384"),
    }
    d4 = offers[("Standard_D4s_v3", "spot")]
    assert (d4.provider, d4.region, d4.vcpu, d4.memory_gib) == ("azure", "eastus", 4, 16.0)
    with engine.connect() as conn:
        states = SourceState.__table__  # type: ignore[attr-defined]
        mark = conn.execute(sa.select(states.c.watermark)).scalar_one()
    assert mark.date() == TODAY


def test_rerun_is_idempotent(azure: FakeAzure, engine: Engine) -> None:
    seed(azure)
    src = source(azure, restate_days=2)
    first = AzureCollector(src).collect(engine, TODAY)
    again = AzureCollector(src).collect(engine, TODAY)
    assert first.status == again.status == "ok" and first.rows == again.rows
    counts = [len(rows(engine, m, "id")) for m in (Workload, UsageSample, StorageGroup, PriceOffer)]
    assert counts == [3, 143, 4, 4]
    # the scale set scales out, a price changes: updated in place, a new price version
    azure.scale_sets[SUB][0]["sku"]["capacity"] = 5
    azure.prices[0]["unitPrice"] = 0.1
    AzureCollector(src).collect(engine, TODAY + timedelta(days=1))
    assert {w.name: w.replicas for w in rows(engine, Workload, "id")}[
        f"azure:{SUB}/rg-pool/pool"] == 5  # fmt: skip
    assert len(rows(engine, Workload, "id")) == 3
    d2 = [o for o in rows(engine, PriceOffer, "id")
          if (o.instance_type, o.purchase_option) == ("Standard_D2s_v3", "on_demand")]  # fmt: skip
    assert [Decimal(str(o.usd_per_hour)) for o in d2] == [Decimal("0.096"), Decimal("0.1")]
    assert d2[0].valid_to is not None and d2[1].valid_to is None


def test_resource_group_scope_and_unsplit_regions(azure: FakeAzure, sqlite_engine: Engine) -> None:
    seed(azure)
    s = AzureCollector(
        source(
            azure,
            scope=f"/subscriptions/{SUB}/resourceGroups/rg-web",
            storage=False,
            regions=["westeurope"],
        )
    ).collect(sqlite_engine, TODAY)
    assert s.status == "ok" and s.rows["workloads"] == 1 and not s.quarantined.get(
        "VM without a size")  # fmt: skip
    regions = {o.region for o in rows(sqlite_engine, PriceOffer, "id")}
    assert regions == {"eastus", "westeurope"}


def test_billing_scope_without_subscriptions_skips_estate(
    azure: FakeAzure, sqlite_engine: Engine
) -> None:
    seed(azure)
    billing = "/providers/Microsoft.Billing/billingAccounts/1234"
    s = AzureCollector(source(azure, scope=billing)).collect(sqlite_engine, TODAY)
    assert s.status == "ok" and "list `subscriptions`" in s.detail
    assert s.rows == {"workloads": 0, "usage_samples": 0, "storage_groups": 0, "price_offers": 0}
    assert not azure.gets
    s = AzureCollector(source(azure, scope=billing, subscriptions=[f"/subscriptions/{SUB}"])
                       ).collect(sqlite_engine, TODAY)  # fmt: skip
    assert s.status == "ok" and s.rows["workloads"] == 3


def test_empty_subscription(azure: FakeAzure, sqlite_engine: Engine) -> None:
    s = AzureCollector(source(azure)).collect(sqlite_engine, TODAY)
    assert s.status == "ok" and not s.quarantined
    assert s.rows == {"workloads": 0, "usage_samples": 0, "storage_groups": 0, "price_offers": 0}
    assert azure.got("prices") == 0  # no VM, no region asked for: no price call


@pytest.mark.parametrize("kind", ["inventory", "metrics", "storage", "prices"])
def test_toggles(azure: FakeAzure, sqlite_engine: Engine, kind: str) -> None:
    seed(azure)
    s = AzureCollector(source(azure, **{kind: False})).collect(sqlite_engine, TODAY)
    assert s.status == "ok"
    missing = {"inventory": "workloads", "metrics": "usage_samples",
               "storage": "storage_groups", "prices": "price_offers"}[kind]  # fmt: skip
    assert missing not in s.rows


def test_flexible_scale_set_counts_its_vms(azure: FakeAzure, sqlite_engine: Engine) -> None:
    seed(azure)
    flex = vmss(SUB, "rg-flex", "flex", "Standard_D2s_v3", 2)
    flex["properties"]["orchestrationMode"] = "Flexible"
    azure.scale_sets[SUB].append(flex)
    for n in (1, 2):
        member = vm(SUB, "rg-flex", f"flex_{n}", "Standard_D2s_v3")
        member["properties"]["virtualMachineScaleSet"] = {"id": flex["id"]}
        azure.vms[SUB].append(member)
    s = AzureCollector(source(azure, metrics=False)).collect(sqlite_engine, TODAY)
    assert s.status == "ok" and s.rows["workloads"] == 5  # 3 as before + the 2 members
    names = {w.name for w in rows(sqlite_engine, Workload, "name")}
    assert f"azure:{SUB}/rg-flex/flex_1" in names and f"azure:{SUB}/rg-flex/flex" not in names
