"""S3: the calls that apply or undo one tiering change (pure: no SDK, no store).

A lifecycle change adds one rule, ID `optimizer-<fingerprint>`, to the bucket's existing
configuration: the others are kept as they are (S3's PUT replaces the whole document,
so the merge is ours). A one-off change copies each object onto itself with the new
storage class (CopyObject with MetadataDirective COPY keeps its metadata).
"""

from __future__ import annotations

from typing import Any

from optimizer.apply.changes import RULE_PREFIX, Call, LiveState, TieringChange, canonical


def our_rule(change: TieringChange) -> dict[str, Any]:
    return {
        "ID": change.rule_id,
        "Filter": {"Prefix": change.prefix},
        "Status": "Enabled",
        "Transitions": [{"Days": int(change.after_days or 0), "StorageClass": change.tier}],
    }


def is_ours(rule: dict[str, Any], change: TieringChange | None = None) -> bool:
    rule_id = str(rule.get("ID", ""))
    return rule_id == change.rule_id if change else rule_id.startswith(RULE_PREFIX)


def _put_or_delete(bucket: str, rules: list[dict[str, Any]]) -> Call:
    if not rules:
        return Call("s3", "DeleteBucketLifecycle", bucket, {"Bucket": bucket})
    return Call(
        "s3",
        "PutBucketLifecycleConfiguration",
        bucket,
        {"Bucket": bucket, "LifecycleConfiguration": {"Rules": rules}},
    )


def apply_calls(change: TieringChange, live: LiveState) -> list[Call]:
    """The calls that bring the bucket to the change; [] when it is already there."""
    if change.action == "lifecycle":
        rules = list(live.rules or ())
        wanted = our_rule(change)
        if wanted in rules:
            return []
        merged = [r for r in rules if not is_ours(r, change)] + [wanted]
        return [_put_or_delete(change.bucket, merged)]
    return [
        _copy(change.bucket, o.key, change.tier)
        for o in live.objects
        if o.tier == change.current_tier
    ]


def _copy(bucket: str, key: str, tier: str) -> Call:
    return Call(
        "s3",
        "CopyObject",
        f"{bucket}/{key}",
        {
            "Bucket": bucket,
            "Key": key,
            "CopySource": {"Bucket": bucket, "Key": key},
            "StorageClass": tier,
            "MetadataDirective": "COPY",
        },
    )


def rollback_calls(change: TieringChange, before: LiveState, live: LiveState) -> list[Call]:
    """Undo our part only: drop our rule (rules added since by others stay), or copy
    each object we moved back to the class it had, if it is still where we put it."""
    if change.action == "lifecycle":
        rules = list(live.rules or ())
        if not any(is_ours(r, change) for r in rules):
            return []
        # S3 holds no empty configuration: with nothing else left it is deleted
        return [_put_or_delete(change.bucket, [r for r in rules if not is_ours(r, change)])]
    now = {o.key: o.tier for o in live.objects}
    return [
        _copy(change.bucket, o.key, o.tier)
        for o in before.objects
        if o.tier != change.tier and now.get(o.key) == change.tier
    ]


def foreign_rules(rules: tuple[dict[str, Any], ...] | None) -> tuple[str, ...]:
    """The rules that are not ours, canonical, for the drift check."""
    return tuple(sorted(canonical(r) for r in rules or () if not is_ours(r)))
