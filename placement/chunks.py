"""From the LP to a plan: keep what the LP already decided, solve the rest exactly, in chunks.

Why: on the bench instances the relaxation is integral for almost every workload, and
where it is, it also pays exactly what the plan will pay (one new offer holding every
replica: one move, its full charge). Those workloads are fixed as the LP placed them.
The others (fractional, or split over offers, where the LP charged a share of a move or
counted a share of a move against the budget) are re-solved with the exact model by
HiGHS over the LP's shortlist (`placement.restricted`). One MIP over all of them is too
big at 10k workloads (no feasible point in 15 s), so they go in chunks of `CHUNK`, one
after another; each chunk sees the quotas and budgets left by the fixed workloads and the
chunks already solved, minus what the LP gave the chunks still to come so every chunk's
own relaxation stays feasible.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import replace

from placement.cost import unit_micro_usd
from placement.greedy import Parts
from placement.lp import LPResult
from placement.problem import Demand, Problem
from placement.restricted import mip_polish, shortlist
from placement.validate import is_move

CHUNK = 150
# With less time than this left, the remaining integral LP splits keep their LP values.
MIN_SLICE_S = 0.5
# The least time a chunk's MIP is given while there is time at all.
MIN_CHUNK_S = 3.0
EPS = 1e-6


def round_workload(frac: tuple[tuple[int, float], ...], replicas: int) -> Parts:
    """Largest remainder: floors first, then the left-over replicas to the largest
    fractional parts (ties: larger value, then offer id)."""
    order = sorted(frac, key=lambda t: (-t[1], t[0]))
    counts = {oid: int(v + EPS) for oid, v in order}
    left = replicas - sum(counts.values())
    by_rest = sorted(order, key=lambda t: (-(t[1] - int(t[1] + EPS)), -t[1], t[0]))
    for oid, _ in by_rest:
        if left <= 0:
            break
        counts[oid] += 1
        left -= 1
    while left < 0:  # only when the LP overshot by tolerance
        oid = min((o for o in counts if counts[o] > 0), key=lambda o: (counts[o], o))
        counts[oid] -= 1
        left += 1
    return tuple(sorted((oid, n) for oid, n in counts.items() if n > 0))


def settled(d: Demand, frac: tuple[tuple[int, float], ...]) -> bool:
    """True when the LP's placement of `d` is integral and costs and counts what the
    plan will: it stays, or one new offer takes every replica."""
    if any(abs(v - round(v)) > EPS for _, v in frac):
        return False
    new = [(oid, v) for oid, v in frac if oid != d.current_offer_id and v > EPS]
    return not new or (len(new) == 1 and round(new[0][1]) == d.replicas)


class _Usage:
    """Quota vCPU, moves and one-off spend taken by a set of placements."""

    def __init__(self, problem: Problem) -> None:
        self.p = problem
        self.vcpu = [0.0] * len(problem.quotas)
        self.commit = [0.0] * len(problem.commitments)
        self.moves = 0.0
        self.spend = 0.0

    def use(self, oid: int, n: float, sign: float) -> None:
        o = self.p.offer(oid)
        for i in self.p.quotas_covering(oid):
            self.vcpu[i] += sign * n * o.vcpu
        pool = self.p.commitment_of(oid)
        if pool is not None:
            self.commit[pool] += sign * n * self.p.commitments[pool].use_per_replica(o)

    def add(self, d: Demand, parts: Sequence[tuple[int, float]], sign: float = 1.0) -> None:
        for oid, n in parts:
            self.use(oid, n, sign)
        whole = tuple((oid, round(n)) for oid, n in parts)
        if not d.must_move and is_move(d, whole):
            self.moves += sign
            self.spend += sign * sum(d.move_cost(oid) for oid, n in parts if n > EPS)


Fallback = Callable[[Problem, LPResult], tuple[dict[str, Parts], list[str]]]


def lp_guided(
    problem: Problem, lp: LPResult, time_limit_s: float, fallback: Fallback
) -> tuple[dict[str, Parts], str] | None:
    """A plan from the LP (every workload placed), or None when neither a chunk's MIP nor
    `fallback` (rounding and repair on the chunk's residual problem) placed it; the
    string says how the open workloads were placed."""
    start = time.perf_counter()
    plan: dict[str, Parts] = {}
    open_: list[Demand] = []
    used = _Usage(problem)
    reserved = _Usage(problem)  # the LP's use by workloads not solved yet
    for d in problem.demands:
        frac = lp.x.get(d.id, ())
        if settled(d, frac):
            plan[d.id] = round_workload(frac, d.replicas)
            used.add(d, plan[d.id])
        else:
            open_.append(d)
            _reserve(reserved, d, frac)
    if not open_:
        return plan, "the LP placed every workload"
    # Fractional workloads first (they must be re-solved), then the integral splits by
    # how much the LP under-charged them; what time does not reach keeps its LP values.
    open_.sort(key=lambda d: (not _fractional(lp.x.get(d.id, ())), -_undercharge(d, lp), d.id))
    short = {d.id: d for d in shortlist(problem, lp).demands}
    repaired = kept = 0
    k = 0
    while k < len(open_):
        left = time_limit_s - (time.perf_counter() - start)
        chunks_left = math.ceil((len(open_) - k) / CHUNK)
        if left <= MIN_SLICE_S and not _fractional(lp.x.get(open_[k].id, ())):
            # Out of time (100k workloads): the rest are integral LP splits, which fit the
            # quotas as the LP placed them; the change budget is re-checked below.
            for d in open_[k:]:
                _reserve(reserved, d, lp.x.get(d.id, ()), sign=-1.0)
                plan[d.id] = round_workload(lp.x.get(d.id, ()), d.replicas)
                used.add(d, plan[d.id])
            kept = len(open_) - k
            break
        chunk = open_[k : k + CHUNK]
        for d in chunk:
            _reserve(reserved, d, lp.x.get(d.id, ()), sign=-1.0)
        sub = _residual(problem, [short[d.id] for d in chunk], used, reserved)
        # Easy chunks finish early and leave their time to the rest; a hard one may
        # use a few seconds (a slice of left / chunks found nothing for the first one).
        slice_s = min(left, max(left / chunks_left, MIN_CHUNK_S))
        placed = mip_polish(sub, {}, slice_s).plan
        if placed is None:  # nothing in its slice: LP values where integral, else repair
            placed = {}
            for d in chunk:
                if not _fractional(lp.x.get(d.id, ())):
                    placed[d.id] = round_workload(lp.x.get(d.id, ()), d.replicas)
                    used.add(d, placed[d.id])
            rest = [short[d.id] for d in chunk if d.id not in placed]
            if rest:  # the repair sees what the kept members use
                rest_plan, unplaced = fallback(_residual(problem, rest, used, reserved), lp)
                if unplaced:
                    return None
                for d in rest:
                    used.add(d, rest_plan.get(d.id, ()))
                placed.update(rest_plan)
            repaired += len(chunk)
            plan.update(placed)
            k += len(chunk)
            continue
        for d in chunk:
            parts = placed.get(d.id, ())
            plan[d.id] = parts
            used.add(d, parts)
        k += len(chunk)
    reverted = _fit_budget(problem, plan, used)
    if reverted is None:
        return None
    solved = len(open_) - kept
    how = f"{solved - repaired} of {len(open_)} open workloads re-solved exactly by HiGHS"
    if repaired:
        how += f", {repaired} kept at LP values or rounded and repaired"
    if kept:
        how += f"; out of time, {kept} integral LP splits kept as the LP placed them"
    if reverted:
        how += f"; {reverted} marginal moves dropped to keep the change budget"
    return plan, how


def _fractional(frac: tuple[tuple[int, float], ...]) -> bool:
    return any(abs(v - round(v)) > EPS for _, v in frac)


def _undercharge(d: Demand, lp: LPResult) -> float:
    """How much less than the plan the LP charged `d` for moves (micro-USD, roughly):
    each new offer used costs its whole move in a plan, v / replicas of it in the LP."""
    return sum(
        d.move_cost(oid) * (1 - v / d.replicas)
        for oid, v in lp.x.get(d.id, ())
        if oid != d.current_offer_id and v > EPS
    )


def _fit_budget(problem: Problem, plan: dict[str, Parts], used: _Usage) -> int | None:
    """Drop the moves that save least (back to today's offer, where quotas allow) until
    the change budget holds; the number dropped, or None when that cannot be done.

    Why: a workload split over today's offer and a new one counts as a share of a move
    in the LP but as a whole move in the plan, so kept LP splits can overrun the budget."""
    demands = {d.id: d for d in problem.demands}
    unit = {o.id: unit_micro_usd(problem, o) for o in problem.offers}
    movers: list[tuple[int, str]] = []
    for wid, parts in plan.items():
        d = demands[wid]
        if d.must_move or not is_move(d, parts) or d.current_offer_id not in d.eligible:
            continue
        staying = unit[d.current_offer_id] * d.replicas
        cost = sum(n * unit[o] + d.move_cost(o) for o, n in parts)
        movers.append((staying - cost, wid))
    max_moves, max_spend = problem.max_moves, problem.max_one_off_micro_usd

    def over() -> bool:
        return (max_moves is not None and used.moves > max_moves + EPS) or (
            max_spend is not None and used.spend > max_spend + EPS
        )

    reverted = 0
    for _, wid in sorted(movers):
        if not over():
            break
        d = demands[wid]
        assert d.current_offer_id is not None  # movers stay on an eligible offer of today
        today: Parts = ((d.current_offer_id, d.replicas),)
        used.add(d, plan[wid], sign=-1.0)
        used.add(d, today)
        if all(used.vcpu[i] <= q.max_vcpu + EPS for i, q in enumerate(problem.quotas)):
            plan[wid] = today
            reverted += 1
        else:
            used.add(d, today, sign=-1.0)
            used.add(d, plan[wid])
    return None if over() else reverted


def _reserve(
    usage: _Usage, d: Demand, frac: tuple[tuple[int, float], ...], sign: float = 1.0
) -> None:
    """What the LP gave `d`: its quota use, and its share of a move and of the move's
    spend (replicas moved / replicas), as the relaxation counted them."""
    for oid, v in frac:
        usage.use(oid, v, sign)
    if not d.must_move:
        for oid, v in frac:
            if oid != d.current_offer_id and v > EPS:
                usage.moves += sign * v / d.replicas
                usage.spend += sign * v / d.replicas * d.move_cost(oid)


def _residual(problem: Problem, demands: list[Demand], used: _Usage, reserved: _Usage) -> Problem:
    quotas = tuple(
        replace(q, max_vcpu=q.max_vcpu - math.ceil(used.vcpu[i] + max(reserved.vcpu[i], 0) - EPS))
        for i, q in enumerate(problem.quotas)
    )
    moves = problem.max_moves
    if moves is not None:
        moves -= round(used.moves) + math.ceil(max(reserved.moves, 0) - EPS)
    spend = problem.max_one_off_micro_usd
    if spend is not None:
        spend -= round(used.spend) + math.ceil(max(reserved.spend, 0) - EPS)
    # Commitments: what the fixed and solved workloads and the LP's share of the rest
    # leave (a heuristic split; the plan's credit is recomputed on the whole plan).
    commitments = tuple(
        replace(c, capacity=max(0, c.capacity - math.ceil(used.commit[i] + reserved.commit[i])))
        for i, c in enumerate(problem.commitments)
    )
    return replace(
        problem,
        demands=tuple(demands),
        quotas=quotas,
        commitments=commitments,
        max_moves=max(moves, 0) if moves is not None else None,
        max_one_off_micro_usd=max(spend, 0) if spend is not None else None,
    )
