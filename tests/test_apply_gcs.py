"""Issue #6 §2, GCS: apply and roll back tiering through google-cloud-storage against
gcp-storage-emulator (real SDK, real HTTP on loopback, no mocks), driven through the
engine (run_apply / run_rollback) and once through the CLI.

What the emulator does not implement, so these tests cannot show it (docs/apply-gcp.md):
preconditions (ifMetagenerationMatch / ifGenerationMatch are accepted and ignored),
permissions (nothing is ever refused with 403), and a rewrite's storageClass (the
rewritten object gets a new generation but keeps its class).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from sqlalchemy.engine import Engine

from optimizer.apply.gcs_adapter import GcsTarget
from optimizer.apply.rollback import run_rollback
from optimizer.apply.run import run_apply
from optimizer.apply.settings import ApplySettings, GcpApplyTarget
from optimizer.cli import cli
from store.audit import events, verify
from tests.conftest import run_cli
from tests.gcs_apply import (  # noqa: F401 (the fixture)
    Emulator,
    FaultAfter,
    add_rec,
    changes,
    gcs_emulator_fixture,
    objects,
    put,
    rec_status,
    set_status,
)

FOREIGN = {"action": {"type": "Delete"}, "condition": {"age": 365, "matchesPrefix": ["tmp/"]}}
# A rule type this SDK version does not know: its `lifecycle_rules` would drop it.
FUTURE = {"action": {"type": "SomeFutureAction"}, "condition": {"age": 7}}
OURS = {
    "action": {"type": "SetStorageClass", "storageClass": "NEARLINE"},
    "condition": {"age": 30, "matchesStorageClass": ["STANDARD"], "matchesPrefix": ["app/"]},
}


def settings(emu: Emulator, **limits: Any) -> ApplySettings:
    target = GcpApplyTarget(endpoint=emu.url, project="test", max_attempts=2, timeout_s=10)
    return ApplySettings(gcp=target, **limits)


def gcp(s: ApplySettings) -> GcpApplyTarget:
    assert s.gcp is not None
    return s.gcp


def bucket_with(emu: Emulator, name: str, rules: list[dict[str, Any]] | None) -> Any:
    bucket = emu.client().create_bucket(name)
    if rules:
        bucket.lifecycle_rules = rules
        bucket.patch()
    return bucket


def live(emu: Emulator, name: str) -> tuple[list[dict[str, Any]] | None, int]:
    """The bucket's raw lifecycle rules and metageneration, read with the plain SDK."""
    bucket = emu.client().get_bucket(name)
    return (bucket._properties.get("lifecycle") or {}).get("rule"), int(bucket.metageneration)


def audit_ok(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        assert verify(conn).ok
        return [e.action for e in events(conn)]


def test_lifecycle_dry_run_execute_again_and_rollback(
    sqlite_engine: Engine, gcs_emulator: Emulator
) -> None:
    bucket_with(gcs_emulator, "logs", [FOREIGN, FUTURE])
    rec = add_rec(sqlite_engine, "logs", prefix="app/", known_rules=[FOREIGN, FUTURE])
    s = settings(gcs_emulator)
    start = live(gcs_emulator, "logs")

    dry = run_apply(sqlite_engine, s, execute=False, by="ana")
    [planned] = dry.outcomes
    assert planned.status == "planned"
    body = json.dumps({"lifecycle": {"rule": [FOREIGN, FUTURE, OURS]}}, sort_keys=True)
    assert [c.render() for c in planned.calls] == [
        f'gcs.buckets.patch(bucket="logs", ifMetagenerationMatch={start[1]}, body={body})'
    ]
    assert live(gcs_emulator, "logs") == start  # nothing changed
    assert rec_status(sqlite_engine, rec)[0] == "approved" and not changes(sqlite_engine, rec)

    done = run_apply(sqlite_engine, s, execute=True, by="ana")
    assert [o.status for o in done.outcomes] == ["applied"]
    rules, meta = live(gcs_emulator, "logs")
    assert rules == [FOREIGN, FUTURE, OURS]  # merged: the others kept, the unknown one too
    assert rec_status(sqlite_engine, rec)[0] == "applied"
    [row] = changes(sqlite_engine, rec)
    assert row.status == "applied" and json.loads(row.before)["state"]["rules"] == [FOREIGN, FUTURE]

    set_status(sqlite_engine, rec, "approved")  # approved again: the second run is a no-op
    again = run_apply(sqlite_engine, s, execute=True, by="ana")
    assert [(o.status, o.calls) for o in again.outcomes] == [("already", [])]
    assert live(gcs_emulator, "logs") == (rules, meta)

    later = {"action": {"type": "Delete"}, "condition": {"age": 30, "isLive": False}}
    b = gcs_emulator.client().get_bucket("logs")
    b.lifecycle_rules = [*rules, later]  # someone adds a rule after our apply
    b.patch()
    [undo] = run_rollback(sqlite_engine, s, [rec], execute=False, by="ben")
    assert undo.status == "planned" and len(undo.calls) == 1
    assert live(gcs_emulator, "logs")[0] == [*rules, later]  # a dry run changes nothing
    [undo] = run_rollback(sqlite_engine, s, [rec], execute=True, by="ben", reason="test")
    assert undo.status == "rolled_back"
    assert live(gcs_emulator, "logs")[0] == [FOREIGN, FUTURE, later]  # only ours went
    assert rec_status(sqlite_engine, rec)[0] == "rolled_back"
    assert audit_ok(sqlite_engine)[-3:] == ["apply", "apply", "rollback"]


def test_rollback_clears_the_lifecycle_it_created(
    sqlite_engine: Engine, gcs_emulator: Emulator
) -> None:
    bucket_with(gcs_emulator, "fresh", None)
    rec = add_rec(sqlite_engine, "fresh", current="NEARLINE", tier="COLDLINE", after_days=90)
    s = settings(gcs_emulator)
    assert [o.status for o in run_apply(sqlite_engine, s, execute=True, by="a").outcomes] == [
        "applied"
    ]
    [rule] = live(gcs_emulator, "fresh")[0] or []
    assert rule == {
        "action": {"type": "SetStorageClass", "storageClass": "COLDLINE"},
        "condition": {"age": 90, "matchesStorageClass": ["NEARLINE"]},  # no prefix: none
    }
    [undo] = run_rollback(sqlite_engine, s, [rec], execute=True, by="a")
    assert undo.status == "rolled_back"
    assert not live(gcs_emulator, "fresh")[0]  # no rules left at all


def test_rules_changed_since_planning_is_a_conflict(
    sqlite_engine: Engine, gcs_emulator: Emulator
) -> None:
    earlier = {"action": {"type": "SetStorageClass", "storageClass": "ARCHIVE"},
               "condition": {"age": 400, "matchesStorageClass": ["COLDLINE"]}}  # fmt: skip
    bucket_with(gcs_emulator, "drift", [FOREIGN])
    bucket_with(gcs_emulator, "steady", [FOREIGN, earlier])
    # The plan saw only FOREIGN on "drift"; someone has added FUTURE since.
    b = gcs_emulator.client().get_bucket("drift")
    b.lifecycle_rules = [FOREIGN, FUTURE]
    b.patch()
    drifted = add_rec(sqlite_engine, "drift", prefix="app/", known_rules=[FOREIGN], savings="9")
    # "steady" holds a rule of optimizer's shape (an earlier apply): not drift.
    steady = add_rec(sqlite_engine, "steady", prefix="app/", known_rules=[FOREIGN], savings="8")
    before = live(gcs_emulator, "drift")
    report = run_apply(sqlite_engine, settings(gcs_emulator), execute=True, by="ana")
    got = {o.change.rec_id: o for o in report.outcomes}
    assert got[drifted].status == "conflict" and not got[drifted].calls
    assert "changed since planning (1 rule(s) then, 2 now" in got[drifted].detail
    assert live(gcs_emulator, "drift") == before  # nothing written
    assert rec_status(sqlite_engine, drifted)[0] == "failed"
    assert got[steady].status == "applied"
    assert live(gcs_emulator, "steady")[0] == [FOREIGN, earlier, OURS]
    assert "apply.conflict" in audit_ok(sqlite_engine)


def test_one_off_lists_the_right_objects_and_rewrites_each(
    sqlite_engine: Engine, gcs_emulator: Emulator
) -> None:
    bucket_with(gcs_emulator, "data", None)
    gens = put(gcs_emulator, "data", ["app/a", "app/b"], "STANDARD")
    put(gcs_emulator, "data", ["app/c"], "ARCHIVE")  # already colder: not ours to move
    put(gcs_emulator, "data", ["other/d"], "STANDARD")  # outside the prefix
    rec = add_rec(sqlite_engine, "data", prefix="app/", action="one-off", tier="COLDLINE",
                  after_days=0)  # fmt: skip
    young = add_rec(sqlite_engine, "data", prefix="other/", action="one-off", tier="COLDLINE",
                    after_days=1, savings="1")  # fmt: skip
    s = settings(gcs_emulator)
    dry = {o.change.rec_id: o for o in run_apply(sqlite_engine, s, execute=False, by="a").outcomes}
    assert [c.render() for c in dry[rec].calls] == [
        f'gcs.objects.rewrite(sourceBucket="data", sourceObject="app/{k}", '
        f'destinationBucket="data", destinationObject="app/{k}", '
        f'ifGenerationMatch={gens["app/" + k]}, body={{"storageClass": "COLDLINE"}})'
        for k in "ab"
    ]
    assert (dry[young].status, dry[young].calls) == ("already", [])  # objects < 1 day old
    small = run_apply(sqlite_engine, settings(gcs_emulator, max_objects_per_change=1),
                      execute=False, by="a", ids=[rec])  # fmt: skip
    assert small.outcomes[0].status == "refused"  # 2 objects > max_objects_per_change

    before = objects(gcs_emulator, "data")
    done = run_apply(sqlite_engine, s, execute=True, by="a", ids=[rec])
    assert [o.status for o in done.outcomes] == ["applied"]
    after = objects(gcs_emulator, "data")
    # Both objects were rewritten (new generations); the others were not touched.
    assert {k for k in after if after[k][1] != before[k][1]} == {"app/a", "app/b"}
    # The emulator ignores the rewrite's storageClass; GCS applies it.
    assert after["app/a"][0] in ("COLDLINE", "STANDARD")
    [row] = changes(sqlite_engine, rec)
    state = json.loads(row.before)["state"]
    # Recorded: the objects in the current or the new class (app/c is in neither).
    assert [(o["key"], o["tier"]) for o in state["objects"]] == [
        ("app/a", "STANDARD"), ("app/b", "STANDARD")
    ]  # fmt: skip


def test_object_deleted_half_way_fails_cleanly(
    sqlite_engine: Engine, gcs_emulator: Emulator
) -> None:
    """The emulator refuses no permission, so the half-way error is a real 404: the
    next object was deleted between the listing and its rewrite."""
    bucket_with(gcs_emulator, "half", None)
    put(gcs_emulator, "half", ["k1", "k2", "k3"], "STANDARD")
    rec = add_rec(sqlite_engine, "half", action="one-off", tier="ARCHIVE", after_days=0)
    s = settings(gcs_emulator)
    gone = FaultAfter(GcsTarget(gcp(s)), 1, lambda: gcs_emulator.client().bucket("half").blob(
        "k2").delete())  # fmt: skip
    report = run_apply(sqlite_engine, s, execute=True, by="a", targets=lambda _: gone)
    [o] = report.outcomes
    assert o.status == "failed" and type(o.error).__name__ == "ApplyTargetMissing"
    assert "after 1 of 3 call(s); undone" in o.detail
    assert rec_status(sqlite_engine, rec)[0] == "failed"
    [row] = changes(sqlite_engine, rec)
    assert row.status == "failed" and "not found" in row.error and "undone" in row.error
    assert audit_ok(sqlite_engine)[-1] == "apply.failed"


def test_emulator_stopped_mid_run(sqlite_engine: Engine, gcs_emulator: Emulator) -> None:
    """Stopped during a one-off change of three objects: the second call cannot reach
    GCS, the undo is attempted (and cannot reach it either), the recommendation fails,
    the record says what happened; the change after it is not attempted."""
    bucket_with(gcs_emulator, "stop", None)
    put(gcs_emulator, "stop", ["k1", "k2", "k3"], "STANDARD")
    bucket_with(gcs_emulator, "next", None)
    rec = add_rec(sqlite_engine, "stop", action="one-off", tier="ARCHIVE", after_days=0,
                  savings="9")  # fmt: skip
    nxt = add_rec(sqlite_engine, "next", prefix="p/", savings="1")
    s = settings(gcs_emulator)
    stops = FaultAfter(GcsTarget(gcp(s)), 1, gcs_emulator.stop)
    report = run_apply(sqlite_engine, s, execute=True, by="a", targets=lambda _: stops)
    got = {o.change.rec_id: o for o in report.outcomes}
    assert got[rec].status == "failed" and type(got[rec].error).__name__ == "ApplyUnreachable"
    assert "after 1 of 3 call(s); undo failed too" in got[rec].detail
    assert got[nxt].status == "not-attempted"
    assert rec_status(sqlite_engine, rec)[0] == "failed"
    assert rec_status(sqlite_engine, nxt)[0] == "approved"  # for the next run
    [row] = changes(sqlite_engine, rec)
    assert row.status == "failed" and row.error.startswith("unreachable: ")
    assert f"optimizer rollback {rec}" in row.error
    assert audit_ok(sqlite_engine)[-1] == "apply.failed"
    # With GCS still down, a new run reads nothing and calls nothing: it stays approved.
    again = run_apply(sqlite_engine, s, execute=True, by="a")
    assert [o.status for o in again.outcomes] == ["failed"]
    assert rec_status(sqlite_engine, nxt)[0] == "approved"


def test_cli_apply_and_rollback(tmp_path: Path, gcs_emulator: Emulator) -> None:
    from store.engine import make_engine
    from store.migrate import upgrade

    db = tmp_path / "cli.db"
    engine = make_engine(f"sqlite:///{db}")
    upgrade(engine)
    bucket_with(gcs_emulator, "cli", [FOREIGN])
    rec = add_rec(engine, "cli", prefix="app/", known_rules=[FOREIGN])
    config = tmp_path / "optimizer.toml"
    config.write_text(f'[apply.gcp]\nendpoint = "{gcs_emulator.url}"\nproject = "test"\n')
    base = ("--db", str(db), "--config", str(config))

    def run(*args: str) -> Any:
        result = CliRunner().invoke(cli, [*base, *args])
        assert result.exit_code == 0, result.output
        return result

    dry = run("apply")
    assert "Dry run" in dry.stdout and 'gcs.buckets.patch(bucket="cli"' in dry.stdout
    assert live(gcs_emulator, "cli")[0] == [FOREIGN]
    done = run("--json", "apply", "--execute", "--by", "ana")
    assert [c["status"] for c in json.loads(done.stdout)["changes"]] == ["applied"]
    assert live(gcs_emulator, "cli")[0] == [FOREIGN, OURS]
    assert "rolled_back" in run("rollback", str(rec), "--execute", "--by", "ben").stdout
    assert live(gcs_emulator, "cli")[0] == [FOREIGN]
    # In a subprocess: under pytest, `audit verify`'s SQLAlchemy deprecation warning
    # (Result.tuples) is an error (filterwarnings in pyproject.toml).
    audit = run_cli(*base, "audit", "verify")
    assert audit.returncode == 0, audit.stdout + audit.stderr
    engine.dispose()
