"""Existing lifecycle rules, in each cloud's own API shape, as planning reads them."""

from __future__ import annotations

from placement.lifecycle_rules import rule_effects


def test_s3_rules_enabled_and_in_scope_only() -> None:
    rules = [
        {
            "ID": "a",
            "Status": "Enabled",
            "Filter": {"Prefix": "logs/"},
            "Transitions": [
                {"Days": 30, "StorageClass": "STANDARD_IA"},
                {"Days": 90, "StorageClass": "GLACIER_IR"},
            ],
            "Expiration": {"Days": 400},
        },
        {
            "ID": "off",
            "Status": "Disabled",
            "Filter": {"Prefix": ""},
            "Transitions": [{"Days": 1, "StorageClass": "DEEP_ARCHIVE"}],
        },
        {
            "ID": "other",
            "Status": "Enabled",
            "Filter": {"Prefix": "tmp/"},
            "Expiration": {"Days": 7},
        },
    ]
    assert rule_effects("aws", "b", "logs/2024/", rules) == (
        ((30, "STANDARD_IA"), (90, "GLACIER_IR")),
        400,
    )
    assert rule_effects("aws", "b", "", rules) == ((), None)  # "logs/" is narrower


def test_azure_management_policy_rules() -> None:
    rule = {
        "name": "r",
        "enabled": True,
        "type": "Lifecycle",
        "definition": {
            "filters": {"blobTypes": ["blockBlob"], "prefixMatch": ["media/"]},
            "actions": {
                "baseBlob": {
                    "tierToCool": {"daysAfterModificationGreaterThan": 30},
                    "tierToArchive": {"daysAfterModificationGreaterThan": 180},
                    "delete": {"daysAfterModificationGreaterThan": 900},
                }
            },
        },
    }
    assert rule_effects("azure", "acct/media", "", [rule]) == (
        ((30, "Cool"), (180, "Archive")),
        900,
    )
    assert rule_effects("azure", "acct/logs", "", [rule]) == ((), None)
    assert rule_effects("azure", "acct/media", "", [{**rule, "enabled": False}]) == ((), None)


def test_gcs_rules_and_the_older_neutral_shape() -> None:
    rules = [
        {
            "action": {"type": "SetStorageClass", "storageClass": "COLDLINE"},
            "condition": {"age": 60, "matchesPrefix": ["raw/"]},
        },
        {"action": {"type": "Delete"}, "condition": {"age": 365}},
        {"action": {"type": "AbortIncompleteMultipartUpload"}, "condition": {"age": 7}},
    ]
    assert rule_effects("gcp", "b", "raw/", rules) == (((60, "COLDLINE"),), 365)
    assert rule_effects("gcp", "b", "", rules) == ((), 365)
    neutral = [
        {"id": "x", "action": "transition", "after_days": 30, "to_tier": "Cool"},
        {"id": "y", "action": "expire", "after_days": 240},
    ]
    assert rule_effects("azure", "a/c", "", neutral) == (((30, "Cool"),), 240)
