"""Commitments already bought are capacity at zero marginal price (design.md §6): the
credit in the cost model, the solver's use of it, the builder's pools, MPS audit."""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from placement.cost import plan_cost
from placement.mps import write_mps
from placement.problem import Commitment, Problem
from placement.solve import solve
from tests.test_mps import _audit
from tests.test_placement import DB, EU, GCP, ON_DEMAND, WEB, tiny
from tests.test_placement_properties import PROFILE, check_against_brute_force, problems

HOURS = 100  # tiny()'s horizon
RI_EU = Commitment("ri-eu", "aws", "vcpu", 2, 40_000, region="eu-west-1", family="m5")


def test_credit_by_hand() -> None:
    problem = tiny(commitments=(RI_EU,))
    # db runs 1 replica of 2 vCPU on EU (aws eu-west-1 m5 on-demand): fully covered.
    cost = plan_cost(problem, {"db": ((EU.id, 1),)})
    assert cost.credit == 2 * 40_000 * HOURS
    assert cost.total == EU.hourly_micro_usd * HOURS - 2 * 40_000 * HOURS
    # Two replicas use 4 vCPU; only 2 are committed.
    two = plan_cost(problem, {"db": ((EU.id, 2),)})
    assert two.credit == 2 * 40_000 * HOURS


def test_spend_commitment_and_most_specific_scope() -> None:
    plan_wide = Commitment("sp", "aws", "usd", 150_000, 1)  # 0.15 USD/h of on-demand
    problem = tiny(commitments=(plan_wide, RI_EU))
    # EU is covered by the RI (narrower scope), ON_DEMAND (us-east-1) by the savings plan.
    assert problem.commitment_of(EU.id) == 1
    assert problem.commitment_of(ON_DEMAND.id) == 0
    assert problem.commitment_of(GCP.id) is None
    cost = plan_cost(problem, {"web": ((ON_DEMAND.id, 2),), "db": ((EU.id, 1),)})
    # savings plan: min(0.15 USD/h, 2 × 0.10 USD/h) per hour; RI: 2 vCPU × 40,000.
    assert cost.credit == 150_000 * HOURS + 2 * 40_000 * HOURS


def test_solver_keeps_a_workload_on_its_commitment() -> None:
    # db alone: moving to GCP saves 0.01 USD/h × 100 h = 1 USD but costs a 7 USD move; make
    # the move free so only the commitment keeps it where it is.
    db = replace(DB, move_micro_usd=(0, 0))
    free_move = tiny(demands=(db,), quotas=())
    assert solve(free_move).plan["db"] == ((GCP.id, 1),)
    held = replace(free_move, commitments=(RI_EU,))
    solution = solve(held)
    assert solution.plan["db"] == ((EU.id, 1),)
    assert solution.cost == EU.hourly_micro_usd * HOURS - 2 * 40_000 * HOURS


@st.composite
def committed_problems(draw: st.DrawFn) -> Problem:
    problem = draw(problems())
    regions = sorted({(o.provider, o.region) for o in problem.offers})
    chosen = draw(st.lists(st.sampled_from(regions), max_size=2, unique=True))
    pools = []
    for k, (provider, region) in enumerate(chosen):
        if draw(st.booleans()):
            pools.append(
                Commitment(
                    f"ri{k}",
                    provider,
                    "vcpu",
                    draw(st.integers(1, 6)),
                    draw(st.integers(1_000, 60_000)),
                    region=region,
                )
            )
        else:
            pools.append(Commitment(f"sp{k}", provider, "usd", draw(st.integers(1, 200_000)), 1))
    return replace(problem, commitments=tuple(pools))


@settings(parent=PROFILE, max_examples=200)
@given(committed_problems())
def test_solve_equals_brute_force_with_commitments(problem: Problem) -> None:
    check_against_brute_force(problem)


@pytest.mark.parametrize("seed", range(4))
def test_mps_with_commitments_audits_to_the_same_optimum(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    base = tiny(demands=(WEB, DB))
    problem = replace(
        base,
        commitments=(
            replace(RI_EU, capacity=rng.randint(1, 4)),
            Commitment("sp", "aws", "usd", rng.randint(10_000, 200_000), 1),
        ),
    )
    path = tmp_path / "c.mps"
    write_mps(problem, path)
    assert "credit_ri-eu" in path.read_text()
    solution = solve(problem, time_limit_s=10)
    assert solution.gap is not None and solution.gap <= 1e-9
    assert _audit(path) == pytest.approx(solution.cost, abs=0.5)
    assert solution.cost < plan_cost(replace(problem, commitments=()), solution.plan).total
