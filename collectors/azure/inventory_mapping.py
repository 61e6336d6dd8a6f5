"""Azure ARM and Monitor payloads (REST JSON) -> workloads, usage samples and storage
groups, in the row shapes the AWS collector writes. Pure: no SDK, no store, no clock.

- Compute resource SKUs -> {size: (vCPUs, memory GiB)}.
- VMs (virtual_machines.list_all, Flexible scale sets' VMs included) -> one workload each
  (replicas 1). Uniform scale sets -> one workload, replicas = capacity.
  priority Spot (or the legacy Low) -> purchase option spot.
- Monitor "Percentage CPU" and "Available Memory Bytes" hourly averages (one call) ->
  `cpu_pct` and `memory_gib` (used) samples, hour-floored UTC.
- Storage accounts + lifecycle rules + Monitor BlobCapacity/BlobCount by Tier -> one
  storage group per (account, access tier).
A malformed item is skipped with a reason (the caller counts it as quarantined).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from collectors.cloud import Quarantine

CPU_METRIC, MEMORY_METRIC = "cpu_pct", "memory_gib"
SAMPLE_METRICS = (CPU_METRIC, MEMORY_METRIC)
CPU_NAME, MEMORY_NAME = "Percentage CPU", "Available Memory Bytes"  # platform metrics
USAGE_NAMES = f"{CPU_NAME},{MEMORY_NAME}"  # one metrics.list call for both
SAMPLE_COLUMNS = ("series_id", "metric", "ts", "value", "source_key")
CAPACITY_NAMES = "BlobCapacity,BlobCount"
BLOB_KINDS = frozenset({"storagev2", "storage", "blobstorage", "blockblobstorage"})
Sizes = dict[str, tuple[int, float]]


@dataclass
class Mapped(Quarantine):
    rows: list[Any] = field(default_factory=list)  # row dicts, or sample tuples


def id_part(resource_id: str, name: str) -> str:
    """The segment after `name` in an ARM id ("subscriptions", "resourceGroups", …)."""
    parts = resource_id.strip("/").split("/")
    for i in range(0, len(parts) - 1):
        if parts[i].lower() == name.lower():
            return parts[i + 1]
    return ""


def in_scope(resource_id: str, resource_group: str | None) -> bool:
    """Whether a resource falls in a resource-group scope (None: any group)."""
    return resource_group is None or id_part(resource_id, "resourceGroups").lower() == (
        resource_group.lower()
    )


def timespan(start: date, end: date) -> str:
    """Monitor's ISO 8601 interval for the UTC days [start, end)."""
    return f"{start.isoformat()}T00:00:00Z/{end.isoformat()}T00:00:00Z"


def sku_sizes(skus: Iterable[Mapping[str, Any]]) -> Sizes:
    """resource_skus.list -> {VM size: (vCPUs, memory GiB)} (virtualMachines only)."""
    out: Sizes = {}
    for sku in skus:
        if str(sku.get("resourceType", "")).lower() != "virtualmachines":
            continue
        caps = {str(c.get("name")): c.get("value") for c in sku.get("capabilities") or []}
        try:
            vcpu, mem = int(str(caps["vCPUs"])), float(str(caps["MemoryGB"]))
        except (KeyError, TypeError, ValueError):
            continue
        if vcpu > 0:
            out[str(sku.get("name"))] = (vcpu, mem)
    return out


def _workload(
    item: Mapping[str, Any], size: str, spot: bool, replicas: int, sizes: Sizes,
    source_key: str, now: datetime,
) -> dict[str, Any]:  # fmt: skip
    rid = str(item["id"])
    sub, group = id_part(rid, "subscriptions"), id_part(rid, "resourceGroups").lower()
    location = str(item.get("location") or "")
    tags = {str(k): str(v) for k, v in (item.get("tags") or {}).items()}
    zones = item.get("zones") or []
    vcpu, mem = sizes[size]
    return {
        "name": f"azure:{sub}/{group}/{item['name']}",
        "provider": "azure",
        "account_id": sub,
        "region": location,
        "zone": f"{location}-{zones[0]}" if zones else None,
        "instance_type": size,
        "purchase_option": "spot" if spot else "on_demand",
        "replicas": replicas,
        "vcpu": vcpu,
        "memory_gib": mem,
        "owner": tags.get("owner") or tags.get("Owner"),
        "tags": tags or None,
        "series_id": f"azure:{rid.lower()}",
        "source_key": source_key,
        "updated_at": now,
    }


def _checked(item: Mapping[str, Any], kind: str) -> None:
    if not isinstance(item.get("id"), str) or not item.get("name") or not item.get("location"):
        raise ValueError(f"{kind} without id, name or location")


def vm_workload(
    item: Mapping[str, Any], sizes: Sizes, source_key: str, now: datetime
) -> dict[str, Any] | None:
    """One VM -> a workload (VMs of a Flexible scale set too: list_all lists them, and
    their set is not counted). ValueError if malformed."""
    _checked(item, "VM")
    props = item.get("properties") or {}
    size = (props.get("hardwareProfile") or {}).get("vmSize")
    if not size:
        raise ValueError("VM without a size")
    if size not in sizes:
        raise ValueError("VM size not listed by resource_skus")
    spot = str(props.get("priority", "")).lower() in ("spot", "low")
    return _workload(item, str(size), spot, 1, sizes, source_key, now)


def scale_set_workload(
    item: Mapping[str, Any], sizes: Sizes, source_key: str, now: datetime
) -> dict[str, Any] | None:
    """One Uniform scale set -> a workload with replicas = capacity; None when scaled to 0
    or Flexible (its VMs are listed, and counted, one by one)."""
    _checked(item, "scale set")
    if str((item.get("properties") or {}).get("orchestrationMode", "")).lower() == "flexible":
        return None
    sku = item.get("sku") or {}
    size = sku.get("name")
    if not size:
        raise ValueError("scale set without a size")
    if size not in sizes:
        raise ValueError("scale set size not listed by resource_skus")
    try:
        capacity = int(sku.get("capacity") or 0)
    except (TypeError, ValueError):
        raise ValueError("scale set capacity is not a number") from None
    if capacity <= 0:
        return None
    profile = (item.get("properties") or {}).get("virtualMachineProfile") or {}
    spot = str(profile.get("priority", "")).lower() in ("spot", "low")
    return _workload(item, str(size), spot, capacity, sizes, source_key, now)


@functools.lru_cache(maxsize=8192)  # a window's hours repeat across every resource
def hour_text(value: str) -> str:
    """An ISO 8601 timestamp -> its UTC hour in the store's naive text form
    ('2024-03-08 05:00:00.000000', as SQLAlchemy writes DateTime on SQLite)."""
    when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    when = when.astimezone(UTC).replace(tzinfo=None) if when.tzinfo else when
    return when.replace(minute=0, second=0, microsecond=0).strftime("%Y-%m-%d %H:%M:%S.%f")


def _series(reply: Mapping[str, Any], name: str) -> list[Mapping[str, Any]]:
    for metric in reply.get("value") or []:
        if str((metric.get("name") or {}).get("value", "")).lower() == name.lower():
            return list(metric.get("timeseries") or [])
    return []


def _points(reply: Mapping[str, Any], name: str, out: Mapped) -> Iterator[tuple[str, float]]:
    """(hour text, average) of one metric's series; hours without data (VM stopped)
    skipped, unreadable points quarantined."""
    seen: set[str] = set()
    for ts in _series(reply, name):
        for point in ts.get("data") or []:
            value = point.get("average")
            if value is None:
                continue
            try:
                when, number = hour_text(str(point["timeStamp"])), float(value)
            except (KeyError, TypeError, ValueError):
                out.quarantine("metric point without a timeStamp or number")
                continue
            if when in seen or number != number:
                out.quarantine("metric point duplicated or NaN")
                continue
            seen.add(when)
            yield when, number


def usage_samples(
    reply: Mapping[str, Any], workload: Mapping[str, Any], source_key: str, out: Mapped
) -> None:
    """A "Percentage CPU,Available Memory Bytes" reply -> `cpu_pct` (0-100, of one
    instance) and `memory_gib` (used: the size's memory less what is available, summed
    over the replicas, as placement sizing reads it) samples in `out`, as tuples of
    SAMPLE_COLUMNS in the store's text forms (bulk-written)."""
    series = str(workload["series_id"])
    for when, pct in _points(reply, CPU_NAME, out):
        out.rows.append((series, CPU_METRIC, when, min(max(pct, 0.0), 100.0), source_key))
    memory, replicas = float(workload["memory_gib"]), int(workload["replicas"])
    for when, available in _points(reply, MEMORY_NAME, out):
        used = max(memory - available / 2**30, 0.0) * replicas
        out.rows.append((series, MEMORY_METRIC, when, used, source_key))


def tier_totals(reply: Mapping[str, Any]) -> dict[str, tuple[int, int]]:
    """BlobCapacity and BlobCount by Tier -> {tier: (bytes, blobs)}, latest value each."""
    out: dict[str, list[int]] = {}
    for position, name in enumerate(("BlobCapacity", "BlobCount")):
        for ts in _series(reply, name):
            tier = next((str(m.get("value")) for m in ts.get("metadatavalues") or []
                         if str((m.get("name") or {}).get("value", "")).lower() == "tier"),
                        "")  # fmt: skip
            points = [p for p in ts.get("data") or [] if p.get("average") is not None]
            if not tier or not points:
                continue
            latest = max(points, key=lambda p: str(p.get("timeStamp", "")))
            out.setdefault(tier, [0, 0])[position] = int(float(latest["average"]))
    return {tier: (v[0], v[1]) for tier, v in out.items()}


def storage_groups(
    account: Mapping[str, Any], rules: list[Any], tiers: Mapping[str, tuple[int, int]],
    source_key: str, now: datetime,
) -> list[dict[str, Any]]:  # fmt: skip
    """One storage group per access tier of an account (its default tier when empty)."""
    _checked(account, "storage account")
    rid, name = str(account["id"]), str(account["name"])
    tags = {str(k): str(v) for k, v in (account.get("tags") or {}).items()}
    default = str((account.get("properties") or {}).get("accessTier") or "Hot")
    sizes = dict(tiers) or {default: (0, 0)}
    return [
        {
            "name": f"azure:{name}:{tier}",
            "provider": "azure",
            "account_id": id_part(rid, "subscriptions"),
            "region": str(account["location"]),
            "bucket": name,
            "prefix": "",
            "tier": tier,
            "bytes": size,
            "objects": count,
            "oldest_object_at": None,
            "median_age_days": None,
            "owner": tags.get("owner") or tags.get("Owner"),
            "tags": tags or None,
            "lifecycle_rules": rules or None,
            "series_id": f"azure:storage:{name}:{tier}",
            "source_key": source_key,
            "updated_at": now,
        }
        for tier, (size, count) in sorted(sizes.items())
    ]
