"""What a group's existing lifecycle rules already do, read from each cloud's own shape.

The collectors store rules exactly as the cloud's API returns them, because apply
compares and merges them in that shape (optimizer/apply). Planning only needs their
effect on one group: the transitions (after N days, to a class) and the expiry.
Disabled rules, and rules scoped to another prefix, have no effect on the group.
Pure: no store, no SDK.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

Effects = tuple[tuple[tuple[int, str], ...], int | None]  # (transitions, expire after days)
AZURE_TIERS = {"tierToCool": "Cool", "tierToCold": "Cold", "tierToArchive": "Archive"}


def _covers(rule_prefixes: Iterable[str], group_prefix: str) -> bool:
    prefixes = [p for p in rule_prefixes if p is not None]
    return not prefixes or any(group_prefix.startswith(p) or p == "" for p in prefixes)


def _aws(rule: Mapping[str, Any], prefix: str) -> Effects:
    if rule.get("Status") != "Enabled":
        return (), None
    scope = rule.get("Filter") or {}
    scoped = scope.get("Prefix", (scope.get("And") or {}).get("Prefix", rule.get("Prefix", "")))
    if not _covers([scoped or ""], prefix):
        return (), None
    moves = tuple(
        (int(t.get("Days", 0)), str(t["StorageClass"]))
        for t in rule.get("Transitions") or []
        if "StorageClass" in t
    )
    days = (rule.get("Expiration") or {}).get("Days")
    return moves, None if days is None else int(days)


def _azure(rule: Mapping[str, Any], bucket: str, prefix: str) -> Effects:
    if rule.get("enabled") is False:
        return (), None
    definition = rule.get("definition") or {}
    scoped = (definition.get("filters") or {}).get("prefixMatch") or []
    if not _covers(scoped, f"{bucket.split('/', 1)[-1]}/{prefix}"):
        return (), None
    base = (definition.get("actions") or {}).get("baseBlob") or {}
    moves = tuple(
        (int(base[key]["daysAfterModificationGreaterThan"]), tier)
        for key, tier in AZURE_TIERS.items()
        if "daysAfterModificationGreaterThan" in (base.get(key) or {})
    )
    days = (base.get("delete") or {}).get("daysAfterModificationGreaterThan")
    return moves, None if days is None else int(days)


def _gcs(rule: Mapping[str, Any], prefix: str) -> Effects:
    action, condition = rule.get("action") or {}, rule.get("condition") or {}
    if not _covers(condition.get("matchesPrefix") or [], prefix) or "age" not in condition:
        return (), None
    if action.get("type") == "SetStorageClass" and action.get("storageClass"):
        return ((int(condition["age"]), str(action["storageClass"])),), None
    if action.get("type") == "Delete":
        return (), int(condition["age"])
    return (), None


def _neutral(rule: Mapping[str, Any]) -> Effects:
    """The shape of stores written before collectors kept the API's own."""
    if rule.get("action") == "transition" and rule.get("to_tier"):
        return ((int(rule.get("after_days", 0)), str(rule["to_tier"])),), None
    if rule.get("action") == "expire":
        return (), int(rule["after_days"])
    return (), None


def rule_effects(
    provider: str, bucket: str, prefix: str, rules: Iterable[Mapping[str, Any]]
) -> Effects:
    """(transitions sorted by age, the earliest expiry) of the rules that reach the group."""
    moves: list[tuple[int, str]] = []
    expiries: list[int] = []
    for rule in rules:
        if not isinstance(rule, Mapping):
            continue
        if isinstance(rule.get("action"), str):
            found = _neutral(rule)
        elif provider == "aws":
            found = _aws(rule, prefix)
        elif provider == "azure":
            found = _azure(rule, bucket, prefix)
        elif provider == "gcp":
            found = _gcs(rule, prefix)
        else:
            continue
        moves += found[0]
        if found[1] is not None:
            expiries.append(found[1])
    return tuple(sorted(moves)), min(expiries) if expiries else None
