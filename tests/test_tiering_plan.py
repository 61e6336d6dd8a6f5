"""Tiering inside `optimizer plan`: recommendations checked INDEPENDENTLY against the
policy file (the YAML read here with plain fnmatch, prices and groups read with SQL),
stable identity across re-plans, superseding, and the CLI's plain-words explanation.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from sqlalchemy.engine import Engine

from optimizer.demo.build import build_demo
from optimizer.planning import run_plan
from policies import load_policies, policies_sha256
from tests.conftest import run_cli

REPO = Path(__file__).resolve().parents[1]
DEMO_POLICIES = REPO / "optimizer" / "demo" / "policies.yaml"
TIERING_ROWS = sa.text("SELECT fingerprint, status FROM recommendation WHERE kind = 'tiering'")
UNITS_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


@pytest.fixture
def tiering_store(sqlite_engine: Engine, tmp_path: Path) -> Engine:
    """A demo estate with enough storage groups that some clear the change budget."""
    build_demo(sqlite_engine, tmp_path, workloads=8, storage_groups=60, days=60,
               end=datetime(2026, 11, 1, tzinfo=UTC))  # fmt: skip
    return sqlite_engine


def _ms(text: Any) -> float:
    s = str(text).strip()
    for unit in sorted(UNITS_MS, key=len, reverse=True):
        if s.endswith(unit) and s[: -len(unit)].replace(".", "").isdigit():
            return float(s[: -len(unit)]) * UNITS_MS[unit]
    return float(s)


def _selects(sel: dict[str, Any], g: dict[str, Any]) -> bool:
    def any_glob(value: Any, pats: Any) -> bool:
        pats = pats if isinstance(pats, list) else [pats]
        return value is not None and any(fnmatchcase(str(value), str(p)) for p in pats)

    tags = g["tags"] or {}
    return (
        ("workloads" not in sel or any_glob(g["name"], sel["workloads"]))
        and all(any_glob(tags.get(k), v) for k, v in (sel.get("tags") or {}).items())
        and ("owners" not in sel or any_glob(g["owner"], sel["owners"]))
        and ("providers" not in sel or g["provider"] in sel["providers"])
    )


def check_against_policies(engine: Engine, policy_path: Path, recs: list[dict[str, Any]]) -> int:
    """Every tiering recommendation keeps the policy file; returns how many were checked."""
    doc = yaml.safe_load(policy_path.read_text())
    tiering = [p for p in doc["policies"] if p["type"] == "tiering" and p.get("enabled", True)]
    budgets = [p for p in doc["policies"] if p["type"] == "change-budget"]
    with engine.connect() as conn:
        groups = {
            r.name: dict(r._mapping) for r in conn.execute(sa.text("SELECT * FROM storage_group"))
        }
        prices = [
            dict(r._mapping) for r in conn.execute(sa.text("SELECT * FROM storage_tier_price"))
        ]
    checked = 0
    for r in (r for r in recs if r["kind"] == "tiering"):
        g = groups[r["subject"]]
        g["tags"] = json.loads(g["tags"]) if isinstance(g["tags"], str) else g["tags"]
        path = f"{g['bucket']}/{g['prefix']}" if g["prefix"] else g["bucket"]
        chosen = [p for p in tiering if _selects(p.get("selector") or {}, g)]
        for p in chosen:
            for pat in p.get("exclude", []):
                assert not (fnmatchcase(path, pat) or fnmatchcase(path, pat.rstrip("/") + "/*")), r
        region = [
            x for x in prices if x["provider"] == g["provider"] and x["region"] == g["region"]
        ]
        region = region or [x for x in prices if x["provider"] == g["provider"]
                            and x["region"] == min(y["region"] for y in prices
                                                   if y["provider"] == g["provider"])]  # fmt: skip
        price = {x["tier"]: x for x in region}
        new, cur = r["proposed"], r["current"]
        action = new["action"]
        if action in ("lifecycle", "one-off"):
            t = price[new["tier"]]
            assert Decimal(str(t["usd_per_gb_month"])) < Decimal(
                str(price[g["tier"]]["usd_per_gb_month"])
            )
            avg_kb = g["bytes"] / g["objects"] / 1024
            assert (t["min_billable_kb"] or 0) <= avg_kb, r
            slos = [_ms(p["max_retrieval_latency"]) for p in chosen if "max_retrieval_latency" in p]
            latency = t["first_byte_latency_ms"]
            if not chosen:
                assert latency is None, f"a restore class without a tiering policy: {r}"
            elif slos and latency is not None:
                assert latency <= min(slos), r
            assert new["tier"] != "ONEZONE_IA"
        # docs/tiering.md: 30 days when no selecting policy sets a minimum age.
        ages = [int(p["min_object_age_days"]) for p in chosen if "min_object_age_days" in p]
        min_age = max(ages) if ages else 30
        if action in ("lifecycle", "one-off", "auto"):
            assert (new["after_days"] or 0) >= min_age, r
        saving = Decimal(r["monthly_savings"])
        for b in budgets:
            assert saving >= Decimal(str(b.get("min_monthly_saving_usd", 0))), r
            if "max_payback_days" in b:
                assert r["payback_days"] is not None and r["payback_days"] <= b["max_payback_days"]
        assert Decimal(r["monthly_savings_p10"]) <= saving <= Decimal(r["monthly_savings_p90"])
        # Today's storage cost, recomputed from the stored bytes and price.
        gb = Decimal(g["bytes"]) / 2**30
        today = gb * Decimal(str(price[g["tier"]]["usd_per_gb_month"]))
        kb_min = price[g["tier"]]["min_billable_kb"] or 0
        if kb_min and g["bytes"] / g["objects"] / 1024 < kb_min:
            today = (
                Decimal(g["objects"])
                * kb_min
                / 2**20
                * Decimal(str(price[g["tier"]]["usd_per_gb_month"]))
            )
        assert abs(Decimal(cur["breakdown_usd"]["storage"]) - today) < Decimal("0.01"), r
        assert any("no forecast yet" in x for x in r["reasons"])
        checked += 1
    return checked


def test_demo_store_plan_tiering_keeps_the_demo_policies(demo_store: Engine) -> None:
    parsed = load_policies(DEMO_POLICIES)
    plan_id, _, recs = run_plan(demo_store, parsed, policies_sha256(DEMO_POLICIES), 10)
    checked = check_against_policies(demo_store, DEMO_POLICIES, recs)
    with demo_store.connect() as conn:
        groups = conn.execute(sa.text("SELECT count(*) FROM storage_group")).scalar()
        details = conn.execute(sa.text("SELECT details FROM plan WHERE id = :i"), {"i": plan_id})
        tiering = json.loads(details.scalar() or "{}")["tiering"]
    # Every group is accounted for: recommended, excluded, staying or below the budget.
    assert tiering["groups"] == groups == 4 and tiering["recommendations"] == checked


def test_plan_tiering_policy_clean_stable_and_superseded(
    tiering_store: Engine, tmp_path: Path
) -> None:
    parsed = load_policies(DEMO_POLICIES)
    sha = policies_sha256(DEMO_POLICIES)
    plan1, _, recs1 = run_plan(tiering_store, parsed, sha, time_limit_s=5)
    tier1 = {r["fingerprint"]: r for r in recs1 if r["kind"] == "tiering"}
    assert tier1, "60 demo storage groups give some tiering savings"
    assert check_against_policies(tiering_store, DEMO_POLICIES, recs1) == len(tier1)
    # Re-plan: same fingerprints, same ids, no duplicates.
    plan2, _, recs2 = run_plan(tiering_store, parsed, sha, time_limit_s=5)
    tier2 = {r["fingerprint"]: r for r in recs2 if r["kind"] == "tiering"}
    assert tier2.keys() == tier1.keys()
    assert all(tier2[f]["id"] == tier1[f]["id"] and tier2[f]["plan_id"] == plan2 for f in tier2)
    with tiering_store.connect() as conn:
        rows = conn.execute(TIERING_ROWS).all()
    # the demo's approval policy approves some tiering: approvals keep their identity too
    assert len(rows) == len(tier1) and {s for _, s in rows} <= {"proposed", "approved"}
    # A policy file that excludes every bucket: the earlier tiering recs are superseded.
    strict = tmp_path / "strict.yaml"
    doc = yaml.safe_load(DEMO_POLICIES.read_text())
    for p in doc["policies"]:
        if p["type"] == "tiering":
            p["exclude"] = ["*"]
            p.pop("selector", None)
    strict.write_text(yaml.safe_dump(doc))
    _, _, recs3 = run_plan(tiering_store, load_policies(strict), None, time_limit_s=5)
    assert not [r for r in recs3 if r["kind"] == "tiering"]
    with tiering_store.connect() as conn:
        statuses = {f: s for f, s in conn.execute(TIERING_ROWS)}
    assert statuses and set(statuses.values()) == {"superseded"}
    assert plan1 < plan2


def test_cli_plan_json_and_show_explain_tiering(tiering_store: Engine, tmp_path: Path) -> None:
    db = str(tmp_path / "store.db")
    out = run_cli(
        "--db", db, "--json", "plan", "--policies", str(DEMO_POLICIES), "--time-limit", "5"
    )
    assert out.returncode == 0, out.stderr
    payload = json.loads(out.stdout)  # clean stdout, whatever native solvers print
    recs = [r for r in payload["recommendations"] if r["kind"] == "tiering"]
    assert recs and all(r["subject"].split(":")[0] in ("aws", "azure", "gcp") for r in recs)
    table = run_cli("--db", db, "plan", "--policies", str(DEMO_POLICIES), "--time-limit", "5")
    assert table.returncode == 0 and "tiering:" in table.stdout and "storage group" in table.stdout
    shown = run_cli("--db", db, "recommendations", "show", str(recs[0]["id"]))
    assert shown.returncode == 0, shown.stderr
    text = shown.stdout
    assert "re-tier the storage group" in text and "Today it is stored in" in text
    assert "saves about" in text and "Why:" in text and "no forecast yet" in text
    assert "Next-best alternatives" in text
