"""Build a placement `Problem` from the store and a policy file.

Reads the current price offers (`valid_to IS NULL`), workloads, regions, measured
latency and egress prices with SQLAlchemy core selects, and asks `policies.evaluate` for
each workload × offer verdict, so eligibility means exactly what `policy explain` says.

Sizing: each replica needs one instance with at least the workload's recorded vCPU and
memory. Sizing from the forecast's p90 (design.md §6) replaces this when forecasts feed
the builder.

Pruning: for each workload and each (provider, region, family, purchase option) only the
cheapest eligible offer that fits is kept (a dearer one of the same group buys nothing a
solver can use); today's offer is always kept when eligible, so staying is an option.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import ROUND_HALF_EVEN, Decimal
from functools import partial
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from placement.facts import NetworkFacts, load_network_facts, offer_facts, workload_facts
from placement.problem import MICRO, Demand, Infeasible, Offer, Problem, Quota
from policies import (
    CapacityPolicy,
    ChangeBudgetPolicy,
    LatencyPolicy,
    PolicyFile,
    SpotPolicy,
    SpreadPolicy,
)
from policies.base import PolicyBase
from policies.evaluate import RegionFacts, WorkloadFacts, applicable, evaluate
from store.models import PriceOffer, Workload

OFFERS = PriceOffer.__table__  # type: ignore[attr-defined]
WORKLOADS = Workload.__table__  # type: ignore[attr-defined]

# Used for a region pair with no stored egress price: the first internet-egress tier of
# the big three clouds (≈ 0.09 USD/GB), so an unknown pair is never free.
DEFAULT_EGRESS_USD_PER_GB = Decimal("0.09")


def micro_usd(value: Decimal) -> int:
    """Dollars to integer micro-dollars, rounding half to even."""
    return int((value * MICRO).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def _load(engine: Engine) -> tuple[list[Any], list[Any], NetworkFacts]:
    with engine.connect() as conn:
        offers = conn.execute(
            sa.select(OFFERS).where(OFFERS.c.valid_to.is_(None)).order_by(OFFERS.c.id)
        ).all()
        workloads = conn.execute(sa.select(WORKLOADS).order_by(WORKLOADS.c.name)).all()
        facts = load_network_facts(conn)
    return list(offers), list(workloads), facts


def _offer(row: Any) -> Offer:
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


def _budget(policies: PolicyFile) -> tuple[int | None, int | None]:
    """The strictest per-run change budget over all change-budget policies."""
    moves: int | None = None
    spend: int | None = None
    for p in policies.of_type(ChangeBudgetPolicy):
        if p.max_moves_per_run is not None:
            moves = p.max_moves_per_run if moves is None else min(moves, p.max_moves_per_run)
        if p.max_one_off_usd_per_run is not None:
            m = micro_usd(Decimal(p.max_one_off_usd_per_run))
            spend = m if spend is None else min(spend, m)
    return moves, spend


def _side(chosen: Iterable[PolicyBase]) -> tuple[float, int, int]:
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


def _budget_names(policies: PolicyFile) -> tuple[str, str]:
    """The change-budget policies behind `_budget`'s (moves, spend), for explanations."""
    moves, spend = _budget(policies)
    by_moves = by_spend = ""
    for p in policies.of_type(ChangeBudgetPolicy):
        if not by_moves and moves is not None and p.max_moves_per_run == moves:
            by_moves = p.name
        limit = p.max_one_off_usd_per_run
        if not by_spend and limit is not None and micro_usd(Decimal(limit)) == spend:
            by_spend = p.name
    return by_moves, by_spend


def _infeasible(w: Any, ruled: dict[str, int], fitting: int) -> Infeasible:
    names = tuple(sorted(ruled))
    size = f"≥ {w.vcpu} vCPU and ≥ {w.memory_gib:g} GiB"
    if fitting == 0:
        return Infeasible(w.name, (), f"no current offer has {size}")
    return Infeasible(w.name, names, f"{' ∩ '.join(names)} admit no offer with {size}")


class _Verdicts:
    """`policies.evaluate` with a cache: the names of the policies that block an offer."""

    def __init__(self, facts: NetworkFacts) -> None:
        self.facts = facts
        self.cache: dict[tuple[Any, ...], tuple[str, ...]] = {}

    def region(self, provider: str, region: str) -> RegionFacts | None:
        return self.facts.regions.get((provider, region))

    def rtt(self, a: str, b: str, c: str, d: str) -> float | None:
        return self.facts.rtts.get((a, b, c, d))

    def blocked(
        self, chosen: list[PolicyBase], wf: WorkloadFacts, key0: tuple[Any, ...], o: Offer
    ) -> tuple[str, ...]:
        # The verdict reads only the offer's place, purchase option and bucket.
        key = (*key0, o.provider, o.region, o.purchase_option, o.interruption_bucket)
        names = self.cache.get(key)
        if names is None:
            of = offer_facts(o)
            verdict = evaluate(chosen, wf, of, self.region, self.rtt)
            names = self.cache[key] = tuple(sorted({r.policy for r in verdict.reasons}))
        return names


def _scan(
    groups: dict[tuple[str, str, str | None, str], list[Offer]],
    vcpu: int,
    memory_gib: float,
    blocked: Callable[[Offer], tuple[str, ...]],
) -> tuple[list[Offer], dict[str, int], int]:
    """(cheapest eligible fitting offer per group, offers ruled out per policy, fitting
    offers looked at: 0 means none fits) for one workload class and size."""
    kept: list[Offer] = []
    ruled: dict[str, int] = {}
    fitting = 0
    for members in groups.values():
        for o in members:
            if o.vcpu < vcpu or o.memory_gib < memory_gib:
                continue
            fitting += 1
            names = blocked(o)
            if not names:
                kept.append(o)
                break
            for n in names:
                ruled[n] = ruled.get(n, 0) + 1
            if not o.is_spot:
                break  # the whole group shares this verdict
    return kept, ruled, fitting


def build_problem(
    engine: Engine,
    policy_file: PolicyFile,
    horizon_hours: int = 730,
    move_fixed_usd: Decimal = Decimal("50"),
) -> Problem:
    """The placement problem over `horizon_hours`, with `move_fixed_usd` charged per move
    on top of data egress (both in the demands' `move_micro_usd`)."""
    rows, workloads, facts = _load(engine)
    offers = [_offer(r) for r in rows]
    # Offers per (provider, region, family, purchase option), cheapest first.
    groups: dict[tuple[str, str, str | None, str], list[Offer]] = {}
    for o in sorted(offers, key=lambda o: (o.hourly_micro_usd, o.id)):
        groups.setdefault((o.provider, o.region, o.family, o.purchase_option), []).append(o)
    current = {
        (o.provider, o.region, o.zone, o.instance_type, o.purchase_option): o for o in offers
    }
    fixed = micro_usd(move_fixed_usd)

    verdicts = _Verdicts(facts)
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
        today = current.get(
            (w.provider, w.region, w.zone or "", w.instance_type, w.purchase_option)
        )

        blocked = partial(verdicts.blocked, chosen, wf, key0)
        scan_key = (*key0, int(w.vcpu), float(w.memory_gib))
        scan = scans.get(scan_key)
        if scan is None:
            scan = scans[scan_key] = _scan(groups, int(w.vcpu), float(w.memory_gib), blocked)
        kept, ruled, fitting = scan
        chosen_offers = {o.id: o for o in kept}
        today_ok = today is not None and today.vcpu >= w.vcpu and today.memory_gib >= w.memory_gib
        restricted = set(ruled)
        if today is not None and today_ok and not blocked(today):
            chosen_offers[today.id] = today
        else:
            restricted.update(blocked(today) if today is not None and today_ok else ())
            today_ok = False
        if not chosen_offers:
            infeasible.append(_infeasible(w, ruled, fitting))
            continue
        cap, min_regions, min_zones = _side(chosen)
        spot_by, regions_by, zones_by = _side_names(chosen)
        replicas = int(w.replicas)
        min_regions, min_zones = min(min_regions, replicas), min(min_zones, replicas)
        eligible = tuple(sorted(chosen_offers))
        data_gb = float(w.data_gb or 0.0)
        moves = []
        egress: dict[tuple[str, str], int] = {}
        for oid in eligible:
            o = chosen_offers[oid]
            if today is not None and oid == today.id:
                moves.append(0)
                continue
            where = (o.provider, o.region)
            if where not in egress:
                if (w.provider, w.region) == where:
                    per_gb = Decimal(0)
                else:
                    pair = (w.provider, w.region, *where)
                    per_gb = facts.egress.get(pair, DEFAULT_EGRESS_USD_PER_GB)
                egress[where] = micro_usd(per_gb * Decimal(str(data_gb)))
            moves.append(egress[where] + fixed)
        # Today's placement breaks this workload's own rules: moving is compliance.
        must_move = not today_ok or (
            today is not None
            and (
                (today.purchase_option == "spot" and replicas > int(cap * replicas + 1e-9))
                or min_regions > 1
                or (min_zones > 1 and today.zone != "")
            )
        )
        demands.append(
            Demand(
                id=w.name,
                replicas=replicas,
                vcpu=int(w.vcpu),
                memory_gib=float(w.memory_gib),
                current_offer_id=today.id if today is not None else None,
                data_gb=data_gb,
                eligible=eligible,
                move_micro_usd=tuple(moves),
                spot_share_cap=cap,
                min_regions=min_regions,
                min_zones=min_zones,
                must_move=must_move,
                spot_policy=spot_by,
                spread_policy=regions_by,
                zone_spread_policy=zones_by,
                restricted_by=tuple(sorted(restricted)),
            )
        )
    used = {oid for d in demands for oid in d.eligible}
    used |= {d.current_offer_id for d in demands if d.current_offer_id is not None}
    max_moves, max_spend = _budget(policy_file)
    moves_by, spend_by = _budget_names(policy_file)
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
    )
