"""What one approved tiering recommendation asks of a cloud, as plain data (pure)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

RULE_PREFIX = "optimizer-"


@dataclass(frozen=True)
class TieringChange:
    """One recommendation's change: a lifecycle rule, or a one-off class change of the
    objects under `prefix` older than `after_days` (all of them when None)."""

    rec_id: int
    fingerprint: str
    subject: str
    provider: str  # aws | azure | gcp
    account: str | None
    region: str
    bucket: str  # S3/GCS bucket; Azure: "storageaccount/container"
    prefix: str
    action: str  # lifecycle | one-off
    current_tier: str
    tier: str
    after_days: int | None
    bytes: int
    objects: int
    known_rules: tuple[str, ...] | None  # the rules the plan saw (canonical JSON), if any

    @property
    def rule_id(self) -> str:
        """Our rule's name in the bucket: stable per recommendation, so re-runs find it."""
        return f"{RULE_PREFIX}{self.fingerprint[:16]}"

    @property
    def target(self) -> str:
        return f"{self.bucket}/{self.prefix}" if self.prefix else self.bucket


@dataclass(frozen=True)
class Call:
    """One API call, exactly as it will be made; `undo` is what reverses it."""

    service: str  # s3 | blob | storage-mgmt | gcs
    operation: str  # the API's own name: PutBucketLifecycleConfiguration, SetBlobTier...
    target: str
    params: dict[str, Any] = field(default_factory=dict)

    def render(self) -> str:
        args = ", ".join(f"{k}={json.dumps(v, sort_keys=True)}" for k, v in self.params.items())
        return f"{self.service}.{self.operation}({args})"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_dict(data: dict[str, Any]) -> Call:
        return Call(data["service"], data["operation"], data["target"], dict(data["params"]))


@dataclass(frozen=True)
class LiveObject:
    key: str
    tier: str
    bytes: int


@dataclass(frozen=True)
class LiveState:
    """What the cloud holds right now for one change: the lifecycle rules in the API's
    own shape (None: no lifecycle configuration at all), and for a one-off change the
    objects it would move (`truncated` when there are more than the limit)."""

    rules: tuple[dict[str, Any], ...] | None
    objects: tuple[LiveObject, ...] = ()
    truncated: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "rules": None if self.rules is None else list(self.rules),
            "objects": [asdict(o) for o in self.objects],
            "truncated": self.truncated,
        }

    @staticmethod
    def from_dict(data: dict[str, Any]) -> LiveState:
        rules = data.get("rules")
        return LiveState(
            None if rules is None else tuple(rules),
            tuple(LiveObject(**o) for o in data.get("objects", [])),
            bool(data.get("truncated", False)),
        )


def canonical(rule: dict[str, Any]) -> str:
    return json.dumps(rule, sort_keys=True, separators=(",", ":"), default=str)


def from_recommendation(rec: Any, group: Any | None) -> TieringChange:
    """A `recommendation` row (kind tiering) and its `storage_group` row -> a change."""
    proposed, current = dict(rec.proposed or {}), dict(rec.current or {})
    rules = getattr(group, "lifecycle_rules", None) if group is not None else None
    return TieringChange(
        rec_id=int(rec.id),
        fingerprint=str(rec.fingerprint),
        subject=str(rec.subject),
        provider=str(proposed.get("provider") or getattr(group, "provider", "")),
        account=getattr(group, "account_id", None) if group is not None else None,
        region=str(proposed.get("region") or getattr(group, "region", "")),
        bucket=str(proposed.get("bucket") or getattr(group, "bucket", "")),
        prefix=str(proposed.get("prefix") or ""),
        action=str(proposed.get("action")),
        current_tier=str(current.get("tier") or getattr(group, "tier", "")),
        tier=str(proposed.get("tier")),
        after_days=proposed.get("after_days"),
        bytes=int(proposed.get("bytes") or getattr(group, "bytes", 0) or 0),
        objects=int(proposed.get("objects") or getattr(group, "objects", 0) or 0),
        known_rules=None if rules is None else tuple(sorted(canonical(r) for r in rules)),
    )
