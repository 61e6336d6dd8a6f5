"""Issue #6 "done when", on the demo estate: plan, approve, `apply --execute` against
the emulators, `rollback --execute`, and the audit log verifies, all through the CLI."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from optimizer.demo.build import build_demo
from tests.aws_fake import FakeAws, aws_fixture, moto_server  # noqa: F401
from tests.conftest import run_cli


@pytest.fixture
def demo(sqlite_engine: Engine, tmp_path: Path) -> tuple[str, Path]:
    build_demo(
        sqlite_engine,
        tmp_path,
        workloads=40,
        storage_groups=16,
        days=60,
        end=datetime(2026, 11, 1, tzinfo=UTC),
    )
    return str(sqlite_engine.url.database), tmp_path


def cli(db: str, config: Path, *args: str) -> Any:
    done = run_cli("--db", db, "--config", str(config), "--json", *args)
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return json.loads(done.stdout)


def test_approve_apply_rollback_on_the_demo_estate(
    demo: tuple[str, Path], aws: FakeAws, sqlite_engine: Engine
) -> None:
    db, folder = demo
    config = folder / "demo-apply.toml"
    config.write_text(
        f'[policies]\npath = "{folder / "policies.yaml"}"\n'
        "[apply]\nmax_bytes = 1_000_000_000_000_000  # the demo's buckets hold hundreds of TB\n"
        f'[apply.aws]\nendpoint_url = "{aws.url}"\n'
    )
    plan = cli(db, config, "plan")
    tiering = [r for r in plan["recommendations"] if r["kind"] == "tiering"]
    chosen = [
        r
        for r in tiering
        if r["proposed"]["provider"] == "aws" and r["proposed"]["action"] == "lifecycle"
    ][:2]
    assert len(chosen) == 2, tiering
    s3 = aws.client("s3")
    for rec in chosen:
        s3.create_bucket(Bucket=rec["proposed"]["bucket"])
    ids = [str(r["id"]) for r in chosen]
    proposed = [str(r["id"]) for r in chosen if r["status"] == "proposed"]
    auto = [r for r in plan["recommendations"] if r["status"] == "approved"]
    if proposed:  # the demo's approval policy may have approved some already
        cli(db, config, "recommendations", "approve", *proposed, "--by", "ana", "--reason", "ok")
    for rec in auto:  # the rest of what the policy approved is not part of this test
        if str(rec["id"]) not in ids:
            cli(db, config, "recommendations", "reject", str(rec["id"]), "--by", "ana")

    dry = cli(db, config, "apply")
    assert {c["status"] for c in dry["changes"]} == {"planned"}
    assert all("PutBucketLifecycleConfiguration" in c["calls"][0] for c in dry["changes"])
    for rec in chosen:  # a dry run changes nothing
        with pytest.raises(s3.exceptions.ClientError):
            s3.get_bucket_lifecycle_configuration(Bucket=rec["proposed"]["bucket"])

    done = cli(db, config, "apply", "--execute", "--by", "nightly")
    assert {c["status"] for c in done["changes"]} == {"applied"}
    for rec in chosen:
        [rule] = s3.get_bucket_lifecycle_configuration(Bucket=rec["proposed"]["bucket"])["Rules"]
        assert rule["Transitions"][0]["StorageClass"] == rec["proposed"]["tier"]
        assert rule["Filter"] == {"Prefix": rec["proposed"]["prefix"]}
    assert cli(db, config, "apply", "--execute")["changes"] == []  # idempotent

    undone = cli(db, config, "rollback", ids[0], "--execute", "--by", "ana", "--reason", "test")
    assert [u["status"] for u in undone["rollbacks"]] == ["rolled_back"]
    with pytest.raises(s3.exceptions.ClientError):
        s3.get_bucket_lifecycle_configuration(Bucket=chosen[0]["proposed"]["bucket"])
    listed = cli(db, config, "recommendations", "list", "--status", "all")
    status = {r["id"]: r["status"] for r in listed}
    assert [status[int(i)] for i in ids] == ["rolled_back", "applied"]
    verified = cli(db, config, "audit", "verify")
    assert verified["ok"] is True
    exported = run_cli("--db", db, "audit", "export", "--out", "-").stdout.splitlines()
    actions = [json.loads(line)["action"] for line in exported]
    assert actions.count("apply") == 2 and actions.count("rollback") == 1
