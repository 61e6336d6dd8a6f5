"""`optimizer plan` on PostgreSQL: the same estate gives the same plan as on SQLite.

Why: teams run the store on PostgreSQL; the builder reads prices as NUMERIC there and as
text on SQLite, and the plan (solver input in micro-USD, recommendations in Decimal) must
not depend on which."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from optimizer.demo.build import build_demo
from optimizer.planning import run_plan
from placement.build import build_problem
from policies import load_policies, policies_sha256
from tests.test_plan import POLICIES


def _demo(engine: Engine, tmp: Path) -> Engine:
    build_demo(engine, tmp, workloads=40, storage_groups=4, days=60,
               end=datetime(2026, 11, 1, tzinfo=UTC))  # fmt: skip
    return engine


@pytest.mark.postgres
def test_plan_on_postgresql_equals_sqlite(
    pg_engine: Engine, sqlite_engine: Engine, tmp_path: Path
) -> None:
    parsed = load_policies(POLICIES)
    sha = policies_sha256(POLICIES)
    results = []
    for name, engine in (("sqlite", sqlite_engine), ("postgresql", pg_engine)):
        _demo(engine, tmp_path / name)
        problem = build_problem(engine, parsed)
        _, solution, recs = run_plan(engine, parsed, sha, time_limit_s=20)
        results.append((problem.demands, solution.cost, solution.bound, recs))
    (d1, cost1, bound1, recs1), (d2, cost2, bound2, recs2) = results
    assert d1 == d2  # identical solver input, to the micro-dollar
    assert (cost1, bound1) == (cost2, bound2)
    keys = ("kind", "subject", "monthly_savings", "one_off_cost", "proposed")
    assert [{k: r[k] for k in keys} for r in recs1] == [{k: r[k] for k in keys} for r in recs2]
    # Re-planning on PostgreSQL keeps every recommendation's identity.
    _, _, again = run_plan(pg_engine, parsed, sha, time_limit_s=20)
    assert sorted(r["id"] for r in again) == sorted(r["id"] for r in recs2)
