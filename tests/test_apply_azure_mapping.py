"""The pure half of the Azure apply adapter: rules, calls and the drift comparison."""

from __future__ import annotations

import pytest

from optimizer.apply import azure_blob_mapping as m
from optimizer.apply.changes import LiveObject, LiveState, TieringChange
from store.errors import ConfigError


def change(**kw: object) -> TieringChange:
    base: dict[str, object] = dict(
        rec_id=1, fingerprint="ab" * 32, subject="azure:st1/logs", provider="azure",
        account="sub-1", region="westeurope", bucket="st1/logs", prefix="raw/",
        action="lifecycle", current_tier="Hot", tier="cool", after_days=30, bytes=1,
        objects=1, known_rules=None,
    )  # fmt: skip
    return TieringChange(**{**base, **kw})  # type: ignore[arg-type]


def test_rule_shape_and_whole_account_filter() -> None:
    rule = m.our_rule(change())
    assert rule["name"] == "optimizer-abababababababab" and rule["type"] == "Lifecycle"
    assert rule["definition"]["filters"]["prefixMatch"] == ["logs/raw/"]
    assert rule["definition"]["actions"] == {
        "baseBlob": {"tierToCool": {"daysAfterModificationGreaterThan": 30}}
    }
    whole = m.our_rule(change(bucket="st1", prefix=""))
    assert whole["definition"]["filters"] == {"blobTypes": ["blockBlob"]}
    with pytest.raises(ConfigError, match="unknown Azure Blob tier 'GLACIER'"):
        m.our_rule(change(tier="GLACIER"))


def test_last_rule_goes_with_the_policy_and_only_ours_is_removed() -> None:
    c = change()
    applied = LiveState((m.our_rule(c),))
    [call] = m.rollback_calls(c, LiveState(None), applied)
    assert call.operation == "ManagementPolicies_Delete"
    assert call.params == {"subscriptionId": "sub-1", "accountName": "st1",
                           "managementPolicyName": "default"}  # fmt: skip
    other = {"name": "theirs", "type": "Lifecycle", "definition": {"actions": {}}}
    [put] = m.rollback_calls(c, LiveState(None), LiveState((other, m.our_rule(c))))
    assert put.params["properties"] == {"policy": {"rules": [other]}}
    assert m.rollback_calls(c, LiveState(None), LiveState((other,))) == []


def test_one_off_moves_only_blobs_in_the_current_tier_and_undoes_only_those() -> None:
    c = change(action="one-off", tier="Archive", after_days=0)
    live = LiveState(None, (LiveObject("logs/raw/a", "Hot", 1),
                            LiveObject("logs/raw/b", "Cool", 1)))  # fmt: skip
    [call] = m.apply_calls(c, live)
    assert call.render() == ('blob.SetBlobTier(accountName="st1", containerName="logs", '
                             'blobName="raw/a", tier="Archive")')  # fmt: skip
    now = LiveState(None, (LiveObject("logs/raw/a", "Archive", 1),
                           LiveObject("logs/raw/b", "Cool", 1)))  # fmt: skip
    [undo] = m.rollback_calls(c, live, now)
    assert (undo.params["blobName"], undo.params["tier"]) == ("raw/a", "Hot")


def test_drift_compares_the_stores_neutral_rules_with_arms() -> None:
    neutral = [{"action": "transition", "after_days": 180, "id": "tier-down", "to_tier": "Cool"},
               {"action": "expire", "after_days": 480, "id": "expire"}]  # fmt: skip
    arm = [
        {"enabled": True, "name": "tier-down", "type": "Lifecycle",
         "definition": {"filters": {"blobTypes": ["blockBlob"]}, "actions": {"baseBlob": {
             "tierToCool": {"daysAfterModificationGreaterThan": 180}}}}},
        {"enabled": True, "name": "expire", "type": "Lifecycle",
         "definition": {"filters": {"blobTypes": ["blockBlob"]}, "actions": {"baseBlob": {
             "delete": {"daysAfterModificationGreaterThan": 480}}}}},
        m.our_rule(change()),  # ours never counts
    ]  # fmt: skip
    assert m.foreign_rules(tuple(neutral)) == m.foreign_rules(tuple(arm))
    arm[0]["definition"]["actions"]["baseBlob"]["tierToCool"] = {
        "daysAfterModificationGreaterThan": 90
    }
    assert m.foreign_rules(tuple(neutral)) != m.foreign_rules(tuple(arm))
