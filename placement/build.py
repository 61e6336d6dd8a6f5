"""Build a placement `Problem` from the store and a policy file.

Reads the current price offers (`valid_to IS NULL`), workloads, regions, measured
latency and egress prices with SQLAlchemy core selects, and asks `policies.evaluate` for
each workload × offer verdict, so eligibility means exactly what `policy explain` says.

Sizing (`placement.sizing`): each replica needs one instance with at least the vCPU and
memory sized from the p90 of the last 14 days of utilization (targets 70 % CPU, 80 %
memory); a workload with no or too few samples keeps its recorded size. Today's offer
stays eligible if it fits that size; when it is too small, moving is required
(`Demand.undersized`, `must_move`). Forecasts (issue #4) replace the samples later.

Anti-churn (`placement.sizing_churn`): an offer other than today's is eligible only if
moving there clears every change-budget policy's `min_monthly_saving_usd` and
`max_payback_days`; compliance moves are exempt; the refusing policies join
`restricted_by`.

Pruning: for each workload and each (provider, region, family, purchase option) only the
cheapest eligible offer that fits is kept (a dearer one of the same group buys nothing a
solver can use); today's offer is always kept when eligible, so staying is an option.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from functools import partial
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from placement.commitments import NEW_PURCHASE_OPTIONS, commitment_pools
from placement.facts import (
    NetworkFacts,
    Verdicts,
    load_network_facts,
    scan_cached,
    workload_facts,
)
from placement.problem import Demand, Infeasible, Offer, Problem, Quota
from placement.sizing import SizingSettings, Usage, beyond_largest, idle_reason, size_workload
from placement.sizing_churn import (
    DEFAULT_EGRESS_USD_PER_GB,
    DEFAULT_MOVE_FIXED_USD,
    ChurnRules,
    micro_usd,
    move_micro_usd,
    run_budget,
    run_budget_names,
)
from placement.sizing_facts import load_usage
from policies import (
    CapacityPolicy,
    LatencyPolicy,
    PolicyFile,
    SpotPolicy,
    SpreadPolicy,
)
from policies.base import PolicyBase
from policies.evaluate import applicable
from store.models import PriceOffer, Workload

OFFERS = PriceOffer.__table__  # type: ignore[attr-defined]
WORKLOADS = Workload.__table__  # type: ignore[attr-defined]
__all__ = [
    "DEFAULT_EGRESS_USD_PER_GB",
    "build_problem",
    "compliance_move",
    "micro_usd",
    "offer_from_row",
    "side_limits",
]


def _load(
    engine: Engine, sizing: SizingSettings
) -> tuple[list[Any], list[Any], NetworkFacts, dict[str, Usage]]:
    with engine.connect() as conn:
        offers = conn.execute(
            sa.select(OFFERS).where(OFFERS.c.valid_to.is_(None)).order_by(OFFERS.c.id)
        ).all()
        workloads = conn.execute(sa.select(WORKLOADS).order_by(WORKLOADS.c.name)).all()
        facts = load_network_facts(conn)
        usage, _ = load_usage(conn, sizing)
    return list(offers), list(workloads), facts, usage


def offer_from_row(row: Any) -> Offer:
    """A `price_offer` row as the solver sees it (price in micro-USD)."""
    return Offer(
        id=row.id,
        provider=row.provider,
        region=row.region,
        zone=row.zone or "",
        instance_type=row.instance_type,
        family=row.family,
        purchase_option=row.purchase_option,
        vcpu=row.vcpu,
        memory_gib=float(row.memory_gib),
        hourly_micro_usd=micro_usd(Decimal(row.usd_per_hour)),
        interruption_bucket=row.interruption_bucket,
    )


def _quotas(policies: PolicyFile) -> tuple[Quota, ...]:
    return tuple(
        Quota(q.provider, q.region, q.family, q.max_vcpu, p.name)
        for p in policies.of_type(CapacityPolicy)
        for q in p.quotas
    )


def side_limits(chosen: Iterable[PolicyBase]) -> tuple[float, int, int]:
    """(spot share cap, min regions, min zones): the strictest of the applicable ones."""
    cap, regions, zones = 1.0, 1, 1
    for p in chosen:
        if isinstance(p, SpotPolicy):
            cap = min(cap, p.share_cap())
        elif isinstance(p, SpreadPolicy):
            regions = max(regions, p.min_regions or 1)
            zones = max(zones, p.min_zones or 1)
    return cap, regions, zones


def _side_names(chosen: Iterable[PolicyBase]) -> tuple[str, str, str]:
    """The policies behind `_side`'s values (spot cap, min regions, min zones), first one
    wins a tie; "" where no policy tightened it. Only explanations read these."""
    cap, regions, zones = 1.0, 1, 1
    names = ["", "", ""]
    for p in chosen:
        if isinstance(p, SpotPolicy) and p.share_cap() < cap:
            cap, names[0] = p.share_cap(), p.name
        elif isinstance(p, SpreadPolicy):
            if (p.min_regions or 1) > regions:
                regions, names[1] = p.min_regions or 1, p.name
            if (p.min_zones or 1) > zones:
                zones, names[2] = p.min_zones or 1, p.name
    return names[0], names[1], names[2]


def compliance_move(
    today: Offer | None, today_ok: bool, cap: float, min_regions: int, min_zones: int, replicas: int
) -> bool:
    """Today's placement breaks the workload's own rules (offer unknown, ineligible or too
    small for its size, too much spot, too little spread): moving is compliance.
    `min_regions` and `min_zones` are already capped at `replicas`."""
    return not today_ok or (
        today is not None
        and (
            (today.purchase_option == "spot" and replicas > int(cap * replicas + 1e-9))
            or min_regions > 1
            or (min_zones > 1 and today.zone != "")
        )
    )


def _infeasible(
    name: str, vcpu: int, memory_gib: float, ruled: dict[str, int], fitting: int
) -> Infeasible:
    names = tuple(sorted(ruled))
    size = f"≥ {vcpu} vCPU and ≥ {memory_gib:g} GiB"
    if fitting == 0:
        return Infeasible(name, (), f"no current offer has {size}")
    return Infeasible(name, names, f"{' ∩ '.join(names)} admit no offer with {size}")


def build_problem(
    engine: Engine,
    policy_file: PolicyFile,
    horizon_hours: int = 730,
    move_fixed_usd: Decimal = DEFAULT_MOVE_FIXED_USD,
    sizing: SizingSettings | None = None,
) -> Problem:
    """The placement problem over `horizon_hours`, with `move_fixed_usd` charged per move
    on top of data egress (both in the demands' `move_micro_usd`), each workload sized
    by `sizing` (defaults: `SizingSettings()`)."""
    sizing = sizing or SizingSettings()
    rows, workloads, facts, usage = _load(engine, sizing)
    offers = [offer_from_row(r) for r in rows]
    # Offers per (provider, region, family, purchase option), cheapest first.
    groups: dict[tuple[str, str, str | None, str], list[Offer]] = {}
    # New commitments (commit_1y / commit_3y offers) are a purchase decision with a
    # multi-year lock-in, not a placement: only a workload already on one keeps it.
    for o in sorted(offers, key=lambda o: (o.hourly_micro_usd, o.id)):
        if o.purchase_option not in NEW_PURCHASE_OPTIONS:
            continue
        groups.setdefault((o.provider, o.region, o.family, o.purchase_option), []).append(o)
    current = {
        (o.provider, o.region, o.zone, o.instance_type, o.purchase_option): o for o in offers
    }
    fixed = micro_usd(move_fixed_usd)

    verdicts = Verdicts(facts)
    scans: dict[tuple[Any, ...], tuple[list[Offer], dict[str, int], int]] = {}
    demands: list[Demand] = []
    infeasible: list[Infeasible] = []
    for w in workloads:
        wf = workload_facts(w)
        chosen = applicable(policy_file, wf)
        # Workloads with the same applicable policies (and, when a latency policy reads
        # them, the same user regions) share verdicts.
        origins = any(isinstance(p, LatencyPolicy) and p.uses_user_regions() for p in chosen)
        key0 = (tuple(id(p) for p in chosen), wf.user_regions if origins else ())
        # A zonal price where the catalog has one, else the region's (collectors record
        # the instance's zone; most catalogs price per region).
        today = current.get(
            (w.provider, w.region, w.zone or "", w.instance_type, w.purchase_option)
        ) or current.get((w.provider, w.region, "", w.instance_type, w.purchase_option))
        replicas = int(w.replicas)
        samples = usage.get(w.series_id or "")
        sz = size_workload(int(w.vcpu), float(w.memory_gib), replicas, samples, sizing)
        vcpu, memory = sz.vcpu, sz.memory_gib

        blocked = partial(verdicts.blocked, chosen, wf, key0)
        found = scan_cached(scans, groups, key0, vcpu, memory, blocked)
        if found[2] == 0 and sz.sized:  # no offer is that big: never size into infeasibility
            sz = beyond_largest(sz)
            vcpu, memory = sz.vcpu, sz.memory_gib
            found = scan_cached(scans, groups, key0, vcpu, memory, blocked)
        kept, ruled, fitting = found
        chosen_offers = {o.id: o for o in kept}
        today_fits = today is not None and today.vcpu >= vcpu and today.memory_gib >= memory
        # Upsizing is advice, not a forced move: a workload whose instance is smaller than
        # its sized need is planned at its recorded size (`undersized` carries the advice).
        today_ok = today is not None and today.vcpu >= w.vcpu and today.memory_gib >= w.memory_gib
        if today_ok and not today_fits:
            vcpu, memory = int(w.vcpu), float(w.memory_gib)
            kept, ruled, fitting = scan_cached(scans, groups, key0, vcpu, memory, blocked)
            chosen_offers = {o.id: o for o in kept}
        restricted = set(ruled)
        if today is not None and today_ok and not blocked(today):
            chosen_offers[today.id] = today
        else:
            restricted.update(blocked(today) if today is not None and today_ok else ())
            today_ok = False
        if not chosen_offers:
            infeasible.append(_infeasible(w.name, vcpu, memory, ruled, fitting))
            continue
        cap, min_regions, min_zones = side_limits(chosen)
        spot_by, regions_by, zones_by = _side_names(chosen)
        min_regions, min_zones = min(min_regions, replicas), min(min_zones, replicas)
        must_move = compliance_move(today, today_ok, cap, min_regions, min_zones, replicas)
        data_gb = float(w.data_gb or 0.0)
        churn = ChurnRules.of(chosen)
        egress: dict[tuple[str, str], int] = {}
        eligible: list[int] = []
        moves: list[int] = []
        for oid in sorted(chosen_offers):
            o = chosen_offers[oid]
            if today is not None and oid == today.id:
                eligible.append(oid)
                moves.append(0)
                continue
            where = (o.provider, o.region)
            if where not in egress:
                egress[where] = move_micro_usd(
                    facts.egress, (w.provider, w.region), where, data_gb, fixed
                )
            if not must_move and today is not None:
                refused = churn.blockers(replicas, today, o, egress[where])
                if refused:
                    restricted.update(refused)
                    continue
            eligible.append(oid)
            moves.append(egress[where])
        demands.append(
            Demand(
                id=w.name,
                replicas=replicas,
                vcpu=vcpu,
                memory_gib=memory,
                current_offer_id=today.id if today is not None else None,
                data_gb=data_gb,
                eligible=tuple(eligible),
                move_micro_usd=tuple(moves),
                spot_share_cap=cap,
                min_regions=min_regions,
                min_zones=min_zones,
                must_move=must_move,
                spot_policy=spot_by,
                spread_policy=regions_by,
                zone_spread_policy=zones_by,
                restricted_by=tuple(sorted(restricted)),
                recorded_vcpu=sz.recorded_vcpu,
                recorded_memory_gib=sz.recorded_memory_gib,
                sizing_note=sz.note,
                undersized=today is not None and not today_fits,
                idle_note=idle_reason(
                    sz.recorded_vcpu, sz.recorded_memory_gib, replicas, samples, sizing
                ),
            )
        )
    used = {oid for d in demands for oid in d.eligible}
    used |= {d.current_offer_id for d in demands if d.current_offer_id is not None}
    max_moves, max_spend = run_budget(policy_file)
    moves_by, spend_by = run_budget_names(policy_file)
    pools, notes = commitment_pools(policy_file, offers, date.today())
    return Problem(
        horizon_hours=horizon_hours,
        offers=tuple(o for o in offers if o.id in used),
        demands=tuple(demands),
        quotas=_quotas(policy_file),
        max_moves=max_moves,
        max_one_off_micro_usd=max_spend,
        infeasible=tuple(infeasible),
        change_budget_policy=moves_by,
        spend_budget_policy=spend_by,
        commitments=pools,
        notes=notes,
    )
