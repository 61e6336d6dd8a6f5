"""Storage tiering, the facts and the cost model: pure (no store, no SDK).

Units: money is INTEGER micro-USD (`placement.problem.MICRO`); storage prices are per
GB-month where a "GB" is 2^30 bytes (as cloud storage bills); access is GB read and GET
requests per month; a month is 365/12 days. The formulas are in docs/tiering.md.

Ages: a group only tells us its median and oldest object age, so object ages are taken
as piecewise uniform through (newest, 0), (median, ½), (oldest, 1) with newest =
max(0, 2 × median − oldest): half the bytes are younger than the median. The density at
age 0 is how fast data arrives (½ × bytes / median per day when newest = 0, else none).
An object's age in its class is its age (objects are taken as written into the class
they sit in). Unknown ages are taken as old (every threshold passed, nothing arriving).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

GIB = 2**30
KB_PER_GB = 2**20
DAYS_PER_MONTH = 365 / 12
HORIZON_MONTHS = 12  # the span tiering decisions are judged over (docs/tiering.md)
Z90 = 1.2816  # standard normal quantile for p10/p90


@dataclass(frozen=True)
class GroupFacts:
    """One storage group today."""

    name: str
    provider: str
    region: str
    bucket: str
    prefix: str
    tier: str
    bytes: int
    objects: int
    median_age_days: float | None
    oldest_age_days: float | None
    tags: Mapping[str, Any] = field(default_factory=dict)
    owner: str | None = None
    transitions: tuple[tuple[int, str], ...] = ()  # existing rules: (after days, to tier)
    expire_after_days: int | None = None  # an existing expiration rule

    @property
    def gb(self) -> float:
        return self.bytes / GIB

    @property
    def avg_object_kb(self) -> float:
        return self.bytes / max(self.objects, 1) / 1024

    def share_younger(self, days: float) -> float:
        """Share of bytes (and objects) younger than `days` (the piecewise age model)."""
        ages = self._ages()
        if ages is None:
            return 0.0
        lo, m, o = ages
        if days <= lo:
            return 0.0
        if days < m:
            return 0.5 * (days - lo) / (m - lo)
        return 1.0 if days >= o else 0.5 + 0.5 * (days - m) / (o - m)

    def remainder_days(self, start: float, hi: float) -> float:
        """∫ (hi − a) dF(a) over ages a in [start, hi): share-weighted days short of `hi`
        (the early-deletion days of objects aged start..hi against a `hi`-day minimum)."""
        ages = self._ages()
        if ages is None or hi <= start:
            return 0.0
        lo, m, o = ages
        total = 0.0
        for a1, a2 in ((lo, m), (m, o)):
            s, e = max(a1, start), min(a2, hi)
            if e > s:
                total += 0.5 / (a2 - a1) * ((hi - s) ** 2 - (hi - e) ** 2) / 2
        return total

    def gb_arriving_per_day(self) -> float:
        """The age density at 0 days × bytes: 0 when the newest object is lo > 0 days old."""
        ages = self._ages()
        if ages is None or ages[0] > 0:
            return 0.0
        return 0.5 * self.gb / ages[1]

    def _ages(self) -> tuple[float, float, float] | None:
        """(newest, median, oldest) age in days: the CDF is linear from (newest, 0) to
        (median, ½) to (oldest, 1); newest = max(0, 2 × median − oldest), so a group whose
        median sits near its oldest object holds old data only (nothing arrives)."""
        m, o = self.median_age_days, self.oldest_age_days
        if m is None and o is None:
            return None
        if m is None or m <= 0:
            m = max((o or 2.0) / 2, 1.0)
        if o is None or o <= m:
            o = 2 * m
        return max(0.0, 2 * m - o), m, o


@dataclass(frozen=True)
class TierFacts:
    """One storage class a group could sit in, priced for its region (micro-USD)."""

    tier: str
    rank: int  # 0 = hot; larger = colder
    storage_per_gb_month: int
    retrieval_per_gb: int
    get_per_1k: int
    put_per_1k: int  # write / transition into this class
    min_days: int = 0
    min_billable_kb: int = 0
    overhead_kb_hot: int = 0
    overhead_kb_self: int = 0
    latency_ms: float | None = None  # first byte; None = milliseconds
    restore: bool = False
    proposable: bool = True  # False: never a target (One Zone-IA: one zone, one copy)
    notes: tuple[str, ...] = ()  # defaults used for this class, said in the reasons


@dataclass(frozen=True)
class Access:
    """Reads per month: p50 with a p10–p90 range (`days` of samples behind it)."""

    gb: tuple[float, float, float]  # p10, p50, p90 GB read per month
    requests: tuple[float, float, float]  # p10, p50, p90 GET requests per month
    days: int = 0
    unpredictable: bool = False  # bursty: choose by the p90 access cost
    note: str = ""


def access_from_daily(gb_daily: list[float], req_daily: list[float], days: int = 30) -> Access:
    """Monthly access from daily samples: p50 = mean × days per month; p10/p90 from the
    day-to-day spread (normal approximation of a month's sum of independent days).
    Access is unpredictable when the daily GB read varies more than 1.5× its mean."""

    def stats(xs: list[float]) -> tuple[tuple[float, float, float], float]:
        if not xs:
            return (0.0, 0.0, 0.0), 0.0
        mu = sum(xs) / len(xs)
        sd = math.sqrt(sum((x - mu) ** 2 for x in xs) / len(xs))
        spread = Z90 * sd * math.sqrt(DAYS_PER_MONTH)
        p50 = mu * DAYS_PER_MONTH
        return (max(0.0, p50 - spread), p50, p50 + spread), (sd / mu if mu > 0 else 0.0)

    gb, cv = stats(gb_daily)
    req, _ = stats(req_daily)
    return Access(
        gb, req, len(gb_daily), cv >= 1.5,
        f"access from the last {days} days ({len(gb_daily)} daily samples); no forecast yet",
    )  # fmt: skip


@dataclass(frozen=True)
class Cost:
    """Recurring micro-USD per month."""

    storage: int = 0
    retrieval: int = 0
    requests: int = 0
    monitoring: int = 0
    transitions: int = 0  # ongoing lifecycle transitions of newly arriving objects

    @property
    def total(self) -> int:
        return self.storage + self.retrieval + self.requests + self.monitoring + self.transitions

    def as_dict(self) -> dict[str, int]:
        return {
            "storage": self.storage,
            "retrieval": self.retrieval,
            "requests": self.requests,
            "monitoring": self.monitoring,
            "transitions": self.transitions,
        }


@dataclass(frozen=True)
class Option:
    """One way to hold the group over the horizon."""

    action: str  # stay | lifecycle | one-off | auto | rewrite
    tier: str  # the class the moved share ends in (the current class for stay)
    after_days: int | None  # lifecycle / auto threshold age
    share: float  # of the bytes held in `tier` (horizon average for one-off)
    monthly: tuple[Cost, Cost, Cost]  # at p10, p50, p90 access
    transition_once: int = 0
    early_deletion_once: int = 0
    notes: tuple[str, ...] = ()

    @property
    def one_off(self) -> int:
        return self.transition_once + self.early_deletion_once

    def horizon_total(self, months: int = HORIZON_MONTHS, level: int = 1) -> int:
        """Recurring cost over `months` at access level (0 = p10, 1 = p50, 2 = p90) plus
        the one-off cost."""
        return months * self.monthly[level].total + self.one_off

    def describe(self, current: str) -> str:
        if self.action == "stay":
            return f"stay in {current}"
        if self.action == "lifecycle":
            return (
                f"lifecycle rule: transition objects older than {_days(self.after_days)} "
                f"to {self.tier}"
            )
        if self.action == "one-off":
            age = f" older than {_days(self.after_days)}" if self.after_days else ""
            return f"one-off move of objects{age} to {self.tier}"
        if self.action == "auto":
            return f"automatic tiering: {self.tier}"
        return f"one-off rewrite of every object back to {self.tier}"


def _days(n: int | None) -> str:
    return "1 day" if n == 1 else f"{n} days"


def micro(x: float) -> int:
    """Float micro-USD to integer micro-USD (round half to even)."""
    return round(x)


def held_cost(
    g: GroupFacts, t: TierFacts, hot: TierFacts, portion: float, gb_read: float, gets: float
) -> Cost:
    """Monthly cost of `portion` of the group's bytes held in `t`, reads split alike."""
    if portion <= 0:
        return Cost()
    billable = g.gb
    if t.min_billable_kb and g.avg_object_kb < t.min_billable_kb:
        billable = g.objects * t.min_billable_kb / KB_PER_GB
    overhead = g.objects * (
        t.overhead_kb_hot * hot.storage_per_gb_month + t.overhead_kb_self * t.storage_per_gb_month
    )
    return Cost(
        storage=micro(portion * (billable * t.storage_per_gb_month + overhead / KB_PER_GB)),
        retrieval=micro(portion * gb_read * t.retrieval_per_gb),
        requests=micro(portion * gets * t.get_per_1k / 1000),
    )


def add(*costs: Cost) -> Cost:
    return Cost(*(sum(getattr(c, f) for c in costs) for f in Cost.__dataclass_fields__))
