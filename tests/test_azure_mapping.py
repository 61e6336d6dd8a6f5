"""Pure Azure mappings (no SDK, no store): ARM and Monitor payloads -> workloads, samples
and storage groups; Retail Prices items -> offers. Payloads are built with the fake's
REST-shaped helpers."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from collectors.azure import inventory_mapping as inv
from collectors.azure import prices_mapping as pm
from collectors.azure.settings import AzureSource
from tests.azure_fake import account, hourly, price, sku, vm, vmss

SUB = "00000000-0000-0000-0000-000000000001"
NOW = datetime(2024, 3, 10, tzinfo=UTC)
SIZES = inv.sku_sizes([sku("Standard_D2s_v3", 2, 8, ["eastus"]),
                       {"resourceType": "disks", "name": "Premium_LRS", "capabilities": []},
                       {"resourceType": "virtualMachines", "name": "Broken",
                        "capabilities": [{"name": "vCPUs", "value": "x"}]}])  # fmt: skip


def test_sizes_ids_scope_and_hours() -> None:
    assert SIZES == {"Standard_D2s_v3": (2, 8.0)}
    rid = vm(SUB, "RG-A", "web", "Standard_D2s_v3")["id"]
    assert (inv.id_part(rid, "subscriptions"), inv.id_part(rid, "resourcegroups")) == (SUB, "RG-A")
    assert inv.in_scope(rid, "rg-a") and inv.in_scope(rid, None) and not inv.in_scope(rid, "b")
    assert inv.hour_text("2024-03-08T05:59:59Z") == "2024-03-08 05:00:00.000000"
    assert inv.hour_text("2024-03-08T07:30:00+02:00") == "2024-03-08 05:00:00.000000"
    src = AzureSource(type="azure", name="x", scope=f"/subscriptions/{SUB}/resourceGroups/g")
    assert (src.inventory_subscriptions, src.resource_group) == ([SUB], "g")
    billing = AzureSource(type="azure", name="x", scope="/providers/Microsoft.Billing/x",
                          subscriptions=[f"/subscriptions/{SUB}/"])  # fmt: skip
    assert (billing.inventory_subscriptions, billing.scope_subscription) == ([SUB], None)
    with pytest.raises(ValueError, match="subscriptions are ids"):
        AzureSource(type="azure", name="x", scope="/s", subscriptions=["a/b"])


def test_workloads() -> None:
    spot = vm(SUB, "rg", "batch", "Standard_D2s_v3", spot=True, tags={"Owner": "ml"})
    w = inv.vm_workload(spot, SIZES, "corp", NOW)
    assert w is not None and (w["purchase_option"], w["owner"], w["zone"]) == ("spot", "ml", None)
    low = vm(SUB, "rg", "old", "Standard_D2s_v3")
    low["properties"]["priority"], low["zones"] = "Low", ["2"]
    w = inv.vm_workload(low, SIZES, "corp", NOW)
    assert w is not None and (w["purchase_option"], w["zone"]) == ("spot", "eastus-2")
    for bad, reason in ((vm(SUB, "rg", "x", None), "VM without a size"),
                        (vm(SUB, "rg", "x", "Standard_Zz"), "VM size not listed"),
                        ({"name": "x"}, "VM without id")):  # fmt: skip
        with pytest.raises(ValueError, match=reason):
            inv.vm_workload(bad, SIZES, "corp", NOW)
    assert (
        inv.scale_set_workload(vmss(SUB, "rg", "s", "Standard_D2s_v3", 0), SIZES, "c", NOW) is None
    )
    pool = inv.scale_set_workload(vmss(SUB, "rg", "s", "Standard_D2s_v3", 4, spot=True), SIZES,
                                  "c", NOW)  # fmt: skip
    assert pool is not None and (pool["replicas"], pool["purchase_option"]) == (4, "spot")


def test_usage_samples() -> None:
    start = datetime(2024, 3, 8, tzinfo=UTC)
    reply = {"value": [
        {"name": {"value": "Percentage CPU"}, "timeseries": [{"data": [*hourly(start, [150.0, None, -1.0]), {"timeStamp": "2024-03-08T00:10:00Z", "average": 5.0}]}]},  # noqa: E501
        {"name": {"value": "Available Memory Bytes"}, "timeseries": [{"data": hourly(start, [2.0 * 2**30, 9.0 * 2**30])}]},  # noqa: E501
    ]}  # fmt: skip
    out = inv.Mapped()
    workload = {"series_id": "azure:x", "memory_gib": 8.0, "replicas": 3}
    inv.usage_samples(reply, workload, "corp", out)
    assert out.rows == [
        ("azure:x", "cpu_pct", "2024-03-08 00:00:00.000000", 100.0, "corp"),
        ("azure:x", "cpu_pct", "2024-03-08 02:00:00.000000", 0.0, "corp"),
        ("azure:x", "memory_gib", "2024-03-08 00:00:00.000000", 18.0, "corp"),  # (8-2) x 3
        ("azure:x", "memory_gib", "2024-03-08 01:00:00.000000", 0.0, "corp"),
    ]
    assert out.quarantined == {"metric point duplicated or NaN": 1}


def test_storage_groups_by_tier() -> None:
    t0 = datetime(2024, 3, 9, tzinfo=UTC)
    reply = {"value": [
        {"name": {"value": "BlobCapacity"}, "timeseries": [
            {"metadatavalues": [{"name": {"value": "tier"}, "value": "Hot"}], "data": hourly(t0, [5.0, 7.0, None])},  # noqa: E501
            {"metadatavalues": [], "data": hourly(t0, [99.0])}]},
        {"name": {"value": "BlobCount"}, "timeseries": [
            {"metadatavalues": [{"name": {"value": "tier"}, "value": "Hot"}], "data": hourly(t0, [3.0])}]},  # noqa: E501
    ]}  # fmt: skip
    assert inv.tier_totals(reply) == {"Hot": (7, 3)}
    acct = account(SUB, "rg", "logs", tier="Cool")
    groups = inv.storage_groups(acct, [], inv.tier_totals(reply), "corp", NOW)
    assert [(g["name"], g["bytes"], g["objects"], g["owner"]) for g in groups] == [
        ("azure:logs:Hot", 7, 3, "data")]  # fmt: skip
    empty = inv.storage_groups(acct, [{"name": "r"}], {}, "corp", NOW)
    assert [(g["tier"], g["bytes"], g["lifecycle_rules"]) for g in empty] == [
        ("Cool", 0, [{"name": "r"}])]  # fmt: skip


def test_price_offers() -> None:
    newer = price("eastus", "Standard_D2s_v3", 0.1)
    newer["effectiveStartDate"] = "2024-06-01T00:00:00Z"
    tiered = price("eastus", "Standard_D2s_v3", 0.05)
    tiered["tierMinimumUnits"] = 100.0
    reserved = price("eastus", "Standard_D2s_v3", 0.03)
    reserved["reservationTerm"] = "1 Year"
    eur = price("eastus", "Standard_D2s_v3", 0.09, spot=True)
    eur["currencyCode"] = "EUR"
    items = [price("eastus", "Standard_D2s_v3", 0.096), newer, tiered, reserved, eur,
             price("eastus", "Standard_D2s_v3", 0.2, product="Virtual Machines DSv3 Series Windows"),  # noqa: E501
             price("eastus", "Standard_D2s_v3", 0.02, spot=True)]  # fmt: skip
    quarantined: dict[str, int] = {}
    offers = pm.offers(items, SIZES, quarantined)
    assert sorted((o.purchase_option, o.usd_per_hour, o.family) for o in offers) == [
        ("on_demand", Decimal("0.1"), "DSv3 Series"),
        ("spot", Decimal("0.02"), "DSv3 Series"),
    ]
    assert quarantined == {"price not in USD": 1}
    assert "armRegionName eq 'eastus'" in pm.price_filter("eastus")
