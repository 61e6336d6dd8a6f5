"""Issue #6 §1: approving and rejecting recommendations, by hand and by policy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from optimizer.approvals import RECS, auto_approve, decide
from optimizer.planning import run_plan
from policies import parse_policies
from store.audit import events, verify
from store.errors import ConfigError
from tests.conftest import run_cli

NO_POLICIES = parse_policies("version: 1\npolicies: []\n")


def statuses(engine: Engine) -> dict[int, tuple[str, str | None, str | None]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(RECS.c.id, RECS.c.status, RECS.c.status_by,
                                      RECS.c.status_reason))  # fmt: skip
        return {r.id: (r.status, r.status_by, r.status_reason) for r in rows}


def test_approve_reject_and_what_may_not_change(demo_store: Engine) -> None:
    _, _, recs = run_plan(demo_store, NO_POLICIES, None, time_limit_s=20)
    a, b, c = (r["id"] for r in recs[:3])
    done = decide(demo_store, [a, b], "approve", "ana", "saves enough")
    assert [(d.id, d.before, d.after) for d in done] == [(a, "proposed", "approved"),
                                                        (b, "proposed", "approved")]  # fmt: skip
    assert statuses(demo_store)[a] == ("approved", "ana", "saves enough")
    decide(demo_store, [b], "reject", "ben", "moves prod")  # changed mind: allowed
    assert statuses(demo_store)[b] == ("rejected", "ben", "moves prod")
    with pytest.raises(ConfigError, match="no recommendation with id 999999"):
        decide(demo_store, [c, 999999], "approve", "ana")
    with pytest.raises(ConfigError, match=f"#{a} is approved"):
        decide(demo_store, [c, a], "approve", "ana")
    assert statuses(demo_store)[c][0] == "proposed"  # all or none
    with demo_store.begin() as conn:
        conn.execute(sa.update(RECS).where(RECS.c.id == c).values(status="applied"))
    with pytest.raises(ConfigError, match="is applied"):
        decide(demo_store, [c], "reject", "ana")
    with pytest.raises(ConfigError, match="who decides"):
        decide(demo_store, [b], "approve", " ")
    with demo_store.connect() as conn:  # every decision is an audit event; refused ones not
        decided = [(e.actor, e.action, e.subject) for e in events(conn)
                   if e.action in ("approve", "reject")]  # fmt: skip
        assert verify(conn).ok
    assert decided == [("ana", "approve", f"recommendation:{a}"),
                       ("ana", "approve", f"recommendation:{b}"),
                       ("ben", "reject", f"recommendation:{b}")]  # fmt: skip


def test_approval_policy_approves_within_its_limits_only(demo_store: Engine) -> None:
    plan_id, _, recs = run_plan(demo_store, NO_POLICIES, None, time_limit_s=20)
    tiering = [r for r in recs if r["kind"] == "tiering"]
    resizes = [r for r in recs if r["kind"] in ("resize", "move")]
    assert tiering and resizes
    policy = parse_policies("""version: 1
policies:
  - name: small-tiering
    type: approval
    auto_approve:
      - kinds: [tiering]
        max_bytes: 1PB
        max_payback_days: 3650
""")
    done = auto_approve(demo_store, plan_id, policy)
    assert {d.id for d in done} <= {r["id"] for r in tiering} and done
    got = statuses(demo_store)
    for d in done:
        assert got[d.id] == ("approved", "policy:small-tiering",
                             "auto-approved by policy small-tiering")  # fmt: skip
    assert all(got[r["id"]][0] == "proposed" for r in resizes)  # other kinds wait
    none_fit = parse_policies(
        policy_text := """version: 1
policies:
  - name: tiny
    type: approval
    auto_approve:
      - kinds: [move, resize]
        max_monthly_saving_usd: 0
"""
    )
    assert policy_text and auto_approve(demo_store, plan_id, none_fit) == []


def test_plan_applies_the_approval_rules_itself(demo_store: Engine) -> None:
    policy = parse_policies("""version: 1
policies:
  - name: any-tiering
    type: approval
    auto_approve:
      - kinds: [tiering]
        max_payback_days: 3650
""")
    _, _, recs = run_plan(demo_store, policy, None, time_limit_s=20)
    got = statuses(demo_store)
    approved = [r for r in recs if r["status"] == "approved"]
    assert approved and all(r["kind"] == "tiering" for r in approved)
    assert all(got[r["id"]][1] == "policy:any-tiering" for r in approved)


def test_cli_approve_and_reject(demo_store: Engine, tmp_path: Path) -> None:
    _, _, recs = run_plan(demo_store, NO_POLICIES, None, time_limit_s=20)
    db = str(demo_store.url.database)
    first = str(recs[0]["id"])
    done = run_cli("--db", db, "--json", "recommendations", "approve", first, "--by", "ana")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)[0]["after"] == "approved"
    done = run_cli("--db", db, "recommendations", "approve", first, "--by", "ana")
    assert done.returncode == 2 and "To fix" in done.stderr and "is approved" in done.stderr
    done = run_cli("--db", db, "recommendations", "reject", first, "--by", "ben",
                   "--reason", "not now")  # fmt: skip
    assert done.returncode == 0 and "approved → rejected" in done.stdout


def test_an_approval_survives_replanning_until_the_plan_drops_it(demo_store: Engine) -> None:
    _, _, recs = run_plan(demo_store, NO_POLICIES, None, time_limit_s=20)
    rec = next(r for r in recs if r["kind"] == "tiering")
    decide(demo_store, [rec["id"]], "approve", "ana")
    _, _, again = run_plan(demo_store, NO_POLICIES, None, time_limit_s=20)
    same = [r for r in again if r["fingerprint"] == rec["fingerprint"]]
    assert [(r["id"], r["status"]) for r in same] == [(rec["id"], "approved")]
    no_tiering = parse_policies("""version: 1
policies:
  - name: keep-buckets
    type: tiering
    exclude: ["*"]
""")
    run_plan(demo_store, no_tiering, None, time_limit_s=20)
    assert statuses(demo_store)[rec["id"]][0] == "superseded"  # never applied stale


def test_a_plan_under_another_policy_file_records_a_policy_change(demo_store: Engine) -> None:
    run_plan(demo_store, NO_POLICIES, "aaa", time_limit_s=20)
    run_plan(demo_store, NO_POLICIES, "aaa", time_limit_s=20)  # same file: no event
    run_plan(demo_store, NO_POLICIES, "bbb", time_limit_s=20)
    with demo_store.connect() as conn:
        changes = [e.details for e in events(conn) if e.action == "policy.change"]
        assert verify(conn).ok
    assert len(changes) == 1
    assert changes[0] is not None
    assert (changes[0]["from_sha256"], changes[0]["to_sha256"]) == ("aaa", "bbb")
