"""`run_plan`: build the placement problem, solve it, and record the plan and its
recommendations in the store in one transaction.

Identity: a recommendation whose fingerprint is already open (`proposed`, or `approved`
and not yet applied) from an earlier plan is the same recommendation; it moves to the
new plan (its numbers refreshed, its approval kept) instead of being inserted again.
Earlier open ones the new plan no longer makes become `superseded` (for the kinds a plan
re-decides, `KINDS`, `idle` included): an approval of a change the data no longer
supports is never applied.

Sizing (`[sizing]` of optimizer.toml) feeds the builder; `idle` recommendations
(`placement.sizing_idle`) are written in the same plan and transaction.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlmodel import select

from optimizer.approvals import auto_approve
from optimizer.audit_events import record
from placement.build import build_problem
from placement.mps import write_mps
from placement.problem import MICRO, Problem
from placement.recommend import Recommendation as Rec
from placement.recommend import recommend
from placement.sizing import SizingSettings
from placement.sizing_idle import idle_recommendations
from placement.solve import Solution, solve
from placement.tiering_decide import decide, rules_for, to_recommendation
from placement.tiering_facts import load_tiering_inputs
from policies import PolicyFile
from store.engine import session_scope
from store.models.operations import Plan, Recommendation
from store.types import utcnow

ACTOR = "optimizer plan"
KINDS = ("move", "purchase-option", "resize", "tiering", "idle")  # the kinds a plan re-decides
OPEN = ("proposed", "approved")  # decided by nobody yet, or approved and not applied


def rec_dict(row: Recommendation) -> dict[str, Any]:
    """A stored recommendation as JSON-ready data (money as decimal strings)."""
    return {
        "id": row.id,
        "plan_id": row.plan_id,
        "fingerprint": row.fingerprint,
        "kind": row.kind,
        "subject": row.subject,
        "status": row.status,
        "current": row.current,
        "proposed": row.proposed,
        "monthly_savings": str(row.monthly_savings),
        "monthly_savings_p10": _str(row.monthly_savings_p10),
        "monthly_savings_p90": _str(row.monthly_savings_p90),
        "one_off_cost": str(row.one_off_cost),
        "payback_days": row.payback_days,
        "reasons": row.reasons or [],
        "alternatives": row.alternatives or [],
        "created_at": row.created_at.isoformat() if row.created_at else None,
    }


def _str(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _details(problem: Problem, solution: Solution, recs: list[Rec]) -> dict[str, Any]:
    return {
        "horizon_hours": problem.horizon_hours,
        "workloads": len(problem.demands) + len(problem.infeasible),
        "seconds": round(solution.seconds, 3),
        "lp_seconds": round(solution.lp_seconds, 3),
        "note": solution.note,
        "unplaced": list(solution.unplaced),
        "infeasible": [
            {"workload": i.demand, "policies": list(i.policies), "text": i.text}
            for i in problem.infeasible
        ],
        "recommendations": len(recs),
        "compliance_moves": sum(1 for r in recs if r.compliance),
        "sizing": _sizing_details(problem),
        "commitments": [c.name for c in problem.commitments],
        "notes": list(problem.notes),
    }


def _sizing_details(problem: Problem) -> dict[str, Any]:
    """How the demands were sized: from samples, or the recorded size kept."""
    sized = [d for d in problem.demands if d.sizing_note.startswith("sized ")]
    smaller = [
        d
        for d in sized
        if d.vcpu <= (d.recorded_vcpu or 0)
        and d.memory_gib <= (d.recorded_memory_gib or 0.0)
        and (d.vcpu, d.memory_gib) != (d.recorded_vcpu, d.recorded_memory_gib)
    ]
    return {
        "sized_from_utilization": len(sized),
        "recorded_size_kept": len(problem.demands) - len(sized),
        "smaller_than_recorded": len(smaller),
        "needs_more_than_today": sum(1 for d in problem.demands if d.undersized),
        "idle": sum(1 for d in problem.demands if d.idle_note),
        "sized_from_forecast": sum(1 for d in sized if "forecast" in d.sizing_note[:40]),
        "source": "the forecast's p90 band where a fresh forecast exists, else the p90 of "
        "recent utilization",
    }


def _apply(row: Recommendation, rec: Rec, plan_id: int) -> None:
    row.plan_id = plan_id
    row.kind = rec.kind
    row.subject = rec.subject
    row.current = rec.current
    row.proposed = rec.proposed
    row.monthly_savings = rec.monthly_savings
    row.monthly_savings_p10 = rec.monthly_savings_p10
    row.monthly_savings_p90 = rec.monthly_savings_p90
    row.one_off_cost = rec.one_off_cost
    row.payback_days = rec.payback_days
    row.reasons = list(rec.reasons)
    row.alternatives = list(rec.alternatives)


def run_plan(
    engine: Engine,
    policy_file: PolicyFile,
    policies_sha: str | None,
    time_limit_s: float = 30.0,
    export_mps: Path | None = None,
    sizing: SizingSettings | None = None,
) -> tuple[int, Solution, list[dict[str, Any]]]:
    """(plan id, the solver's solution, the plan's recommendations as dicts, largest
    monthly saving first). The policy file's `approval` rules then approve the new
    proposals they cover (optimizer/approvals.py). `export_mps` also writes the exact
    model there, before solving, so an infeasible model can be audited too. `sizing`:
    the `[sizing]` settings (defaults when None)."""
    problem = build_problem(engine, policy_file, sizing=sizing)
    if export_mps is not None:
        write_mps(problem, export_mps)
    solution = solve(problem, time_limit_s=time_limit_s)
    recs = [*recommend(problem, solution), *idle_recommendations(problem)]
    tiering, tiering_details = plan_tiering(engine, policy_file)
    recs = sorted([*recs, *tiering], key=lambda r: (-r.monthly_savings, r.kind, r.subject))
    now = utcnow()
    with session_scope(engine) as session:
        plan = Plan(
            created_at=now,
            kind="placement",
            status="partial" if solution.unplaced or problem.infeasible else "ok",
            solver=solution.solver,
            objective_micro_usd=solution.cost,
            lower_bound_micro_usd=solution.bound,
            gap=solution.gap,
            policies_sha256=policies_sha,
            details={**_details(problem, solution, recs), "tiering": tiering_details},
        )
        session.add(plan)
        session.flush()
        assert plan.id is not None
        fingerprints = [r.fingerprint for r in recs]
        existing: dict[str, Recommendation] = {}
        if fingerprints:
            query = select(Recommendation).where(
                sa.and_(
                    Recommendation.status.in_(OPEN),  # type: ignore[attr-defined]
                    Recommendation.fingerprint.in_(fingerprints),  # type: ignore[attr-defined]
                )
            )
            for row in session.exec(query):
                existing.setdefault(row.fingerprint, row)
        rows: list[Recommendation] = []
        for rec in recs:
            found = existing.get(rec.fingerprint)
            row = (
                found
                if found is not None
                else Recommendation(
                    fingerprint=rec.fingerprint,
                    kind=rec.kind,
                    subject=rec.subject,
                    monthly_savings=rec.monthly_savings,
                    one_off_cost=rec.one_off_cost,
                    created_at=now,
                )
            )
            _apply(row, rec, plan.id)
            session.add(row)
            rows.append(row)
        stale = select(Recommendation).where(
            sa.and_(
                Recommendation.status.in_(OPEN),  # type: ignore[attr-defined]
                Recommendation.plan_id != plan.id,  # type: ignore[arg-type]
                Recommendation.kind.in_(KINDS),  # type: ignore[attr-defined]
            )
        )
        session.flush()
        superseded = 0
        for row in session.exec(stale):
            if row.fingerprint in existing:
                continue
            row.status = "superseded"
            row.status_by = ACTOR
            row.status_reason = f"not in plan {plan.id}"
            row.status_at = now
            session.add(row)
            superseded += 1
        session.flush()
        plan_id = plan.id
        out = [rec_dict(r) for r in rows]
        kept = len({r.fingerprint for r in recs} & existing.keys())
        _audit(session.connection(), plan, recs, kept, superseded)
    approved = {d.id for d in auto_approve(engine, plan_id, policy_file)}
    for item in out:  # what the approval policies approved, as the store now says
        if item["id"] in approved:
            item["status"] = "approved"
    return plan_id, solution, out


def _audit(conn: Connection, plan: Plan, recs: list[Rec], kept: int, superseded: int) -> None:
    """The plan's audit event, in the plan's own transaction."""
    by_kind: dict[str, int] = {}
    for rec in recs:
        by_kind[rec.kind] = by_kind.get(rec.kind, 0) + 1
    details = {
        "plan_id": plan.id,
        "status": plan.status,
        "solver": plan.solver,
        "objective_usd": usd(plan.objective_micro_usd),
        "lower_bound_usd": usd(plan.lower_bound_micro_usd),
        "gap": plan.gap,
        "policies_sha256": plan.policies_sha256,
        "recommendations": {
            "total": len(recs),
            "new": len(recs) - kept,
            "kept": kept,
            "superseded": superseded,
            "by_kind": by_kind,
        },
    }
    _policy_change(conn, plan)
    record(conn, "plan", f"plan:{plan.id}", details)


def _policy_change(conn: Connection, plan: Plan) -> None:
    """A plan made under another policy file than the previous plan: the policy change
    is a state change of its own in the audit log (the file itself lives outside the
    store, so the plan that first uses it is where the change becomes visible)."""
    table = Plan.__table__  # type: ignore[attr-defined]
    before = conn.execute(
        sa.select(table.c.id, table.c.policies_sha256)
        .where(sa.and_(table.c.id < plan.id, table.c.kind == plan.kind))
        .order_by(table.c.id.desc())
        .limit(1)
    ).first()
    if before is None or before.policies_sha256 == plan.policies_sha256:
        return
    record(conn, "policy.change", "policies",
           {"from_sha256": before.policies_sha256, "to_sha256": plan.policies_sha256,
            "previous_plan": before.id, "plan_id": plan.id})  # fmt: skip


def plan_tiering(engine: Engine, policy_file: PolicyFile) -> tuple[list[Rec], dict[str, Any]]:
    """Tiering recommendations for every storage group the policies let us re-tier, and
    what happened to the others (excluded by policy, staying, below the change budget)."""
    inputs, skipped = load_tiering_inputs(engine)
    out: list[Rec] = []
    excluded: list[str] = []
    below: list[str] = []
    for item in inputs:
        rules = rules_for(item.group, policy_file)
        if rules.excluded_by is not None:
            excluded.append(f"{item.group.name}: excluded by {rules.excluded_by}")
            continue
        d = decide(item.group, item.tiers, item.access, rules)
        if d is None or d.chosen.action == "stay":
            continue
        if not d.worth_it:
            below.append(f"{item.group.name}: {d.budget_note}")
            continue
        notes = {n for t in item.tiers.values() for n in t.notes if d.chosen.tier in n}
        out.append(to_recommendation(d, item.tiers, (*item.notes, *sorted(notes))))
    details = {
        "groups": len(inputs) + len(skipped),
        "recommendations": len(out),
        "monthly_savings": str(sum((r.monthly_savings for r in out), Decimal(0))),
        "excluded_by_policy": excluded,
        "below_change_budget": below,
        "unpriced": skipped,
        "access": "next month's forecast where a fresh one exists, else the last 30 days "
        "of samples",
    }
    return out, details


def usd(micro: int | None) -> Decimal | None:
    """Micro-USD to exact Decimal USD (None stays None)."""
    return None if micro is None else Decimal(micro) / MICRO
