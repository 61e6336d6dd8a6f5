"""Property tests (issue #3 §5): on tiny random problems `solve()` equals a brute-force
optimum found by enumerating every plan and keeping those `placement.validate` accepts.

The strategy mirrors what `placement.build` emits: every eligible offer fits the
workload, today's offer moves for free, and `must_move` is derived as the builder
derives it (today's offer unknown, ineligible or too small; too much spot today; a
region spread asked for; a zone spread asked for while today's offer is zonal).

Deterministic in CI: the profile below derandomizes hypothesis and keeps no example
database, so every run draws the same examples; a failure prints its reproduction blob.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from placement.cost import plan_cost
from placement.greedy import greedy
from placement.lp import solve_lp
from placement.problem import MICRO, Demand, Offer, Plan, Problem, Quota
from placement.solve import solve
from placement.validate import validate
from store.errors import InfeasiblePlacement

Parts = tuple[tuple[int, int], ...]

settings.register_profile(
    "placement-properties",
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=600,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
PROFILE = settings.get_profile("placement-properties")

PROVIDERS = ("aws", "gcp")
FAMILIES = ("m5", "c5")
OPTIONS = ("on_demand", "on_demand", "spot", "commit_1y")
SPREAD = st.sampled_from((1, 1, 1, 1, 2, 3))  # min regions / zones asked, before the replica cap


# --- the strategy -----------------------------------------------------------------------


@st.composite
def problems(draw: st.DrawFn) -> Problem:
    providers = PROVIDERS[: draw(st.integers(1, 2))]
    n_regions = draw(st.integers(2, 3))
    places = [(providers[i % len(providers)], f"r{i}") for i in range(n_regions)]
    offers = []
    for oid in range(1, draw(st.integers(2, 6)) + 1):
        provider, region = draw(st.sampled_from(places))
        option = draw(st.sampled_from(OPTIONS))
        offers.append(
            Offer(
                id=oid,
                provider=provider,
                region=region,
                zone=draw(st.sampled_from(("", f"{region}a", f"{region}b"))),
                instance_type=f"t{oid}",
                family=draw(st.sampled_from(FAMILIES)),
                purchase_option=option,
                vcpu=draw(st.sampled_from((1, 2, 4))),
                memory_gib=draw(st.sampled_from((2.0, 4.0, 8.0))),
                hourly_micro_usd=draw(st.integers(1, 40)) * 1_000 + draw(st.integers(0, 999)),
                interruption_bucket=draw(st.one_of(st.none(), st.integers(0, 4)))
                if option == "spot"
                else None,
            )
        )
    demands = [draw(_demand(offers, w)) for w in range(draw(st.integers(1, 4)))]
    quotas = tuple(
        Quota(provider, region, family, draw(st.integers(0, 16)), f"quota-{k}")
        for k, ((provider, region), family) in enumerate(
            draw(
                st.lists(
                    st.tuples(st.sampled_from(places), st.sampled_from((None, *FAMILIES))),
                    max_size=2,
                )
            )
        )
    )
    return Problem(
        horizon_hours=draw(st.sampled_from((100, 730))),
        offers=tuple(offers),
        demands=tuple(demands),
        quotas=quotas,
        max_moves=draw(st.one_of(st.none(), st.integers(0, 2))),
        max_one_off_micro_usd=draw(st.one_of(st.none(), st.integers(0, 8).map(_usd))),
    )


def _usd(n: int) -> int:
    return n * MICRO


@st.composite
def _demand(draw: st.DrawFn, offers: list[Offer], w: int) -> Demand:
    anchor = draw(st.sampled_from(offers))  # some offer the workload fits on
    vcpu = draw(st.sampled_from([v for v in (1, 2, 4) if v <= anchor.vcpu]))
    memory = draw(st.sampled_from([m for m in (1.0, 2.0, 4.0, 8.0) if m <= anchor.memory_gib]))
    fitting = [o.id for o in offers if o.vcpu >= vcpu and o.memory_gib >= memory]
    keep = draw(st.lists(st.booleans(), min_size=len(fitting), max_size=len(fitting)))
    eligible = tuple(oid for oid, k in zip(fitting, keep, strict=True) if k) or (anchor.id,)
    # Today: none, an eligible offer, or any offer (maybe ineligible, maybe too small).
    current = draw(
        st.one_of(st.none(), st.sampled_from(eligible), st.sampled_from([o.id for o in offers]))
    )
    moves = tuple(
        0 if oid == current else draw(st.integers(0, 6)) * MICRO + draw(st.integers(0, 999))
        for oid in eligible
    )
    replicas = draw(st.integers(1, 3))
    cap = draw(st.sampled_from((1.0, 1.0, 0.0, 1 / 3, 0.5)))
    d = Demand(
        id=f"w{w}",
        replicas=replicas,
        vcpu=vcpu,
        memory_gib=memory,
        current_offer_id=current,
        data_gb=1.0,
        eligible=eligible,
        move_micro_usd=moves,
        spot_share_cap=cap,
        min_regions=min(draw(SPREAD), replicas),
        min_zones=min(draw(SPREAD), replicas),
    )
    today = next((o for o in offers if o.id == current), None)
    return replace(d, must_move=_must_move(d, today))


def _must_move(d: Demand, today: Offer | None) -> bool:
    """`placement.build`'s rule: today's placement breaks this workload's own rules."""
    today_ok = today is not None and today.id in d.eligible  # eligible offers all fit
    return not today_ok or (
        today is not None
        and (
            (today.is_spot and d.replicas > d.max_spot_replicas)
            or d.min_regions > 1
            or (d.min_zones > 1 and today.zone != "")
        )
    )


# --- the brute force --------------------------------------------------------------------


def _splits(d: Demand) -> list[Parts]:
    """Every way to split `d`'s replicas over its eligible offers."""
    out = []
    for combo in itertools.combinations_with_replacement(d.eligible, d.replicas):
        out.append(tuple(sorted((i, combo.count(i)) for i in set(combo))))
    return out


def _alone(problem: Problem, d: Demand) -> Problem:
    """`d` by itself with no shared limits: what validate says about its own rules."""
    return replace(problem, demands=(d,), quotas=(), max_moves=None, max_one_off_micro_usd=None)


def _plans(problem: Problem) -> Iterator[Plan]:
    """Every plan whose workloads each keep their own rules (validate on the workload
    alone decides); the shared limits (quotas, change budget) are left to `validate` on
    the whole plan. The product is small for the sizes drawn here."""
    own = [
        [p for p in _splits(d) if validate(_alone(problem, d), {d.id: p}).ok]
        for d in problem.demands
    ]
    for choice in itertools.product(*own):
        yield {d.id: parts for d, parts in zip(problem.demands, choice, strict=True)}


def brute_force(problem: Problem) -> int | None:
    """The least `plan_cost(...).total` over all plans `validate` accepts, or None."""
    best = None
    for plan in _plans(problem):
        check = validate(problem, plan)
        if check.ok:
            total = plan_cost(problem, plan).total
            assert check.cost.total == total
            best = total if best is None else min(best, total)
    return best


# --- the properties ---------------------------------------------------------------------


def _no_event(label: str) -> None:
    """Plain tests record no hypothesis events (`event` works only inside `@given`)."""


def check_against_brute_force(problem: Problem, record: Callable[[str], None] = _no_event) -> None:
    best = brute_force(problem)
    try:
        lp_bound = solve_lp(problem).bound_micro_usd
    except InfeasiblePlacement:
        lp_bound = None
        lp_infeasible = True
    else:
        lp_infeasible = False
    if best is None:
        record("no feasible plan")
        # No plan exists: solve raises InfeasiblePlacement exactly when the LP relaxation
        # is infeasible; otherwise it returns, naming the workloads it could not place.
        if lp_infeasible:
            record("no feasible plan: LP infeasible")
            with pytest.raises(InfeasiblePlacement):
                solve(problem)
        else:
            record("no feasible plan: LP feasible, integer infeasible")
            solution = solve(problem)
            assert solution.unplaced != ()
            assert solution.violations == ()
            assert set(solution.unplaced) <= {d.id for d in problem.demands}
            assert not validate(problem, solution.plan).ok
        base = greedy(problem)
        assert base.unplaced != () or not validate(problem, base.plan).ok
        return
    record("feasible")
    assert not lp_infeasible, "the LP relaxation is infeasible but a plan exists"
    solution = solve(problem)
    assert solution.unplaced == (), "a plan exists but solve() left workloads unplaced"
    assert solution.violations == ()
    check = validate(problem, solution.plan)
    assert check.ok, check.violations
    assert solution.cost == check.cost.total == plan_cost(problem, solution.plan).total
    assert solution.cost == best, f"solve() {solution.cost} > brute force {best}"
    assert lp_bound is not None and lp_bound <= best
    if solution.bound is not None:
        assert solution.bound <= best
        assert solution.gap is not None and solution.gap >= 0
    base = greedy(problem)
    if base.unplaced == () and validate(problem, base.plan).ok:
        assert plan_cost(problem, base.plan).total >= solution.cost


@PROFILE
@given(problems())
def test_solve_equals_brute_force_optimum(problem: Problem) -> None:
    check_against_brute_force(problem, event)


# --- failing examples found by the properties, kept as plain tests ----------------------


def _three_replicas_two_regions() -> Problem:
    """Found and shrunk by the property above (placement/solve.py as of 6c2a20b): 3
    replicas over at least 2 regions; r0's quota (3 vCPU) holds no 4-vCPU instance.
    Optimum: 2 on offer 2 (r1) + 1 on offer 1 (r0) = 0.3001 USD. The LP is fractional
    (1/3 on offer 1, 2 on offer 2, 2/3 on offer 3: 3 vCPU in r0), rounding put the odd
    replica on offer 3 (over quota), greedy's spread rule (at most ⌊3 / 2⌋ = 1 replica
    per region) placed only 2 of 3 replicas, and solve() skipped the exact CP-SAT
    re-solve because a workload was unplaced: w0 came back unplaced."""
    offers = (
        Offer(1, "aws", "r0", "", "t1", "m5", "on_demand", 1, 2.0, 1_001),
        Offer(2, "aws", "r1", "", "t2", "m5", "on_demand", 1, 2.0, 1_000),
        Offer(3, "aws", "r0", "", "t3", "m5", "on_demand", 4, 2.0, 1_000),
    )
    w0 = Demand(
        id="w0", replicas=3, vcpu=1, memory_gib=1.0, current_offer_id=1, data_gb=1.0,
        eligible=(1, 2, 3), move_micro_usd=(0, 0, 0), min_regions=2, must_move=True,
    )  # fmt: skip
    return Problem(100, offers, (w0,), (Quota("aws", "r0", None, 3, "quota-0"),))


def test_brute_force_of_the_three_replica_example() -> None:
    problem = _three_replicas_two_regions()
    assert brute_force(problem) == 300_100
    assert solve_lp(problem).bound_micro_usd == 300_033  # the LP is feasible (fractional)


def test_solve_places_three_replicas_over_two_regions_under_a_quota() -> None:
    check_against_brute_force(_three_replicas_two_regions())


def test_spend_budget_only_the_lp_meets_is_reported_unplaced() -> None:
    """The branch random problems rarely reach: the LP relaxation is feasible (half a move
    costs half the 6 USD move, within a 3 USD budget) but no integer plan is (today's r0
    offer has room for one of the two instances, and moving costs 6 USD). solve() does not
    raise: it returns w0 unplaced, with no violation."""
    offers = (
        Offer(1, "aws", "r0", "", "t1", "m5", "on_demand", 2, 8.0, 1_000),
        Offer(2, "aws", "r1", "", "t2", "m5", "on_demand", 2, 8.0, 1_000),
    )
    w0 = Demand(
        id="w0", replicas=2, vcpu=2, memory_gib=4.0, current_offer_id=1, data_gb=1.0,
        eligible=(1, 2), move_micro_usd=(0, 6 * MICRO),
    )  # fmt: skip
    quota = Quota("aws", "r0", None, 2, "quota-0")
    problem = Problem(100, offers, (w0,), (quota,), max_one_off_micro_usd=3 * MICRO)
    assert brute_force(problem) is None
    assert solve_lp(problem).bound_micro_usd is not None
    check_against_brute_force(problem)
    assert solve(problem).unplaced == ("w0",)
