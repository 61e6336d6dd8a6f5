"""Choose a storage group's tier and explain it; turn the choice into a recommendation.

Pure: plain facts (`placement.tiering`) and a policy file in, a `Decision` out.

Choice: the option with the lowest cost over the horizon (12 months of recurring cost +
one-off cost), priced at p50 access; when access is unpredictable (bursty daily reads)
at p90 access instead, which favours the provider's automatic tiering (no retrieval or
early-deletion risk). Staying wins ties. A choice that misses the change budget's
minimum monthly saving or maximum payback is not recommended.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from placement.problem import MICRO
from placement.recommend import Recommendation
from placement.tiering import DAYS_PER_MONTH, HORIZON_MONTHS, Access, GroupFacts, Option, TierFacts
from placement.tiering_options import Rules, auto, colder, dur, rewrite, stay
from policies import ChangeBudgetPolicy, PolicyFile, TieringPolicy

MAX_ALTERNATIVES = 3
# Minimum object age when no selecting policy sets `min_object_age_days`: fresh data is
# read the most, and reads are priced as spread evenly over the bytes (docs/tiering.md).
DEFAULT_MIN_AGE_DAYS = 30


def rules_for(g: GroupFacts, policies: PolicyFile) -> Rules:
    """The tiering policies selecting the group, strictest combined, and the change budget."""
    chosen = [
        p
        for p in policies.of_type(TieringPolicy)
        if p.applies_to(g.name, dict(g.tags), None, g.owner, g.provider)
    ]
    excluded = next((p.name for p in chosen if p.excludes(g.bucket, g.prefix)), None)
    slos = [float(p.max_retrieval_latency) for p in chosen if p.max_retrieval_latency is not None]
    budgets = policies.of_type(ChangeBudgetPolicy)
    savings = [b.min_monthly_saving_usd for b in budgets if b.min_monthly_saving_usd is not None]
    paybacks = [float(b.max_payback_days) for b in budgets if b.max_payback_days is not None]
    return Rules(
        policies=tuple(p.name for p in chosen),
        min_age_days=max(
            (
                int(p.min_object_age_days)
                for p in chosen
                if "min_object_age_days" in p.model_fields_set
            ),
            default=DEFAULT_MIN_AGE_DAYS,
        ),
        max_latency_ms=min(slos) if slos else None,
        restore_allowed=bool(chosen),
        excluded_by=excluded,
        min_monthly_saving=int(max(savings) * MICRO) if savings else None,
        max_payback_days=min(paybacks) if paybacks else None,
    )


@dataclass(frozen=True)
class Decision:
    group: GroupFacts
    current: Option
    chosen: Option
    ranked: tuple[Option, ...]  # every option, best first (chosen first)
    excluded: tuple[str, ...]  # classes not offered, and why
    rules: Rules
    access: Access
    level: int  # access level the choice was made at (1 = p50, 2 = p90)
    worth_it: bool  # clears the change budget
    budget_note: str


def options(
    g: GroupFacts, tiers: dict[str, TierFacts], access: Access, rules: Rules
) -> tuple[list[Option], list[str]]:
    cur = tiers[g.tier]
    hot = min(tiers.values(), key=lambda t: t.rank)
    out = [stay(g, cur, hot, access)]
    excluded: list[str] = []
    for t in sorted(tiers.values(), key=lambda t: t.rank):
        if t.tier == cur.tier:
            continue
        why = rules.admits(t)
        if why:
            excluded.append(why)
        elif t.rank > cur.rank:
            found, why = colder(g, cur, hot, t, access, rules)
            existing = {to: after for after, to in g.transitions}
            for o in found:
                if o.action == "lifecycle" and existing.get(t.tier, 10**9) <= (o.after_days or 0):
                    continue  # that rule is already in place
                out.append(o)
            if why:
                excluded.append(why)
        else:
            out.append(rewrite(g, cur, hot, t, access))
    a, why = auto(g, cur, tiers, access, rules)
    if a is not None:
        out.append(a)
    if why:
        excluded.append(why)
    return out, excluded


def decide(
    g: GroupFacts, tiers: dict[str, TierFacts], access: Access, rules: Rules
) -> Decision | None:
    """None when the group is excluded by policy or its class is unknown."""
    if rules.excluded_by is not None or g.tier not in tiers:
        return None
    opts, excluded = options(g, tiers, access, rules)
    level = 2 if access.unpredictable else 1
    # Ties: stay; then a rule where data keeps arriving, a one-off move where none does.
    arriving = g.gb_arriving_per_day() > 0
    order = {
        "stay": 0,
        "lifecycle": 1 if arriving else 3,
        "auto": 2,
        "one-off": 3 if arriving else 1,
        "rewrite": 4,
    }
    ranked = sorted(opts, key=lambda o: (o.horizon_total(level=level), order[o.action], o.tier))
    best, current = ranked[0], opts[0]
    saving = current.monthly[1].total - best.monthly[1].total
    payback = payback_days(best.one_off, saving)
    worth, note = True, ""
    if best.action != "stay":
        if rules.min_monthly_saving is not None and saving < rules.min_monthly_saving:
            worth = False
            note = (
                f"saving below the change budget's {rules.min_monthly_saving / MICRO:g} USD/month"
            )
        elif rules.max_payback_days is not None and (
            payback is None or payback > rules.max_payback_days
        ):
            worth = False
            note = f"payback beyond the change budget's {rules.max_payback_days:g} days"
    return Decision(g, current, best, tuple(ranked), tuple(excluded), rules, access, level,
                    worth and best.action != "stay", note)  # fmt: skip


def payback_days(one_off: int, monthly_saving: int) -> float | None:
    if monthly_saving <= 0:
        return None
    return round(one_off / (monthly_saving / DAYS_PER_MONTH), 1)


def _usd(micro_usd: int) -> Decimal:
    return (Decimal(micro_usd) / MICRO).quantize(Decimal("0.000001"))


def _m(micro_usd: int) -> str:
    return f"{micro_usd / MICRO:,.2f} USD"


def _state(d: Decision, o: Option) -> dict[str, Any]:
    g = d.group
    return {
        "summary": o.describe(g.tier) if o.action != "stay" else f"{g.tier} ({g.gb:,.0f} GB, "
        f"{g.objects:,} objects)",
        "action": o.action,
        "tier": o.tier,
        "after_days": o.after_days,
        "share_moved": round(o.share, 4),
        "monthly_usd": str(_usd(o.monthly[1].total)),
        "breakdown_usd": {k: str(_usd(v)) for k, v in o.monthly[1].as_dict().items()},
        "one_off_usd": {"transition": str(_usd(o.transition_once)),
                        "early_deletion": str(_usd(o.early_deletion_once))},
        "provider": g.provider, "region": g.region, "bucket": g.bucket, "prefix": g.prefix,
        "bytes": g.bytes, "objects": g.objects,
    }  # fmt: skip


def _reasons(d: Decision, tiers: dict[str, TierFacts], extra: tuple[str, ...]) -> list[str]:
    cur, best = d.current.monthly[1], d.chosen.monthly[1]
    out = [
        f"price: {_m(cur.total)}/month today → {_m(best.total)}/month proposed "
        f"(storage {_m(cur.storage)} → {_m(best.storage)}, retrieval {_m(cur.retrieval)} → "
        f"{_m(best.retrieval)}, requests {_m(cur.requests)} → {_m(best.requests)}"
        + (f", monitoring {_m(best.monitoring)}" if best.monitoring else "")
        + (f", ongoing transitions {_m(best.transitions)}" if best.transitions else "")
        + ")",
        f"{d.access.note}: about {d.access.gb[1]:,.1f} GB read and "
        f"{d.access.requests[1]:,.0f} GETs a month (p10–p90 {d.access.gb[0]:,.1f}–"
        f"{d.access.gb[2]:,.1f} GB)",
    ]
    if d.chosen.one_off:
        out.append(
            f"one-off: {_m(d.chosen.transition_once)} of transition requests"
            + (f" + {_m(d.chosen.early_deletion_once)} early-deletion / minimum-duration "
               "charges" if d.chosen.early_deletion_once else "")
        )  # fmt: skip
    if d.chosen.action == "one-off" and not d.group.gb_arriving_per_day():
        out.append(
            "a one-off move rather than a rule: no new data has arrived for "
            "a while (the newest objects are old), so a rule would have nothing left to do"
        )
    if d.chosen.action == "lifecycle":
        out.append(
            f"a rule rather than a one-off move: it also tiers data that keeps arriving "
            f"(~{d.group.gb_arriving_per_day():,.1f} GB/day) and waits {d.chosen.after_days} "
            f"days, so no object leaves {d.group.tier} before its minimum duration"
        )
    if d.level == 2:
        out.append(
            "access is unpredictable (bursty daily reads): chosen by the cost at p90 access, "
            "where automatic tiering (no retrieval or early-deletion fees) competes best"
        )
    t = tiers.get(d.chosen.tier)
    if t is not None and t.min_days:
        out.append(f"{t.tier} bills every object for at least {t.min_days} days")
    if t is not None and t.restore:
        restores = d.access.requests[1] * d.chosen.share
        out.append(
            f"reads need a restore first: about {restores:,.0f} restores a month, first byte "
            f"after up to {dur(t.latency_ms or 0)} (within the retrieval SLO)"
        )
    out.extend(d.chosen.notes)
    if d.rules.policies:
        slo = "none" if d.rules.max_latency_ms is None else dur(d.rules.max_latency_ms)
        out.append(
            f"policy: {', '.join(d.rules.policies)} (minimum object age "
            f"{d.rules.min_age_days} days, retrieval SLO {slo})"
        )
    else:
        out.append(
            "policy: no tiering policy selects this group; classes that need a restore are "
            f"not proposed and objects younger than {d.rules.min_age_days} days stay"
        )  # fmt: skip
    if d.group.transitions and d.chosen.action in ("lifecycle", "one-off", "auto"):
        rules = "; ".join(f"after {n} days to {to}" for n, to in d.group.transitions)
        out.append(f"existing transition rule(s) ({rules}) are replaced by this proposal")
    out.extend(f"not proposed: {e}" for e in d.excluded)
    out.extend(extra)
    return out


def to_recommendation(
    d: Decision, tiers: dict[str, TierFacts], extra: tuple[str, ...] = ()
) -> Recommendation:
    """The stored form: kind `tiering`, subject = the group's name."""
    cur, best = d.current, d.chosen
    savings = sorted(cur.monthly[i].total - best.monthly[i].total for i in range(3))
    saving = cur.monthly[1].total - best.monthly[1].total
    text = "\n".join(["tiering", d.group.name, best.action, best.tier, str(best.after_days)])
    alts = tuple(
        {
            "offer": o.describe(d.group.tier),
            "action": o.action,
            "tier": o.tier,
            "replicas": 1,
            "monthly_usd": str(_usd(o.monthly[1].total)),
            "one_off_usd": str(_usd(o.one_off)),
            "stays": o.action == "stay",
        }
        for o in d.ranked[1 : 1 + MAX_ALTERNATIVES]
    )
    return Recommendation(
        fingerprint=hashlib.sha256(text.encode()).hexdigest(),
        kind="tiering",
        subject=d.group.name,
        current=_state(d, cur),
        proposed=_state(d, best),
        monthly_savings=_usd(saving),
        monthly_savings_p10=_usd(min(savings[0], saving)),
        monthly_savings_p90=_usd(max(savings[2], saving)),
        one_off_cost=_usd(best.one_off),
        payback_days=payback_days(best.one_off, saving),
        reasons=tuple(_reasons(d, tiers, extra)),
        alternatives=alts,
        compliance=False,
    )


__all__ = ["HORIZON_MONTHS", "Decision", "Rules", "decide", "rules_for", "to_recommendation"]
