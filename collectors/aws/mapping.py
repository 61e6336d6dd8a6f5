"""AWS API responses -> store rows. Pure functions: no SDK, no store, no clock.

- Cost Explorer GetCostAndUsage (DAILY; UnblendedCost, AmortizedCost, UsageQuantity;
  grouped by LINKED_ACCOUNT and SERVICE) -> FOCUS rows as `collectors.exports` writes
  them: BilledCost = UnblendedCost, EffectiveCost = AmortizedCost, ChargeCategory Usage.
  A malformed group is quarantined with a reason; the others are kept.
- EC2 DescribeInstances (+ DescribeInstanceTypes) -> workload rows.
- CloudWatch GetMetricData CPUUtilization -> usage samples, metric `cpu_pct`.
- S3 objects -> storage groups: storage_mapping.py.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from collectors.cloud import CostRows
from collectors.exports.common import FocusRow, day_start, iso, money, next_day

CE_GROUP_BY = ["LINKED_ACCOUNT", "SERVICE"]
CPU_METRIC = "cpu_pct"
STATE_TAG = "optimizer:state"
ASG_TAG = "optimizer:asg"


def cost_key(
    source_key: str, day: date, account: str, service: str, purchase_type: str | None = None
) -> str:
    """The natural key of one (source, day, account, service[, purchase type]) cost row."""
    parts = ("aws-ce", source_key, day.isoformat(), account, service)
    material = "\x1f".join(parts if purchase_type is None else (*parts, purchase_type))
    return hashlib.blake2b(material.encode(), digest_size=16).hexdigest()


def _amount(metrics: Mapping[str, Any], name: str, required: bool) -> tuple[Decimal | None, str]:
    metric = metrics.get(name)
    if metric is None:
        if required:
            raise ValueError(f"no {name}")
        return None, ""
    try:
        value = Decimal(str(metric["Amount"]))
    except (KeyError, TypeError, InvalidOperation):
        raise ValueError(f"{name} amount {metric.get('Amount')!r} is not a decimal") from None
    if not value.is_finite():
        raise ValueError(f"{name} amount {metric.get('Amount')!r} is not a decimal")
    return value, str(metric.get("Unit") or "")


def pricing_category(purchase_type: str) -> str:
    """Cost Explorer PURCHASE_TYPE -> FOCUS PricingCategory."""
    low = purchase_type.lower()
    if "spot" in low:
        return "Dynamic"
    if "reserved" in low or "savings plan" in low or "reservation" in low:
        return "Committed"
    if "on demand" in low or "on-demand" in low:
        return "Standard"
    return "Other"


def purchase_types(pages: Iterable[Mapping[str, Any]]) -> list[str]:
    """The PURCHASE_TYPE values of a GetCostAndUsage grouped by PURCHASE_TYPE alone."""
    found = {
        str(g["Keys"][0])
        for page in pages
        for result in page.get("ResultsByTime", [])
        for g in result.get("Groups", [])
        if isinstance(g.get("Keys"), list) and g["Keys"] and g["Keys"][0]
    }
    return sorted(found)


def purchase_type_filter(purchase_type: str) -> dict[str, Any]:
    return {"Dimensions": {"Key": "PURCHASE_TYPE", "Values": [purchase_type]}}


def map_cost_page(
    page: Mapping[str, Any],
    source_key: str,
    billing_account: str,
    out: CostRows,
    purchase_type: str | None = None,
) -> None:
    """Append one GetCostAndUsage page's groups to `out` as FOCUS rows (of one purchase
    type when the request was filtered on it)."""
    definitions = [d.get("Key") for d in page.get("GroupDefinitions", [])]
    for result in page.get("ResultsByTime", []):
        try:
            day = date.fromisoformat(result["TimePeriod"]["Start"])
        except (KeyError, TypeError, ValueError):
            for _ in result.get("Groups", []) or [None]:
                out.quarantine("bad TimePeriod")
            continue
        for group in result.get("Groups", []):
            try:
                row, key = _group_row(
                    group, definitions, day, source_key, billing_account, purchase_type
                )
            except ValueError as exc:
                out.quarantine(str(exc))
                continue
            if row is not None:
                out.add([row], [key], "duplicate (day, account, service[, purchase type]) group")


def _group_row(
    group: Mapping[str, Any],
    definitions: list[Any],
    day: date,
    source_key: str,
    billing_account: str,
    purchase_type: str | None = None,
) -> tuple[FocusRow | None, str]:
    keys = group.get("Keys")
    if not isinstance(keys, list) or len(keys) != len(definitions) or not all(keys):
        raise ValueError("group Keys missing or not matching GroupDefinitions")
    dims = dict(zip(definitions, keys, strict=True))
    account = str(dims.get("LINKED_ACCOUNT") or billing_account)
    service = dims.get("SERVICE")
    if not service:
        raise ValueError("group has no SERVICE key")
    metrics = group.get("Metrics")
    if not isinstance(metrics, Mapping):
        raise ValueError("group has no Metrics")
    billed, currency = _amount(metrics, "UnblendedCost", True)
    effective, eff_currency = _amount(metrics, "AmortizedCost", False)
    quantity, unit = _amount(metrics, "UsageQuantity", False)
    currency = currency or eff_currency
    if not currency or len(currency) != 3:
        raise ValueError(f"cost Unit {currency!r} is not a currency code")
    row: FocusRow = {
        "BilledCost": money(billed),
        "EffectiveCost": money(effective if effective is not None else billed),
        "BillingAccountId": billing_account,
        "BillingCurrency": currency,
        "ChargeCategory": "Usage",
        "ChargeFrequency": "Usage-Based",
        "ChargePeriodStart": iso(day_start(day)),
        "ChargePeriodEnd": iso(next_day(day)),
        "ChargeDescription": f"{service} (Cost Explorer daily total)",
        "ProviderName": "AWS",
        "PublisherName": "AWS",
        "InvoiceIssuerName": "AWS",
        "SubAccountId": account,
        "ServiceName": str(service),
        "ConsumedQuantity": money(quantity) if quantity is not None and unit != "N/A" else None,
        "ConsumedUnit": unit if quantity is not None and unit != "N/A" else None,
    }
    if purchase_type is not None:
        row["PricingCategory"] = pricing_category(purchase_type)
        row["x_PricingModel"] = purchase_type
    return row, cost_key(source_key, day, account, str(service), purchase_type)


def map_cost_pages(
    pages: Iterable[Mapping[str, Any]],
    source_key: str,
    billing_account: str,
    purchase_type: str | None = None,
    out: CostRows | None = None,
) -> CostRows:
    out = out if out is not None else CostRows()
    for page in pages:
        map_cost_page(page, source_key, billing_account, out, purchase_type)
    return out


# -- EC2 ------------------------------------------------------------------------------
def asg_members(asgs: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """DescribeAutoScalingGroups -> {instance id: group name}."""
    return {
        str(i["InstanceId"]): str(g["AutoScalingGroupName"])
        for g in asgs
        for i in g.get("Instances", []) or []
        if i.get("InstanceId") and g.get("AutoScalingGroupName")
    }


def instance_type_sizes(types: Iterable[Mapping[str, Any]]) -> dict[str, tuple[int, float]]:
    """DescribeInstanceTypes -> {type: (vCPUs, memory GiB)}."""
    out: dict[str, tuple[int, float]] = {}
    for t in types:
        try:
            vcpu = int(t["VCpuInfo"]["DefaultVCpus"])
            mem = float(t["MemoryInfo"]["SizeInMiB"]) / 1024
        except (KeyError, TypeError, ValueError):
            continue
        out[str(t["InstanceType"])] = (vcpu, mem)
    return out


def instance_workload(
    inst: Mapping[str, Any],
    region: str,
    account: str,
    sizes: Mapping[str, tuple[int, float]],
    source_key: str,
    now: datetime,
    groups: Mapping[str, str] | None = None,
) -> dict[str, Any] | None:
    """One DescribeInstances instance -> a workload row; terminated ones -> None.

    The Workload model has no state or group column, so both go in tags under our own
    prefix: `optimizer:state` when the instance is not running (stopped ones stay
    workloads: they still pay for volumes and may start again), `optimizer:asg` with
    its Auto Scaling group (from DescribeAutoScalingGroups: `groups` instance -> name).
    """
    state = (inst.get("State") or {}).get("Name")
    if state in ("terminated", "shutting-down"):
        return None
    iid = str(inst["InstanceId"])
    tags = {str(t["Key"]): str(t.get("Value", "")) for t in inst.get("Tags", []) or []}
    if state and state != "running":
        tags[STATE_TAG] = str(state)
    if groups and iid in groups:
        tags[ASG_TAG] = groups[iid]
    itype = str(inst.get("InstanceType", ""))
    vcpu, mem = sizes.get(itype, (0, 0.0))
    if not vcpu:
        cpu = inst.get("CpuOptions") or {}
        vcpu = int(cpu.get("CoreCount", 0)) * int(cpu.get("ThreadsPerCore", 1))
    return {
        "name": f"aws:{tags['Name']}:{iid}" if tags.get("Name") else f"aws:{iid}",
        "provider": "aws",
        "account_id": account,
        "region": region,
        "zone": (inst.get("Placement") or {}).get("AvailabilityZone"),
        "instance_type": itype,
        "purchase_option": "spot" if inst.get("InstanceLifecycle") == "spot" else "on_demand",
        "replicas": 1,
        "vcpu": vcpu,
        "memory_gib": mem,
        "owner": tags.get("owner") or tags.get("Owner"),
        "tags": tags or None,
        "series_id": f"aws:{iid}",
        "source_key": source_key,
        "updated_at": now,
    }


def cpu_queries(instance_ids: list[str], period: int = 3600) -> list[dict[str, Any]]:
    """GetMetricData queries: hourly average CPUUtilization, one per instance (Id q<n>)."""
    return [
        {
            "Id": f"q{i}",
            "Label": iid,
            "MetricStat": {
                "Metric": {
                    "Namespace": "AWS/EC2",
                    "MetricName": "CPUUtilization",
                    "Dimensions": [{"Name": "InstanceId", "Value": iid}],
                },
                "Period": period,
                "Stat": "Average",
            },
            "ReturnData": True,
        }
        for i, iid in enumerate(instance_ids)
    ]


def cpu_samples(
    results: Iterable[Mapping[str, Any]], instance_ids: list[str], source_key: str
) -> list[dict[str, Any]]:
    """MetricDataResults -> usage samples (`cpu_pct`, hour-floored UTC, 0-100)."""
    out: list[dict[str, Any]] = []
    for result in results:
        qid = str(result.get("Id", ""))
        if not qid.startswith("q") or not qid[1:].isdigit() or int(qid[1:]) >= len(instance_ids):
            continue
        series = f"aws:{instance_ids[int(qid[1:])]}"
        for ts, value in zip(result.get("Timestamps", []), result.get("Values", []), strict=False):
            when = ts.astimezone(UTC) if ts.tzinfo else ts.replace(tzinfo=UTC)
            when = when.replace(minute=0, second=0, microsecond=0)
            pct = min(max(float(value), 0.0), 100.0)
            out.append(
                {"series_id": series, "metric": CPU_METRIC, "ts": when, "value": pct,
                 "source_key": source_key}
            )  # fmt: skip
    return out
