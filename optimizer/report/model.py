"""The report's data as frozen dataclasses, and its one JSON form.

report.html, report.json and the CSV files are all rendered from one `ReportData`, so
every number on the page is a number in report.json. Money is `Decimal` from the store
(JSON: exact decimal strings); the page rounds it to cents with `usd()`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, is_dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from store.money import money_str

CENT = Decimal("0.01")


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_EVEN)


def usd(value: Decimal | None) -> str:
    """What the page shows for money: `$1,234.56`, `-$3.10`, `–` for unknown."""
    if value is None:
        return "–"
    c = cents(value)
    return f"-${-c:,.2f}" if c < 0 else f"${c:,.2f}"


@dataclass(frozen=True)
class Week:
    """An ISO week, Monday to Sunday (both included)."""

    start: date
    end: date

    @property
    def label(self) -> str:
        year, week, _ = self.start.isocalendar()
        return f"{year}-W{week:02d}"

    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range(7)]

    @staticmethod
    def containing(day: date) -> Week:
        start = day - timedelta(days=day.weekday())
        return Week(start, start + timedelta(days=6))


@dataclass(frozen=True)
class SpendSeries:
    """Daily spend of one cloud, service or owner over the chart's days."""

    key: str
    daily: tuple[Decimal | None, ...]  # None: a day after the store's data ends
    week_total: Decimal
    previous_week_total: Decimal


@dataclass(frozen=True)
class Band:
    """A cloud's spend forecast on the chart's days (None where it has no point)."""

    key: str
    p10: tuple[float | None, ...]
    p50: tuple[float | None, ...]
    p90: tuple[float | None, ...]
    series: int  # spend series summed into it


@dataclass(frozen=True)
class Anomaly:
    day: date
    series: str  # a forecast series id, or a cloud for the band check
    provider: str
    service: str
    actual: Decimal
    lower: Decimal
    upper: Decimal
    excess: Decimal
    check: str  # "backtest 95% band" (forecast stage) or "forecast p10-p90 band"
    in_week: bool


@dataclass(frozen=True)
class KindSavings:
    kind: str
    status: str
    count: int
    monthly_savings: Decimal


@dataclass(frozen=True)
class RecRow:
    id: int
    kind: str
    subject: str
    status: str
    status_by: str | None
    status_reason: str | None
    status_at: datetime | None
    created_at: datetime
    monthly_savings: Decimal
    monthly_savings_p10: Decimal | None
    monthly_savings_p90: Decimal | None
    one_off_cost: Decimal
    payback_days: float | None
    current: str
    proposed: str
    reasons: tuple[str, ...]
    alternatives: tuple[str, ...]


@dataclass(frozen=True)
class AppliedRow:
    id: int
    recommendation_id: int
    subject: str
    provider: str
    target: str
    action: str
    status: str
    actor: str
    bytes: int
    objects: int
    created_at: datetime
    rolled_back_at: datetime | None
    error: str | None


@dataclass(frozen=True)
class Freshness:
    source: str
    kind: str  # focus, aws, azure, gcp, usage, forecast, plan
    status: str
    last_success_at: datetime | None
    data_end: date | None
    rows: int
    age_hours: float | None
    stale: bool
    detail: str


@dataclass(frozen=True)
class Totals:
    week: Decimal  # usage spend (EffectiveCost of Usage charges) in the week
    previous_week: Decimal
    other_charges_week: Decimal  # purchases, taxes, credits, adjustments (EffectiveCost)
    open_savings: Decimal  # monthly, proposed + approved
    open_recommendations: int
    new_recommendations: int  # created in the week
    anomalies_in_week: int
    applied_in_week: int
    rolled_back_in_week: int
    stale_sources: int


@dataclass(frozen=True)
class ReportData:
    generated_at: datetime
    week: Week
    days: tuple[date, ...]  # the charts' x axis
    data_end: date | None  # the last day with cost records
    totals: Totals
    by_cloud: tuple[SpendSeries, ...]
    by_service: tuple[SpendSeries, ...]  # the biggest, then "other"
    by_owner: tuple[SpendSeries, ...]
    owner_tags: tuple[str, ...]
    bands: tuple[Band, ...]
    anomalies: tuple[Anomaly, ...]
    savings: tuple[KindSavings, ...]
    recommendations: tuple[RecRow, ...]
    applied: tuple[AppliedRow, ...]
    freshness: tuple[Freshness, ...]


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return money_str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Week):
        return {"label": value.label, "start": value.start.isoformat(),
                "end": value.end.isoformat()}  # fmt: skip
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def as_json(data: ReportData) -> dict[str, Any]:
    """report.json: every field of the report, money as exact decimal strings."""
    out: dict[str, Any] = {"format": "optimizer-report/1"}
    out.update(_plain(data))
    return out
