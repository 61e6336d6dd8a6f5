"""Issue #6 §2 faults on S3, for real: IAM refuses a call half-way through a run, and
the S3 endpoint dies in the middle of a one-off change."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from optimizer.apply.run import run_apply
from optimizer.apply.settings import ApplySettings, AwsApplyTarget
from store.audit import events, verify
from store.engine import make_engine
from store.locks import hold
from store.migrate import upgrade
from store.models import AppliedChange, Recommendation
from tests.apply_store import approved_tiering
from tests.aws_strict_fake import moto_process
from tests.conftest import REPO

CHANGES = AppliedChange.__table__  # type: ignore[attr-defined]
RECS = Recommendation.__table__  # type: ignore[attr-defined]
DENY_LOCKED = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
        {
            "Effect": "Deny",
            "Action": "s3:PutLifecycleConfiguration",
            "Resource": "arn:aws:s3:::locked-bucket",
        },
    ],
}


@pytest.fixture
def no_aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def statuses(engine: Engine) -> dict[int, str]:
    with engine.connect() as conn:
        return {r.id: r.status for r in conn.execute(sa.select(RECS.c.id, RECS.c.status))}


def test_permission_denied_half_way_stops_the_run_cleanly(
    sqlite_engine: Engine, no_aws_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    with moto_process(DENY_LOCKED) as moto:
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", moto.key_id)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", moto.secret)
        s3 = moto.client("s3")
        for name in ("open-bucket", "locked-bucket", "later-bucket"):
            s3.create_bucket(Bucket=name)
        first = approved_tiering(sqlite_engine, provider="aws", bucket="open-bucket", saving="300")
        denied = approved_tiering(
            sqlite_engine, provider="aws", bucket="locked-bucket", saving="200"
        )
        last = approved_tiering(sqlite_engine, provider="aws", bucket="later-bucket", saving="100")
        target = ApplySettings(aws=AwsApplyTarget(endpoint_url=moto.url, max_attempts=1))
        report = run_apply(sqlite_engine, target, execute=True, by="ana")
        got = {o.change.rec_id: o.status for o in report.outcomes}
        assert got == {first: "applied", denied: "failed", last: "not-attempted"}
        failure = next(o for o in report.outcomes if o.status == "failed")
        assert failure.error is not None and failure.error.kind == "permission denied"
        assert "s3:PutLifecycleConfiguration" in (failure.error.fix or "")
        assert "no call had completed" in failure.detail
        assert "Rules" in s3.get_bucket_lifecycle_configuration(Bucket="open-bucket")
        with pytest.raises(s3.exceptions.ClientError, match="NoSuchLifecycleConfiguration"):
            s3.get_bucket_lifecycle_configuration(Bucket="locked-bucket")
    assert statuses(sqlite_engine) == {first: "applied", denied: "failed", last: "approved"}
    with sqlite_engine.connect() as conn:
        rows = {r.recommendation_id: r for r in conn.execute(sa.select(CHANGES))}
        assert rows[denied].status == "failed" and "AccessDenied" in rows[denied].error
        assert rows[denied].before["state"]["rules"] is None  # the rollback record
        assert verify(conn).ok
        assert [e.action for e in events(conn)] == ["apply", "apply.failed"]


def test_endpoint_killed_mid_change_fails_cleanly_and_frees_the_lock(tmp_path: Path) -> None:
    """`optimizer apply --execute` in its own process re-tiers 600 objects one by one;
    the S3 endpoint is killed once the rollback record is written."""
    db = tmp_path / "store.db"
    engine = make_engine(f"sqlite:///{db}")
    upgrade(engine)
    with moto_process() as moto:
        s3 = moto.client("s3")
        s3.create_bucket(Bucket="big-bucket")
        for i in range(600):
            s3.put_object(Bucket="big-bucket", Key=f"k/{i:04d}", Body=b"x")
        rec = approved_tiering(
            engine,
            provider="aws",
            bucket="big-bucket",
            action="one-off",
            after_days=None,
            tier="STANDARD_IA",
        )
        config = tmp_path / "optimizer.toml"
        config.write_text(
            f'[apply]\nmax_objects_per_change = 5000\n[apply.aws]\nendpoint_url = "{moto.url}"\n'
            "max_attempts = 1\n"
        )
        env = {
            **os.environ,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_CONFIG_FILE": "/nonexistent",
            "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
            "OPTIMIZER_ACTOR": "nightly",
        }
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "optimizer.cli",
                "--db",
                str(db),
                "--config",
                str(config),
                "--json",
                "apply",
                "--execute",
            ],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 120
        while True:  # the rollback record is committed before the first call
            with engine.connect() as conn:
                if conn.execute(sa.select(CHANGES.c.id)).first() is not None:
                    break
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.02)
        while not any(  # and some objects have moved: the change is half-way
            o.get("StorageClass") == "STANDARD_IA"
            for o in s3.list_objects_v2(Bucket="big-bucket")["Contents"]
        ):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.02)
        moto.kill()
        out, err = proc.communicate(timeout=120)
    assert proc.returncode == 5, (out, err)
    result = json.loads(out)
    [change] = result["changes"]
    assert change["status"] == "failed" and change["error"]["error"] == "ApplyUnreachable"
    assert "undo failed too" in change["detail"] and f"rollback {rec}" in change["detail"]
    assert statuses(engine) == {rec: "failed"}
    with engine.connect() as conn:
        [row] = conn.execute(sa.select(CHANGES)).all()
        assert row.status == "failed" and len(row.before["state"]["objects"]) == 600
        assert verify(conn).ok
    with hold(engine, "apply"):  # the lock went with the process
        pass
