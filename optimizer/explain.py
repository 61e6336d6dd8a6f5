"""`optimizer policy explain`: which policies apply to a workload, and what each rules out.

Reads the workload, the current price offers that fit it, region facts and measured
latency from the store, and asks `policies.evaluate` for each offer's verdict. The
offers that fit are those with at least the vCPU and memory one replica needs, sized
exactly as the placement builder sizes it (`placement.sizing`: p90 of recent
utilization, or the recorded size), and the change-budget policies' per-move thresholds
(anti-churn, `placement.sizing_churn`) rule out the allowed offers that save too little
or pay back too slowly against today's, unless moving is required: the same rules, the
same numbers as `placement.build`.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from placement.build import compliance_move, offer_from_row, side_limits
from placement.commitments import NEW_PURCHASE_OPTIONS, NO_NEW_COMMITMENTS
from placement.facts import load_network_facts, offer_facts, workload_facts
from placement.problem import Offer
from placement.sizing import (
    Sizing,
    SizingSettings,
    beyond_largest,
    idle_reason,
    size_workload,
)
from placement.sizing_churn import (
    DEFAULT_MOVE_FIXED_USD,
    ChurnRules,
    micro_usd,
    move_micro_usd,
)
from placement.sizing_facts import load_usage
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
    sizing: dict[str, Any] = field(default_factory=dict)
    idle: str = ""
    compliance_move: bool = False


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


def _sizing(engine: Engine, w: Workload, settings: SizingSettings) -> tuple[Sizing, str]:
    with engine.connect() as conn:
        only = [w.series_id] if w.series_id else []
        usage, _ = load_usage(conn, settings, only=only)
    samples = usage.get(w.series_id or "")
    sz = size_workload(w.vcpu, w.memory_gib, w.replicas, samples, settings)
    return sz, idle_reason(w.vcpu, w.memory_gib, w.replicas, samples, settings)


def _fitting(conn: Connection, sz: Sizing) -> list[Any]:
    return list(
        conn.execute(
            sa.select(OFFERS).where(
                OFFERS.c.valid_to.is_(None),
                OFFERS.c.vcpu >= sz.vcpu,
                OFFERS.c.memory_gib >= sz.memory_gib,
            )
        ).all()
    )


def _row_of(rows: Any, offer: Offer) -> Any:
    return next(r for r in rows if r.id == offer.id)


def _today(offers: list[Any], w: Workload) -> Offer | None:
    """Today's offer as the builder finds it (the last current row of its key)."""
    key = (w.provider, w.region, w.zone or "", w.instance_type, w.purchase_option)
    found = [o for o in offers if (o.provider, o.region, o.zone or "", o.instance_type,
                                   o.purchase_option) == key]  # fmt: skip
    return offer_from_row(max(found, key=lambda o: o.id)) if found else None


def explain_workload(
    engine: Engine,
    policies: PolicyFile,
    name: str,
    top: int = 5,
    sizing: SizingSettings | None = None,
    move_fixed_usd: Decimal = DEFAULT_MOVE_FIXED_USD,
) -> Explanation:
    """`sizing` and `move_fixed_usd` must be what `optimizer plan` uses for the verdicts
    to agree with the plan (defaults: the builder's defaults). Counts are over every
    fitting offer; the builder then keeps only the cheapest eligible one per provider ×
    region × family × purchase option, so an offer eligible there is eligible here."""
    w = _workload(engine, name)
    facts = workload_facts(w)
    sz, idle = _sizing(engine, w, sizing or SizingSettings())
    with engine.connect() as conn:
        network = load_network_facts(conn)
        offers = _fitting(conn, sz)
        if not offers and sz.sized:  # as the builder: never size into infeasibility
            sz = beyond_largest(sz)
            offers = _fitting(conn, sz)
        same_type = conn.execute(
            sa.select(OFFERS).where(
                OFFERS.c.valid_to.is_(None),
                OFFERS.c.provider == w.provider,
                OFFERS.c.instance_type == w.instance_type,
            )
        ).all()
        today = _today(list(same_type), w)
        holds = today is not None and today.vcpu >= w.vcpu and today.memory_gib >= w.memory_gib
        if (
            holds
            and today is not None
            and (today.vcpu < sz.vcpu or today.memory_gib < sz.memory_gib)
        ):
            # As the builder: an undersized workload is planned at its recorded size
            # (the note still says what it needs: upsizing is advice).
            sz = replace(sz, vcpu=int(w.vcpu), memory_gib=float(w.memory_gib))
            offers = _fitting(conn, sz)
    chosen = applicable(policies, facts)
    ruled: Counter[str] = Counter()
    examples: dict[str, list[str]] = defaultdict(list)
    allowed: list[tuple[Any, Offer]] = []
    notes: set[str] = set()
    for o in offers:
        offer = offer_facts(o)
        verdict = evaluate(chosen, facts, offer, network.region, network.rtt)
        for reason in verdict.reasons:
            ruled[reason.policy] += 1
            if len(examples[reason.policy]) < 3 and reason.text not in examples[reason.policy]:
                examples[reason.policy].append(reason.text)
        if verdict.allowed:
            allowed.append((o, offer_from_row(o)))
            notes.update(f"{n.policy}: {n.text}" for n in verdict.notes)
    # As the builder: today's instance stays eligible while it holds what the workload
    # records (upsizing is advice), if the policies allow it.
    today_allowed = (
        today is not None
        and today.vcpu >= w.vcpu
        and today.memory_gib >= w.memory_gib
        and evaluate(chosen, facts, offer_facts(today), network.region, network.rtt).allowed
    )
    if today is not None and today_allowed and all(p.id != today.id for _, p in allowed):
        allowed.append((_row_of(same_type, today), today))
    # New commitments are not bought by placement (placement.commitments).
    for row, cand in list(allowed):
        if cand.purchase_option not in NEW_PURCHASE_OPTIONS and (
            today is None or cand.id != today.id
        ):
            allowed.remove((row, cand))
            ruled[NO_NEW_COMMITMENTS] += 1
            if len(examples[NO_NEW_COMMITMENTS]) < 1:
                examples[NO_NEW_COMMITMENTS].append(
                    f"{cand.purchase_option} offers are a purchase decision: placement only "
                    "keeps a commitment a workload already runs on"
                )
    cap, min_regions, min_zones = side_limits(chosen)
    replicas = int(w.replicas)
    must_move = compliance_move(
        today, today_allowed, cap, min(min_regions, replicas), min(min_zones, replicas), replicas
    )
    churn = ChurnRules.of(chosen)
    fixed = micro_usd(move_fixed_usd)
    eligible: list[tuple[Decimal, Any]] = []
    # Cheapest first: the examples then show the best moves the thresholds refuse.
    for row, cand in sorted(allowed, key=lambda a: (a[1].hourly_micro_usd, a[1].id)):
        if not must_move and today is not None and cand.id != today.id:
            move = move_micro_usd(
                network.egress, (w.provider, w.region), (cand.provider, cand.region),
                float(w.data_gb or 0.0), fixed,
            )  # fmt: skip
            refused = churn.blockers(replicas, today, cand, move)
            for policy in refused:
                ruled[policy] += 1
                text = "not worth moving: " + churn.text(replicas, today, cand, move)
                if len(examples[policy]) < 3:
                    examples[policy].append(text)
            if refused:
                continue
        eligible.append((row.usd_per_hour, row))
    eligible.sort(key=lambda e: (e[0], e[1].provider, e[1].region, e[1].instance_type))
    first = [f"sizing: {sz.note}"] + ([f"idle: {idle}"] if idle else [])
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
        notes=first + sorted(notes)[:5],
        sizing={
            "vcpu": sz.vcpu,
            "memory_gib": sz.memory_gib,
            "recorded_vcpu": sz.recorded_vcpu,
            "recorded_memory_gib": sz.recorded_memory_gib,
            "from_utilization": sz.sized,
            "note": sz.note,
        },
        idle=idle,
        compliance_move=must_move,
    )
