"""Issue #6 §2 on S3: apply and roll back tiering through boto3 against moto's server."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from optimizer.apply.rollback import run_rollback
from optimizer.apply.run import run_apply
from optimizer.apply.settings import ApplySettings, AwsApplyTarget
from store.audit import events, verify
from store.errors import ConfigError
from store.locks import LockHeld, hold
from store.models import AppliedChange, Recommendation
from tests.apply_store import approved_tiering
from tests.aws_fake import FakeAws, aws_fixture, moto_server  # noqa: F401

THEIRS = {
    "ID": "expire-tmp",
    "Filter": {"Prefix": "tmp/"},
    "Status": "Enabled",
    "Expiration": {"Days": 7},
}


def settings(aws: FakeAws, **limits: Any) -> ApplySettings:
    return ApplySettings(aws=AwsApplyTarget(endpoint_url=aws.url), **limits)


def rules(aws: FakeAws, bucket: str) -> list[dict[str, Any]] | None:
    try:
        return list(aws.client("s3").get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"])
    except aws.client("s3").exceptions.ClientError:
        return None


def status(engine: Engine, rec_id: int) -> str:
    with engine.connect() as conn:
        table = Recommendation.__table__  # type: ignore[attr-defined]
        return str(conn.execute(sa.select(table.c.status).where(table.c.id == rec_id)).scalar())


def changes(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(AppliedChange.__table__)))  # type: ignore[attr-defined]


@pytest.fixture
def bucket(aws: FakeAws) -> str:
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="logs")
    s3.put_bucket_lifecycle_configuration(Bucket="logs", LifecycleConfiguration={"Rules": [THEIRS]})
    return "logs"


def test_lifecycle_dry_run_execute_again_and_rollback(
    aws: FakeAws, bucket: str, sqlite_engine: Engine
) -> None:
    rec = approved_tiering(
        sqlite_engine, provider="aws", bucket=bucket, prefix="app/", rules=[THEIRS]
    )
    dry = run_apply(sqlite_engine, settings(aws), execute=False, by="ana")
    [planned] = dry.outcomes
    assert planned.status == "planned"
    [call] = planned.calls
    assert call.operation == "PutBucketLifecycleConfiguration"
    assert call.params["LifecycleConfiguration"]["Rules"][0] == THEIRS  # merged, not replaced
    assert rules(aws, bucket) == [THEIRS] and not changes(sqlite_engine)  # nothing changed
    assert status(sqlite_engine, rec) == "approved"

    done = run_apply(sqlite_engine, settings(aws), execute=True, by="ana")
    assert [o.status for o in done.outcomes] == ["applied"]
    live = rules(aws, bucket)
    assert live is not None and live[0] == THEIRS
    ours = live[1]
    assert ours["ID"].startswith("optimizer-") and ours["Filter"] == {"Prefix": "app/"}
    assert ours["Transitions"] == [{"Days": 30, "StorageClass": "STANDARD_IA"}]
    assert status(sqlite_engine, rec) == "applied"
    [row] = changes(sqlite_engine)
    assert row.status == "applied" and row.before["state"]["rules"] == [THEIRS]

    again = run_apply(sqlite_engine, settings(aws), execute=True, by="ana")
    assert again.outcomes == []  # applied: nothing approved is left, nothing is called

    # someone adds a rule after our apply: rollback removes only ours
    later = {**THEIRS, "ID": "added-later", "Filter": {"Prefix": "later/"}}
    aws.client("s3").put_bucket_lifecycle_configuration(
        Bucket=bucket, LifecycleConfiguration={"Rules": [*live, later]}
    )
    [preview] = run_rollback(sqlite_engine, settings(aws), [rec], execute=False, by="ben")
    assert preview.status == "planned" and len(rules(aws, bucket) or []) == 3
    [undone] = run_rollback(sqlite_engine, settings(aws), [rec], execute=True, by="ben")
    assert undone.status == "rolled_back"
    assert rules(aws, bucket) == [THEIRS, later]
    assert status(sqlite_engine, rec) == "rolled_back"
    with pytest.raises(ConfigError, match="rolled_back"):
        run_rollback(sqlite_engine, settings(aws), [rec], execute=True, by="ben")
    with sqlite_engine.connect() as conn:
        assert verify(conn).ok
        actions = [(e.actor, e.action) for e in events(conn)]
    assert actions == [("ana", "apply"), ("ben", "rollback")]


def test_a_change_already_in_place_is_recorded_without_a_call(
    aws: FakeAws, sqlite_engine: Engine
) -> None:
    """A crash after the PUT but before the store's record: the next run finds the rule
    and records it as applied, calling nothing."""
    aws.client("s3").create_bucket(Bucket="bkt")
    rec = approved_tiering(sqlite_engine, provider="aws", bucket="bkt")
    run_apply(sqlite_engine, settings(aws), execute=True, by="ana")
    with sqlite_engine.begin() as conn:
        table = Recommendation.__table__  # type: ignore[attr-defined]
        conn.execute(sa.update(table).where(table.c.id == rec).values(status="approved"))
    [outcome] = run_apply(sqlite_engine, settings(aws), execute=True, by="ana").outcomes
    assert outcome.status == "already" and outcome.calls == []
    assert status(sqlite_engine, rec) == "applied"
    # rolling back a bucket that had no configuration before deletes it again
    run_rollback(sqlite_engine, settings(aws), [rec], execute=True, by="ana")
    assert rules(aws, "bkt") is None


def test_one_off_copies_each_object_and_rollback_copies_it_back(
    aws: FakeAws, sqlite_engine: Engine
) -> None:
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="data")
    for key in ("a/1", "a/2", "a/3", "b/1"):
        s3.put_object(Bucket="data", Key=key, Body=b"x" * 10, Metadata={"team": "ml"})
    rec = approved_tiering(
        sqlite_engine,
        provider="aws",
        bucket="data",
        prefix="a/",
        action="one-off",
        after_days=None,
        tier="GLACIER_IR",
    )
    [outcome] = run_apply(sqlite_engine, settings(aws), execute=True, by="ana").outcomes
    assert outcome.status == "applied" and len(outcome.calls) == 3
    classes = {
        o["Key"]: o.get("StorageClass") for o in s3.list_objects_v2(Bucket="data")["Contents"]
    }
    assert classes == {
        "a/1": "GLACIER_IR",
        "a/2": "GLACIER_IR",
        "a/3": "GLACIER_IR",
        "b/1": "STANDARD",
    }
    assert s3.head_object(Bucket="data", Key="a/1")["Metadata"] == {"team": "ml"}
    run_rollback(sqlite_engine, settings(aws), [rec], execute=True, by="ana")
    classes = {
        o["Key"]: o.get("StorageClass") for o in s3.list_objects_v2(Bucket="data")["Contents"]
    }
    assert set(classes.values()) == {"STANDARD"}


def test_too_many_objects_for_a_one_off_is_refused(aws: FakeAws, sqlite_engine: Engine) -> None:
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="many")
    for i in range(4):
        s3.put_object(Bucket="many", Key=f"k{i}", Body=b"x")
    rec = approved_tiering(
        sqlite_engine, provider="aws", bucket="many", action="one-off", after_days=None
    )
    limited = settings(aws, max_objects_per_change=3)
    [outcome] = run_apply(sqlite_engine, limited, execute=True, by="ana").outcomes
    assert outcome.status == "refused" and "more than 3 objects" in outcome.detail
    assert status(sqlite_engine, rec) == "failed"
    assert {o.get("StorageClass") for o in s3.list_objects_v2(Bucket="many")["Contents"]} == {
        "STANDARD"
    }


def test_rules_changed_since_planning_are_detected_not_clobbered(
    aws: FakeAws, bucket: str, sqlite_engine: Engine
) -> None:
    rec = approved_tiering(sqlite_engine, provider="aws", bucket=bucket, rules=[])  # saw none
    [outcome] = run_apply(sqlite_engine, settings(aws), execute=True, by="ana").outcomes
    assert outcome.status == "conflict" and "changed since planning" in outcome.detail
    assert rules(aws, bucket) == [THEIRS]
    assert status(sqlite_engine, rec) == "failed"
    assert not changes(sqlite_engine)


def test_blast_radius_defers_what_is_over_the_limits(aws: FakeAws, sqlite_engine: Engine) -> None:
    for name in ("one", "two", "three"):
        aws.client("s3").create_bucket(Bucket=name)
    big = approved_tiering(sqlite_engine, provider="aws", bucket="one", saving="300")
    mid = approved_tiering(sqlite_engine, provider="aws", bucket="two", saving="200")
    small = approved_tiering(sqlite_engine, provider="aws", bucket="three", saving="100")
    report = run_apply(
        sqlite_engine, settings(aws, max_changes=2, max_bytes=10**12 + 1), execute=True, by="ana"
    )
    got = {o.change.rec_id: o.status for o in report.outcomes}
    assert got == {big: "applied", mid: "deferred", small: "deferred"}
    assert status(sqlite_engine, mid) == "approved"  # the next run takes it


def test_only_one_apply_at_a_time(aws: FakeAws, sqlite_engine: Engine) -> None:
    approved_tiering(sqlite_engine, provider="aws", bucket="xyz")
    with hold(sqlite_engine, "apply"), pytest.raises(LockHeld, match="apply"):
        run_apply(sqlite_engine, settings(aws), execute=True, by="ana")
    assert run_apply(sqlite_engine, settings(aws), execute=False, by="ana").outcomes


def test_named_ids_must_be_approved_tiering(aws: FakeAws, sqlite_engine: Engine) -> None:
    rec = approved_tiering(sqlite_engine, provider="aws", bucket="xyz", status="proposed")
    with pytest.raises(ConfigError, match=f"#{rec} is proposed"):
        run_apply(sqlite_engine, settings(aws), execute=True, by="ana", ids=[rec])
    with pytest.raises(ConfigError, match="#999 is not a tiering"):
        run_apply(sqlite_engine, settings(aws), execute=True, by="ana", ids=[999])


def test_a_cloud_without_a_section_is_left_approved_and_does_not_stop_the_rest(
    aws: FakeAws, sqlite_engine: Engine
) -> None:
    aws.client("s3").create_bucket(Bucket="reachable")
    azure = approved_tiering(
        sqlite_engine,
        provider="azure",
        bucket="acct/data",
        saving="500",
        current="Hot",
        tier="Cool",
    )
    ours = approved_tiering(sqlite_engine, provider="aws", bucket="reachable", saving="100")
    report = run_apply(sqlite_engine, settings(aws), execute=True, by="ana")
    assert {o.change.rec_id: o.status for o in report.outcomes} == {
        ours: "applied",
        azure: "unconfigured",
    }
    assert "[apply.azure]" in report.outcomes[-1].detail and not report.failed
    assert status(sqlite_engine, azure) == "approved"
