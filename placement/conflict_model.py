"""The CP-SAT model behind `placement.conflicts`: the validator's feasibility, with every
policy-derived constraint group switchable by its own literal.

Why a separate model rather than `polish`'s: an explanation needs each quota, each spot
policy's caps, each spread policy, and the change budget to be *assumptions* CP-SAT can
blame, and each workload to be droppable (`keep[w]` false: none of its replicas placed,
none of its rules checked) so that the explanation names as few workloads as it can.
What stays hard: a kept workload places all its replicas, only on its eligible offers
that fit one replica (eligibility is where residency, latency, spot and capacity
exclusions already acted; `Demand.restricted_by` names them).

The expressions the relaxation queries optimise (quota use, spot replicas, regions and
zones covered, moves, one-off spend) are kept on the object.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from ortools.sat.python import cp_model

from placement.problem import MICRO, Demand, Offer, Problem

Status = cp_model.CpSolverStatus  # OPTIMAL, FEASIBLE, INFEASIBLE, UNKNOWN, MODEL_INVALID


@dataclass(frozen=True)
class Group:
    """One policy's constraints, enforced only under one assumption literal.

    `kind` is quota | spot | spread | zones | moves | spend; `policy` the policy's name
    (a label when the problem carries none, e.g. a hand-built one); `demands` the
    workloads it restricts (empty for quotas and the budget: they bind everyone);
    `quota` the index in `Problem.quotas` for a quota.
    """

    kind: str
    policy: str
    demands: tuple[str, ...] = ()
    quota: int = -1

    @property
    def key(self) -> tuple[str, str, int]:
        """The same group in models of different subsets of the demands."""
        return (self.kind, self.policy, self.quota)


def usd(micro: int) -> str:
    return f"{micro / MICRO:,.2f} USD"


class ConflictModel:
    """Build once, then `run` with different assumptions and objectives."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        self.m = m = cp_model.CpModel()
        self.groups: list[Group] = []
        self.lits: list[cp_model.IntVar] = []  # one per group, same order
        self.keep: dict[str, cp_model.IntVar] = {}
        self.quota_use: list[list[tuple[cp_model.IntVar, int]]] = [[] for _ in problem.quotas]
        self.spot: dict[str, list[cp_model.IntVar]] = {}
        self.regions: dict[str, cp_model.IntVar] = {}  # regions covered, capped at min
        self.zones: dict[str, cp_model.IntVar] = {}  # zones covered, capped at min
        self.moves: list[cp_model.IntVar] = []
        self.spend: list[tuple[cp_model.IntVar, int]] = []
        side: dict[tuple[str, str], list[Demand]] = defaultdict(list)
        for d in problem.demands:
            for kind, name in self._add_demand(d):
                side[(kind, name)].append(d)
        for i, q in enumerate(problem.quotas):
            if self.quota_use[i]:
                what = f"quota {q.provider}:{q.region}" + (f" {q.family}" if q.family else "")
                lit = self._group(Group("quota", q.policy or what, quota=i))
                m.add(sum(c * x for x, c in self.quota_use[i]) <= q.max_vcpu).only_enforce_if(lit)
        for (kind, name), ds in side.items():
            lit = self._group(Group(kind, name, tuple(d.id for d in ds)))
            for d in ds:
                both = [lit, self.keep[d.id]]
                if kind == "spot":
                    m.add(sum(self.spot[d.id]) <= d.max_spot_replicas).only_enforce_if(both)
                elif kind == "spread":
                    m.add(self.regions[d.id] >= d.min_regions).only_enforce_if(both)
                else:
                    m.add(self.zones[d.id] >= d.min_zones).only_enforce_if(both)
        if problem.max_moves is not None and self.moves:
            lit = self._group(Group("moves", problem.change_budget_policy or "change budget"))
            m.add(sum(self.moves) <= problem.max_moves).only_enforce_if(lit)
        limit = problem.max_one_off_micro_usd
        if limit is not None and self.spend:
            lit = self._group(Group("spend", problem.spend_budget_policy or "change budget"))
            m.add(sum(c * y for y, c in self.spend) <= limit).only_enforce_if(lit)

    def group_index(self, key: tuple[str, str, int]) -> int | None:
        return next((i for i, g in enumerate(self.groups) if g.key == key), None)

    def _group(self, g: Group) -> cp_model.IntVar:
        lit = self.m.new_bool_var(f"g{len(self.groups)}_{g.kind}_{g.policy}")
        self.groups.append(g)
        self.lits.append(lit)
        return lit

    def _offers(self, d: Demand) -> list[Offer]:
        """One representative per class of interchangeable offers: same place, zone,
        purchase option, quotas covering it and move cost (which depends only on the
        region, or is 0 for today's offer); the fewest vCPU wins. Any plan maps onto
        the representatives without using more quota, moves or spend, so feasibility and
        the relaxation numbers are unchanged while the model shrinks several-fold."""
        best: dict[tuple[object, ...], Offer] = {}
        for oid in d.eligible:
            o = self.problem.offer(oid)
            if o.vcpu < d.vcpu or o.memory_gib < d.memory_gib:
                continue
            key = (
                o.provider,
                o.region,
                o.zone,
                o.is_spot,
                self._covering(o),
                oid == d.current_offer_id,
            )
            if key not in best or (o.vcpu, o.id) < (best[key].vcpu, best[key].id):
                best[key] = o
        return sorted(best.values(), key=lambda o: o.id)

    def _covering(self, o: Offer) -> tuple[int, ...]:
        return self.problem.quotas_covering(o.id)

    def _add_demand(self, d: Demand) -> list[tuple[str, str]]:
        """Variables and hard rows of one demand; the side groups it belongs to."""
        m, r = self.m, d.replicas
        keep = self.keep[d.id] = m.new_bool_var(f"keep_{d.id}")
        xs: list[cp_model.IntVar] = []
        region: dict[tuple[str, str], list[cp_model.IntVar]] = defaultdict(list)
        zone: dict[tuple[str, str, str], list[cp_model.IntVar]] = defaultdict(list)
        regional: list[cp_model.IntVar] = []
        spot: list[cp_model.IntVar] = []
        today: cp_model.IntVar | None = None
        spend = self.problem.max_one_off_micro_usd is not None and not d.must_move
        for o in self._offers(d):
            x = m.new_int_var(0, r, f"x_{d.id}_{o.id}")
            xs.append(x)
            for i in self._covering(o):
                self.quota_use[i].append((x, o.vcpu))
            region[(o.provider, o.region)].append(x)
            (zone[(o.provider, o.region, o.zone)] if o.zone else regional).append(x)
            if o.is_spot:
                spot.append(x)
            if o.id == d.current_offer_id:
                today = x
            elif spend and d.move_cost(o.id) > 0:
                y = m.new_bool_var(f"y_{d.id}_{o.id}")  # "offer used": one charge each
                m.add(x <= r * y)
                self.spend.append((y, d.move_cost(o.id)))
        if not d.must_move and self.problem.max_moves is not None:
            # A move is any replica off today's offer: r·mv ≥ r·keep − x[today].
            mv = m.new_bool_var(f"mv_{d.id}")
            m.add(r * mv + (today if today is not None else 0) >= r * keep)
            self.moves.append(mv)
        m.add(sum(xs) == r * keep)  # placed in full when kept, not at all when dropped
        groups: list[tuple[str, str]] = []
        if spot and d.max_spot_replicas < r:
            self.spot[d.id] = spot
            groups.append(("spot", d.spot_policy or "spot share cap"))
        if d.min_regions > 1:
            self.regions[d.id] = _capped(m, [_used(m, v) for v in region.values()], d.min_regions)
            groups.append(("spread", d.spread_policy or "spread"))
        if d.min_zones > 1:
            used = [_used(m, v) for v in zone.values()]
            self.zones[d.id] = _capped(m, [*used, *regional], d.min_zones)
            groups.append(("zones", d.zone_spread_policy or "zone spread"))
        return groups

    def run(
        self,
        assume: Sequence[cp_model.IntVar],
        seconds: float,
        minimize: cp_model.LinearExprT | None = None,
    ) -> tuple[Status, cp_model.CpSolver]:
        """Solve under `assume`, optionally minimising; one worker and seed 0 so that
        the same problem gives the same answer (the time limit aside)."""
        self.m.clear_assumptions()
        self.m.add_assumptions(list(assume))
        self.m.clear_objective()  # type: ignore[no-untyped-call]
        if minimize is not None:
            self.m.minimize(minimize)
        solver = cp_model.CpSolver()
        solver.parameters.num_workers = 1
        solver.parameters.random_seed = 0
        solver.parameters.max_time_in_seconds = max(seconds, 0.05)
        solver.parameters.max_deterministic_time = max(seconds, 0.05)
        if minimize is not None:
            # The full LP relaxation proves "least quota use" at once (measured on the
            # demo's 500 workloads: 0.4 s optimal, against no proof in 10 s by default).
            solver.parameters.linearization_level = 2
        else:
            # Yes/no under assumptions: propagation settles it, presolve only costs
            # (demo, 500 workloads, tight quotas and budget: 0.7 s without, 2.7 s with).
            solver.parameters.cp_model_presolve = False
        return solver.solve(self.m), solver


def _used(m: cp_model.CpModel, xs: list[cp_model.IntVar]) -> cp_model.IntVar:
    """A boolean that may be 1 only when some replica is placed among `xs`."""
    used = m.new_bool_var("")
    m.add(sum(xs) >= 1).only_enforce_if(used)
    return used


def _capped(m: cp_model.CpModel, terms: list[cp_model.IntVar], cap: int) -> cp_model.IntVar:
    """A variable at most min(sum(terms), cap): what is covered, counted up to the ask."""
    c = m.new_int_var(0, cap, "")
    m.add(c <= sum(terms))
    return c
