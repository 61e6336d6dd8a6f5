"""Builders of GCP API payloads in their wire shapes (REST camelCase JSON, BigQuery
aggregated rows, Monitoring protobuf messages) for the fakes in tests/gcp_fake.py."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from google.cloud.monitoring_v3.types import Point, TimeInterval, TimeSeries, TypedValue

ACCOUNT = "012345-6789AB-CDEF01"
PROJECT = "shop-prod-1"
TABLE = f"{PROJECT}.billing_export.gcp_billing_export_v1_012345_6789AB_CDEF01"


def price(units: int, nanos: int, start: float = 0) -> dict[str, Any]:
    return {"startUsageAmount": start,
            "unitPrice": {"currencyCode": "USD", "units": str(units), "nanos": nanos}}  # fmt: skip


def sku(
    description: str, usage_type: str, unit: str, tiers: list[dict[str, Any]],
    regions: tuple[str, ...] = ("us-central1",), group: str = "CPU",
) -> dict[str, Any]:  # fmt: skip
    """A Compute Engine SKU as cloudbilling.googleapis.com/v1 returns it."""
    sid = f"{abs(hash(description + usage_type)) % 10**12:012X}"
    return {
        "name": f"services/6F81-5844-456A/skus/{sid}", "skuId": sid, "description": description,
        "category": {"serviceDisplayName": "Compute Engine", "resourceFamily": "Compute",
                     "resourceGroup": group, "usageType": usage_type},
        "serviceRegions": list(regions),
        "pricingInfo": [{"summary": "", "effectiveTime": "2024-03-01T00:00:00Z",
                         "pricingExpression": {"usageUnit": unit, "displayQuantity": 1,
                                               "baseUnit": "s", "tieredRates": tiers},
                         "currencyConversionRate": 1}],
        "serviceProviderName": "Google", "geoTaxonomy": {"type": "REGIONAL",
                                                         "regions": list(regions)},
    }  # fmt: skip


def machine_type(name: str, cpus: int, memory_mb: int, zone: str = "us-central1-a",
                 shared: bool = False) -> dict[str, Any]:  # fmt: skip
    return {"kind": "compute#machineType", "name": name, "guestCpus": cpus,
            "memoryMb": memory_mb, "zone": zone, "isSharedCpu": shared}  # fmt: skip


def instance(iid: int, name: str, mtype: str, zone: str = "us-central1-a",
             spot: bool = False, labels: dict[str, str] | None = None,
             mig: str | None = None, project: str = PROJECT,
             mig_region: str | None = None) -> dict[str, Any]:  # fmt: skip
    base = f"https://www.googleapis.com/compute/v1/projects/{project}/zones/{zone}"
    body: dict[str, Any] = {
        "kind": "compute#instance", "id": str(iid), "name": name, "zone": base,
        "machineType": f"{base}/machineTypes/{mtype}", "status": "RUNNING",
        "scheduling": {"provisioningModel": "SPOT" if spot else "STANDARD",
                       "preemptible": spot},
        "labels": labels or {},
    }  # fmt: skip
    if mig:
        where = f"regions/{mig_region}" if mig_region else f"zones/{zone}"
        body["metadata"] = {"items": [{"key": "created-by", "value":
                            f"projects/123/{where}/instanceGroupManagers/{mig}"}]}  # fmt: skip
    return body


def igm(name: str, zone: str = "us-central1-a", size: int = 2,
        region: str | None = None) -> dict[str, Any]:  # fmt: skip
    """A zonal group, or a regional one when `region` is given."""
    base = f"https://www.googleapis.com/compute/v1/projects/{PROJECT}"
    where = {"region": f"{base}/regions/{region}"} if region else {"zone": f"{base}/zones/{zone}"}
    return {"kind": "compute#instanceGroupManager", "name": name, "targetSize": size,
            "baseInstanceName": name, **where}  # fmt: skip


def bq_row(day: date, service: str, cost: str, credits: str = "[]", **kw: Any) -> dict[str, Any]:
    """One aggregated export row, as the collector's query returns it."""
    row: dict[str, Any] = {
        "day": day.isoformat(), "billing_account_id": ACCOUNT, "project_id": PROJECT,
        "project_name": "Shop", "service_id": "6F81-5844-456A", "service_description": service,
        "sku_id": "CP-COMPUTEENGINE-1", "sku_description": f"{service} usage",
        "region": "us-central1", "cost_type": "regular", "currency": "USD",
        "invoice_month": day.strftime("%Y%m"), "usage_unit": "seconds",
        "pricing_unit": "hour", "cost": cost, "usage_amount": "3600",
        "usage_amount_in_pricing_units": "1", "credits": credits,
    }  # fmt: skip
    row.update(kw)
    return row


def cpu_series(iid: int, start: datetime, hours: int, frac: float = 0.25) -> TimeSeries:
    """Hourly ALIGN_MEAN points of compute.googleapis.com/instance/cpu/utilization."""
    points = [
        Point(interval=TimeInterval(end_time=start + timedelta(hours=h + 1)),
              value=TypedValue(double_value=frac))
        for h in range(hours)
    ]  # fmt: skip
    series = TimeSeries(points=list(reversed(points)))  # newest first, as Monitoring does
    series.metric.type = "compute.googleapis.com/instance/cpu/utilization"
    series.metric.labels["instance_name"] = f"vm-{iid}"
    series.resource.type = "gce_instance"
    series.resource.labels["instance_id"] = str(iid)
    series.resource.labels["zone"] = "us-central1-a"
    series.resource.labels["project_id"] = PROJECT
    return series


def midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)
