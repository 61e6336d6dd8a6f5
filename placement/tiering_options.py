"""Every way a storage group could be held over the horizon, each priced: stay, a
lifecycle rule, a one-off move, the provider's automatic tiering, or a rewrite back to a
warmer class. Pure; formulas in docs/tiering.md.

Direction: colder classes are reached by a lifecycle rule or a one-off move, following
the lifecycle waterfall (S3 exceptions in `tiering_prices.LIFECYCLE_FORBIDDEN`). A warmer
class is never a lifecycle target (S3 lifecycle never warms data); it is offered only as
a one-off rewrite (copy in place / Set Blob Tier / GCS rewrite), paying the reads,
retrieval and early deletion of the current class, and only when that pays off.
"""

from __future__ import annotations

from dataclasses import dataclass

from placement.tiering import (
    DAYS_PER_MONTH,
    HORIZON_MONTHS,
    Access,
    Cost,
    GroupFacts,
    Option,
    TierFacts,
    add,
    held_cost,
    micro,
)
from placement.tiering_prices import AUTO, LIFECYCLE_FORBIDDEN, S3_DAYS_BEFORE_IA

AUTO_IDLE_DAYS = 30  # untouched this long before automatic tiering cools an object

# Archive classes that need a restore job before each read are only proposed for data
# read at most this often: every read waits hours and is a billed restore request, which
# no application reading daily tolerates, whatever the storage saving.
MAX_RESTORES_PER_MONTH = 100


@dataclass(frozen=True)
class Rules:
    """What the tiering policies that select a group allow (strictest combined)."""

    policies: tuple[str, ...] = ()
    min_age_days: int = 0
    max_latency_ms: float | None = None
    restore_allowed: bool = False  # no SLO stated by any policy → online classes only
    excluded_by: str | None = None
    min_monthly_saving: int | None = None  # micro-USD (change-budget)
    max_payback_days: float | None = None

    def admits(self, t: TierFacts) -> str | None:
        """None when the class may be proposed, else why not (plain words)."""
        if not t.proposable:
            return (
                f"{t.tier} keeps a single copy in one zone (data is lost with the zone): "
                "never proposed, choose it by hand"
            )
        if t.restore and not self.restore_allowed:
            return (
                f"{t.tier} needs a restore before reads and no tiering policy states a "
                "retrieval-latency SLO for this group"
            )
        lat = t.latency_ms
        if self.max_latency_ms is not None and lat is not None and lat > self.max_latency_ms:
            return (
                f"{t.tier} first byte after {dur(lat)} is slower than the "
                f"{dur(self.max_latency_ms)} retrieval SLO"
            )
        return None


def dur(ms: float) -> str:
    return f"{ms / 3_600_000:g} h" if ms >= 3_600_000 else f"{ms:g} ms"


def _monthly(
    g: GroupFacts, access: Access, parts: list[tuple[TierFacts, float]], hot: TierFacts
) -> tuple[Cost, Cost, Cost]:
    return tuple(  # type: ignore[return-value]
        add(*(held_cost(g, t, hot, s, access.gb[i], access.requests[i]) for t, s in parts))
        for i in range(3)
    )


def _with(costs: tuple[Cost, Cost, Cost], **extra: int) -> tuple[Cost, Cost, Cost]:
    return tuple(add(c, Cost(**extra)) for c in costs)  # type: ignore[return-value]


def stay(g: GroupFacts, cur: TierFacts, hot: TierFacts, access: Access) -> Option:
    return Option("stay", cur.tier, None, 0.0, _monthly(g, access, [(cur, 1.0)], hot))


def lifecycle_age(g: GroupFacts, cur: TierFacts, t: TierFacts, rules: Rules) -> int:
    """The rule's age: policy minimum age, the current class's minimum duration, and S3's
    30 days in Standard before a lifecycle move to (One Zone-)IA."""
    n = max(rules.min_age_days, cur.min_days, 1)
    if g.provider == "aws" and cur.rank == 0 and t.tier in ("STANDARD_IA", "ONEZONE_IA"):
        n = max(n, S3_DAYS_BEFORE_IA)
    return n


def colder(
    g: GroupFacts, cur: TierFacts, hot: TierFacts, t: TierFacts, access: Access, rules: Rules
) -> tuple[list[Option], str | None]:
    """The lifecycle rule and the one-off move into colder class `t`, or why neither."""
    if t.tier in LIFECYCLE_FORBIDDEN.get((g.provider, cur.tier), frozenset()):
        return [], f"{cur.tier} → {t.tier} is not allowed by the provider's lifecycle waterfall"
    if t.min_billable_kb and g.avg_object_kb < t.min_billable_kb:
        return [], (
            f"{t.tier}: the average object ({g.avg_object_kb:,.0f} KB) is below its "
            f"{t.min_billable_kb} KB minimum billable size (lifecycle skips such objects, "
            "a copy would bill each as the minimum)"
        )
    if t.restore and access.requests[2] > MAX_RESTORES_PER_MONTH:
        return [], (
            f"{t.tier} needs a restore (hours) before every read and this data gets about "
            f"{access.requests[2]:,.0f} reads a month at p90 (at most "
            f"{MAX_RESTORES_PER_MONTH} restores a month are proposed)"
        )
    if t.restore and access.gb[1] * 12 > g.gb:
        return [], (
            f"{t.tier} needs a restore before every read and this data is read more than "
            f"once a year ({access.gb[1]:,.1f} GB a month of {g.gb:,.0f} GB)"
        )
    horizon_days = HORIZON_MONTHS * DAYS_PER_MONTH
    out: list[Option] = []
    n = lifecycle_age(g, cur, t, rules)
    for action, age in (("lifecycle", n), ("one-off", rules.min_age_days)):
        if g.expire_after_days is not None and g.expire_after_days - age < t.min_days:
            continue
        share_now = 1.0 - g.share_younger(age)
        if share_now <= 0:
            continue
        notes: list[str] = []
        short = max(0.0, t.min_days - horizon_days)  # the horizon is shorter than the minimum
        hold = micro(share_now * g.gb * t.storage_per_gb_month * short / DAYS_PER_MONTH)
        transition = micro(share_now * g.objects * t.put_per_1k / 1000)
        if action == "lifecycle":
            arriving = g.objects * g.gb_arriving_per_day() / max(g.gb, 1e-12) * DAYS_PER_MONTH
            monthly = _with(
                _monthly(g, access, [(cur, 1 - share_now), (t, share_now)], hot),
                transitions=micro(arriving * t.put_per_1k / 1000),
            )
            out.append(Option(action, t.tier, age, share_now, monthly, transition, hold))
            continue
        # One-off: the moved (oldest) bytes are replaced by arriving data at the rate it
        # arrives, so the moved share shrinks over the horizon: use its average.
        r = g.gb_arriving_per_day() / max(g.gb, 1e-12) * horizon_days
        avg = share_now - r / 2 if share_now >= r else share_now**2 / (2 * r)
        if avg < share_now:
            notes.append(
                f"data keeps arriving (~{g.gb_arriving_per_day():,.1f} GB/day): a one-off "
                f"move keeps on average {avg:.0%} of the bytes in {t.tier} over "
                f"{HORIZON_MONTHS} months, not {share_now:.0%}"
            )
        early = micro(
            g.gb * cur.storage_per_gb_month * g.remainder_days(age, cur.min_days) / DAYS_PER_MONTH
        )
        monthly = _monthly(g, access, [(cur, 1 - avg), (t, avg)], hot)
        out.append(Option(action, t.tier, age or None, avg, monthly, transition, early + hold,
                          tuple(notes)))  # fmt: skip
    return out, None


def auto(
    g: GroupFacts, cur: TierFacts, tiers: dict[str, TierFacts], access: Access, rules: Rules
) -> tuple[Option | None, str | None]:
    """The provider's automatic tiering (only from the hot class). Its threshold is the
    policy's minimum age when that is longer (a lifecycle rule into Intelligent-Tiering
    or a last-access rule can wait); Autoclass cannot wait, so it is then not offered."""
    a = AUTO.get(g.provider)
    if a is None or cur.rank != 0 or a.cold_tier not in tiers:
        return None, None
    idle = max(AUTO_IDLE_DAYS, rules.min_age_days)
    if idle > AUTO_IDLE_DAYS and g.provider == "gcp":
        return None, (
            f"{a.name} cools objects after {AUTO_IDLE_DAYS} days and cannot wait the "
            f"policy's {rules.min_age_days}-day minimum age"
        )
    if g.avg_object_kb < a.min_object_kb:
        return None, (
            f"{a.name}: objects under {a.min_object_kb} KB are never moved and the average "
            f"object is {g.avg_object_kb:,.0f} KB"
        )
    cold = tiers[a.cold_tier]
    if not a.retrieval:
        cold = TierFacts(cold.tier, cold.rank, cold.storage_per_gb_month, 0, cur.get_per_1k,
                         cold.put_per_1k)  # fmt: skip
    costs: list[Cost] = []
    shares: list[float] = []
    for i in range(3):
        read = min(1.0, access.gb[i] / g.gb) if g.gb > 0 else 1.0
        share = max(0.0, 1.0 - g.share_younger(idle) - read)
        shares.append(share)
        parts = [
            held_cost(g, cur, cur, 1 - share, access.gb[i], access.requests[i]),
            held_cost(g, cold, cur, share, access.gb[i], access.requests[i]),
            Cost(monitoring=micro(g.objects * a.monitor_per_1k_objects_month / 1000)),
        ]
        costs.append(add(*parts))
    moved = g.objects * (shares[1] if a.cold_share_only else 1.0)
    note = (
        f"{a.name} ({a.how}): objects read in the last {idle} days stay in "
        f"{cur.tier}, the rest pay {cold.tier} storage; fee "
        f"{a.monitor_per_1k_objects_month / 1e6:g} USD per 1,000 objects a month ({a.source})"
    )
    monthly = (costs[0], costs[1], costs[2])
    return (
        Option("auto", a.name, idle, shares[1], monthly,
               micro(moved * a.transition_per_1k / 1000), 0, (note,)),
        None,
    )  # fmt: skip


def rewrite(g: GroupFacts, cur: TierFacts, hot: TierFacts, t: TierFacts, access: Access) -> Option:
    """A one-off rewrite of every object into warmer class `t`."""
    once = (
        g.objects * t.put_per_1k / 1000
        + g.gb * cur.retrieval_per_gb
        + g.objects * cur.get_per_1k / 1000
    )
    early = g.gb * cur.storage_per_gb_month * g.remainder_days(0, cur.min_days) / DAYS_PER_MONTH
    notes = (f"{cur.tier} needs a restore before the rewrite (hours)",) if cur.restore else ()
    monthly = _monthly(g, access, [(t, 1.0)], hot)
    return Option("rewrite", t.tier, None, 1.0, monthly, micro(once), micro(early), notes)
