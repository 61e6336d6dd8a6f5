"""FOCUS 1.0–1.2 cost-and-usage columns: names, types, enums, and where each is stored.

Source: the FOCUS specification (CC BY 4.0), summarised in shared/docs/focus.md.
"""

from __future__ import annotations

from dataclasses import dataclass

SUPPORTED_VERSIONS = ("1.0", "1.1", "1.2")

# The 21 columns every FOCUS 1.0–1.2 cost-and-usage file must have.
MANDATORY = (
    "BilledCost", "BillingAccountId", "BillingAccountName", "BillingCurrency",
    "BillingPeriodEnd", "BillingPeriodStart", "ChargeCategory", "ChargeClass",
    "ChargeDescription", "ChargePeriodEnd", "ChargePeriodStart", "ContractedCost",
    "EffectiveCost", "InvoiceIssuerName", "ListCost", "PricingQuantity", "PricingUnit",
    "ProviderName", "PublisherName", "ServiceCategory", "ServiceName",
)  # fmt: skip

# Without these a row cannot be stored or counted: a null is an error.
REQUIRED_VALUES = (
    "BilledCost", "EffectiveCost", "BillingAccountId", "BillingCurrency", "ChargeCategory",
    "ChargePeriodStart", "ChargePeriodEnd", "ProviderName",
)  # fmt: skip

# The spec says these are never null, but real exports leave them empty at times
# (the official sample's Oracle rows have no ContractedCost): kept as null and counted.
EXPECTED_VALUES = (
    "BillingPeriodStart", "BillingPeriodEnd", "ContractedCost", "InvoiceIssuerName",
    "ListCost", "PublisherName", "ServiceCategory", "ServiceName",
)  # fmt: skip

COLUMNS_1_0 = (
    *MANDATORY,
    "AvailabilityZone", "ChargeFrequency", "CommitmentDiscountCategory",
    "CommitmentDiscountId", "CommitmentDiscountName", "CommitmentDiscountStatus",
    "CommitmentDiscountType", "ConsumedQuantity", "ConsumedUnit", "ContractedUnitPrice",
    "ListUnitPrice", "PricingCategory", "RegionId", "RegionName", "ResourceId",
    "ResourceName", "ResourceType", "SkuId", "SkuPriceId", "SubAccountId",
    "SubAccountName", "Tags",
)  # fmt: skip
NEW_IN_1_1 = (
    "CapacityReservationId", "CapacityReservationStatus", "CommitmentDiscountQuantity",
    "CommitmentDiscountUnit", "ServiceSubcategory", "SkuMeter", "SkuPriceDetails",
)  # fmt: skip
NEW_IN_1_2 = (
    "BillingAccountType", "InvoiceId", "PricingCurrency",
    "PricingCurrencyContractedUnitPrice", "PricingCurrencyEffectiveCost",
    "PricingCurrencyListUnitPrice", "SubAccountType",
)  # fmt: skip
ALL_COLUMNS = COLUMNS_1_0 + NEW_IN_1_1 + NEW_IN_1_2

DECIMAL_COLUMNS = frozenset({
    "BilledCost", "EffectiveCost", "ListCost", "ContractedCost", "PricingQuantity",
    "ConsumedQuantity", "ListUnitPrice", "ContractedUnitPrice", "CommitmentDiscountQuantity",
    "PricingCurrencyContractedUnitPrice", "PricingCurrencyEffectiveCost",
    "PricingCurrencyListUnitPrice",
})  # fmt: skip
DATETIME_COLUMNS = frozenset(
    {"BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart", "ChargePeriodEnd"}
)
JSON_COLUMNS = frozenset({"Tags", "SkuPriceDetails"})

SERVICE_CATEGORIES = (
    "AI and Machine Learning", "Analytics", "Business Applications", "Compute", "Databases",
    "Developer Tools", "Multicloud", "Identity", "Integration", "Internet of Things",
    "Management and Governance", "Media", "Migration", "Mobile", "Networking", "Security",
    "Storage", "Web", "Other",
)  # fmt: skip

# Enum columns: canonical spellings; input is matched case-insensitively.
ENUMS: dict[str, tuple[str, ...]] = {
    "ChargeCategory": ("Usage", "Purchase", "Tax", "Credit", "Adjustment"),
    "ChargeClass": ("Correction",),
    "ChargeFrequency": ("One-Time", "Recurring", "Usage-Based"),
    "PricingCategory": ("Standard", "Dynamic", "Committed", "Other"),
    "CommitmentDiscountCategory": ("Spend", "Usage"),
    "CommitmentDiscountStatus": ("Used", "Unused"),
    "CapacityReservationStatus": ("Used", "Unused"),
    "ServiceCategory": SERVICE_CATEGORIES,
}

# FOCUS column -> cost_record column, for the columns the store promotes.
PROMOTED: dict[str, str] = {
    "BilledCost": "billed_cost",
    "EffectiveCost": "effective_cost",
    "ListCost": "list_cost",
    "ContractedCost": "contracted_cost",
    "BillingCurrency": "billing_currency",
    "BillingAccountId": "billing_account_id",
    "BillingPeriodStart": "billing_period_start",
    "BillingPeriodEnd": "billing_period_end",
    "ChargePeriodStart": "charge_period_start",
    "ChargePeriodEnd": "charge_period_end",
    "ChargeCategory": "charge_category",
    "ChargeClass": "charge_class",
    "ChargeFrequency": "charge_frequency",
    "PricingCategory": "pricing_category",
    "ProviderName": "provider_name",
    "SubAccountId": "sub_account_id",
    "ServiceName": "service_name",
    "ServiceCategory": "service_category",
    "RegionId": "region_id",
    "AvailabilityZone": "availability_zone",
    "ResourceId": "resource_id",
    "SkuId": "sku_id",
    "CommitmentDiscountId": "commitment_discount_id",
    "CommitmentDiscountStatus": "commitment_discount_status",
    "ConsumedQuantity": "consumed_quantity",
    "ConsumedUnit": "consumed_unit",
    "PricingQuantity": "pricing_quantity",
    "PricingUnit": "pricing_unit",
}
STORE_TO_FOCUS = {v: k for k, v in PROMOTED.items()}

# Measures change when a provider restates a row; everything else identifies it.
MEASURES = frozenset({
    "BilledCost", "EffectiveCost", "ListCost", "ContractedCost", "PricingQuantity",
    "ConsumedQuantity", "ListUnitPrice", "ContractedUnitPrice", "CommitmentDiscountQuantity",
    "PricingCurrencyContractedUnitPrice", "PricingCurrencyEffectiveCost",
    "PricingCurrencyListUnitPrice",
})  # fmt: skip


@dataclass(frozen=True)
class ColumnPlan:
    """How one input file's columns map onto FOCUS names, decided from its header."""

    rename: dict[str, str]  # input name -> canonical FOCUS name
    custom: tuple[str, ...]  # input names kept in `custom` (x_ and unknown)
    missing_mandatory: tuple[str, ...]
    version: str

    @property
    def unprefixed_custom(self) -> tuple[str, ...]:
        return tuple(c for c in self.custom if not c.startswith("x_"))


_CANONICAL_BY_LOWER = {c.lower(): c for c in ALL_COLUMNS}


def plan_columns(header: list[str], version: str | None = None) -> ColumnPlan:
    """Match a header to FOCUS names (case-insensitively) and detect the version."""
    rename: dict[str, str] = {}
    custom: list[str] = []
    for name in header:
        canonical = _CANONICAL_BY_LOWER.get(name.strip().lower())
        if canonical and canonical not in rename.values():
            rename[name] = canonical
        else:
            custom.append(name)
    present = set(rename.values())
    if version is None:
        if present & set(NEW_IN_1_2):
            version = "1.2"
        elif present & set(NEW_IN_1_1):
            version = "1.1"
        else:
            version = "1.0"
    missing = tuple(c for c in MANDATORY if c not in present)
    return ColumnPlan(rename, tuple(custom), missing, version)
