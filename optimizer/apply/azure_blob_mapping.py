"""Azure Blob: the calls that apply or undo one tiering change (pure: no SDK, no store).

A lifecycle change adds one rule, named `optimizer-<fingerprint>`, to the storage
account's management policy (ARM's `default` policy): the other rules are kept as they
are (ManagementPolicies_CreateOrUpdate replaces the whole policy, so the merge is ours;
a policy with no rules is not allowed, so the last rule goes with
ManagementPolicies_Delete). A one-off change sets each block blob's tier (SetBlobTier).

A storage group's `bucket` is "account" (the collector: every container) or
"account/container" (the demo and per-container groups); `prefix` is inside the
container. A LiveObject's key is "container/blob name".
"""

from __future__ import annotations

from typing import Any

from optimizer.apply.changes import RULE_PREFIX, Call, LiveState, TieringChange, canonical

POLICY_NAME = "default"  # ARM allows only this management policy name
TIERS = {"hot": "Hot", "cool": "Cool", "cold": "Cold", "archive": "Archive"}
ACTIONS = {"Hot": "tierToHot", "Cool": "tierToCool", "Cold": "tierToCold",
           "Archive": "tierToArchive"}  # fmt: skip


def tier_name(tier: str) -> str:
    """The Blob API's tier name for a recommendation's tier (collector/demo spelling)."""
    name = TIERS.get(tier.strip().lower())
    if name is None:
        from store.errors import ConfigError

        raise ConfigError(
            f"unknown Azure Blob tier {tier!r}",
            fix="Azure Blob tiers are Hot, Cool, Cold and Archive: re-plan",
        )
    return name


def _norm(tier: str) -> str:
    """A live blob's tier in the API's spelling (unknown ones, e.g. premium P10, as is)."""
    return TIERS.get(tier.strip().lower(), tier)


def split_bucket(bucket: str) -> tuple[str, str | None]:
    """An "account" or "account/container" bucket -> (account, container or None)."""
    account, _, container = bucket.partition("/")
    return account, container.strip("/") or None


def prefix_match(change: TieringChange) -> str:
    """The rule's prefixMatch: "container/prefix" (ARM's form), "" for a whole account."""
    _, container = split_bucket(change.bucket)
    if container is None:
        return ""
    return f"{container}/{change.prefix}"


def our_rule(change: TieringChange) -> dict[str, Any]:
    filters: dict[str, Any] = {"blobTypes": ["blockBlob"]}
    if prefix_match(change):
        filters["prefixMatch"] = [prefix_match(change)]
    days = {"daysAfterModificationGreaterThan": int(change.after_days or 0)}
    return {
        "enabled": True,
        "name": change.rule_id,
        "type": "Lifecycle",
        "definition": {
            "actions": {"baseBlob": {ACTIONS[tier_name(change.tier)]: days}},
            "filters": filters,
        },
    }


def is_ours(rule: dict[str, Any], change: TieringChange | None = None) -> bool:
    name = str(rule.get("name", ""))
    return name == change.rule_id if change else name.startswith(RULE_PREFIX)


def _target(change: TieringChange) -> str:
    return split_bucket(change.bucket)[0]


def _put_or_delete(change: TieringChange, rules: list[dict[str, Any]]) -> Call:
    account = _target(change)
    params: dict[str, Any] = {"subscriptionId": change.account, "accountName": account,
                              "managementPolicyName": POLICY_NAME}  # fmt: skip
    if not rules:
        return Call("storage-mgmt", "ManagementPolicies_Delete", account, params)
    params["properties"] = {"policy": {"rules": rules}}
    return Call("storage-mgmt", "ManagementPolicies_CreateOrUpdate", account, params)


def _set_tier(change: TieringChange, key: str, tier: str) -> Call:
    account = _target(change)
    container, _, blob = key.partition("/")
    return Call(
        "blob",
        "SetBlobTier",
        f"{account}/{key}",
        {"accountName": account, "containerName": container, "blobName": blob, "tier": tier},
    )


def apply_calls(change: TieringChange, live: LiveState) -> list[Call]:
    """The calls that bring the account to the change; [] when it is already there."""
    if change.action == "lifecycle":
        rules = list(live.rules or ())
        wanted = our_rule(change)
        if any(canonical(r) == canonical(wanted) for r in rules):
            return []
        merged = [r for r in rules if not is_ours(r, change)] + [wanted]
        return [_put_or_delete(change, merged)]
    current, tier = tier_name(change.current_tier), tier_name(change.tier)
    return [_set_tier(change, o.key, tier) for o in live.objects if _norm(o.tier) == current]


def rollback_calls(change: TieringChange, before: LiveState, live: LiveState) -> list[Call]:
    """Undo our part only: drop our rule (rules added since by others stay), or set
    each blob we moved back to the tier it had, if it is still where we put it."""
    if change.action == "lifecycle":
        rules = list(live.rules or ())
        if not any(is_ours(r, change) for r in rules):
            return []
        return [_put_or_delete(change, [r for r in rules if not is_ours(r, change)])]
    tier = tier_name(change.tier)
    now = {o.key: _norm(o.tier) for o in live.objects}
    return [
        _set_tier(change, o.key, _norm(o.tier))
        for o in before.objects
        if _norm(o.tier) != tier and now.get(o.key) == tier
    ]


def _summary(rule: dict[str, Any]) -> dict[str, Any]:
    """A rule in ARM's shape, or in the store's neutral shape (the demo: id, action,
    after_days, to_tier), as one comparable form: name, enabled, filters, actions."""
    if "definition" in rule:
        definition = dict(rule.get("definition") or {})
        filters = dict(definition.get("filters") or {})
        return {
            "name": rule.get("name"),
            "enabled": bool(rule.get("enabled", True)),
            "prefixMatch": sorted(filters.get("prefixMatch") or []),
            "blobTypes": sorted(filters.get("blobTypes") or []),
            "other_filters": {
                k: v for k, v in filters.items() if k not in ("prefixMatch", "blobTypes")
            },
            "actions": definition.get("actions") or {},
        }
    days = {"daysAfterModificationGreaterThan": int(rule.get("after_days") or 0)}
    to = TIERS.get(str(rule.get("to_tier", "")).lower(), "")
    action = "delete" if rule.get("action") == "expire" else ACTIONS.get(to, str(to))
    return {"name": rule.get("id"), "enabled": True, "prefixMatch": [],
            "blobTypes": ["blockBlob"], "other_filters": {},
            "actions": {"baseBlob": {action: days}}}  # fmt: skip


def foreign_rules(rules: tuple[dict[str, Any], ...] | None) -> tuple[str, ...]:
    """The rules that are not ours, canonical, for the drift check."""
    return tuple(
        sorted(
            canonical(_summary(r))
            for r in rules or ()
            if not is_ours(r) and not str(r.get("id", "")).startswith(RULE_PREFIX)
        )
    )
