"""Why no plan exists, said in policy names: a minimal set of conflicting policies, the
workloads they clash over, and what to relax, with numbers.

How: `placement.conflict_model` puts every policy-derived constraint group (each quota,
each spot policy's caps, each spread policy, the change budget) and every workload under
its own assumption literal. CP-SAT's `SufficientAssumptionsForInfeasibility` gives a
core; deletion (policies first, then workloads) shrinks it to a minimal one: dropping
any member makes the rest feasible. Eligibility stays hard, so the residency, latency,
spot and exclusion policies that narrowed the core's workloads are named from
`Demand.restricted_by`. Each conflicting group is then switched off alone (every other
policy on) and its own use optimised, which gives the number to relax it to.

A feasible problem is not an error here: the result has `found=False` and says so, so
a caller on an error path never crashes while explaining. One worker and seed 0 make the
answer deterministic; the time limit only cuts minimisation short (`minimal=False`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Collection
from dataclasses import dataclass, replace

from ortools.sat.python import cp_model

from placement.conflict_model import ConflictModel, Group, usd
from placement.problem import Demand, Problem

SHOWN = 8  # workloads named in a message before "and N more"


@dataclass(frozen=True)
class Conflict:
    """`policies` conflict over `workloads`; `restricted_by` narrowed those workloads'
    eligibility (hard, but part of the story); `constraints` say what each conflicting
    policy asks, `relax` the alternatives that would each resolve it."""

    found: bool
    policies: tuple[str, ...] = ()
    workloads: tuple[str, ...] = ()
    restricted_by: tuple[str, ...] = ()
    constraints: tuple[str, ...] = ()
    relax: tuple[str, ...] = ()
    minimal: bool = True
    note: str = ""

    def message(self) -> str:
        """For `InfeasiblePlacement(message, ...)`."""
        if not self.found:
            return self.note
        text = f"no plan meets every policy: {'; '.join(self.constraints)}"
        this = "this" if len(self.constraints) == 1 else "together these"
        text += f"; {this} cannot be met for {_names(self.workloads)}"
        if self.restricted_by:
            rule = "rules" if len(self.restricted_by) == 1 else "rule"
            its = "its" if len(self.workloads) == 1 else "their"
            text += f" once {_quoted(self.restricted_by)} {rule} out {its} other offers"
        return text + ("" if self.minimal else " (the search stopped before a minimal set)")

    def fix(self) -> str:
        """For `InfeasiblePlacement(..., fix=...)`: alternatives, any one suffices."""
        if not self.found:
            return "`optimizer policy explain WORKLOAD` shows what each policy rules out"
        return "; or ".join(self.relax)


def explain_infeasibility(problem: Problem, time_limit_s: float = 10.0) -> Conflict:
    """A minimal conflict of `problem`, or `found=False` when CP-SAT finds a plan (or
    cannot decide within `time_limit_s`)."""
    deadline = time.perf_counter() + time_limit_s
    full = ConflictModel(problem)
    everything = [*full.lits, *(full.keep[d.id] for d in problem.demands)]
    status, solver = full.run(everything, _left(deadline))
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return Conflict(False, note="CP-SAT finds a plan that meets every policy: no conflict")
    if status != cp_model.INFEASIBLE:
        return Conflict(False, note=f"no conflict found within {time_limit_s:g} s")
    # Minimise on a model of the first core's workloads only: far smaller, same answer.
    first = {lit.index for lit in _restrict(everything, solver)} or {v.index for v in everything}
    keys = {g.key for g, lit in zip(full.groups, full.lits, strict=True) if lit.index in first}
    sub = ConflictModel(_only(problem, {w for w, v in full.keep.items() if v.index in first}))
    order = [lit for g, lit in zip(sub.groups, sub.lits, strict=True) if g.key in keys]
    order += [sub.keep[d.id] for d in sub.problem.demands]
    core, minimal = _minimal_core(sub, order, deadline)
    chosen = [g for g, lit in zip(sub.groups, sub.lits, strict=True) if lit.index in core]
    workloads = _workloads(problem, chosen, {w for w, v in sub.keep.items() if v.index in core})
    policies = tuple(sorted({g.policy for g in chosen}))
    # A change budget in the conflict means workloads cannot leave: what narrowed their
    # offers elsewhere is not the cause then.
    budget = any(g.kind in ("moves", "spend") for g in chosen)
    involved = () if budget else workloads
    narrowed = {n for d in problem.demands if d.id in involved for n in d.restricted_by}
    restricted = tuple(sorted(narrowed - set(policies)))
    constraints = tuple(_says(problem, g, workloads) for g in chosen)
    rel = sub if set(workloads) == set(sub.keep) else ConflictModel(_only(problem, workloads))
    relax = [_relax(full, rel, g.key, {g.key for g in chosen}, deadline) for g in chosen]
    if restricted:
        relax.append(f"relax {_quoted(restricted)} so that {_names(workloads)} may run elsewhere")
    return Conflict(True, policies, workloads, restricted, constraints, tuple(relax), minimal)


def _left(deadline: float) -> float:
    return deadline - time.perf_counter()


def _only(problem: Problem, ids: Collection[str]) -> Problem:
    """`problem` with only the demands in `ids` (quotas and budget unchanged)."""
    return replace(problem, demands=tuple(d for d in problem.demands if d.id in ids))


def _minimal_core(
    cm: ConflictModel, core: list[cp_model.IntVar], deadline: float
) -> tuple[set[int], bool]:
    """Deletion-based, from an infeasible `core`: drop each member in turn (policies
    first); if the rest is still infeasible it was not needed, and CP-SAT's new core may
    drop more at once. Stops at the deadline (then not proven minimal)."""
    minimal, i = True, 0
    while i < len(core):
        if _left(deadline) <= 0:
            minimal = False
            break
        trial = core[:i] + core[i + 1 :]
        status, s = cm.run(trial, _left(deadline))
        if status == cp_model.INFEASIBLE:
            core = _restrict(trial, s) or trial
        else:
            minimal = minimal and status in (cp_model.OPTIMAL, cp_model.FEASIBLE)
            i += 1
    return {lit.index for lit in core}, minimal


def _restrict(order: list[cp_model.IntVar], solver: cp_model.CpSolver) -> list[cp_model.IntVar]:
    """`order` cut down to the solver's sufficient assumptions, in `order`'s order."""
    found = set(solver.sufficient_assumptions_for_infeasibility())
    return [lit for lit in order if lit.index in found]


def _workloads(problem: Problem, chosen: list[Group], core: set[str]) -> tuple[str, ...]:
    """The core's workloads, plus every workload whose eligible offers all fall under
    the core's quotas (they all compete for that room)."""
    names = set(core)
    quotas = [problem.quotas[g.quota] for g in chosen if g.kind == "quota"]
    if quotas:
        for d in problem.demands:
            if all(any(q.covers(problem.offer(o)) for q in quotas) for o in d.eligible):
                names.add(d.id)
    return tuple(sorted(names))


def _says(problem: Problem, g: Group, workloads: tuple[str, ...]) -> str:
    """What the group asks, in plain words."""
    mine = [d for d in problem.demands if d.id in g.demands and d.id in workloads]
    who = f" for {_names(tuple(d.id for d in mine))}" if mine else ""
    if g.kind == "quota":
        q = problem.quotas[g.quota]
        fam = f" ({q.family})" if q.family else ""
        return (
            f"quota `{g.policy}` allows at most {q.max_vcpu} vCPU on {q.provider}:{q.region}{fam}"
        )
    if g.kind == "spot":
        caps = sorted({d.spot_share_cap for d in mine}) or [0.0]
        return f"spot `{g.policy}` allows at most {caps[0]:.0%} of replicas on spot{who}"
    if g.kind in ("spread", "zones"):
        unit = "regions" if g.kind == "spread" else "zones"
        asks = [d.min_regions if g.kind == "spread" else d.min_zones for d in mine]
        ask = max(asks, default=2)
        return f"spread `{g.policy}` asks for at least {ask} {unit}{who}"
    if g.kind == "moves":
        return f"change budget `{g.policy}` allows at most {problem.max_moves} moves per run"
    limit = problem.max_one_off_micro_usd or 0
    return f"change budget `{g.policy}` allows at most {usd(limit)} one-off spend per run"


def _relax(
    full: ConflictModel,
    rel: ConflictModel,
    key: tuple[str, str, int],
    conflict: set[tuple[str, str, int]],
    deadline: float,
) -> str:
    """How far one conflicting group must give: switched off, its own use optimised,
    with (1) every workload and every other policy, else (2) every workload and the rest
    of this conflict (other conflicts aside), else (3) this conflict's workloads only
    (`rel`; then workloads of a spread or spot group outside `rel` that cannot meet it
    even alone are added from `_alone`). The first two get a third of the time each."""
    for n, (cm, only_conflict) in enumerate(((full, False), (full, True), (rel, True))):
        i = cm.group_index(key)
        assert i is not None
        g = cm.groups[i]
        others = [
            lit
            for h, lit in zip(cm.groups, cm.lits, strict=True)
            if h.key != key and (not only_conflict or h.key in conflict)
        ]
        seconds = _left(deadline) / (3 - n)
        status, s = cm.run([*others, *cm.keep.values()], seconds, _objective(cm, g))
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            text = _relax_text(full, cm, g, s)
            if status == cp_model.FEASIBLE:  # the time limit stopped the proof
                text += " (found in the time limit; the least may be lower)"
            if n > 0:  # (1) was infeasible: more than this conflict stands in the way
                text += " (resolves this conflict; others remain)"
            return text
    return f"relax `{key[1]}`"


def _relax_text(full: ConflictModel, rel: ConflictModel, g: Group, s: cp_model.CpSolver) -> str:
    """The sentence for one relaxed group, from the relaxed solution `s` on `rel`."""
    problem, key = rel.problem, g.key
    if g.kind == "quota":
        q = problem.quotas[g.quota]
        need = int(s.objective_value)
        where = f"{q.provider}:{q.region}" + (f" ({q.family})" if q.family else "")
        return f"raise quota `{g.policy}` on {where} from {q.max_vcpu} to at least {need} vCPU"
    if g.kind == "moves":
        need = int(s.objective_value)
        return (
            f"raise `max_moves_per_run` of `{g.policy}` from {problem.max_moves} to at least {need}"
        )
    if g.kind == "spend":
        cents = math.ceil(s.objective_value / 10_000) * 10_000
        limit = usd(problem.max_one_off_micro_usd or 0)
        return (
            f"raise `max_one_off_usd_per_run` of `{g.policy}` from {limit} to at least {usd(cents)}"
        )
    reach = {d: _reach(rel, g.kind, d, s) for d in g.demands}
    j = full.group_index(key)
    everyone = [] if j is None else full.groups[j].demands
    for wid in everyone:
        if wid not in reach:
            reach[wid] = _alone(full.problem, g.kind, wid)
    ask = {d.id: _ask(d, g.kind) for d in full.problem.demands if d.id in reach}
    if g.kind == "spot":
        short = [w for w in sorted(reach) if reach[w] > ask[w]]
        replicas = {d.id: d.replicas for d in full.problem.demands}
        pct = max((math.ceil(reach[w] * 100 / replicas[w] - 1e-9) for w in short), default=100)
        return f"raise spot `{g.policy}`'s max_share to at least {pct}% for {_names(tuple(short))}"
    unit = "region" if g.kind == "spread" else "zone"
    by: dict[int, list[str]] = {}
    for w in sorted(reach):
        if reach[w] < ask[w]:
            by.setdefault(reach[w], []).append(w)
    return "; ".join(
        f"lower spread `{g.policy}` to {n} {unit}{'s' if n != 1 else ''} for {_names(tuple(ws))}"
        for n, ws in sorted(by.items())
    )


def _ask(d: Demand, kind: str) -> int:
    """What a side group asks of `d`: its spot replicas at most, or regions/zones."""
    return {"spot": d.max_spot_replicas, "spread": d.min_regions}.get(kind, d.min_zones)


def _reach(cm: ConflictModel, kind: str, wid: str, s: cp_model.CpSolver) -> int:
    """In the relaxed solution: spot replicas, or regions/zones covered (capped)."""
    if kind == "spot":
        return int(sum(s.value(x) for x in cm.spot[wid]))
    return int(s.value((cm.regions if kind == "spread" else cm.zones)[wid]))


def _alone(problem: Problem, kind: str, wid: str) -> int:
    """The best `wid` can do with its eligible offers and nothing else in the way."""
    d = next(d for d in problem.demands if d.id == wid)
    offers = [problem.offer(o) for o in d.eligible]
    offers = [o for o in offers if o.vcpu >= d.vcpu and o.memory_gib >= d.memory_gib]
    if kind == "spot":
        return 0 if any(not o.is_spot for o in offers) else d.replicas
    if kind == "spread":
        return min(len({(o.provider, o.region) for o in offers}), d.min_regions)
    zones = len({(o.provider, o.region, o.zone) for o in offers if o.zone})
    return min(zones + (d.replicas if any(not o.zone for o in offers) else 0), d.min_zones)


def _objective(cm: ConflictModel, g: Group) -> cp_model.LinearExprT:
    """What relaxing `g` minimises: its own use (spread: minus what is covered)."""
    if g.kind == "quota":
        return sum(c * x for x, c in cm.quota_use[g.quota])
    if g.kind == "spot":
        return sum(sum(cm.spot[w]) for w in g.demands)
    if g.kind == "spread":
        return -sum(cm.regions[w] for w in g.demands)
    if g.kind == "zones":
        return -sum(cm.zones[w] for w in g.demands)
    if g.kind == "moves":
        return sum(cm.moves)
    return sum(c * y for y, c in cm.spend)


def _names(ids: tuple[str, ...]) -> str:
    shown = ", ".join(ids[:SHOWN])
    more = f" and {len(ids) - SHOWN} more" if len(ids) > SHOWN else ""
    return f"{'workload' if len(ids) == 1 else 'workloads'} {shown}{more}"


def _quoted(names: tuple[str, ...]) -> str:
    return ", ".join(f"`{n}`" for n in names)
