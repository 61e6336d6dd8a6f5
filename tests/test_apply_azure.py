"""Issue #6 §2, Azure: apply and roll back storage tiering against real Azurite (Blob data
plane) and a local ARM (management policies, tests/azure_arm_storage_fake.py), through
the real SDKs and the real engine (run_apply / run_rollback): no mocks."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from azure.storage.blob import (
    AccountSasPermissions,
    BlobServiceClient,
    ResourceTypes,
    StandardBlobTier,
    generate_account_sas,
)
from sqlalchemy.engine import Engine

from optimizer.apply.azure_blob_adapter import BlobTarget
from optimizer.apply.changes import Call, LiveState, TieringChange
from optimizer.apply.rollback import run_rollback
from optimizer.apply.run import run_apply
from optimizer.apply.settings import ApplySettings, AzureApplyTarget
from store.audit import events, verify
from store.models import AppliedChange, Plan, Recommendation, StorageGroup
from tests.azure_arm_storage_fake import SUB, ArmStorageFake, arm_fixture  # noqa: F401
from tests.azure_fake import azure_ca  # noqa: F401
from tests.azurite_emulator import KEY, KEY_ENV, Azurite, azurite_fixture, start_azurite  # noqa: F401

RECS, GROUPS = Recommendation.__table__, StorageGroup.__table__  # type: ignore[attr-defined]
CHANGES = AppliedChange.__table__  # type: ignore[attr-defined]
FOREIGN = {"enabled": True, "name": "keep-logs", "type": "Lifecycle",
           "definition": {"filters": {"blobTypes": ["blockBlob"], "prefixMatch": ["logs/"]},
                          "actions": {"baseBlob": {"delete": {
                              "daysAfterModificationGreaterThan": 365}}}}}  # fmt: skip
SAS_ENV = "OPTIMIZER_TEST_AZURITE_SAS"


def settings(azurite: Azurite, arm: ArmStorageFake, **kw: Any) -> ApplySettings:
    target = AzureApplyTarget(subscription_id=SUB, arm_endpoint=arm.url, ca_bundle=arm.ca_path,
                              blob_endpoint=azurite.endpoint, account_key_env=KEY_ENV,
                              max_attempts=1, **kw)  # fmt: skip
    return ApplySettings(azure=target)


def service(azurite: Azurite, account: str) -> BlobServiceClient:
    return BlobServiceClient(azurite.endpoint.replace("{account}", account),
                             credential={"account_name": account, "account_key": KEY})  # fmt: skip


def put_blobs(azurite: Azurite, account: str, container: str, tiers: dict[str, str]) -> None:
    c = service(azurite, account).get_container_client(container)
    if not c.exists():
        c.create_container()
    for name, tier in tiers.items():
        c.upload_blob(name, b"x" * 10, overwrite=True, standard_blob_tier=StandardBlobTier(tier))


def tiers(azurite: Azurite, account: str, container: str) -> dict[str, str]:
    c = service(azurite, account).get_container_client(container)
    return {b.name: str(b.blob_tier) for b in c.list_blobs()}


def add_rec(engine: Engine, bucket: str, action: str, *, prefix: str = "", tier: str = "Cool",
            after_days: int | None = 30, rules: list[dict[str, Any]] | None = None,
            savings: str = "100", current: str = "Hot") -> int:  # fmt: skip
    """A storage group and an approved tiering recommendation, as placement writes them."""
    now = datetime.now(UTC)
    name = f"azure:{bucket}{'/' + prefix.rstrip('/') if prefix else ''}"
    with engine.begin() as conn:
        plan = conn.execute(sa.insert(Plan.__table__).values(  # type: ignore[attr-defined]
            created_at=now, kind="tiering", status="ok")).inserted_primary_key[0]  # fmt: skip
        if conn.execute(sa.select(GROUPS.c.id).where(GROUPS.c.name == name)).first() is None:
            conn.execute(sa.insert(GROUPS).values(
                name=name, provider="azure", account_id=SUB, region="westeurope",
                bucket=bucket, prefix=prefix, tier=current, bytes=30, objects=3,
                lifecycle_rules=rules))  # fmt: skip
        common = {"bucket": bucket, "prefix": prefix, "provider": "azure",
                  "region": "westeurope", "bytes": 30, "objects": 3}  # fmt: skip
        return int(conn.execute(sa.insert(RECS).values(
            plan_id=plan, fingerprint=f"{plan:04d}{name}".replace(":", "").replace("/", ""),
            kind="tiering", subject=name, status="approved", monthly_savings=Decimal(savings),
            one_off_cost=Decimal("0.01"), created_at=now,
            current={**common, "action": "stay", "after_days": None, "tier": current},
            proposed={**common, "action": action, "after_days": after_days, "tier": tier},
        )).inserted_primary_key[0])  # fmt: skip


def status(engine: Engine, rec_id: int) -> tuple[str, str | None]:
    with engine.connect() as conn:
        row = conn.execute(sa.select(RECS).where(RECS.c.id == rec_id)).one()
        return row.status, row.status_reason


def reapprove(engine: Engine, rec_id: int) -> None:
    with engine.begin() as conn:
        conn.execute(sa.update(RECS).where(RECS.c.id == rec_id).values(status="approved"))


def audit_ok(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        assert verify(conn).ok
        return [e.action for e in events(conn)]


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)


def test_lifecycle_merges_is_idempotent_and_rolls_back_only_ours(
    sqlite_engine: Engine, azurite: Azurite, arm: ArmStorageFake
) -> None:
    arm.add_account("stapplyone")
    arm.policies["stapplyone"] = [FOREIGN]
    rec = add_rec(sqlite_engine, "stapplyone/media", "lifecycle", prefix="raw/", rules=[FOREIGN])
    s = settings(azurite, arm)
    dry = run_apply(sqlite_engine, s, execute=False, by="ana")
    [call] = dry.outcomes[0].calls
    assert dry.outcomes[0].status == "planned" and arm.writes() == []
    assert call.operation == "ManagementPolicies_CreateOrUpdate"
    ours = call.params["properties"]["policy"]["rules"][1]
    assert ours["definition"] == {
        "actions": {"baseBlob": {"tierToCool": {"daysAfterModificationGreaterThan": 30}}},
        "filters": {"blobTypes": ["blockBlob"], "prefixMatch": ["media/raw/"]}}  # fmt: skip
    assert call.render().startswith("storage-mgmt.ManagementPolicies_CreateOrUpdate(subscript")
    assert status(sqlite_engine, rec)[0] == "approved"

    done = run_apply(sqlite_engine, s, execute=True, by="ana")
    assert [o.status for o in done.outcomes] == ["applied"]
    assert [r["name"] for r in arm.policies["stapplyone"]] == ["keep-logs", ours["name"]]
    assert status(sqlite_engine, rec)[0] == "applied"
    puts = len(arm.writes())
    reapprove(sqlite_engine, rec)  # approved again: nothing to do, nothing written
    again = run_apply(sqlite_engine, s, execute=True, by="ana")
    assert [o.status for o in again.outcomes] == ["already"] and len(arm.writes()) == puts

    later = {**FOREIGN, "name": "added-after"}
    arm.policies["stapplyone"].append(later)  # someone adds a rule after our apply
    undo = run_rollback(sqlite_engine, s, [rec], execute=True, by="ben", reason="test")
    assert [u.status for u in undo] == ["rolled_back"]
    assert arm.policies["stapplyone"] == [FOREIGN, later]
    assert status(sqlite_engine, rec)[0] == "rolled_back"
    assert audit_ok(sqlite_engine)[-3:] == ["apply", "apply", "rollback"]


def test_only_rule_goes_with_the_policy_and_drift_is_refused(
    sqlite_engine: Engine, azurite: Azurite, arm: ArmStorageFake
) -> None:
    arm.add_account("stapplyone")
    arm.add_account("stapplytwo", group="rg-other")
    first = add_rec(sqlite_engine, "stapplyone", "lifecycle", tier="Archive", after_days=90,
                    rules=None, savings="300")  # fmt: skip
    # the plan saw no rules on stapplytwo, but someone has added one since
    drifted = add_rec(sqlite_engine, "stapplytwo/logs", "lifecycle", rules=[], savings="200")
    arm.policies["stapplytwo"] = [FOREIGN]
    s = settings(azurite, arm)
    done = run_apply(sqlite_engine, s, execute=True, by="ana")
    assert [o.status for o in done.outcomes] == ["applied", "conflict"]
    [rule] = arm.policies["stapplyone"]  # a whole account: no prefixMatch
    assert rule["definition"]["filters"] == {"blobTypes": ["blockBlob"]}
    assert rule["definition"]["actions"]["baseBlob"] == {
        "tierToArchive": {"daysAfterModificationGreaterThan": 90}}  # fmt: skip
    assert arm.policies["stapplytwo"] == [FOREIGN]  # not clobbered
    assert [w for w in arm.writes() if "stapplytwo" in w[1]] == []
    assert status(sqlite_engine, drifted) == (
        "failed", "changed since planning: the lifecycle rules of stapplytwo/logs changed "
        "since planning (0 rule(s) then, 1 now, not counting optimizer's)")  # fmt: skip
    undo = run_rollback(sqlite_engine, s, [first], execute=True, by="ben")
    assert [u.calls[0].operation for u in undo] == ["ManagementPolicies_Delete"]
    assert "stapplyone" not in arm.policies  # there was none before: none after
    assert "apply.conflict" in audit_ok(sqlite_engine)


def test_one_off_sets_tiers_then_restores_them(
    sqlite_engine: Engine, azurite: Azurite, arm: ArmStorageFake
) -> None:
    arm.add_account("stapplyone")
    put_blobs(azurite, "stapplyone", "oneoff", {"a/1": "Hot", "a/2": "Hot", "a/3": "Cool",
                                                "b/4": "Hot"})  # fmt: skip
    young = add_rec(sqlite_engine, "stapplyone/oneoff", "one-off", prefix="a/", savings="50")
    s = settings(azurite, arm)
    nothing = run_apply(sqlite_engine, s, execute=False, by="ana")  # all blobs are new
    assert [(o.status, o.calls) for o in nothing.outcomes] == [("already", [])]
    with sqlite_engine.begin() as conn:
        conn.execute(sa.update(RECS).where(RECS.c.id == young).values(status="rejected"))
    rec = add_rec(sqlite_engine, "stapplyone/oneoff", "one-off", prefix="a/", after_days=0,
                  tier="Cold")  # fmt: skip
    dry = run_apply(sqlite_engine, s, execute=False, by="ana")
    assert [c.render() for c in dry.outcomes[0].calls] == [
        f'blob.SetBlobTier(accountName="stapplyone", containerName="oneoff", '
        f'blobName="a/{n}", tier="Cold")' for n in (1, 2)]  # fmt: skip
    assert tiers(azurite, "stapplyone", "oneoff")["a/1"] == "Hot"

    done = run_apply(sqlite_engine, s, execute=True, by="ana")
    assert [o.status for o in done.outcomes] == ["applied"]
    assert tiers(azurite, "stapplyone", "oneoff") == {"a/1": "Cold", "a/2": "Cold",
                                                      "a/3": "Cool", "b/4": "Hot"}  # fmt: skip
    reapprove(sqlite_engine, rec)  # approved again: nothing left to call
    again = run_apply(sqlite_engine, s, execute=False, by="ana")
    assert [(o.status, o.calls) for o in again.outcomes] == [("already", [])]
    with sqlite_engine.begin() as conn:
        conn.execute(sa.update(RECS).where(RECS.c.id == rec).values(status="applied"))
    # someone archives a/2 after our change: rollback leaves it where they put it
    service(azurite, "stapplyone").get_blob_client("oneoff", "a/2").set_standard_blob_tier(
        "Archive")  # fmt: skip
    undo = run_rollback(sqlite_engine, s, [rec], execute=True, by="ben")
    assert [(u.status, len(u.calls)) for u in undo] == [("rolled_back", 1)]
    assert tiers(azurite, "stapplyone", "oneoff") == {"a/1": "Hot", "a/2": "Archive",
                                                      "a/3": "Cool", "b/4": "Hot"}  # fmt: skip
    audit_ok(sqlite_engine)


def test_one_off_on_a_whole_account_walks_every_container(
    sqlite_engine: Engine, azurite: Azurite, arm: ArmStorageFake
) -> None:
    """The collector's groups are whole accounts (bucket "account", no container)."""
    arm.add_account("stapplywhole")
    put_blobs(azurite, "stapplywhole", "one", {"p/1": "Cool", "q/2": "Cool"})
    put_blobs(azurite, "stapplywhole", "two", {"p/3": "Cool", "p/4": "Hot"})
    add_rec(sqlite_engine, "stapplywhole", "one-off", current="Cool", tier="Archive",
            after_days=0)  # fmt: skip
    done = run_apply(sqlite_engine, settings(azurite, arm), execute=True, by="ana")
    assert [(o.status, len(o.calls)) for o in done.outcomes] == [("applied", 3)]
    assert tiers(azurite, "stapplywhole", "one") == {"p/1": "Archive", "q/2": "Archive"}
    assert tiers(azurite, "stapplywhole", "two") == {"p/3": "Archive", "p/4": "Hot"}


def test_one_off_executed_twice_still_rolls_back(
    sqlite_engine: Engine, azurite: Azurite, arm: ArmStorageFake
) -> None:
    arm.add_account("stapplyone")
    put_blobs(azurite, "stapplyone", "twice", {"t/1": "Hot", "t/2": "Hot"})
    rec = add_rec(sqlite_engine, "stapplyone/twice", "one-off", prefix="t/", after_days=0)
    s = settings(azurite, arm)
    assert run_apply(sqlite_engine, s, execute=True, by="ana").outcomes[0].status == "applied"
    reapprove(sqlite_engine, rec)
    assert run_apply(sqlite_engine, s, execute=True, by="ana").outcomes[0].status == "already"
    assert tiers(azurite, "stapplyone", "twice") == {"t/1": "Cool", "t/2": "Cool"}
    run_rollback(sqlite_engine, s, [rec], execute=True, by="ben")
    assert tiers(azurite, "stapplyone", "twice") == {"t/1": "Hot", "t/2": "Hot"}


def test_permission_refused_half_way(
    sqlite_engine: Engine, azurite: Azurite, arm: ArmStorageFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Azurite refuses SetBlobTier to a SAS that may only read and list (403
    AuthorizationPermissionMismatch); ARM refuses a policy write (403 AuthorizationFailed)."""
    arm.add_account("stapplytwo")
    arm.add_account("stapplyone")
    put_blobs(azurite, "stapplytwo", "denied", {"x/1": "Hot", "x/2": "Hot"})
    sas = generate_account_sas("stapplytwo", KEY, ResourceTypes(service=True, container=True,
                               object=True), AccountSasPermissions(read=True, list=True),
                               expiry=datetime.now(UTC) + timedelta(hours=1))  # fmt: skip
    monkeypatch.setenv(SAS_ENV, sas)
    ok = add_rec(sqlite_engine, "stapplytwo/denied", "lifecycle", rules=None, savings="300")
    refused = add_rec(sqlite_engine, "stapplytwo/denied", "one-off", prefix="x/",
                      after_days=0, savings="200")  # fmt: skip
    later = add_rec(sqlite_engine, "stapplyone/other", "lifecycle", rules=None, savings="100")
    s = settings(azurite, arm, sas_token_env=SAS_ENV)
    done = run_apply(sqlite_engine, s, execute=True, by="ana")
    assert [o.status for o in done.outcomes] == ["applied", "failed", "not-attempted"]
    error = done.outcomes[1].error
    assert error is not None and error.kind == "permission denied"
    assert "AuthorizationPermissionMismatch" in error.message
    assert "Storage Blob Data Contributor" in (error.fix or "")
    assert tiers(azurite, "stapplytwo", "denied") == {"x/1": "Hot", "x/2": "Hot"}
    assert status(sqlite_engine, refused)[0] == "failed"
    assert status(sqlite_engine, later)[0] == "approved"  # the next run takes it
    with sqlite_engine.connect() as conn:
        row = conn.execute(sa.select(CHANGES).where(CHANGES.c.recommendation_id == refused)).one()
    assert row.status == "failed" and "AuthorizationPermissionMismatch" in row.error
    assert "after 0 of 2 call(s)" in done.outcomes[1].detail

    arm.denied.add("stapplyone")  # ARM: the identity lacks managementPolicies/write
    run = run_apply(sqlite_engine, s, execute=True, by="ana")
    [outcome] = run.outcomes
    assert outcome.status == "failed" and outcome.error is not None
    assert "AuthorizationFailed" in outcome.error.message
    assert "Storage Account Contributor" in (outcome.error.fix or "")
    assert "stapplyone" not in arm.policies
    assert status(sqlite_engine, ok)[0] == "applied"
    audit_ok(sqlite_engine)


class StopsAzurite:
    """The real BlobTarget; after `after` SetBlobTier calls the emulator is stopped, so
    the next call meets a dead endpoint, as when the service goes away mid-run."""

    def __init__(self, real: BlobTarget, server: Azurite, after: int):
        self.real, self.server, self.after, self.made = real, server, after, 0

    def read(self, change: TieringChange, max_objects: int) -> LiveState:
        return self.real.read(change, max_objects)

    def execute(self, call: Call) -> None:
        self.real.execute(call)
        self.made += 1
        if self.made == self.after:
            self.server.stop()


def test_emulator_stopped_mid_one_off(
    sqlite_engine: Engine, arm: ArmStorageFake, tmp_path: Path
) -> None:
    server = start_azurite(tmp_path)
    try:
        arm.add_account("stapplyone")
        put_blobs(server, "stapplyone", "big", {f"o/{i}": "Hot" for i in range(5)})
        rec = add_rec(sqlite_engine, "stapplyone/big", "one-off", prefix="o/", after_days=0)
        s = settings(server, arm)
        target = StopsAzurite(BlobTarget(s.azure), server, after=2)  # type: ignore[arg-type]
        done = run_apply(sqlite_engine, s, execute=True, by="ana", targets=lambda p: target)
    finally:
        server.stop()
    [outcome] = done.outcomes
    assert outcome.status == "failed" and outcome.error is not None
    assert outcome.error.kind == "unreachable"
    assert "after 2 of 5 call(s); undo failed too" in outcome.detail
    reason = status(sqlite_engine, rec)
    assert reason[0] == "failed" and (reason[1] or "").startswith("unreachable: ")
    with sqlite_engine.connect() as conn:
        row = conn.execute(sa.select(CHANGES).where(CHANGES.c.recommendation_id == rec)).one()
    assert row.status == "failed" and "undo failed too" in row.error
    assert [c["operation"] for c in row.calls] == ["SetBlobTier"] * 5
    assert [o["tier"] for o in row.before["state"]["objects"]] == ["Hot"] * 5
    actions = audit_ok(sqlite_engine)
    assert actions[-1] == "apply.failed"
    event = json.dumps(row.before["change"])
    assert "stapplyone/big" in event
