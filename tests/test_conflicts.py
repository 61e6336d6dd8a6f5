"""Infeasibility explained in policy names: one hand-made conflict per kind, a feasible
problem, and a contradictory policy file on the demo estate."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from placement.build import build_problem
from placement.conflicts import Conflict, explain_infeasibility
from placement.problem import MICRO, Demand, Offer, Problem, Quota
from policies import load_policies
from store.errors import InfeasiblePlacement

DATA = Path(__file__).resolve().parent / "data"
EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "policies"


def _offer(oid: int, region: str, option: str = "on_demand", zone: str = "") -> Offer:
    return Offer(oid, "aws", region, zone, "m5.xlarge", "m5", option, 4, 16.0, 200_000, 1)


EU1, EU2, US, EU1_SPOT, EU2_SPOT = (
    _offer(1, "eu-west-1"),
    _offer(2, "eu-central-1"),
    _offer(3, "us-east-1"),
    _offer(4, "eu-west-1", "spot"),
    _offer(5, "eu-central-1", "spot"),
)
OFFERS = (EU1, EU2, US, EU1_SPOT, EU2_SPOT)


def _demand(wid: str, replicas: int, eligible: tuple[int, ...], **kw: object) -> Demand:
    current = kw.pop("current", eligible[0])
    assert current is None or isinstance(current, int)
    moves = tuple(0 if o == current else 5 * MICRO for o in eligible)
    return Demand(wid, replicas, 4, 16.0, current, 10.0, eligible, moves, **kw)  # type: ignore[arg-type]


def _problem(*demands: Demand, **kw: object) -> Problem:
    return Problem(100, OFFERS, demands, **kw)  # type: ignore[arg-type]


def _explain(problem: Problem) -> Conflict:
    conflict = explain_infeasibility(problem, time_limit_s=10.0)
    assert conflict.found and conflict.minimal, conflict
    return conflict


def test_quota_too_small_for_the_workloads_residency_pins_there() -> None:
    pinned = [_demand(w, 2, (1,), restricted_by=("eu-residency",)) for w in ("a", "b", "c")]
    free = _demand("d", 2, (1, 3), current=3)
    quota = Quota("aws", "eu-west-1", None, 16, "eu-quota")
    c = _explain(_problem(*pinned, free, quotas=(quota,)))
    assert c.policies == ("eu-quota",)
    assert c.workloads == ("a", "b", "c")
    assert c.restricted_by == ("eu-residency",)
    assert c.relax[0] == "raise quota `eu-quota` on aws:eu-west-1 from 16 to at least 24 vCPU"
    assert "relax `eu-residency` so that workloads a, b, c may run elsewhere" in c.relax
    assert c.message() == (
        "no plan meets every policy: quota `eu-quota` allows at most 16 vCPU on aws:eu-west-1; "
        "this cannot be met for workloads a, b, c once `eu-residency` rules out their other "
        "offers"
    )
    error = InfeasiblePlacement(c.message(), fix=c.fix())
    assert "To fix: raise quota `eu-quota`" in error.render()


def test_spread_over_more_regions_than_eligibility_admits() -> None:
    api = _demand("api", 3, (1, 2), min_regions=3, spread_policy="ha", restricted_by=("eu-lat",))
    web = _demand("web", 3, (1, 2, 3), min_regions=3, spread_policy="ha")
    c = _explain(_problem(api, web))
    assert c.policies == ("ha",)
    assert c.workloads == ("api",)
    assert c.restricted_by == ("eu-lat",)
    assert c.relax[0] == "lower spread `ha` to 2 regions for workload api"
    assert "spread `ha` asks for at least 3 regions for workload api" in c.message()


def test_zone_spread_counts_regional_offers_per_replica() -> None:
    zonal = (_offer(1, "eu-west-1", zone="eu-west-1a"), _offer(2, "eu-west-1", zone="eu-west-1b"))
    db = _demand("db", 3, (1, 2), min_zones=3, zone_spread_policy="zones-3")
    c = explain_infeasibility(Problem(100, zonal, (db,)))
    assert c.found and c.policies == ("zones-3",) and c.workloads == ("db",)
    assert c.relax[0] == "lower spread `zones-3` to 2 zones for workload db"


def test_spot_cap_with_only_spot_offers_eligible() -> None:
    batch = _demand(
        "batch", 4, (4, 5), spot_share_cap=0.5, spot_policy="half-spot", restricted_by=("no-od",)
    )
    other = _demand("etl", 4, (1, 4), spot_share_cap=0.5, spot_policy="half-spot")
    c = _explain(_problem(batch, other))
    assert c.policies == ("half-spot",)
    assert c.workloads == ("batch",)
    assert c.restricted_by == ("no-od",)
    assert c.relax[0] == "raise spot `half-spot`'s max_share to at least 100% for workload batch"
    assert "spot `half-spot` allows at most 50% of replicas on spot for workload batch" in (
        c.message()
    )


def test_change_budget_smaller_than_the_moves_a_quota_forces() -> None:
    # Both run on eu-west-1 today (8 vCPU); the quota holds 4, so one must move, but the
    # budget allows none. `new` has no current offer: its move is compliance, not counted.
    w1 = _demand("w1", 1, (1, 3))
    w2 = _demand("w2", 1, (1, 3))
    new = _demand("new", 1, (1, 3), current=None, must_move=True)
    quota = Quota("aws", "eu-west-1", None, 4, "eu-quota")
    problem = _problem(w1, w2, new, quotas=(quota,), max_moves=0, change_budget_policy="nightly")
    c = _explain(problem)
    assert c.policies == ("eu-quota", "nightly")
    assert c.workloads == ("w1", "w2")
    assert "raise quota `eu-quota` on aws:eu-west-1 from 4 to at least 8 vCPU" in c.relax
    assert "raise `max_moves_per_run` of `nightly` from 0 to at least 1" in c.relax
    assert "change budget `nightly` allows at most 0 moves per run" in c.message()


def test_one_off_spend_budget() -> None:
    w1 = _demand("w1", 1, (1, 3))
    w2 = _demand("w2", 1, (1, 3))
    quota = Quota("aws", "eu-west-1", None, 4, "eu-quota")
    problem = _problem(
        w1, w2, quotas=(quota,), max_one_off_micro_usd=MICRO, spend_budget_policy="cheap"
    )
    c = _explain(problem)
    assert c.policies == ("cheap", "eu-quota")
    assert "raise `max_one_off_usd_per_run` of `cheap` from 1.00 USD to at least 5.00 USD" in (
        c.relax
    )


def test_two_quotas_that_only_conflict_together() -> None:
    big = _demand("big", 3, (1, 2), restricted_by=("eu-only",))
    q1 = Quota("aws", "eu-west-1", None, 4, "dublin-quota")
    q2 = Quota("aws", "eu-central-1", None, 4, "frankfurt-quota")
    for quotas in ((q1,), (q2,)):
        assert not explain_infeasibility(_problem(big, quotas=quotas)).found
    c = _explain(_problem(big, quotas=(q1, q2)))
    assert c.policies == ("dublin-quota", "frankfurt-quota")
    assert c.workloads == ("big",)
    assert c.restricted_by == ("eu-only",)
    assert c.relax[:2] == (
        "raise quota `dublin-quota` on aws:eu-west-1 from 4 to at least 8 vCPU",
        "raise quota `frankfurt-quota` on aws:eu-central-1 from 4 to at least 8 vCPU",
    )


def test_one_conflict_of_two_independent_ones() -> None:
    dublin = [_demand(w, 1, (1,), restricted_by=("eu-residency",)) for w in ("a", "b")]
    frankfurt = [_demand(w, 1, (2,), restricted_by=("de-residency",)) for w in ("c", "d")]
    q1 = Quota("aws", "eu-west-1", None, 4, "dublin-quota")
    q2 = Quota("aws", "eu-central-1", None, 4, "frankfurt-quota")
    c = _explain(_problem(*dublin, *frankfurt, quotas=(q1, q2)))
    assert c.policies in (("dublin-quota",), ("frankfurt-quota",))
    if c.policies == ("dublin-quota",):
        assert c.workloads == ("a", "b") and c.restricted_by == ("eu-residency",)
    else:
        assert c.workloads == ("c", "d") and c.restricted_by == ("de-residency",)
    assert c.relax[0].endswith("from 4 to at least 8 vCPU (resolves this conflict; others remain)")


def test_a_feasible_problem_has_no_conflict() -> None:
    c = explain_infeasibility(_problem(_demand("a", 2, (1, 2), min_regions=2)))
    assert not c.found
    assert c.policies == () and c.workloads == ()
    assert "no conflict" in c.message()
    assert c.fix()


def test_the_explanation_is_deterministic() -> None:
    pinned = [_demand(w, 1, (1,)) for w in "abcdef"]
    quota = Quota("aws", "eu-west-1", None, 12, "eu-quota")
    problem = _problem(*pinned, quotas=(quota,))
    first = explain_infeasibility(problem)
    assert first == explain_infeasibility(problem)
    assert first.relax[0].endswith("from 12 to at least 24 vCPU")


def test_a_contradictory_policy_file_on_the_demo_estate(demo_store: Engine) -> None:
    policies = load_policies(DATA / "conflicting-policies.yaml")
    problem = build_problem(demo_store, policies)
    c = explain_infeasibility(problem, time_limit_s=30.0)
    assert c.found
    assert c.policies == ("tiny-dublin-quota",)
    assert "everything-in-dublin" in c.restricted_by
    # Every workload is pinned to Dublin: the quota must hold the smallest fitting
    # offer of each replica there.
    need = sum(d.replicas * min(problem.offer(o).vcpu for o in d.eligible) for d in problem.demands)
    assert c.workloads == tuple(sorted(d.id for d in problem.demands))
    assert c.relax[0] == (
        f"raise quota `tiny-dublin-quota` on aws:eu-west-1 from 8 to at least {need} vCPU"
    )
    assert "`tiny-dublin-quota`" in c.message() and "`everything-in-dublin`" in c.message()

    # The builder records which policies set each side constraint (same store).
    named = build_problem(demo_store, load_policies(EXAMPLES / "all.yaml"))
    assert named.change_budget_policy == named.spend_budget_policy == "nightly-change-budget"
    spot = {d.spot_policy for d in named.demands}
    assert spot <= {"", "no-spot-in-prod", "half-of-non-prod-on-calm-spot"} and len(spot) > 1
    for d in named.demands:
        assert (d.spot_policy != "") == (d.spot_share_cap < 1)
        if d.min_zones > 1:  # (capped at the replicas: one replica asks nothing)
            assert d.zone_spread_policy == "prod-apis-across-zones"
        assert d.spread_policy == ""
    assert any("every-workload-near-its-users" in d.restricted_by for d in named.demands)


@pytest.mark.parametrize("name", ["conflicting-policies.yaml"])
def test_the_contradictory_file_is_valid(name: str) -> None:
    assert load_policies(DATA / name).policies
