"""Baseline beside scenario, as JSON-ready data: both outcomes and what changed."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from optimizer.simulate.load import LoadedScenario
from optimizer.simulate.outcome import Outcome
from optimizer.simulate.scenario import describe


def _delta(a: Decimal, b: Decimal) -> str:
    return str(b - a)


def _deltas(baseline: Outcome, what_if: Outcome) -> dict[str, Any]:
    """Scenario minus baseline; nothing when either side has no plan (infeasible)."""
    if "infeasible" in (baseline.status, what_if.status):
        return {"monthly_cost": None, "one_off_usd": None, "moves": None,
                "monthly_savings": None, "tiering_savings": None, "per_cloud": {}}  # fmt: skip
    clouds = sorted(set(baseline.per_cloud) | set(what_if.per_cloud))
    return {
        "monthly_cost": _delta(baseline.monthly_cost, what_if.monthly_cost),
        "one_off_usd": _delta(baseline.one_off_usd, what_if.one_off_usd),
        "moves": what_if.moves - baseline.moves,
        "monthly_savings": _delta(baseline.monthly_savings, what_if.monthly_savings),
        "tiering_savings": _delta(baseline.tiering_savings, what_if.tiering_savings),
        "per_cloud": {
            c: _delta(baseline.per_cloud.get(c, Decimal(0)), what_if.per_cloud.get(c, Decimal(0)))
            for c in clouds
        },
    }


def compare(
    loaded: LoadedScenario, baseline: Outcome, what_if: Outcome, applied: list[str]
) -> dict[str, Any]:
    """The report `optimizer simulate` prints (and emits with --json)."""
    s = loaded.scenario
    infeasible_before = {i["workload"] for i in baseline.infeasible}
    binding_before = {b["policy"] for b in baseline.binding}
    binding_after = {b["policy"] for b in what_if.binding}
    return {
        "scenario": {
            "name": s.name,
            "description": s.description,
            "file": loaded.source,
            "changes": [describe(c) for c in s.changes],
            "applied": applied,
        },
        "baseline": baseline.as_dict(),
        "what_if": what_if.as_dict(),
        "delta": _deltas(baseline, what_if),
        "placement_changed": [
            {"workload": w, "baseline": baseline.where.get(w), "scenario": what_if.where.get(w)}
            for w in sorted(set(baseline.where) | set(what_if.where))
            if baseline.where.get(w) != what_if.where.get(w)
            and "infeasible" not in (baseline.status, what_if.status)
        ],
        "newly_infeasible": sorted(
            i["workload"] for i in what_if.infeasible if i["workload"] not in infeasible_before
        ),
        "newly_unplaced": sorted(set(what_if.unplaced) - set(baseline.unplaced)),
        "policies_binding_added": sorted(binding_after - binding_before),
        "policies_binding_released": sorted(binding_before - binding_after),
        "live_store_written": False,
    }
