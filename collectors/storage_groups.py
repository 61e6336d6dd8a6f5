"""Object listings -> storage groups, one per (bucket, storage class): the part every
cloud's mapping shares. Pure: no SDK, no store. Each cloud's mapping turns its own object
entries into (class, bytes, last modified) and names the group."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


@dataclass
class ClassTotals:
    """What one storage class of a bucket holds: bytes, objects, the oldest object and
    every object's age in days (for the median)."""

    bytes: int = 0
    objects: int = 0
    oldest: datetime | None = None
    ages: list[float] = field(default_factory=list)

    def add(self, size: int, modified: datetime | None, now: datetime) -> None:
        self.bytes += size
        self.objects += 1
        if isinstance(modified, datetime):
            modified = modified.astimezone(UTC) if modified.tzinfo else modified.replace(tzinfo=UTC)
            self.oldest = modified if self.oldest is None else min(self.oldest, modified)
            self.ages.append(max((now - modified).total_seconds() / 86400, 0.0))

    def median_age_days(self) -> float | None:
        ages = sorted(self.ages)
        return ages[len(ages) // 2] if ages else None


def by_class(
    objects: Iterable[tuple[str, int, datetime | None]], default: str, now: datetime
) -> dict[str, ClassTotals]:
    """(class, bytes, last modified) entries -> totals per class; an empty bucket is one
    empty group in its default class."""
    out: dict[str, ClassTotals] = {}
    for cls, size, modified in objects:
        out.setdefault(cls, ClassTotals()).add(size, modified, now)
    return out or {default: ClassTotals()}


def group_rows(
    provider: str,
    bucket: str,
    account: str | None,
    region: str,
    totals: dict[str, ClassTotals],
    rules: list[Any] | None,
    series_prefix: str,
    source_key: str,
    now: datetime,
) -> list[dict[str, Any]]:
    """`storage_group` rows of one bucket, in class order."""
    return [
        {
            "name": f"{provider}:{bucket}:{cls}",
            "provider": provider,
            "account_id": account,
            "region": region,
            "bucket": bucket,
            "prefix": "",
            "tier": cls,
            "bytes": t.bytes,
            "objects": t.objects,
            "oldest_object_at": t.oldest,
            "median_age_days": t.median_age_days(),
            "lifecycle_rules": rules or None,
            "series_id": f"{series_prefix}:{bucket}:{cls}",
            "source_key": source_key,
            "updated_at": now,
        }
        for cls, t in sorted(totals.items())
    ]
