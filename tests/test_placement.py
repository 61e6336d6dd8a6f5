"""Placement: the problem, its cost, the validator, the greedy baseline, the builder."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from optimizer.demo.build import build_demo
from placement.build import build_problem
from placement.cost import plan_cost, risk_micro_usd
from placement.greedy import greedy
from placement.problem import MICRO, Demand, Offer, Problem, Quota
from placement.validate import validate
from policies import load_policies

REPO = Path(__file__).resolve().parents[1]

# Prices in micro-USD per hour; horizon 100 h.
ON_DEMAND = Offer(1, "aws", "us-east-1", "", "m5.large", "m5", "on_demand", 2, 8.0, 100_000)
SPOT = Offer(2, "aws", "us-east-1", "", "m5.large", "m5", "spot", 2, 8.0, 30_000, 0)
GCP = Offer(3, "gcp", "europe-west1", "", "n2-standard-2", "n2", "on_demand", 2, 8.0, 80_000)
EU = Offer(4, "aws", "eu-west-1", "", "m5.large", "m5", "on_demand", 2, 8.0, 90_000)
ZONAL = Offer(5, "aws", "us-east-1", "us-east-1a", "m5.large", "m5", "on_demand", 2, 8.0, 95_000)

WEB = Demand(
    id="web",
    replicas=2,
    vcpu=2,
    memory_gib=8.0,
    current_offer_id=1,
    data_gb=10.0,
    eligible=(1, 2, 3, 4, 5),
    move_micro_usd=(0, 5 * MICRO, 5 * MICRO, 5 * MICRO, 5 * MICRO),
    spot_share_cap=0.5,
)
DB = Demand(
    id="db",
    replicas=1,
    vcpu=2,
    memory_gib=8.0,
    current_offer_id=4,
    data_gb=100.0,
    eligible=(3, 4),
    move_micro_usd=(7 * MICRO, 0),
    spot_share_cap=0.0,
)


def tiny(**kw: object) -> Problem:
    base: dict[str, object] = {
        "horizon_hours": 100,
        "offers": (ON_DEMAND, SPOT, GCP, EU, ZONAL),
        "demands": (WEB, DB),
        "quotas": (Quota("gcp", "europe-west1", None, 2, "gcp-quota"),),
    }
    base.update(kw)
    return Problem(**base)  # type: ignore[arg-type]


# Spot risk of one replica on a bucket-0 offer over 100 h: 2.5% a month × 100/730 × 20 USD.
RISK = 25_000 * 100 * 20 * MICRO // (1_000_000 * 730)


def test_spot_risk_by_hand() -> None:
    assert RISK == 68_493
    assert risk_micro_usd(SPOT, 100, 20 * MICRO) == RISK
    assert risk_micro_usd(ON_DEMAND, 100, 20 * MICRO) == 0
    unknown = replace(SPOT, interruption_bucket=None)  # counted as the riskiest, 25%
    assert risk_micro_usd(unknown, 730, 20 * MICRO) == 5 * MICRO


def test_greedy_on_tiny_problem_by_hand() -> None:
    problem = tiny()
    result = greedy(problem)
    # db stays (moving to gcp costs 8 + 7 USD > 9 USD); web puts one replica on spot
    # (the share cap is 50%) and keeps one on its on-demand offer.
    assert dict(result.plan) == {"web": ((1, 1), (2, 1)), "db": ((4, 1),)}
    assert result.unplaced == ()
    check = validate(problem, result.plan)
    assert check.violations == ()
    # compute: 10 + 3 + 9 USD; risk: one spot replica; moves: web's new spot offer.
    assert check.cost.compute == 22 * MICRO
    assert check.cost.risk == RISK
    assert check.cost.moves == 5 * MICRO
    assert check.cost.total == 27_068_493
    assert plan_cost(problem, result.plan) == check.cost


def test_greedy_keeps_the_change_budget() -> None:
    problem = tiny(max_moves=0)
    result = greedy(problem)
    assert dict(result.plan) == {"web": ((1, 2),), "db": ((4, 1),)}
    check = validate(problem, result.plan)
    assert check.ok
    assert check.cost.total == 29 * MICRO


def test_greedy_is_deterministic_and_respects_quota_and_spread() -> None:
    spread = replace(WEB, id="web", min_regions=2, spot_share_cap=0.0, current_offer_id=None)
    problem = tiny(demands=(spread, DB))
    first, second = greedy(problem), greedy(problem)
    assert first == second
    check = validate(problem, first.plan)
    assert check.ok, check.violations
    # One replica per region (⌊2/2⌋); the cheapest second region is gcp (2-vCPU quota).
    assert dict(first.plan)["web"] == ((1, 1), (3, 1))


def test_greedy_repairs_by_eviction() -> None:
    # Both need gcp's only 2 vCPU... except db may also use eu; web-gcp may use gcp only.
    only_gcp = Demand("gcp-only", 1, 2, 8.0, None, 0.0, (3,), (MICRO,))
    db_on_gcp = replace(DB, current_offer_id=3, move_micro_usd=(0, MICRO))
    problem = tiny(demands=(db_on_gcp, only_gcp))
    result = greedy(problem)
    assert result.unplaced == ()
    assert dict(result.plan) == {"db": ((4, 1),), "gcp-only": ((3, 1),)}
    assert validate(problem, result.plan).ok


@pytest.mark.parametrize(
    ("plan", "problem_kw", "expected"),
    [
        ({"web": ((1, 1),), "db": ((4, 1),)}, {}, "web: 1 of 2 replicas placed"),
        ({"web": ((1, 2),), "db": ((1, 1),)}, {}, "db: offer(s) 1 not eligible"),
        (
            {"web": ((3, 2),), "db": ((4, 1),)},
            {},
            "quota (gcp-quota): 4 vCPU on gcp:europe-west1, at most 2",
        ),
        (
            {"web": ((2, 2),), "db": ((4, 1),)},
            {},
            "web: 2 replicas on spot, at most 1 (50%) allowed",
        ),
        (
            {"web": ((1, 2),), "db": ((4, 1),)},
            {"demands": (replace(WEB, min_regions=2), DB)},
            "web: spread over 1 region(s), at least 2 asked",
        ),
        (
            {"web": ((5, 2),), "db": ((4, 1),)},
            {"demands": (replace(WEB, min_zones=2), DB)},
            "web: spread over 1 zone(s), at least 2 asked",
        ),
        (
            {"web": ((1, 1), (4, 1)), "db": ((3, 1),)},
            {"max_moves": 1},
            "change budget: 2 moves, at most 1 per run",
        ),
        (
            {"web": ((1, 1), (4, 1)), "db": ((3, 1),)},
            {"max_one_off_micro_usd": 6 * MICRO},
            "change budget: 12.00 USD one-off spend, at most 6.00 USD per run",
        ),
        ({"web": ((1, 2),), "db": ((4, 1),), "x": ((1, 1),)}, {}, "x is not a workload"),
    ],
)
def test_validator_reports_each_violation(
    plan: dict[str, tuple[tuple[int, int], ...]], problem_kw: dict[str, object], expected: str
) -> None:
    problem = tiny(**problem_kw)
    check = validate(problem, plan)
    assert any(v.startswith(expected) for v in check.violations), check.violations
    assert len(check.violations) == 1, check.violations


def test_compliance_moves_are_outside_the_change_budget() -> None:
    forced = replace(DB, must_move=True)
    problem = tiny(demands=(WEB, forced), max_moves=0, max_one_off_micro_usd=0)
    assert validate(problem, {"web": ((1, 2),), "db": ((3, 1),)}).ok


def test_build_problem_on_demo_store(sqlite_engine: Engine, tmp_path: Path) -> None:
    end = datetime(2026, 11, 1, tzinfo=UTC)
    build_demo(sqlite_engine, tmp_path, workloads=30, storage_groups=0, days=60, end=end)
    policies = load_policies(REPO / "examples" / "policies" / "all.yaml")
    problem = build_problem(sqlite_engine, policies)
    assert len(problem.demands) + len(problem.infeasible) == 30
    assert problem.max_moves == 20
    assert problem.max_one_off_micro_usd == 5000 * MICRO
    assert {q.policy for q in problem.quotas} == {"account-quotas-and-closed-regions"}
    offers = {o.id: o for o in problem.offers}
    for d in problem.demands:
        assert d.eligible, d.id
        for oid in d.eligible:
            o = offers[oid]
            assert o.vcpu >= d.vcpu and o.memory_gib >= d.memory_gib
            assert o.hourly_micro_usd > 0
        groups = [
            (offers[i].provider, offers[i].region, offers[i].family, offers[i].purchase_option)
            for i in d.eligible
            if i != d.current_offer_id
        ]
        assert len(groups) == len(set(groups)), f"{d.id}: a dominated offer was kept"
        if d.current_offer_id in d.eligible:
            assert d.move_cost(d.current_offer_id) == 0
        assert all(
            m >= 50 * MICRO
            for i, m in zip(d.eligible, d.move_micro_usd, strict=True)
            if i != d.current_offer_id
        )
    for infeasible in problem.infeasible:
        assert infeasible.policies, infeasible
        assert " ∩ ".join(infeasible.policies) in infeasible.text
    result = greedy(problem)
    assert result.unplaced == ()
    check = validate(problem, result.plan)
    assert check.violations == ()
    assert check.cost.total > 0
