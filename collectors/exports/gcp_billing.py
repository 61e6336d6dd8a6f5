"""GCP Cloud Billing export (standard or detailed, flattened to CSV) rows -> FOCUS rows.

The flattened form names nested fields with dots (`service.description`, `usage.amount`)
and writes `credits` and `labels` as Python-repr lists of dicts (the koku fixture); they
are read with ast.literal_eval, never eval. JSON lists are accepted too (BigQuery's CSV
and JSON exports). Each credit becomes its own Credit row, so BilledCost and
EffectiveCost both sum to the invoiced net cost, cost + Σ credits.amount.
Rules: docs/native-exports.md.
"""

from __future__ import annotations

import ast
import json
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from collectors.exports.categories import service_category
from collectors.exports.common import (
    ZERO,
    Cells,
    FocusRow,
    MappingError,
    MapStats,
    NativeRow,
    custom,
    iso,
    money,
    tags_json,
)

PACIFIC = ZoneInfo("America/Los_Angeles")  # Google invoices months in Pacific time
REQUIRED = ("billing_account_id", "usage_start_time", "usage_end_time", "cost", "currency")
CATEGORY = {
    "regular": "Usage",
    "tax": "Tax",
    "adjustment": "Adjustment",
    "rounding error": "Adjustment",
    "rounding_error": "Adjustment",
}


def parse_list(c: Cells, column: str) -> list[dict[str, object]]:
    """A list of dicts written as a Python repr or JSON; literal_eval only, never eval."""
    value = c.text(column)
    if value is None:
        return []
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        try:
            parsed = ast.literal_eval(value)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            raise c.fail(
                column,
                "not a list of records (neither JSON nor a Python literal)",
                f"write {column} as a list such as [{{'name': 'x', 'amount': -1.5}}]",
            ) from None
    if not isinstance(parsed, list) or not all(isinstance(x, dict) for x in parsed):
        raise c.fail(column, "is not a list of records", f"write {column} as a list of objects")
    return parsed


def credit_amount(c: Cells, credit: dict[str, object]) -> Decimal:
    raw = credit.get("amount")
    try:
        # repr of the float as written in the file: exact text, no binary noise
        amount = Decimal(str(raw)) if not isinstance(raw, Decimal) else raw
    except InvalidOperation:
        amount = Decimal("NaN")
    if not amount.is_finite():
        raise c.fail("credits", f"credit amount {raw!r} is not a number", "fix the credit amount")
    return amount


def invoice_period(c: Cells) -> tuple[str | None, str | None]:
    month = c.text("invoice.month")
    if month is None:
        return None, None
    try:
        year, mon = int(month[:4]), int(month[4:6])
        start = datetime(year, mon, 1, tzinfo=PACIFIC)
        end = datetime(year + (mon == 12), mon % 12 + 1, 1, tzinfo=PACIFIC)
    except ValueError:
        raise c.fail(
            "invoice.month", f"{month!r} is not YYYYMM", "write invoice.month as YYYYMM"
        ) from None
    return iso(start.astimezone(UTC)), iso(end.astimezone(UTC))


class GcpBillingMapper:
    """`gcp-billing-export`: one Usage/Tax/Adjustment row per export row, plus one Credit
    row per credit."""

    format = "gcp-billing-export"
    provider = "Google Cloud"

    def missing_columns(self, header: list[str]) -> list[str]:
        return [name for name in REQUIRED if name not in header]

    def map_row(self, row: NativeRow, n: int, stats: MapStats) -> list[FocusRow]:
        c = Cells(row, n)
        cost = c.money("cost", required=True) or ZERO
        cost_type = (c.text("cost_type") or "regular").lower()
        category = CATEGORY.get(cost_type)
        if category is None:
            stats.add(f"unknown cost_type {cost_type!r} mapped to Adjustment")
            category = "Adjustment"
        start = c.timestamp("usage_start_time")
        end = c.timestamp("usage_end_time")
        bp_start, bp_end = invoice_period(c)
        labels = {
            str(item.get("key")): item.get("value")
            for item in parse_list(c, "labels")
            if item.get("key") is not None
        }
        is_usage = category == "Usage"
        is_tax = category == "Tax"
        list_cost = c.money("cost_at_list")
        quantity = c.money("usage.amount")
        unit = c.text("usage.unit")
        service = c.text("service.description")
        base: FocusRow = {
            "BillingAccountId": c.text("billing_account_id"),
            "BillingCurrency": c.text("currency"),
            "BillingPeriodStart": bp_start,
            "BillingPeriodEnd": bp_end,
            "ChargePeriodStart": iso(start),
            "ChargePeriodEnd": iso(end),
            "InvoiceIssuerName": "Google",
            "ProviderName": "Google Cloud",
            "PublisherName": c.text("seller_name") or "Google Cloud",
            "SubAccountId": c.text("project.id"),
            "SubAccountName": c.text("project.name"),
            "ServiceName": service,
            "ServiceCategory": service_category("gcp", service) or "Other",
            "RegionId": c.text("location.region", "location.location"),
            "AvailabilityZone": c.text("location.zone"),
            "ResourceId": c.text("resource.global_name"),
            "ResourceName": c.text("resource.name"),
            "SkuId": c.text("sku.id"),
            "Tags": tags_json(labels),
        }
        usage: FocusRow = {
            **base,
            "BilledCost": money(cost),
            "EffectiveCost": money(cost),
            "ListCost": money(list_cost if list_cost is not None else cost),
            "ContractedCost": money(cost),
            "ChargeCategory": category,
            "ChargeDescription": c.text("sku.description"),
            "ChargeFrequency": "Usage-Based" if is_usage else None,
            "PricingCategory": None if is_tax else ("Standard" if is_usage else None),
            "PricingQuantity": None if is_tax else money(c.money("usage.amount_in_pricing_units")),
            "PricingUnit": None if is_tax else c.text("usage.pricing_unit"),
            "ConsumedQuantity": money(quantity) if is_usage and unit else None,
            "ConsumedUnit": unit if is_usage and quantity is not None else None,
        }
        extras = [
            ("x_CostType", cost_type),
            ("x_ServiceId", c.text("service.id")),
            ("x_ProjectName", c.text("project.name")),
        ]
        custom(usage, extras)
        out = [usage]
        for credit in parse_list(c, "credits"):
            amount = credit_amount(c, credit)
            name = credit.get("full_name") or credit.get("name") or credit.get("id")
            credit_row: FocusRow = {
                **base,
                "BilledCost": money(amount),
                "EffectiveCost": money(amount),
                "ListCost": money(amount),
                "ContractedCost": money(amount),
                "ChargeCategory": "Credit",
                "ChargeDescription": None if name is None else str(name),
                "ChargeFrequency": None,
            }
            custom(
                credit_row,
                [
                    *extras,
                    ("x_CreditType", None if credit.get("type") is None else str(credit["type"])),
                    ("x_CreditId", None if credit.get("id") is None else str(credit["id"])),
                ],
            )
            out.append(credit_row)
        if len(out) > 1:
            stats.add("credit(s) written as Credit rows", len(out) - 1)
        return out


__all__ = ["GcpBillingMapper", "MappingError"]
