"""Issue #6 "done when", on the demo estate and all three clouds at once: plan, approve,
`apply` (dry run), `apply --execute` against the emulators, an idempotent re-run,
`rollback --execute`, and `audit verify`, through the CLI as users run it.

AWS is moto's server, Azure's management plane the ARM fake (tests/azure_arm_storage_fake.py)
and GCS gcp-storage-emulator; each bucket or account starts with the lifecycle rules the
demo estate "collected", in the cloud's own shape, and must end with them intact."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from optimizer.approvals import decide
from optimizer.demo.build import build_demo
from optimizer.planning import run_plan
from policies import parse_policies
from store.models import StorageGroup
from tests.aws_fake import FakeAws, aws_fixture, moto_server  # noqa: F401
from tests.azure_arm_storage_fake import ArmStorageFake, arm_fixture  # noqa: F401
from tests.azure_fake import azure_ca  # noqa: F401
from tests.conftest import run_cli
from tests.gcs_apply import Emulator, gcs_emulator_fixture  # noqa: F401


def cli(db: str, config: Path, *args: str) -> Any:
    done = run_cli("--db", db, "--config", str(config), "--json", *args)
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return json.loads(done.stdout)


class Clouds:
    """Arrange and read each cloud's lifecycle rules through its own SDK or fake."""

    def __init__(self, aws: FakeAws, arm: ArmStorageFake, gcs: Emulator):
        self.s3, self.arm, self.gcs = aws.client("s3"), arm, gcs.client()

    def create(self, group: StorageGroup) -> None:
        rules = list(group.lifecycle_rules or [])
        if group.provider == "aws":
            self.s3.create_bucket(Bucket=group.bucket)
            if rules:
                self.s3.put_bucket_lifecycle_configuration(
                    Bucket=group.bucket, LifecycleConfiguration={"Rules": rules}
                )
        elif group.provider == "azure":
            account = group.bucket.split("/")[0]
            self.arm.add_account(account, group=f"rg-{account}", sub=str(group.account_id))
            if rules:
                self.arm.policies[account] = rules
        else:
            bucket = self.gcs.bucket(group.bucket)
            bucket.create()
            if rules:
                bucket._properties["lifecycle"] = {"rule": rules}
                bucket._changes.add("lifecycle")
                bucket.patch()

    def rules(self, provider: str, bucket: str) -> list[dict[str, Any]]:
        if provider == "aws":
            try:
                return list(self.s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"])
            except self.s3.exceptions.ClientError:
                return []
        if provider == "azure":
            return list(self.arm.policies.get(bucket.split("/")[0], []))
        found = self.gcs.get_bucket(bucket)._properties.get("lifecycle") or {}
        return list(found.get("rule") or [])


def test_approve_apply_rollback_on_the_demo_estate_across_clouds(
    sqlite_engine: Engine, tmp_path: Path, aws: FakeAws, arm: ArmStorageFake, gcs_emulator: Emulator
) -> None:
    build_demo(
        sqlite_engine,
        tmp_path,
        workloads=40,
        storage_groups=32,
        days=60,
        end=datetime(2026, 11, 1, tzinfo=UTC),
    )
    db = str(sqlite_engine.url.database)
    config = tmp_path / "apply.toml"
    config.write_text(
        f'[policies]\npath = "{tmp_path / "policies.yaml"}"\n'
        "[apply]\nmax_bytes = 1_000_000_000_000_000  # the demo's buckets hold hundreds of TB\n"
        f'[apply.aws]\nendpoint_url = "{aws.url}"\nmax_attempts = 1\n'
        f'[apply.azure]\narm_endpoint = "{arm.url}"\nca_bundle = "{arm.ca_path}"\n'
        "max_attempts = 1\n"
        f'[apply.gcp]\nendpoint = "{gcs_emulator.url}"\nmax_attempts = 1\n'
    )
    policy = parse_policies((tmp_path / "policies.yaml").read_text())
    _, _, recs = run_plan(sqlite_engine, policy, None, time_limit_s=20)  # as `optimizer plan`
    chosen = {}
    for rec in recs:  # one lifecycle recommendation per cloud
        p = rec["proposed"]
        if rec["kind"] == "tiering" and p["action"] == "lifecycle":
            chosen.setdefault(p["provider"], rec)
    assert sorted(chosen) == ["aws", "azure", "gcp"], [r["subject"] for r in recs]
    clouds = Clouds(aws, arm, gcs_emulator)
    with Session(sqlite_engine) as session:
        groups = {g.name: g for g in session.exec(select(StorageGroup))}
    before = {}
    for provider, rec in chosen.items():
        group = groups[rec["subject"]]
        clouds.create(group)
        before[provider] = clouds.rules(provider, group.bucket)
    ids = [rec["id"] for rec in chosen.values()]
    others = [r["id"] for r in recs if r["status"] == "approved" and r["id"] not in ids]
    if others:  # what the demo's approval policy approved is not part of this test
        decide(sqlite_engine, others, "reject", "ana")
    proposed = [str(r["id"]) for r in chosen.values() if r["status"] == "proposed"]
    if proposed:
        cli(db, config, "recommendations", "approve", *proposed, "--by", "ana", "--reason", "ok")

    dry = cli(db, config, "apply")
    assert {c["provider"]: c["status"] for c in dry["changes"]} == dict.fromkeys(chosen, "planned")
    for provider, rec in chosen.items():  # a dry run changes nothing
        assert clouds.rules(provider, rec["proposed"]["bucket"]) == before[provider]

    done = cli(db, config, "apply", "--execute", "--by", "nightly")
    assert {c["provider"]: c["status"] for c in done["changes"]} == dict.fromkeys(chosen, "applied")
    for provider, rec in chosen.items():  # ours is added, theirs kept as they were
        now = clouds.rules(provider, rec["proposed"]["bucket"])
        assert len(now) == len(before[provider]) + 1
        assert all(rule in now for rule in before[provider])
    assert cli(db, config, "apply", "--execute")["changes"] == []  # idempotent

    undone = cli(db, config, "rollback", *map(str, ids), "--execute", "--by", "ana")
    assert [u["status"] for u in undone["rollbacks"]] == ["rolled_back"] * 3
    for provider, rec in chosen.items():
        assert clouds.rules(provider, rec["proposed"]["bucket"]) == before[provider]
    listed = {
        r["id"]: r["status"] for r in cli(db, config, "recommendations", "list", "--status", "all")
    }
    assert [listed[i] for i in ids] == ["rolled_back"] * 3
    assert cli(db, config, "audit", "verify")["ok"] is True
    exported = run_cli("--db", db, "audit", "export", "--out", "-").stdout.splitlines()
    actions = [json.loads(line)["action"] for line in exported]
    assert actions.count("apply") == 3 and actions.count("rollback") == 3
