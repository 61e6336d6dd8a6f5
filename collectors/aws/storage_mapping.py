"""S3 ListObjectsV2 entries (size, StorageClass, LastModified) + lifecycle rules ->
storage groups, one per (bucket, storage class). Pure: no SDK, no store."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from collectors.storage_groups import by_class, group_rows


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
    entries = (
        (str(o.get("StorageClass") or "STANDARD"), int(o.get("Size", 0)), o.get("LastModified"))
        for o in objects
    )
    totals = by_class(entries, "STANDARD", now)
    return group_rows("aws", bucket, account, region, totals, rules, "aws:s3", source_key, now)
