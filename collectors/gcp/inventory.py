"""Compute Engine, Cloud Monitoring and Cloud Storage payloads -> store rows. Pure.

Row shapes are the AWS collector's (collectors/aws/mapping.py): workloads named
`gcp:<project>:<zone>:<instance>` with series `gcp:<instance id>`, hourly `cpu_pct`
samples (0-100; Monitoring reports a 0-1 fraction), and one storage group per (bucket,
storage class). An instance created by a managed instance group carries the group in
its tags (`gcp-mig`), read from the group's list and the instance's `created-by`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from collectors.storage_groups import by_class, group_rows

CPU_METRIC = "cpu_pct"
CUSTOM = re.compile(r"(?:^|-)custom-(\d+)-(\d+)(?:-ext)?$")


def last(url: Any) -> str:
    """The last path segment of a Compute Engine URL (zone, machine type, ...)."""
    return str(url or "").rstrip("/").rsplit("/", 1)[-1]


def type_sizes(types: Iterable[Mapping[str, Any]]) -> dict[str, tuple[int, float]]:
    """Machine types -> {name: (vCPUs, memory GiB)}."""
    out: dict[str, tuple[int, float]] = {}
    for t in types:
        try:
            out[str(t["name"])] = (int(t["guest_cpus"]), int(t["memory_mb"]) / 1024)
        except (KeyError, TypeError, ValueError):
            continue
    return out


def mig_members(igms: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str], str]:
    """{(zone or region, group name): name} of zonal and regional managed groups."""
    out: dict[tuple[str, str], str] = {}
    for igm in igms:
        name = str(igm.get("name") or "")
        where = last(igm.get("zone") or igm.get("region"))
        if name and where:
            out[(where, name)] = name
    return out


def _mig_of(created_by: str, migs: Mapping[tuple[str, str], str]) -> str | None:
    """The group named by `created-by` (…/zones|regions/<where>/instanceGroupManagers/<n>)."""
    parts = created_by.rstrip("/").split("/")
    if len(parts) < 3 or parts[-2] != "instanceGroupManagers":
        return None
    return migs.get((parts[-3], parts[-1]))


def _created_by(inst: Mapping[str, Any]) -> str:
    for item in (inst.get("metadata") or {}).get("items") or []:
        if item.get("key") == "created-by":
            return str(item.get("value") or "")
    return ""


def instance_workload(
    inst: Mapping[str, Any],
    project: str,
    sizes: Mapping[str, tuple[int, float]],
    migs: Mapping[tuple[str, str], str],
    source_key: str,
    now: datetime,
) -> dict[str, Any] | None:
    """One Compute Engine instance -> a workload row (None when it has no id)."""
    iid, name = str(inst.get("id") or ""), str(inst.get("name") or "")
    if not iid or not name:
        return None
    zone = last(inst.get("zone"))
    itype = last(inst.get("machine_type"))
    vcpu, mem = sizes.get(itype, (0, 0.0))
    custom = CUSTOM.search(itype)
    if not vcpu and custom:
        vcpu, mem = int(custom[1]), int(custom[2]) / 1024
    labels = {str(k): str(v) for k, v in (inst.get("labels") or {}).items()}
    tags: dict[str, str] = dict(labels)
    mig = _mig_of(_created_by(inst), migs)
    if mig:
        tags["gcp-mig"] = mig
    scheduling = inst.get("scheduling") or {}
    spot = scheduling.get("provisioning_model") == "SPOT" or bool(scheduling.get("preemptible"))
    return {
        "name": f"gcp:{project}:{zone}:{name}",
        "provider": "gcp",
        "account_id": project,
        "region": zone.rsplit("-", 1)[0],
        "zone": zone,
        "instance_type": itype,
        "purchase_option": "spot" if spot else "on_demand",
        "replicas": 1,
        "vcpu": vcpu,
        "memory_gib": mem,
        "owner": labels.get("owner") or labels.get("team"),
        "tags": tags or None,
        "series_id": f"gcp:{iid}",
        "source_key": source_key,
        "updated_at": now,
    }


def cpu_samples(
    series: Iterable[Mapping[str, Any]], known: set[str], source_key: str
) -> list[dict[str, Any]]:
    """ListTimeSeries (ALIGN_MEAN, 3600 s) -> `cpu_pct` samples of known instances. A
    point's interval ends at the aligned boundary: its hour starts an hour before."""
    out: list[dict[str, Any]] = []
    for ts in series:
        sid = f"gcp:{ts.get('resource', {}).get('instance_id', '')}"
        if sid not in known:
            continue
        for end, value in ts.get("points", []):
            when = end.astimezone(UTC) if end.tzinfo else end.replace(tzinfo=UTC)
            hour = (when - timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
            pct = min(max(float(value) * 100.0, 0.0), 100.0)
            out.append({"series_id": sid, "metric": CPU_METRIC, "ts": hour, "value": pct,
                        "source_key": source_key})  # fmt: skip
    return out


def storage_groups(
    bucket: Mapping[str, Any],
    objects: Iterable[Mapping[str, Any]],
    source_key: str,
    now: datetime,
) -> list[dict[str, Any]]:
    """One storage group per (bucket, storage class); objects without a class are in
    the bucket's default class."""
    default = str(bucket.get("storage_class") or "STANDARD")
    entries = (
        (str(o.get("storage_class") or default), int(o.get("size") or 0), o.get("updated"))
        for o in objects
    )
    name = str(bucket["name"])
    return group_rows(
        "gcp", name, bucket.get("project"), str(bucket.get("location") or "").lower(),
        by_class(entries, default, now), list(bucket.get("lifecycle_rules") or []), "gcp:gcs",
        source_key, now,
    )  # fmt: skip
