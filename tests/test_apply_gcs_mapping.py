"""The pure GCS mapping (no SDK, no emulator): how our rule is recognised without an ID,
and the rewrites a one-off rollback makes, which the emulator cannot show (it ignores a
rewrite's storageClass). Plus the adapter's errors for a missing bucket and an endpoint
nobody listens on (real 404 and real connection refused)."""

from __future__ import annotations

import dataclasses

import pytest

from optimizer.apply import gcs_mapping as m
from optimizer.apply.changes import LiveObject, LiveState, TieringChange
from optimizer.apply.errors import ApplyTargetMissing, ApplyUnreachable
from optimizer.apply.gcs_adapter import GcsTarget
from optimizer.apply.settings import GcpApplyTarget
from tests.gcp_storage import free_port
from tests.gcs_apply import Emulator, gcs_emulator_fixture  # noqa: F401 (the fixture)

CHANGE = TieringChange(
    rec_id=7, fingerprint="ab" * 32, subject="gcp:b/logs", provider="gcp", account="p",
    region="us-east1", bucket="b", prefix="logs/", action="lifecycle", current_tier="STANDARD",
    tier="NEARLINE", after_days=30, bytes=1, objects=1, known_rules=None,
)  # fmt: skip
OURS = m.our_rule(CHANGE)
DELETE = {"action": {"type": "Delete"}, "condition": {"age": 30}}


def test_our_rule_is_recognised_by_its_content() -> None:
    assert OURS == {
        "action": {"type": "SetStorageClass", "storageClass": "NEARLINE"},
        "condition": {"age": 30, "matchesStorageClass": ["STANDARD"], "matchesPrefix": ["logs/"]},
    }
    assert m.is_ours(OURS, CHANGE) and m.is_ours(OURS)
    other_change = dataclasses.replace(CHANGE, tier="COLDLINE")
    assert not m.is_ours(OURS, other_change) and m.is_ours(m.our_rule(other_change))
    # Not of our shape: more conditions, several classes, another action.
    wider = {**OURS, "condition": {**OURS["condition"], "isLive": True}}
    two = {**OURS, "condition": {**OURS["condition"], "matchesStorageClass": ["A", "B"]}}
    assert not any(m.is_ours(r) for r in (wider, two, DELETE))
    assert m.foreign_rules((OURS, DELETE, wider)) == m.foreign_rules((wider, DELETE))
    assert m.foreign_rules(None) == ()


def test_lifecycle_calls_carry_the_metageneration_when_known() -> None:
    live = m.GcsLiveState((DELETE,), metageneration=5)
    [call] = m.apply_calls(CHANGE, live)
    assert call.params == {"bucket": "b", "ifMetagenerationMatch": 5,
                           "body": {"lifecycle": {"rule": [DELETE, OURS]}}}  # fmt: skip
    [plain] = m.apply_calls(CHANGE, LiveState((DELETE,)))  # e.g. a rollback record
    assert "ifMetagenerationMatch" not in plain.params
    assert m.apply_calls(CHANGE, LiveState((DELETE, OURS))) == []
    assert m.rollback_calls(CHANGE, LiveState(None), LiveState((DELETE,))) == []  # gone
    [undo] = m.rollback_calls(CHANGE, LiveState(None), m.GcsLiveState((OURS,), metageneration=9))
    assert undo.params["body"] == {"lifecycle": {"rule": []}}  # GCS: no rules = no config
    assert undo.params["ifMetagenerationMatch"] == 9


def test_one_off_rollback_rewrites_back_only_what_is_still_where_we_put_it() -> None:
    change = dataclasses.replace(CHANGE, action="one-off", tier="ARCHIVE")
    before = LiveState(None, (LiveObject("logs/a", "STANDARD", 1),
                              LiveObject("logs/b", "STANDARD", 1),
                              LiveObject("logs/c", "ARCHIVE", 1)))  # fmt: skip
    assert [c.target for c in m.apply_calls(change, before)] == ["b/logs/a", "b/logs/b"]
    now = m.GcsLiveState(
        None,
        (LiveObject("logs/a", "ARCHIVE", 1), LiveObject("logs/b", "COLDLINE", 1),
         LiveObject("logs/c", "ARCHIVE", 1)),
        generations=(("logs/a", 11), ("logs/b", 12), ("logs/c", 13)),
    )  # fmt: skip
    # a goes back; b was moved again by someone since; c was ARCHIVE before we came.
    [back] = m.rollback_calls(change, before, now)
    assert back.render() == (
        'gcs.objects.rewrite(sourceBucket="b", sourceObject="logs/a", destinationBucket="b", '
        'destinationObject="logs/a", ifGenerationMatch=11, body={"storageClass": "STANDARD"})'
    )
    assert m.apply_calls(change, now) == []  # already there: idempotent


def test_adapter_errors_missing_bucket_and_nobody_listening(gcs_emulator: Emulator) -> None:
    target = GcsTarget(GcpApplyTarget(endpoint=gcs_emulator.url, project="t", max_attempts=1))
    with pytest.raises(ApplyTargetMissing, match="NotFound") as missing:
        target.read(CHANGE, 10)
    assert "gcs buckets.get b" in str(missing.value.where)
    down = GcpApplyTarget(endpoint=f"http://127.0.0.1:{free_port()}", max_attempts=2)
    with pytest.raises(ApplyUnreachable) as unreachable:
        GcsTarget(down).read(CHANGE, 10)
    assert "[apply.gcp] endpoint" in (unreachable.value.fix or "")
