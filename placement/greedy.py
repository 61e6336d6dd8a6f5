"""The greedy baseline: a quick, deterministic plan that keeps every hard constraint it can.

1. Stay: each workload whose current offer is eligible and whose own rules hold today
   keeps it, if the quotas have room (most constrained workloads first: fewest eligible
   offers, then most vCPU, then name).
2. Place: the others (compliance moves, quota overflow) are placed in the same order on
   the cheapest offers, by recurring cost of all replicas + move cost, filling each
   offer as far as quotas, the spot share and the spread allow (spread: at most
   ⌊replicas / k⌋ replicas per region, or per explicit zone).
3. Improve: for every staying workload the best alternative is priced; moves are taken
   by saving (largest first) while they still save money and the change budget lasts.
4. Repair: a workload still unplaced evicts another one, in order of smallest vCPU use,
   when both then fit.

Ties break on offer id and workload name, so the same problem gives the same plan.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass

from placement.cost import unit_micro_usd
from placement.problem import Demand, Offer, Plan, Problem
from placement.validate import is_move

Parts = tuple[tuple[int, int], ...]
# Eviction candidates tried per unplaced workload (smallest first): a last resort whose
# cost grew with the estate (96k trial placements for 51 workloads at 10k workloads).
MAX_VICTIMS = 2000


@dataclass(frozen=True)
class GreedyResult:
    plan: Plan
    unplaced: tuple[str, ...]


class _State:
    def __init__(self, problem: Problem) -> None:
        self.p = problem
        self.used = [0] * len(problem.quotas)
        self.unit = {o.id: unit_micro_usd(problem, o) for o in problem.offers}
        self._order: dict[str, list[Offer]] = {}
        self.plan: dict[str, Parts] = {}
        self.moves = 0
        self.one_off = 0

    def room(self, o: Offer) -> int:
        """How many more instances of `o` the quotas allow."""
        caps = [
            (self.p.quotas[i].max_vcpu - self.used[i]) // o.vcpu
            for i in self.p.quotas_covering(o.id)
        ]
        return max(0, min(caps)) if caps else 1 << 30

    def _apply(self, parts: Parts, sign: int) -> None:
        for oid, n in parts:
            o = self.p.offer(oid)
            for i in self.p.quotas_covering(oid):
                self.used[i] += sign * n * o.vcpu

    def budget_of(self, d: Demand, parts: Parts) -> tuple[int, int]:
        """(moves, one-off micro-USD) that `parts` counts against the change budget."""
        if d.must_move or not is_move(d, parts):
            return 0, 0
        return 1, sum(d.move_cost(i) for i, _ in parts)

    def put(self, d: Demand, parts: Parts) -> None:
        self._apply(parts, 1)
        self.plan[d.id] = parts
        moves, spend = self.budget_of(d, parts)
        self.moves += moves
        self.one_off += spend

    def take(self, d: Demand) -> Parts:
        parts = self.plan.pop(d.id)
        self._apply(parts, -1)
        moves, spend = self.budget_of(d, parts)
        self.moves -= moves
        self.one_off -= spend
        return parts

    def within_budget(self, d: Demand, parts: Parts) -> bool:
        moves, spend = self.budget_of(d, parts)
        p = self.p
        if p.max_moves is not None and self.moves + moves > p.max_moves:
            return False
        return p.max_one_off_micro_usd is None or self.one_off + spend <= p.max_one_off_micro_usd

    def cost(self, d: Demand, parts: Parts) -> int:
        return sum(n * self.unit[i] for i, n in parts) + sum(d.move_cost(i) for i, _ in parts)

    def by_price(self, d: Demand) -> list[Offer]:
        """`d`'s eligible offers, cheapest whole-workload cost first (cached: it never
        depends on the state)."""
        found = self._order.get(d.id)
        if found is None:
            unit, moves = self.unit, dict(zip(d.eligible, d.move_micro_usd, strict=True))
            if d.current_offer_id in moves:
                moves[d.current_offer_id] = 0
            found = sorted(
                (self.p.offer(i) for i in d.eligible),
                key=lambda o: (unit[o.id] * d.replicas + moves[o.id], o.id),
            )
            self._order[d.id] = found
        return found

    def cheapest(self, d: Demand) -> Parts | None:
        """Fill the cheapest offers first under quotas, spot share and spread."""
        offers = self.by_price(d)
        per_region = d.replicas // d.min_regions
        per_zone = d.replicas // d.min_zones
        left, spot = d.replicas, d.max_spot_replicas
        in_region: dict[tuple[str, str], int] = defaultdict(int)
        in_zone: dict[tuple[str, str, str], int] = defaultdict(int)
        parts: list[tuple[int, int]] = []
        for o in offers:
            if left == 0:
                break
            region, zone = (o.provider, o.region), (o.provider, o.region, o.zone)
            n = min(left, self.room(o), per_region - in_region[region])
            if o.zone:
                n = min(n, per_zone - in_zone[zone])
            if o.is_spot:
                n = min(n, spot)
            if n <= 0:
                continue
            parts.append((o.id, n))
            left -= n
            in_region[region] += n
            in_zone[zone] += n
            if o.is_spot:
                spot -= n
            self._apply(((o.id, n),), 1)  # reserve while filling
        self._apply(tuple(parts), -1)
        return tuple(sorted(parts)) if left == 0 else None


def _fits(state: _State, parts: Parts) -> bool:
    return all(state.room(state.p.offer(i)) >= n for i, n in parts)


def greedy(problem: Problem, deadline: float | None = None) -> GreedyResult:
    """Greedy's plan; past `deadline` (a `time.perf_counter()` value) the eviction repair
    stops and what it has not placed stays unplaced (so the caller's time limit holds)."""
    state = _State(problem)
    order = sorted(problem.demands, key=lambda d: (len(d.eligible), -d.replicas * d.vcpu, d.id))
    pending: list[Demand] = []
    staying: list[Demand] = []
    for d in order:  # 1. stay
        here = ((d.current_offer_id, d.replicas),) if d.current_offer_id is not None else ()
        if not d.must_move and here and d.current_offer_id in d.eligible and _fits(state, here):
            state.put(d, here)
            staying.append(d)
        else:
            pending.append(d)
    unplaced: list[Demand] = []
    for d in pending:  # 2. place
        parts = state.cheapest(d)
        if parts is not None and state.within_budget(d, parts):
            state.put(d, parts)
        else:
            unplaced.append(d)
    offers: list[tuple[int, str, Demand]] = []
    for d in staying:  # 3. improve
        stay = state.take(d)
        alt = state.cheapest(d)
        state.put(d, stay)
        if alt is not None and alt != stay:
            saving = state.cost(d, stay) - state.cost(d, alt)
            if saving > 0:
                offers.append((-saving, d.id, d))
    for _, _, d in sorted(offers, key=lambda t: (t[0], t[1])):
        stay = state.take(d)
        alt = state.cheapest(d)
        if (
            alt is not None
            and state.cost(d, alt) < state.cost(d, stay)
            and state.within_budget(d, alt)
        ):
            state.put(d, alt)
        else:
            state.put(d, stay)
    still: list[str] = []
    for d in unplaced:  # 4. repair
        if (deadline is not None and time.perf_counter() > deadline) or not _repair(state, d):
            still.append(d.id)
    plan = {d.id: state.plan[d.id] for d in problem.demands if d.id in state.plan}
    return GreedyResult(plan, tuple(sorted(still)))


def _repair(state: _State, d: Demand) -> bool:
    """Evict one placed workload so that `d` fits and the evicted one fits elsewhere."""
    demands = {x.id: x for x in state.p.demands}
    wanted = {i for o in d.eligible for i in state.p.quotas_covering(o)}
    victims = sorted(
        (
            demands[wid]
            for wid, parts in state.plan.items()
            if any(i in wanted for oid, _ in parts for i in state.p.quotas_covering(oid))
        ),
        key=lambda e: (e.replicas * e.vcpu, e.id),
    )
    for e in victims[:MAX_VICTIMS]:
        before = state.take(e)
        parts = state.cheapest(d)
        if parts is not None and state.within_budget(d, parts):
            state.put(d, parts)
            moved = state.cheapest(e)
            if moved is not None and state.within_budget(e, moved):
                state.put(e, moved)
                return True
            state.take(d)
        state.put(e, before)
    return False
