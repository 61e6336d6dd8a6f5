"""`optimizer plan`: a recorded plan, its recommendations, their identity across runs."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from optimizer.planning import run_plan
from placement.build import build_problem
from placement.validate import validate
from policies import load_policies, policies_sha256
from store.models.operations import Plan, Recommendation
from tests.conftest import run_cli

REPO = Path(__file__).resolve().parents[1]
POLICIES = REPO / "examples" / "policies" / "all.yaml"


def test_run_plan_records_eligible_saving_recommendations_and_keeps_identity(
    demo_store: Engine,
) -> None:
    parsed = load_policies(POLICIES)
    sha = policies_sha256(POLICIES)
    plan_id, solution, recs = run_plan(demo_store, parsed, sha, time_limit_s=20)
    assert recs, "the demo estate has savings to find"
    problem = build_problem(demo_store, parsed)
    demands = {d.id: d for d in problem.demands}
    for r in recs:
        assert r["plan_id"] == plan_id and r["status"] == "proposed"
        if r["kind"] == "tiering":
            continue  # storage groups: checked against the policies in tests/test_tiering.py
        if r["kind"] == "idle":
            continue  # stop-or-delete advice: checked in tests/test_sizing*.py
        assert r["kind"] in ("move", "purchase-option", "resize")
        required = ("required by policy", "required by sizing")
        compliance = any(x.startswith(required) for x in r["reasons"])
        assert Decimal(r["monthly_savings"]) > 0 or compliance, r
        d = demands[r["subject"]]
        parts = tuple((o["offer_id"], o["replicas"]) for o in r["proposed"]["offers"])
        assert all(oid in d.eligible for oid, _ in parts)
        assert sum(n for _, n in parts) == d.replicas
        # The proposed placement, alone, keeps every rule of its workload.
        own = [v for v in validate(problem, {d.id: parts}).violations if v.startswith(f"{d.id}:")]
        assert own == []
        assert len(r["alternatives"]) <= 3
        if Decimal(r["monthly_savings"]) > 0 and Decimal(r["one_off_cost"]) > 0:
            assert r["payback_days"] is not None and r["payback_days"] > 0
    # The whole plan re-checks clean too.
    assert validate(problem, solution.plan).ok or solution.unplaced

    with Session(demo_store) as session:
        plan = session.get(Plan, plan_id)
        assert plan is not None and plan.policies_sha256 == sha
        assert plan.objective_micro_usd == solution.cost
        assert plan.lower_bound_micro_usd == solution.bound
        assert plan.details is not None and "infeasible" in plan.details
        first = {r.fingerprint: r.id for r in session.exec(select(Recommendation))}
    assert len(first) == len(recs)

    plan_id2, _, recs2 = run_plan(demo_store, parsed, sha, time_limit_s=20)
    assert plan_id2 != plan_id
    with Session(demo_store) as session:
        rows = list(session.exec(select(Recommendation)))
    proposed = [r for r in rows if r.status == "proposed"]
    assert len({r.fingerprint for r in proposed}) == len(proposed)  # no duplicates
    assert all(r.plan_id == plan_id2 for r in proposed)
    assert len(proposed) == len(recs2)
    for r in recs2:
        if r["fingerprint"] in first:
            assert r["id"] == first[r["fingerprint"]]
    kept = {r["fingerprint"] for r in recs2}
    for row in rows:
        if row.fingerprint not in kept:
            assert row.status == "superseded"


def test_plan_cli_json_and_recommendation_show(demo_store: Engine, tmp_path: Path) -> None:
    db = str(tmp_path / "store.db")
    out = run_cli("--db", db, "--json", "plan", "--policies", str(POLICIES), "--time-limit", "20")
    assert out.returncode == 0, out.stderr
    payload = json.loads(out.stdout)
    assert {"plan_id", "objective", "lower_bound", "gap", "recommendations"} <= set(payload)
    objective, bound = Decimal(payload["objective"]), Decimal(payload["lower_bound"])
    assert bound <= objective and payload["gap"] >= 0
    assert payload["recommendations"]
    first = next(r for r in payload["recommendations"] if r["kind"] != "tiering")

    table = run_cli("--db", db, "plan", "--policies", str(POLICIES), "--time-limit", "20")
    assert table.returncode == 0, table.stderr
    assert "total" in table.stdout and "gap" in table.stdout

    listed = run_cli("--db", db, "--json", "recommendations", "list", "--limit", "5")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert 0 < len(rows) <= 5 and all(r["status"] == "proposed" for r in rows)

    shown = run_cli("--db", db, "recommendations", "show", str(first["id"]))
    assert shown.returncode == 0, shown.stderr
    text = shown.stdout
    assert first["subject"] in text
    assert "Today it runs on" in text and "Proposed:" in text and "Why:" in text
    assert "a month" in text or "no saving" in text

    missing = run_cli("--db", db, "recommendations", "show", "999999")
    assert missing.returncode == 2 and "no recommendation" in missing.stderr
