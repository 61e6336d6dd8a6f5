"""The audit log (issue #6 §3): a hash chain that `verify` checks event by event.

Tampering is done the way an intruder would: plain SQL on the store, outside optimizer.
"""

from __future__ import annotations

import io
import json
import threading
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from store.audit import (
    GENESIS,
    TABLE,
    append,
    event_hash,
    export,
    read_export,
    verify,
    verify_events,
)
from store.engine import make_engine
from tests.conftest import run_cli
from tests.focus_files import base_row, write_focus_csv

REPO = Path(__file__).resolve().parents[1]
POLICIES = REPO / "examples" / "policies" / "all.yaml"


def _chain(engine: Engine, n: int) -> list[int]:
    ids = []
    for i in range(n):
        with engine.begin() as conn:
            event = append(conn, f"user{i % 2}", "collect", f"src-{i}", {"rows": i, "i": i})
            ids.append(event.id)
    return ids


def _sql(engine: Engine, statement: str, **params: object) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text(statement), params)


def test_a_chain_of_events_verifies(engine: Engine) -> None:
    ids = _chain(engine, 12)
    with engine.connect() as conn:
        report = verify(conn)
        first = conn.execute(sa.select(TABLE).where(TABLE.c.id == ids[0])).mappings().one()
        last = conn.execute(sa.select(TABLE).where(TABLE.c.id == ids[-1])).mappings().one()
    assert report.ok and report.events == 12 and report.broken is None
    assert report.head_id == ids[-1] and report.head_hash == last["hash"]
    assert first["prev_hash"] == GENESIS


def test_an_empty_log_verifies(engine: Engine) -> None:
    with engine.connect() as conn:
        report = verify(conn)
    assert report.ok and report.events == 0 and report.head_hash == GENESIS


def test_details_serialise_deterministically(engine: Engine) -> None:
    when = datetime(2026, 11, 1, 12, 30, tzinfo=UTC)
    details = {
        "b": Decimal("12.50"),
        "a": [when, date(2026, 11, 1), (1, 2)],
        "nested": {"z": 1, "y": float("nan"), 3: "int key"},
    }
    with engine.begin() as conn:
        event = append(conn, "alice", "plan", "plan:1", details, ts=when)
    assert event.details == {
        "a": ["2026-11-01T12:30:00.000000+00:00", "2026-11-01", [1, 2]],
        "b": "12.50",
        "nested": {"3": "int key", "y": "nan", "z": 1},
    }
    assert event.details is not None
    reordered = dict(reversed(event.details.items()))  # key order never changes the hash
    assert event_hash(GENESIS, when, "alice", "plan", "plan:1", reordered) == event.hash
    with engine.connect() as conn:
        assert verify(conn).ok


def test_an_edited_detail_is_found(engine: Engine) -> None:
    ids = _chain(engine, 6)
    _sql(
        engine,
        "UPDATE audit_event SET details = :d WHERE id = :i",
        d='{"i":3,"rows":999}',
        i=ids[3],
    )
    with engine.connect() as conn:
        report = verify(conn)
    assert report.broken is not None
    assert (report.broken.kind, report.broken.event_id) == ("edited", ids[3])
    assert report.head_id == ids[2] and report.events == 4


def test_a_changed_actor_is_found(engine: Engine) -> None:
    ids = _chain(engine, 5)
    _sql(engine, "UPDATE audit_event SET actor = 'mallory' WHERE id = :i", i=ids[1])
    with engine.connect() as conn:
        broken = verify(conn).broken
    assert broken is not None and (broken.kind, broken.event_id) == ("edited", ids[1])
    assert "mallory" in broken.message


def test_a_deleted_middle_event_is_found(engine: Engine) -> None:
    ids = _chain(engine, 7)
    _sql(engine, "DELETE FROM audit_event WHERE id = :i", i=ids[3])
    with engine.connect() as conn:
        broken = verify(conn).broken
    assert broken is not None
    assert (broken.kind, broken.event_id, broken.previous_id) == ("deleted", ids[4], ids[2])
    assert f"ids {ids[3]}–{ids[3]} are missing" in broken.message


def test_a_deleted_first_event_is_found(engine: Engine) -> None:
    ids = _chain(engine, 3)
    _sql(engine, "DELETE FROM audit_event WHERE id = :i", i=ids[0])
    with engine.connect() as conn:
        broken = verify(conn).broken
    assert broken is not None and (broken.kind, broken.event_id) == ("deleted", ids[1])


def test_a_re_hashed_edit_is_found_at_the_next_event(engine: Engine) -> None:
    """An intruder who recomputes the edited event's own hash still breaks the link."""
    ids = _chain(engine, 5)
    with engine.begin() as conn:
        row = conn.execute(sa.select(TABLE).where(TABLE.c.id == ids[2])).mappings().one()
        digest = event_hash(row["prev_hash"], row["ts"], "mallory", row["action"],
                            row["subject"], row["details"])  # fmt: skip
        conn.execute(
            sa.update(TABLE).where(TABLE.c.id == ids[2]).values(actor="mallory", hash=digest)
        )
    with engine.connect() as conn:
        broken = verify(conn).broken
    assert broken is not None and (broken.kind, broken.event_id) == ("deleted", ids[3])
    assert f"event {ids[2]} was re-hashed" in broken.message


def test_reordered_events_are_found(engine: Engine) -> None:
    ids = _chain(engine, 6)
    a, b, spare = ids[2], ids[3], ids[-1] + 100
    _sql(engine, "UPDATE audit_event SET id = :s WHERE id = :a", s=spare, a=a)
    _sql(engine, "UPDATE audit_event SET id = :a WHERE id = :b", a=a, b=b)
    _sql(engine, "UPDATE audit_event SET id = :b WHERE id = :s", b=b, s=spare)
    with engine.connect() as conn:
        broken = verify(conn).broken
    assert broken is not None
    assert (broken.kind, broken.event_id, broken.previous_id) == ("reordered", a, ids[1])
    assert f"follows event {b}" in broken.message


def test_truncating_the_newest_events_is_found_only_with_a_kept_head(tmp_path: Path) -> None:
    """The chain alone cannot show it (docs/operations.md); `--expect-head` with a head
    hash kept from an earlier verify can."""
    db = str(tmp_path / "s.db")
    assert run_cli("--db", db, "init").returncode == 0
    engine = make_engine(f"sqlite:///{db}")
    ids = _chain(engine, 4)
    with engine.connect() as conn:
        before = verify(conn)
    kept = run_cli("--db", db, "audit", "verify", "--expect-head", before.head_hash)
    assert kept.returncode == 0, kept.stderr
    _sql(engine, "DELETE FROM audit_event WHERE id = :i", i=ids[-1])
    with engine.connect() as conn:
        after = verify(conn)
    assert after.ok and after.head_hash != before.head_hash  # a valid, shorter chain
    older = run_cli("--db", db, "audit", "verify", "--expect-head", after.head_hash)
    assert older.returncode == 0  # an older head that is still there: fine
    gone = run_cli("--db", db, "audit", "verify", "--expect-head", before.head_hash)
    assert gone.returncode == 2 and "removed from its end" in gone.stderr


def test_export_round_trips(engine: Engine) -> None:
    _chain(engine, 5)
    with engine.begin() as conn:
        append(conn, "bob", "plan", None, {"total": Decimal("1.10"), "none": None})
    out = io.StringIO()
    with engine.connect() as conn:
        count, head = export(conn, out)
        report = verify(conn)
        stored = conn.execute(sa.select(TABLE).order_by(TABLE.c.id)).mappings().all()
    lines = out.getvalue().splitlines()
    assert count == len(lines) == 6 and head == report.head_hash
    events = read_export(lines)
    assert [e.as_dict() for e in events] == [
        {**dict(r), "ts": r["ts"].isoformat(timespec="microseconds")} for r in stored
    ]
    assert verify_events(events).ok and verify_events(events).head_hash == head
    tampered = [json.loads(line) for line in lines]
    tampered[2]["details"]["rows"] = 1000
    broken = verify_events(read_export(json.dumps(t) for t in tampered)).broken
    assert broken is not None and (broken.kind, broken.event_id) == ("edited", tampered[2]["id"])


def _race(engine: Engine, threads: int, each: int) -> None:
    start = threading.Barrier(threads)
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            start.wait()
            for i in range(each):
                with engine.begin() as conn:
                    conn.execute(sa.text("SELECT 1"))
                    append(conn, f"writer{n}", "collect", f"t{n}-{i}", {"i": i})
        except BaseException as exc:  # reported by the test
            errors.append(exc)

    workers = [threading.Thread(target=writer, args=(n,)) for n in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert errors == []


@pytest.mark.postgres
def test_concurrent_appends_never_fork_on_postgres(pg_engine: Engine) -> None:
    _race(pg_engine, threads=4, each=25)
    with pg_engine.connect() as conn:
        report = verify(conn)
        prevs = conn.execute(sa.select(TABLE.c.prev_hash)).scalars().all()
    assert report.ok and report.events == 100
    assert len(set(prevs)) == 100  # no two events name the same predecessor


def test_concurrent_appends_never_fork_on_sqlite(sqlite_engine: Engine) -> None:
    _race(sqlite_engine, threads=2, each=20)
    with sqlite_engine.connect() as conn:
        report = verify(conn)
    assert report.ok and report.events == 40


def test_an_append_rolled_back_with_its_change_leaves_the_chain_intact(engine: Engine) -> None:
    _chain(engine, 2)
    with pytest.raises(RuntimeError), engine.begin() as conn:
        append(conn, "alice", "plan", "plan:9", {})
        raise RuntimeError("the change failed")
    _chain(engine, 2)
    with engine.connect() as conn:
        report = verify(conn)
    assert report.ok and report.events == 4


def test_cli_verify_and_export_after_collect_and_plan(
    demo_store: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = str(demo_store.url.database)
    monkeypatch.setenv("OPTIMIZER_ACTOR", "finops-bot")
    csv = write_focus_csv(tmp_path / "bill.csv", [base_row(i) for i in range(4)])
    assert run_cli("--db", db, "collect", "focus", str(csv)).returncode == 0
    planned = run_cli("--db", db, "plan", "--policies", str(POLICIES), "--time-limit", "20")
    assert planned.returncode == 0, planned.stderr

    verified = run_cli("--db", db, "audit", "verify", "--json")
    assert verified.returncode == 0, verified.stderr
    report = json.loads(verified.stdout)
    assert report["ok"] and report["actions"] == {"collect": 1, "plan": 1}
    text = run_cli("--db", db, "audit", "verify")
    assert "audit log intact: 2 events (collect 1, plan 1)" in text.stdout

    exported = run_cli("--db", db, "audit", "export", "--out", "-")
    events = [json.loads(line) for line in exported.stdout.splitlines()]
    collect, plan = events
    assert collect["actor"] == plan["actor"] == "finops-bot"
    assert collect["action"] == "collect" and collect["subject"] == f"focus:{csv.resolve()}"
    assert collect["details"]["rows"] == 4 and collect["details"]["status"] == "ok"
    assert collect["details"]["window"][0].startswith("2024-09-01T00:00:00")
    assert plan["prev_hash"] == collect["hash"] and plan["hash"] == report["head_hash"]
    assert plan["details"]["policies_sha256"] and plan["details"]["recommendations"]["total"] >= 0
    out = tmp_path / "audit.jsonl"
    written = run_cli("--db", db, "--json", "audit", "export", "--out", str(out))
    assert json.loads(written.stdout)["events"] == 2
    assert out.read_text() == exported.stdout

    _sql(demo_store, "UPDATE audit_event SET actor = 'mallory' WHERE id = :i", i=collect["id"])
    broken = run_cli("--db", db, "audit", "verify")
    assert broken.returncode == 2
    assert f"event {collect['id']}" in broken.stderr and "To fix:" in broken.stderr
    as_json = run_cli("--db", db, "--json", "audit", "verify")
    assert as_json.returncode == 2 and json.loads(as_json.stdout)["broken"]["kind"] == "edited"
