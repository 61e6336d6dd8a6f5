"""Faults of the Azure collector's estate kinds against the HTTPS fake: 429 with
Retry-After retried by azure-core, 403 per API naming the missing action, 401 (expired
token), malformed items quarantined, an unreachable Retail Prices endpoint, and a kind
failing after others were written (their store state kept, the watermark unmoved)."""

from __future__ import annotations

import socket
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from collectors.azure.collector import AzureCollector, totals
from store.models import PriceOffer, SourceState, StorageGroup, UsageSample, Workload
from tests.azure_fake import (  # noqa: F401
    FakeAzure,
    azure_ca,
    azure_fixture,
    denied,
    price,
    throttled,
    unauthorized,
    vm,
    vmss,
)
from tests.test_azure_estate import SUB, TODAY, at, rows, seed, source


def watermark(engine: Engine) -> Any:
    states = SourceState.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:
        return conn.execute(sa.select(states.c.watermark, states.c.last_status)).one()


@pytest.mark.parametrize("api", ["vms", "vmss", "skus", "metrics", "accounts", "policies",
                                 "prices"])  # fmt: skip
def test_429_retry_after_retried(azure: FakeAzure, sqlite_engine: Engine, api: str) -> None:
    seed(azure)
    azure.fail[api] = [throttled("0")]
    s = AzureCollector(source(azure)).collect(sqlite_engine, TODAY)
    assert s.status == "ok", s
    assert s.rows["workloads"] == 3 and s.rows["price_offers"] == 4
    expected = {"vms": 2, "vmss": 2, "skus": 2, "metrics": 6, "accounts": 2, "policies": 3,
                "prices": 2}  # fmt: skip
    assert azure.got(api) == expected[api]  # one more request than without the 429


@pytest.mark.parametrize(
    ("api", "action"),
    [
        ("vms", "Microsoft.Compute/virtualMachines/read"),
        ("vmss", "Microsoft.Compute/virtualMachineScaleSets/read"),
        ("skus", "Microsoft.Compute/skus/read"),
        ("metrics", "Microsoft.Insights/metrics/read"),
        ("accounts", "Microsoft.Storage/storageAccounts/read"),
        ("policies", "Microsoft.Storage/storageAccounts/managementPolicies/read"),
    ],
)
def test_403_names_the_missing_action(
    azure: FakeAzure, sqlite_engine: Engine, api: str, action: str
) -> None:
    seed(azure)
    azure.fail_always[api] = denied(action)
    s = AzureCollector(source(azure)).collect(sqlite_engine, TODAY)
    assert s.status == "permission_denied", s
    assert action in s.hint and "docs/permissions.md" in s.hint
    assert watermark(sqlite_engine).last_status == "failed"
    assert watermark(sqlite_engine).watermark is None
    if api == "vms":  # check() lists the first subscription's VMs
        c = AzureCollector(source(azure)).check()
        assert (c.status, c.missing_permission) == ("permission_denied", action)


def test_throttled_after_retries_and_expired_token(azure: FakeAzure, sqlite_engine: Engine) -> None:
    seed(azure)
    azure.fail_always["metrics"] = throttled("0")
    s = AzureCollector(source(azure, max_attempts=3)).collect(sqlite_engine, TODAY)
    assert s.status == "throttled" and "max_attempts" in s.hint
    # the 3 CPU calls run at once (metrics_workers 4), each tried 3 times; the storage
    # kind still runs after the compute kind failed, and its first BlobCapacity call is
    # throttled too (3 tries)
    assert s.api_calls["metrics.list Percentage CPU,Available Memory Bytes"] == 3
    assert azure.got("metrics") == 9 + 3, s.api_calls
    azure.fail_always = {"vms": unauthorized()}
    s = AzureCollector(source(azure)).collect(sqlite_engine, TODAY)
    assert s.status == "auth_failed" and "az login" in s.hint
    assert AzureCollector(source(azure)).check().status == "auth_failed"


def test_metrics_of_a_deleted_vm_are_empty(azure: FakeAzure, sqlite_engine: Engine) -> None:
    seed(azure)
    azure.fail["metrics"] = [(404, {}, {"error": {"code": "ResourceNotFound", "message":
                                                  "The resource was not found"}})]  # fmt: skip
    s = AzureCollector(source(azure, metrics_workers=1)).collect(sqlite_engine, TODAY)
    assert s.status == "ok" and s.rows["workloads"] == 3
    assert s.rows["usage_samples"] == 143 - 47 - 48  # the first VM's (web-1) series are gone


def test_prices_unreachable(azure: FakeAzure, sqlite_engine: Engine) -> None:
    seed(azure)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    down = f"https://127.0.0.1:{port}/api/retail/prices"
    s = AzureCollector(source(azure, retail_prices_url=down, max_attempts=1)).collect(
        sqlite_engine, TODAY
    )
    assert s.status == "unreachable" and "retail_prices_url" in s.hint
    assert s.rows["workloads"] == 3  # the kinds before were written
    assert not rows(sqlite_engine, PriceOffer, "id")


def test_malformed_items_quarantined(azure: FakeAzure, sqlite_engine: Engine) -> None:
    seed(azure)
    azure.vms[SUB] += [
        vm(SUB, "rg", "odd-size", "Standard_Nope"),
        {"id": f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/"
         "virtualMachines/no-location", "name": "no-location", "properties": {}},
    ]  # fmt: skip
    bad_capacity = vmss(SUB, "rg", "bad", "Standard_D2s_v3", 1)
    bad_capacity["sku"]["capacity"] = "many"
    azure.scale_sets[SUB] += [bad_capacity, vmss(SUB, "rg", "idle", "Standard_D2s_v3", 0)]
    azure.prices += [
        price("eastus", "Standard_D8s_v3", 0.384),  # a size resource_skus does not list
        price("eastus", "Standard_D2s_v3", 0.5, unit="1/Month"),
        price("eastus", "Standard_D2s_v3", "n/a"),
    ]
    web_id = azure.vms[SUB][0]["id"]
    azure.series[(web_id.lower(), "Percentage CPU")][0][1].append({"average": 1.0})
    s = AzureCollector(source(azure)).collect(sqlite_engine, TODAY)
    assert s.status == "ok", s
    assert s.rows["workloads"] == 3 and s.rows["price_offers"] == 4
    assert s.quarantined == {
        "VM without a size": 1,
        "VM size not listed by resource_skus": 1,
        "VM without id, name or location": 1,
        "scale set capacity is not a number": 1,
        "metric point without a timeStamp or number": 1,
        "price for a size not offered to the subscription (resource_skus)": 1,
        "price not per hour": 1,
        "price without a unit price": 2,
    }


def test_failing_kind_keeps_others_and_watermark(azure: FakeAzure, engine: Engine) -> None:
    ids = seed(azure)
    azure.set_rows("ActualCost", [[5.0, int(at(1).strftime("%Y%m%d")), SUB, "VM", "USD"]])
    azure.set_rows("AmortizedCost", [[4.0, int(at(1).strftime("%Y%m%d")), SUB, "VM", "USD"]])
    src = source(azure, spend=True)
    assert AzureCollector(src).collect(engine, TODAY).status == "ok"
    before = {m.__name__: len(rows(engine, m, "id"))
              for m in (Workload, UsageSample, StorageGroup, PriceOffer)}  # fmt: skip
    # next night: a new VM appears, then Monitor refuses: spend and inventory are written
    # (each in its own transaction), samples, storage and prices stay as they were
    azure.vms[SUB].append(vm(SUB, "rg-web", "web-2", "Standard_D2s_v3"))
    azure.series[(ids["web"].lower(), "Percentage CPU")][0][1].append(
        {"timeStamp": "2024-03-10T00:00:00Z", "average": 1.0})  # fmt: skip
    azure.fail_always["metrics"] = denied("Microsoft.Insights/metrics/read")
    s = AzureCollector(src).collect(engine, TODAY + timedelta(days=1))
    assert s.status == "permission_denied" and s.rows["workloads"] == 4
    after = {m.__name__: len(rows(engine, m, "id"))
             for m in (Workload, UsageSample, StorageGroup, PriceOffer)}  # fmt: skip
    assert after == {**before, "Workload": before["Workload"] + 1}
    assert totals(engine, "corp")[0] == 1
    mark = watermark(engine)
    assert mark.last_status == "failed" and mark.watermark.date() == TODAY
    # the fix: the next run reads the gap and succeeds
    azure.fail_always.clear()
    s = AzureCollector(src).collect(engine, TODAY + timedelta(days=1))
    assert s.status == "ok" and s.window == (TODAY - timedelta(days=3), TODAY + timedelta(days=1))
    assert watermark(engine).watermark.date() == TODAY + timedelta(days=1)
