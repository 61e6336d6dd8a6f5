"""`optimizer policy explain`: which policies apply to a workload, and what each rules out.

Reads the workload, the current price offers that fit it, region facts and measured
latency from the store, and asks `policies.evaluate` for each offer's verdict. The
offers that fit are those with at least the workload's vCPU and memory per replica
(sizing from forecasts arrives with the placement builder, issue #3).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from placement.facts import load_network_facts, offer_facts, workload_facts
from policies import PolicyFile
from policies.evaluate import Reason, applicable, evaluate, side_constraints
from store.errors import ConfigError
from store.models import PriceOffer, Workload

OFFERS = PriceOffer.__table__  # type: ignore[attr-defined]
WORKLOADS = Workload.__table__  # type: ignore[attr-defined]


@dataclass
class Explanation:
    workload: dict[str, Any]
    applicable: list[dict[str, str]]
    offers_considered: int
    eligible: int
    ruled_out_by: dict[str, int]  # policy name -> offers it rules out
    examples: dict[str, list[str]]  # policy name -> a few reasons
    side_constraints: list[Reason]
    cheapest: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _workload(engine: Engine, name: str) -> Workload:
    with engine.connect() as conn:
        row = conn.execute(sa.select(WORKLOADS).where(WORKLOADS.c.name == name)).first()
        if row is None:
            like = (
                conn.execute(
                    sa.select(WORKLOADS.c.name).where(WORKLOADS.c.name.like(f"%{name}%")).limit(5)
                )
                .scalars()
                .all()
            )
    if row is None:
        hint = f"did you mean {', '.join(like)}?" if like else "`optimizer status` lists counts"
        raise ConfigError(f"no workload named {name!r} in the store", fix=hint)
    return Workload.model_validate(row._mapping)


def explain_workload(engine: Engine, policies: PolicyFile, name: str, top: int = 5) -> Explanation:
    w = _workload(engine, name)
    facts = workload_facts(w)
    with engine.connect() as conn:
        network = load_network_facts(conn)
        offers = conn.execute(
            sa.select(OFFERS).where(
                OFFERS.c.valid_to.is_(None),
                OFFERS.c.vcpu >= w.vcpu,
                OFFERS.c.memory_gib >= w.memory_gib,
            )
        ).all()
    chosen = applicable(policies, facts)
    ruled: Counter[str] = Counter()
    examples: dict[str, list[str]] = defaultdict(list)
    eligible: list[tuple[Decimal, Any]] = []
    notes: set[str] = set()
    for o in offers:
        offer = offer_facts(o)
        verdict = evaluate(chosen, facts, offer, network.region, network.rtt)
        for reason in verdict.reasons:
            ruled[reason.policy] += 1
            if len(examples[reason.policy]) < 3 and reason.text not in examples[reason.policy]:
                examples[reason.policy].append(reason.text)
        if verdict.allowed:
            eligible.append((o.usd_per_hour, o))
            notes.update(f"{n.policy}: {n.text}" for n in verdict.notes)
    eligible.sort(key=lambda e: (e[0], e[1].provider, e[1].region, e[1].instance_type))
    return Explanation(
        workload={
            "name": w.name,
            "current": f"{w.provider}:{w.region} {w.instance_type} "
            f"{w.purchase_option} × {w.replicas}",
            "vcpu": w.vcpu,
            "memory_gib": w.memory_gib,
            "owner": w.owner,
            "data_classification": w.data_classification,
            "user_regions": list(w.user_regions or []),
        },
        applicable=[{"name": p.name, "type": p.type} for p in chosen],
        offers_considered=len(offers),
        eligible=len(eligible),
        ruled_out_by=dict(ruled),
        examples=dict(examples),
        side_constraints=side_constraints(chosen, facts),
        cheapest=[
            {
                "offer": f"{o.provider}:{o.region} {o.instance_type} {o.purchase_option}",
                "usd_per_hour": str(price),
            }
            for price, o in eligible[:top]
        ],
        notes=sorted(notes)[:5],
    )
