"""The demo plan, checked against the policy file without the solver or the builder.

Why: `placement.validate` checks a plan against the solver's own `Problem`, so a bug in
the builder (a policy not turned into a constraint) would pass it. Here the final
placement is rebuilt from the stored recommendations and raw store rows, and every
policy is checked directly: residency and latency by `policies.evaluate` on each placed
offer, capacity quotas and exclusions, spot shares, spread, and the change budget.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from optimizer.planning import run_plan
from placement.facts import load_network_facts
from policies import (
    CapacityPolicy,
    ChangeBudgetPolicy,
    SpotPolicy,
    SpreadPolicy,
    load_policies,
    policies_sha256,
)
from policies.evaluate import OfferFacts, WorkloadFacts, applicable, evaluate
from tests.test_plan import POLICIES


def _json(v: Any) -> Any:
    return json.loads(v) if isinstance(v, str) else v


def test_demo_plan_keeps_every_policy_checked_independently(demo_store: Engine) -> None:
    parsed = load_policies(POLICIES)
    plan_id, solution, recs = run_plan(demo_store, parsed, policies_sha256(POLICIES), 20)
    with demo_store.connect() as conn:
        offers = {r.id: r for r in conn.execute(sa.text(
            "SELECT * FROM price_offer WHERE valid_to IS NULL"))}  # fmt: skip
        workloads = list(conn.execute(sa.text("SELECT * FROM workload ORDER BY name")))
        net = load_network_facts(conn)
        details = _json(conn.execute(sa.text(
            "SELECT details FROM plan WHERE id = :i"), {"i": plan_id}).scalar_one())  # fmt: skip
    skip = {i["workload"] for i in details["infeasible"]} | set(details["unplaced"])
    by_place = {
        (o.provider, o.region, o.zone or "", o.instance_type, o.purchase_option): o.id
        for o in offers.values()
    }
    proposed = {
        r["subject"]: [(o["offer_id"], o["replicas"]) for o in r["proposed"]["offers"]]
        for r in recs
        if r["kind"] in ("move", "purchase-option", "resize")
    }
    # Moves today's placement needs (a broken policy, an instance too small for its
    # workload) are exempt from the change budget, as the builder documents.
    compliance = {
        r["subject"] for r in recs if any(x.startswith("required by ") for x in r["reasons"])
    }
    vcpu_used: dict[tuple[str, str, str | None], int] = defaultdict(int)
    checked = 0
    for w in workloads:
        if w.name in skip:
            continue
        here = by_place.get((w.provider, w.region, w.zone or "", w.instance_type,
                             w.purchase_option))  # fmt: skip
        parts = proposed.get(w.name) or [(here, w.replicas)]
        assert all(oid is not None for oid, _ in parts), w.name
        tags, users = dict(_json(w.tags) or {}), tuple(_json(w.user_regions) or ())
        wf = WorkloadFacts(
            w.name, w.provider, w.region, tags, w.data_classification, w.owner, users
        )
        chosen = applicable(parsed, wf)
        assert sum(n for _, n in parts) == w.replicas
        for oid, n in parts:
            o = offers[oid]
            facts = OfferFacts(o.provider, o.region, o.instance_type, o.purchase_option,
                               o.family, o.interruption_bucket)  # fmt: skip
            verdict = evaluate(chosen, wf, facts, net.region, net.rtt)
            assert verdict.allowed, (w.name, oid, verdict.reasons)
            for key in ((o.provider, o.region, None), (o.provider, o.region, o.family)):
                vcpu_used[key] += n * o.vcpu
        spot = sum(n for oid, n in parts if offers[oid].purchase_option == "spot")
        for p in chosen:
            if isinstance(p, SpotPolicy):
                assert spot <= int(p.share_cap() * w.replicas + 1e-9), (w.name, p.name)
            if isinstance(p, SpreadPolicy) and p.min_regions:
                regions = {(offers[oid].provider, offers[oid].region) for oid, _ in parts}
                assert len(regions) >= min(p.min_regions, w.replicas), (w.name, p.name)
        checked += 1
    assert checked >= 30
    for p in parsed.of_type(CapacityPolicy):
        for q in p.quotas:
            used = vcpu_used[(q.provider, q.region, q.family)]
            assert used <= q.max_vcpu, (p.name, q.provider, q.region, used, q.max_vcpu)
    moves = len(set(proposed) - compliance)
    for p in parsed.of_type(ChangeBudgetPolicy):
        if p.max_moves_per_run is not None:
            assert moves <= p.max_moves_per_run, (p.name, moves)
    assert solution.violations == ()
