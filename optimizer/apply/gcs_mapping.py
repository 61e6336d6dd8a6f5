"""Cloud Storage: the calls that apply or undo one tiering change (pure: no SDK, no store).

A lifecycle change adds one SetStorageClass rule to the bucket's lifecycle rules, the
others kept as they are (buckets.patch replaces the whole `lifecycle` field, so the
merge is ours), sent with `ifMetagenerationMatch` = the metageneration we read, so a
concurrent edit makes the patch fail (412) instead of being overwritten.

GCS rules have no ID or name, so ours is recognised by content:
- `is_ours(rule, change)`: the rule is exactly `our_rule(change)` (canonical JSON):
  SetStorageClass to the tier, condition age + matchesStorageClass [current tier]
  (+ matchesPrefix [prefix]). Re-runs find it there and make no call.
- `is_ours(rule)` (no change, for the drift check): any rule of that exact shape
  (SetStorageClass; condition age, one matchesStorageClass, at most one matchesPrefix,
  nothing else), so rules optimizer added for other recommendations are not drift.
What content cannot tell apart, by design and documented in docs/apply-gcp.md: a rule
someone wrote by hand with exactly our content is taken as ours (apply finds it
"already in place"; a rollback of that recommendation removes it), and a hand-written
rule of our shape added since planning is not seen as drift.

A one-off change rewrites each object onto itself with the new storage class
(objects.rewrite, `ifGenerationMatch` = the generation we listed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from optimizer.apply.changes import Call, LiveState, TieringChange, canonical

OUR_CONDITIONS = ({"age", "matchesStorageClass"}, {"age", "matchesStorageClass", "matchesPrefix"})


@dataclass(frozen=True)
class GcsLiveState(LiveState):
    """LiveState plus what the preconditions need: the bucket's metageneration and each
    listed object's generation (not kept in the rollback record: a rollback reads them
    afresh)."""

    metageneration: int | None = None
    generations: tuple[tuple[str, int], ...] = ()


def our_rule(change: TieringChange) -> dict[str, Any]:
    condition: dict[str, Any] = {
        "age": int(change.after_days or 0),
        "matchesStorageClass": [change.current_tier],
    }
    if change.prefix:
        condition["matchesPrefix"] = [change.prefix]
    return {
        "action": {"type": "SetStorageClass", "storageClass": change.tier},
        "condition": condition,
    }


def is_ours(rule: dict[str, Any], change: TieringChange | None = None) -> bool:
    if change is not None:
        return canonical(rule) == canonical(our_rule(change))
    action, condition = rule.get("action") or {}, rule.get("condition") or {}
    if set(rule) != {"action", "condition"} or set(action) != {"type", "storageClass"}:
        return False
    if action.get("type") != "SetStorageClass" or set(condition) not in OUR_CONDITIONS:
        return False
    lists = [condition["matchesStorageClass"], condition.get("matchesPrefix", [""])]
    return isinstance(condition["age"], int) and all(
        isinstance(v, list) and len(v) == 1 for v in lists
    )


def _metageneration(live: LiveState) -> dict[str, Any]:
    meta = getattr(live, "metageneration", None)
    return {} if meta is None else {"ifMetagenerationMatch": int(meta)}


def _patch(bucket: str, rules: list[dict[str, Any]], live: LiveState) -> Call:
    """buckets.patch of the `lifecycle` field; no rules left = an empty rule list, which
    is how GCS removes a bucket's lifecycle configuration."""
    return Call(
        "gcs",
        "buckets.patch",
        bucket,
        {"bucket": bucket, **_metageneration(live), "body": {"lifecycle": {"rule": rules}}},
    )


def apply_calls(change: TieringChange, live: LiveState) -> list[Call]:
    """The calls that bring the bucket to the change; [] when it is already there."""
    if change.action == "lifecycle":
        rules = list(live.rules or ())
        if any(is_ours(r, change) for r in rules):
            return []
        return [_patch(change.bucket, [*rules, our_rule(change)], live)]
    generations = dict(getattr(live, "generations", ()))
    return [
        _rewrite(change.bucket, o.key, change.tier, generations.get(o.key))
        for o in live.objects
        if o.tier == change.current_tier
    ]


def _rewrite(bucket: str, key: str, tier: str, generation: int | None) -> Call:
    params: dict[str, Any] = {
        "sourceBucket": bucket,
        "sourceObject": key,
        "destinationBucket": bucket,
        "destinationObject": key,
    }
    if generation is not None:
        params["ifGenerationMatch"] = int(generation)
    params["body"] = {"storageClass": tier}
    return Call("gcs", "objects.rewrite", f"{bucket}/{key}", params)


def rollback_calls(change: TieringChange, before: LiveState, live: LiveState) -> list[Call]:
    """Undo our part only: drop our rule (rules added since by others stay), or rewrite
    each object we moved back to the class it had, if it is still where we put it.
    (`before` cannot tell whether our rule was someone else's first: after a re-run or a
    crash between the call and its record, the newest record's `before` holds our rule.)"""
    if change.action == "lifecycle":
        rules = list(live.rules or ())
        if not any(is_ours(r, change) for r in rules):
            return []
        return [_patch(change.bucket, [r for r in rules if not is_ours(r, change)], live)]
    now = {o.key: o.tier for o in live.objects}
    generations = dict(getattr(live, "generations", ()))
    return [
        _rewrite(change.bucket, o.key, o.tier, generations.get(o.key))
        for o in before.objects
        if o.tier != change.tier and now.get(o.key) == change.tier
    ]


def foreign_rules(rules: tuple[dict[str, Any], ...] | None) -> tuple[str, ...]:
    """The rules that are not of optimizer's shape, canonical, for the drift check."""
    return tuple(sorted(canonical(r) for r in rules or () if not is_ours(r)))
