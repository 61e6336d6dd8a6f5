"""Issue #6 "done when", Azure: on the demo estate, plan → approve → `optimizer apply`
(dry run) → `apply --execute` → `optimizer rollback ID --execute` → `optimizer audit
verify`, the last four through the CLI (a subprocess), against the local ARM (the demo's
subscriptions and accounts, holding the lifecycle rules the demo collected)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from optimizer.approvals import decide
from optimizer.demo.build import build_demo
from optimizer.planning import run_plan
from policies import parse_policies
from store.models import Recommendation, StorageGroup
from tests.azure_arm_storage_fake import ArmStorageFake, arm_ca, arm_fixture  # noqa: F401
from tests.conftest import run_cli


def cli(db: str, config: Path, *args: str) -> Any:
    done = run_cli("--db", db, "--config", str(config), "--json", *args)
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return json.loads(done.stdout)


def test_demo_estate_apply_and_rollback_on_azure(
    sqlite_engine: Engine, tmp_path: Path, arm: ArmStorageFake
) -> None:
    build_demo(sqlite_engine, tmp_path, workloads=40, storage_groups=32, days=60,
               end=datetime(2026, 11, 1, tzinfo=UTC))  # fmt: skip
    db = str(sqlite_engine.url.database)
    config = tmp_path / "azure-apply.toml"
    config.write_text(
        f'[policies]\npath = "{tmp_path / "policies.yaml"}"\n'
        "[apply]\nmax_bytes = 1_000_000_000_000_000  # the demo's accounts hold hundreds of TB\n"
        f'[apply.azure]\narm_endpoint = "{arm.url}"\nca_bundle = "{arm.ca_path}"\n'
        "max_attempts = 1\n"
    )
    policy = parse_policies((tmp_path / "policies.yaml").read_text())
    _, _, recs = run_plan(sqlite_engine, policy, None, time_limit_s=20)  # as `optimizer plan`
    chosen = [r for r in recs if r["kind"] == "tiering" and r["proposed"]["provider"] == "azure"
              and r["proposed"]["action"] == "lifecycle"][:2]  # fmt: skip
    if len(chosen) < 2:
        kinds = [(r["proposed"].get("provider"), r["proposed"].get("action"))
                 for r in recs if r["kind"] == "tiering"]  # fmt: skip
        pytest.fail(f"the demo plan has no 2 Azure lifecycle recommendations: {kinds}")
    with Session(sqlite_engine) as session:
        groups = {g.name: g for g in session.exec(select(StorageGroup))}
    for rec in chosen:  # the accounts exist in ARM, with the rules the demo collected
        group = groups[rec["subject"]]
        account = group.bucket.split("/")[0]
        arm.add_account(account, group=f"rg-{account}", sub=str(group.account_id))
        if group.lifecycle_rules:
            arm.policies[account] = list(group.lifecycle_rules)  # ARM's own shape
    before = {k: list(v) for k, v in arm.policies.items()}
    ids = [str(r["id"]) for r in chosen]
    others = [r["id"] for r in recs if r["status"] == "approved" and str(r["id"]) not in ids]
    if others:  # only ours are approved
        decide(sqlite_engine, others, "reject", "ana")
    proposed = [r["id"] for r in chosen if r["status"] == "proposed"]
    if proposed:
        decide(sqlite_engine, proposed, "approve", "ana")

    dry = cli(db, config, "apply")
    assert {c["status"] for c in dry["changes"]} == {"planned"}, dry
    assert all(c["calls"][0].startswith("storage-mgmt.ManagementPolicies_CreateOrUpdate(")
               for c in dry["changes"])  # fmt: skip
    assert arm.writes() == [] and arm.policies == before

    done = cli(db, config, "apply", "--execute", "--by", "nightly")
    assert {c["status"] for c in done["changes"]} == {"applied"}, done
    for rec in chosen:
        account, _, container = rec["proposed"]["bucket"].partition("/")
        ours = arm.policies[account][-1]
        assert ours["name"].startswith("optimizer-")
        assert ours["definition"]["filters"]["prefixMatch"] == [
            f"{container}/{rec['proposed']['prefix']}"]  # fmt: skip
        assert arm.policies[account][:-1] == before.get(account, [])  # merged, not replaced

    undone = cli(db, config, "rollback", ids[0], "--execute", "--by", "ana", "--reason", "test")
    assert [u["status"] for u in undone["rollbacks"]] == ["rolled_back"]
    first = chosen[0]["proposed"]["bucket"].split("/")[0]
    assert arm.policies.get(first, []) == before.get(first, [])  # as it was
    with Session(sqlite_engine) as session:
        status = {r.id: r.status for r in session.exec(select(Recommendation))}
    assert [status[int(i)] for i in ids] == ["rolled_back", "applied"]
    assert cli(db, config, "audit", "verify")["ok"] is True
