"""S3 ListObjectsV2 entries (size, StorageClass, LastModified) + lifecycle rules ->
storage groups, one per (bucket, storage class). Pure: no SDK, no store."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any


def storage_groups(
    bucket: str,
    region: str,
    account: str,
    objects: Iterable[Mapping[str, Any]],
    rules: list[dict[str, Any]],
    source_key: str,
    now: datetime,
) -> list[dict[str, Any]]:
    """One storage group per (bucket, storage class) from ListObjectsV2 entries."""
    acc: dict[str, list[Any]] = {}  # class -> [bytes, objects, oldest, ages]
    for obj in objects:
        cls = str(obj.get("StorageClass") or "STANDARD")
        entry = acc.setdefault(cls, [0, 0, None, []])
        entry[0] += int(obj.get("Size", 0))
        entry[1] += 1
        modified = obj.get("LastModified")
        if isinstance(modified, datetime):
            modified = modified.astimezone(UTC) if modified.tzinfo else modified.replace(tzinfo=UTC)
            entry[2] = modified if entry[2] is None else min(entry[2], modified)
            entry[3].append(max((now - modified).total_seconds() / 86400, 0.0))
    if not acc:
        acc["STANDARD"] = [0, 0, None, []]
    out = []
    for cls, (size, count, oldest, ages) in sorted(acc.items()):
        ages.sort()
        out.append(
            {
                "name": f"aws:{bucket}:{cls}",
                "provider": "aws",
                "account_id": account,
                "region": region,
                "bucket": bucket,
                "prefix": "",
                "tier": cls,
                "bytes": size,
                "objects": count,
                "oldest_object_at": oldest,
                "median_age_days": ages[len(ages) // 2] if ages else None,
                "lifecycle_rules": rules or None,
                "series_id": f"aws:s3:{bucket}:{cls}",
                "source_key": source_key,
                "updated_at": now,
            }
        )
    return out
