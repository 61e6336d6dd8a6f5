"""AWS Cost and Usage Report rows -> FOCUS rows (legacy CUR; CUR 2.0 reuses it).

The rules follow shared/docs/focus.md §5 (focus_converters' AWS rules) with FOCUS 1.2's
ChargeCategory values; docs/native-exports.md has the table. The mapper reads columns by
their legacy CUR names (`lineItem/UnblendedCost`); CUR 2.0 passes a rename table.
"""

from __future__ import annotations

from decimal import Decimal

from collectors.exports.categories import service_category
from collectors.exports.common import (
    ZERO,
    Cells,
    FocusRow,
    MapStats,
    NativeRow,
    custom,
    iso,
    money,
    tags_json,
)

LINE_TYPE = "lineItem/LineItemType"
UNBLENDED = "lineItem/UnblendedCost"
NET_UNBLENDED = "lineItem/NetUnblendedCost"
REQUIRED = (
    LINE_TYPE, "lineItem/UsageStartDate", "lineItem/UsageEndDate", UNBLENDED,
    "lineItem/CurrencyCode", "bill/PayerAccountId",
)  # fmt: skip

# lineItem/LineItemType -> FOCUS ChargeCategory
CATEGORY = {
    "Usage": "Usage",
    "DiscountedUsage": "Usage",
    "SavingsPlanCoveredUsage": "Usage",
    "SavingsPlanNegation": "Usage",
    "BundledDiscount": "Usage",
    "EdpDiscount": "Usage",
    "PrivateRateDiscount": "Usage",
    "Discount": "Usage",
    "DistributorDiscount": "Usage",
    "Tax": "Tax",
    "Fee": "Purchase",
    "RIFee": "Purchase",
    "SavingsPlanUpfrontFee": "Purchase",
    "SavingsPlanRecurringFee": "Purchase",
    "Credit": "Credit",
    "Refund": "Credit",
}
COMMITMENT_FEES = frozenset({"RIFee", "SavingsPlanUpfrontFee", "SavingsPlanRecurringFee"})
COVERED = frozenset({"DiscountedUsage", "SavingsPlanCoveredUsage"})
PRICING = {"OnDemand": "Standard", "On Demand": "Standard", "Reserved": "Committed",
           "Spot": "Dynamic", "Spot Instance": "Dynamic"}  # fmt: skip
TAG_PREFIX = "resourceTags/"
COST_CATEGORY_PREFIX = "costCategory/"


class AwsCurMapper:
    """`aws-cur`: legacy CUR CSV (`lineItem/…`, `product/…`, `resourceTags/user:…`)."""

    format = "aws-cur"
    provider = "AWS"

    def __init__(self) -> None:
        self.rename: dict[str, str] = {}  # legacy name -> this file's name (CUR 2.0)

    def col(self, legacy: str) -> str:
        return self.rename.get(legacy, legacy)

    def missing_columns(self, header: list[str]) -> list[str]:
        present = set(header)
        return [self.col(c) for c in REQUIRED if self.col(c) not in present]

    # Hooks CUR 2.0 overrides: where tags, cost categories and product attributes live.
    def tags(self, row: NativeRow) -> dict[str, str]:
        out: dict[str, str] = {}
        for name, value in row.items():
            if name.startswith(TAG_PREFIX) and value and value.strip():
                key = name[len(TAG_PREFIX) :]
                out[key.removeprefix("user:")] = value.strip()
        return out

    def cost_categories(self, row: NativeRow) -> dict[str, str]:
        return {
            name[len(COST_CATEGORY_PREFIX) :]: value.strip()
            for name, value in row.items()
            if name.startswith(COST_CATEGORY_PREFIX) and value and value.strip()
        }

    def product(self, cells: Cells, legacy: str) -> str | None:
        return cells.text(self.col(legacy))

    def _effective(self, c: Cells, line_type: str, billed: Decimal) -> Decimal:
        """Amortised cost: commitments' effective-cost columns, fees' unused share."""

        def m(legacy: str) -> Decimal:
            return c.money(self.col(legacy)) or ZERO

        if line_type == "SavingsPlanCoveredUsage":
            return m("savingsPlan/SavingsPlanEffectiveCost")
        if line_type == "DiscountedUsage":
            return m("reservation/EffectiveCost")
        if line_type in ("SavingsPlanNegation", "SavingsPlanUpfrontFee"):
            return ZERO
        if line_type == "SavingsPlanRecurringFee":
            return m("savingsPlan/TotalCommitmentToDate") - m("savingsPlan/UsedCommitment")
        if line_type == "RIFee":
            return m("reservation/UnusedAmortizedUpfrontFeeForBillingPeriod") + m(
                "reservation/UnusedRecurringFee"
            )
        return billed

    def map_row(self, row: NativeRow, n: int, stats: MapStats) -> list[FocusRow]:
        c = Cells(row, n)
        col = self.col
        line_type = c.text(col(LINE_TYPE))
        if line_type is None:
            raise c.fail(col(LINE_TYPE), "is empty", "every CUR line item has a LineItemType")
        category = CATEGORY.get(line_type)
        if category is None:
            stats.add(f"unknown LineItemType {line_type!r} mapped to Adjustment")
            category = "Adjustment"
        net = c.money(col(NET_UNBLENDED))
        unblended = c.money(col(UNBLENDED), required=True) or ZERO
        billed = net if net is not None else unblended
        effective = self._effective(c, line_type, billed)
        start = c.timestamp(col("lineItem/UsageStartDate"))
        end = c.timestamp(col("lineItem/UsageEndDate"))
        bp_start = c.timestamp(col("bill/BillingPeriodStartDate"), required=False)
        bp_end = c.timestamp(col("bill/BillingPeriodEndDate"), required=False)
        is_usage = category == "Usage"
        is_tax = category == "Tax"
        consumes = is_usage and line_type != "SavingsPlanNegation"
        list_cost = c.money(col("pricing/publicOnDemandCost"))
        quantity = c.money(col("lineItem/UsageAmount"))
        unit = c.text(col("pricing/unit"))
        sp_arn = c.text(col("savingsPlan/SavingsPlanARN"))
        ri_arn = c.text(col("reservation/ReservationARN"))
        commitment = sp_arn or ri_arn
        cd_type = "Savings Plan" if sp_arn else ("Reserved Instance" if ri_arn else None)
        term = c.text(col("pricing/term"), col("pricing/PurchaseOption"))
        if is_tax:
            pricing = None
        elif line_type in COVERED or line_type in COMMITMENT_FEES:
            pricing = "Committed"
        else:
            pricing = PRICING.get(term or "", "Standard")
        if category not in ("Usage", "Purchase"):
            pricing = None
        bill_type = c.text(col("bill/BillType"))
        if bill_type in ("Purchase", "Refund") or line_type in ("Fee", "SavingsPlanUpfrontFee"):
            frequency: str | None = "One-Time"
        elif line_type in ("RIFee", "SavingsPlanRecurringFee"):
            frequency = "Recurring"
        elif is_usage:
            frequency = "Usage-Based"
        else:
            frequency = None
        product_code = c.text(col("lineItem/ProductCode"))
        billing_entity = c.text(col("bill/BillingEntity"))
        marketplace = billing_entity == "AWS Marketplace"
        publisher = c.text(col("product/ProductName")) if marketplace else None
        out: FocusRow = {
            "BilledCost": money(billed),
            "EffectiveCost": money(effective),
            "ListCost": money(list_cost if list_cost is not None and not is_tax else billed),
            "ContractedCost": money(unblended),
            "BillingAccountId": c.text(col("bill/PayerAccountId")),
            "BillingAccountName": c.text(col("bill/PayerAccountName")),
            "BillingCurrency": c.text(col("lineItem/CurrencyCode")),
            "BillingPeriodStart": iso(bp_start),
            "BillingPeriodEnd": iso(bp_end),
            "ChargePeriodStart": iso(start),
            "ChargePeriodEnd": iso(end),
            "ChargeCategory": category,
            "ChargeClass": None,
            "ChargeDescription": c.text(col("lineItem/LineItemDescription")),
            "ChargeFrequency": frequency,
            "InvoiceId": c.text(col("bill/InvoiceId")),
            "InvoiceIssuerName": c.text(col("bill/InvoicingEntity"), col("lineItem/LegalEntity"))
            or "Amazon Web Services",
            "ProviderName": "AWS",
            "PublisherName": publisher or "AWS",
            "PricingCategory": pricing,
            "PricingQuantity": None if is_tax else money(quantity),
            "PricingUnit": None if is_tax else unit,
            "ConsumedQuantity": money(quantity) if consumes else None,
            "ConsumedUnit": unit if consumes and quantity is not None else None,
            "SubAccountId": c.text(col("lineItem/UsageAccountId")),
            "SubAccountName": c.text(col("lineItem/UsageAccountName")),
            "ServiceName": self.product(c, "product/ProductName") or product_code,
            "ServiceCategory": service_category("aws", product_code) or "Other",
            "RegionId": self.product(c, "product/regionCode") or self.product(c, "product/region"),
            "RegionName": self.product(c, "product/location"),
            "AvailabilityZone": c.text(col("lineItem/AvailabilityZone")),
            "ResourceId": c.text(col("lineItem/ResourceId")),
            "SkuId": self.product(c, "product/sku"),
            "SkuPriceId": c.text(col("pricing/RateCode")),
            "CommitmentDiscountId": commitment,
            "CommitmentDiscountCategory": "Spend" if sp_arn else ("Usage" if ri_arn else None),
            "CommitmentDiscountType": cd_type,
            "CommitmentDiscountStatus": "Used" if line_type in COVERED and commitment else None,
            "Tags": tags_json(self.tags(row)),
        }
        if out["ConsumedUnit"] is None:
            out["ConsumedQuantity"] = None
        categories = self.cost_categories(row)
        custom(
            out,
            [
                ("x_LineItemType", line_type),
                ("x_UsageType", c.text(col("lineItem/UsageType"))),
                ("x_Operation", c.text(col("lineItem/Operation"))),
                ("x_ProductCode", product_code),
                ("x_CostCategories", tags_json(categories)),
            ],
        )
        return [out]
