"""Cost Management query bodies and responses -> FOCUS rows. Pure: no SDK, no store, no
clock.

Two queries per window, the same dataset each: `ActualCost` (-> BilledCost) and
`AmortizedCost` (-> EffectiveCost), daily, total cost summed, grouped (the API takes at
most two groupings) by ServiceName and ChargeType on a subscription or resource-group
scope (the subscription is the scope's), else by SubscriptionId and ServiceName (charge
type unknown: Usage). Their rows are joined on (day, subscription, service, charge
type); a side missing a row counts 0 there, so a reservation purchase (ActualCost only)
gets EffectiveCost 0 and unused reservation (AmortizedCost only) BilledCost 0, as FOCUS
wants. ChargeType -> ChargeCategory reuses the cost-details export mapping. A malformed
row is quarantined with a reason; the others are kept.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from collectors.cloud import CostRows, Quarantine
from collectors.exports.azure_cost_details import CATEGORY
from collectors.exports.common import FocusRow, day_start, iso, money, next_day

KINDS = ("ActualCost", "AmortizedCost")
GROUPING = ("SubscriptionId", "ServiceName")  # a scope above subscriptions
SUBSCRIPTION_GROUPING = ("ServiceName", "ChargeType")  # a subscription or resource group
COST_COLUMNS = ("cost", "pretaxcost", "totalcost", "costusd", "pretaxcostusd")
FREQUENCY = {"Usage": "Usage-Based"}  # Purchase, Tax, Credit, Adjustment: One-Time

Key = tuple[date, str, str, str]  # (day, subscription, service, charge type)


def query_body(
    kind: str, start: date, end: date, grouping: tuple[str, str] = GROUPING,
    cost_column: str = "Cost",
) -> dict[str, Any]:  # fmt: skip
    """The REST body of one daily query for the billing days [start, end)."""
    last = end - timedelta(days=1)  # Custom timePeriod.to is inclusive
    return {
        "type": kind,
        "timeframe": "Custom",
        "timePeriod": {"from": f"{start.isoformat()}T00:00:00+00:00",
                       "to": f"{last.isoformat()}T23:59:59+00:00"},
        "dataset": {
            "granularity": "Daily",
            "aggregation": {"totalCost": {"name": cost_column, "function": "Sum"}},
            "grouping": [{"type": "Dimension", "name": name} for name in grouping],
        },
    }  # fmt: skip


@dataclass
class Amounts(Quarantine):
    """One query's rows: (day, subscription, service) -> (amount, currency)."""

    by_key: dict[Key, tuple[Decimal, str]] = field(default_factory=dict)


def cost_key(
    source_key: str, day: date, subscription: str, service: str, charge_type: str = "Usage"
) -> str:
    """The natural key of one (source, day, subscription, service, charge type) cost row
    (Usage rows keep the key they had before charge types were read)."""
    parts = ["azure-cm", source_key, day.isoformat(), subscription, service]
    if charge_type != "Usage":
        parts.append(charge_type)
    material = "\x1f".join(parts)
    return hashlib.blake2b(material.encode(), digest_size=16).hexdigest()


def usage_date(value: Any) -> date:
    """UsageDate of a Daily query: an integer YYYYMMDD (20240131)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError("UsageDate is not a YYYYMMDD number")
    text = str(int(value)) if isinstance(value, int | float) else value.strip()
    if len(text) != 8 or not text.isdigit():
        raise ValueError("UsageDate is not a YYYYMMDD number")
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        raise ValueError("UsageDate is not a calendar day") from None


def _cost(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError("cost is not a number")
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise ValueError("cost is not a number") from None
    if not amount.is_finite():
        raise ValueError("cost is not a number")
    return amount


def read_page(
    page: Mapping[str, Any], out: Amounts, window: tuple[date, date] | None = None,
    subscription: str = "",
) -> None:  # fmt: skip
    """Add one QueryResult page's rows to `out` (`subscription`: the scope's, used when the
    rows have no SubscriptionId column)."""
    props = page.get("properties") or {}
    columns = [str(c.get("name", "")).lower() for c in props.get("columns") or []]
    rows = props.get("rows") or []
    where = {name: i for i, name in enumerate(columns)}
    cost_at = next((where[c] for c in COST_COLUMNS if c in where), None)
    needed = {"usagedate", "servicename", "currency"}
    if cost_at is None or not needed <= set(where):
        if rows:
            out.quarantine("columns lack cost, UsageDate, ServiceName or Currency", len(rows))
        return
    for row in rows:
        try:
            key, amount, currency = _row(row, columns, where, cost_at, subscription)
        except ValueError as exc:
            out.quarantine(str(exc))
            continue
        if window is not None and not window[0] <= key[0] < window[1]:
            out.quarantine("UsageDate outside the queried window")
        elif key in out.by_key:
            out.quarantine("duplicate (day, subscription, service, charge type) row")
        else:
            out.by_key[key] = (amount, currency)


def _row(
    row: Any, columns: list[str], where: dict[str, int], cost_at: int, subscription: str
) -> tuple[Key, Decimal, str]:
    if not isinstance(row, list) or len(row) != len(columns):
        raise ValueError("row does not match columns")
    day = usage_date(row[where["usagedate"]])
    service = row[where["servicename"]]
    if not isinstance(service, str) or not service.strip():
        raise ValueError("row has no ServiceName")
    sub_at = where.get("subscriptionid")
    if sub_at is not None:
        subscription = str(row[sub_at] or "")
    charge_at = where.get("chargetype")
    charge = str(row[charge_at] or "").strip() if charge_at is not None else "Usage"
    if not charge:
        raise ValueError("row has no ChargeType")
    currency = row[where["currency"]]
    if not isinstance(currency, str) or len(currency) != 3 or not currency.isalpha():
        raise ValueError("Currency is not a currency code")
    key = (day, subscription, service.strip(), charge)
    return key, _cost(row[cost_at]), currency.upper()


def read_pages(
    pages: Iterable[Mapping[str, Any]], window: tuple[date, date] | None = None,
    subscription: str = "",
) -> Amounts:  # fmt: skip
    out = Amounts()
    for page in pages:
        read_page(page, out, window, subscription)
    return out


def join(actual: Amounts, amortized: Amounts, source_key: str, scope: str) -> CostRows:
    """ActualCost and AmortizedCost rows -> one FOCUS row per key (see module doc)."""
    out = CostRows()
    for amounts in (actual, amortized):
        for reason, n in amounts.quarantined.items():
            out.quarantine(reason, n)
    for key in sorted(actual.by_key.keys() | amortized.by_key.keys()):
        billed = actual.by_key.get(key)
        effective = amortized.by_key.get(key)
        currencies = {v[1] for v in (billed, effective) if v is not None}
        if len(currencies) != 1:
            out.quarantine("Currency differs between ActualCost and AmortizedCost")
            continue
        day, subscription, service, charge = key
        pair = (billed[0] if billed else Decimal(0), effective[0] if effective else Decimal(0))
        out.rows.append(_focus_row(key, pair, currencies.pop(), scope))
        out.keys.append(cost_key(source_key, day, subscription, service, charge))
    return out


def _focus_row(key: Key, amounts: tuple[Decimal, Decimal], currency: str, scope: str) -> FocusRow:
    day, subscription, service, charge = key
    billed, effective = amounts
    category = CATEGORY.get(charge.lower(), "Adjustment")
    return {
        "BilledCost": money(billed),
        "EffectiveCost": money(effective),
        "BillingAccountId": scope,
        "BillingCurrency": currency,
        "ChargeCategory": category,
        "ChargeFrequency": FREQUENCY.get(category, "One-Time"),
        "ChargePeriodStart": iso(day_start(day)),
        "ChargePeriodEnd": iso(next_day(day)),
        "ChargeDescription": f"{service} {charge} (Cost Management daily total)",
        "ProviderName": "Microsoft",
        "PublisherName": "Microsoft",
        "InvoiceIssuerName": "Microsoft",
        "SubAccountId": subscription or None,
        "ServiceName": service,
    }
