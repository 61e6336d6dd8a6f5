"""Azure Cost Management cost details (EA / MCA, actual or amortized) rows -> FOCUS rows.

EA and MCA files name some columns differently (CostInBillingCurrency vs Cost,
BillingCurrencyCode vs BillingCurrency, ProductName vs Product); both are accepted.
Dates are M/D/YYYY (MCA exports may use YYYY-MM-DD); Tags are JSON without braces.
Rules: docs/native-exports.md.
"""

from __future__ import annotations

import json
from datetime import timedelta

from collectors.exports.categories import service_category
from collectors.exports.common import (
    ZERO,
    Cells,
    FocusRow,
    MapStats,
    NativeRow,
    custom,
    day_start,
    iso,
    money,
    next_day,
    tags_json,
)

COST = ("CostInBillingCurrency", "Cost")
CURRENCY = ("BillingCurrencyCode", "BillingCurrency")
REQUIRED: tuple[tuple[str, ...], ...] = (
    COST,
    CURRENCY,
    ("Date",),
    ("BillingAccountId",),
    ("ChargeType",),
)
CATEGORY = {
    "usage": "Usage",
    "purchase": "Purchase",
    "tax": "Tax",
    "unusedreservation": "Usage",
    "unusedsavingsplan": "Usage",
    "refund": "Credit",
    "roundingadjustment": "Adjustment",
}
UNUSED = frozenset({"unusedreservation", "unusedsavingsplan"})
PRICING = {"ondemand": "Standard", "spot": "Dynamic", "reservation": "Committed",
           "savingsplan": "Committed"}  # fmt: skip
COMMITTED_MODELS = frozenset({"reservation", "savingsplan"})
FREQUENCY = {"onetime": "One-Time", "recurring": "Recurring", "usagebased": "Usage-Based"}
UNITS = {
    "1 hour": "Hours", "1 hours": "Hours", "10 hours": "10 Hours", "100 hours": "100 Hours",
    "1 gb": "GB", "1 gb/month": "GB-Months", "1 gb/hour": "GB-Hours", "1/month": "Units/Month",
    "1/day": "Units/Day", "1 /month": "Units/Month", "1": "Units", "10k": "10K Units",
    "1k": "1K Units", "1m": "1M Units", "100": "100 Units", "10": "10 Units",
    "1 tb/month": "TB-Months", "1 gib/month": "GiB-Months",
}  # fmt: skip


def parse_tags(c: Cells, column: str) -> dict[str, object] | None:
    """Azure writes Tags as JSON object members without the braces; accept both forms."""
    value = c.text(column)
    if value is None:
        return None
    body = value if value.startswith("{") else "{" + value + "}"
    try:
        parsed = json.loads(body)
    except json.JSONDecodeError as exc:
        raise c.fail(
            column,
            f"not JSON object members ({exc.msg} at char {exc.pos})",
            f'write {column} as "key": "value" pairs separated by commas',
        ) from None
    if not isinstance(parsed, dict):
        raise c.fail(column, "is not a JSON object", f'write {column} as "key": "value" pairs')
    return parsed or None


def commitment_type(benefit_id: str | None) -> tuple[str | None, str | None]:
    """(CommitmentDiscountCategory, CommitmentDiscountType) from the benefit's ARM path."""
    lowered = (benefit_id or "").lower()
    if "/microsoft.capacity/" in lowered:
        return "Usage", "Reservation"
    if "/microsoft.billingbenefits/" in lowered:
        return "Spend", "Savings Plan"
    return None, None


class AzureCostDetailsMapper:
    """`azure-cost-details`: one FOCUS row per cost details row."""

    format = "azure-cost-details"
    provider = "Microsoft"

    def missing_columns(self, header: list[str]) -> list[str]:
        present = set(header)
        return [" or ".join(names) for names in REQUIRED if not present & set(names)]

    def map_row(self, row: NativeRow, n: int, stats: MapStats) -> list[FocusRow]:
        c = Cells(row, n)
        cost_col = next(name for name in COST if name in row)
        cost = c.money(cost_col, required=True) or ZERO
        charge_type = c.text("ChargeType")
        if charge_type is None:
            raise c.fail("ChargeType", "is empty", "every cost details row has a ChargeType")
        ct = charge_type.lower()
        category = CATEGORY.get(ct)
        if category is None:
            stats.add(f"unknown ChargeType {charge_type!r} mapped to Adjustment")
            category = "Adjustment"
        model = (c.text("PricingModel") or "").lower()
        benefit = c.text("benefitId", "ReservationId")
        committed = model in COMMITTED_MODELS or ct in UNUSED
        billed, effective = cost, cost
        status = None
        if category == "Usage" and committed:
            # Covered usage: nothing billed (the purchase was); the amortised share is the
            # cost in the amortized dataset and 0 in the actual one. Unused: likewise.
            billed = ZERO
            status = "Unused" if ct in UNUSED else "Used"
        elif category == "Purchase" and committed:
            effective = ZERO  # FOCUS: a commitment purchase is amortised into usage
            stats.add("commitment purchase(s) with EffectiveCost 0 (amortised into usage)")
        day = c.us_date("Date")
        assert day is not None
        bp_start = c.us_date("BillingPeriodStartDate", required=False)
        bp_end = c.us_date("BillingPeriodEndDate", required=False)
        quantity = c.money("Quantity")
        unit_raw = c.text("UnitOfMeasure")
        unit = UNITS.get((unit_raw or "").lower(), unit_raw)
        is_tax = category == "Tax"
        unit_price = c.money("UnitPrice")
        payg = c.money("PayGPrice")
        q = quantity if quantity is not None else ZERO
        contracted = unit_price * q if unit_price is not None else cost
        list_cost = payg * q if payg is not None and payg != 0 else contracted
        if category not in ("Usage", "Purchase"):
            contracted, list_cost = cost, cost
        cd_category, cd_type = commitment_type(benefit) if committed else (None, None)
        cd_name = c.text("benefitName", "ReservationName") if committed else None
        consumed = category == "Usage" and status != "Unused" and quantity is not None
        region = c.text("ResourceLocation")
        consumed_service = c.text("ConsumedService")
        out: FocusRow = {
            "BilledCost": money(billed),
            "EffectiveCost": money(effective),
            "ListCost": money(list_cost),
            "ContractedCost": money(contracted),
            "BillingAccountId": c.text("BillingAccountId"),
            "BillingAccountName": c.text("BillingAccountName"),
            "BillingCurrency": c.text(*CURRENCY),
            "BillingPeriodStart": iso(day_start(bp_start)) if bp_start else None,
            # Azure's BillingPeriodEndDate is the last day; FOCUS ends are exclusive
            "BillingPeriodEnd": iso(next_day(bp_end)) if bp_end else None,
            "ChargePeriodStart": iso(day_start(day)),
            "ChargePeriodEnd": iso(day_start(day) + timedelta(days=1)),
            "ChargeCategory": category,
            "ChargeDescription": c.text("ProductName", "Product"),
            "ChargeFrequency": FREQUENCY.get((c.text("Frequency") or "").lower()),
            "InvoiceId": c.text("InvoiceId"),
            "InvoiceIssuerName": "Microsoft",
            "ProviderName": "Microsoft",
            "PublisherName": c.text("PublisherName") or "Microsoft",
            "PricingCategory": None if is_tax else PRICING.get(model, "Standard"),
            "PricingQuantity": None if is_tax else money(quantity),
            "PricingUnit": None if is_tax else unit,
            "ConsumedQuantity": money(quantity) if consumed else None,
            "ConsumedUnit": unit if consumed else None,
            "SubAccountId": c.text("SubscriptionId"),
            "SubAccountName": c.text("SubscriptionName"),
            "ServiceName": c.text("MeterCategory") or consumed_service,
            "ServiceCategory": service_category("azure", consumed_service) or "Other",
            "RegionId": region.lower().replace(" ", "") if region else None,
            "RegionName": c.text("MeterRegion"),
            "AvailabilityZone": c.text("AvailabilityZone"),
            "ResourceId": c.text("ResourceId"),
            "ResourceName": c.text("ResourceName"),
            "SkuId": c.text("MeterId"),
            "SkuPriceId": c.text("PartNumber"),
            "CommitmentDiscountId": benefit if committed else None,
            "CommitmentDiscountName": cd_name,
            "CommitmentDiscountCategory": cd_category,
            "CommitmentDiscountType": cd_type,
            "CommitmentDiscountStatus": status,
            "Tags": tags_json(parse_tags(c, "Tags")),
        }
        custom(
            out,
            [
                ("x_ChargeType", charge_type),
                ("x_PricingModel", c.text("PricingModel")),
                ("x_MeterName", c.text("MeterName")),
                ("x_ResourceGroup", c.text("ResourceGroup")),
                ("x_AdditionalInfo", c.text("AdditionalInfo")),
            ],
        )
        return [out]
