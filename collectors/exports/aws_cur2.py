"""AWS CUR 2.0 (Data Exports `COST_AND_USAGE_REPORT`) rows -> FOCUS rows.

CUR 2.0 has a fixed snake_case schema plus map columns (`product`, `resource_tags`,
`cost_category`, `discount`), written in CSV as JSON objects. The rules are the legacy
CUR rules (aws_cur.py); this module only says where each value lives. Column names are
from the AWS table dictionary (docs.aws.amazon.com/cur/latest/userguide/
table-dictionary-cur2*.html) and shared/docs/api-shapes.md §1; no public real CUR 2.0
file exists, so the tests use a synthetic one.
"""

from __future__ import annotations

import json

from collectors.exports.aws_cur import AwsCurMapper
from collectors.exports.common import Cells, FocusRow, MappingError, MapStats, NativeRow

RENAME = {
    "identity/LineItemId": "identity_line_item_id",
    "bill/InvoiceId": "bill_invoice_id",
    "bill/InvoicingEntity": "bill_invoicing_entity",
    "bill/BillingEntity": "bill_billing_entity",
    "bill/BillType": "bill_bill_type",
    "bill/PayerAccountId": "bill_payer_account_id",
    "bill/PayerAccountName": "bill_payer_account_name",
    "bill/BillingPeriodStartDate": "bill_billing_period_start_date",
    "bill/BillingPeriodEndDate": "bill_billing_period_end_date",
    "lineItem/UsageAccountId": "line_item_usage_account_id",
    "lineItem/UsageAccountName": "line_item_usage_account_name",
    "lineItem/LineItemType": "line_item_line_item_type",
    "lineItem/UsageStartDate": "line_item_usage_start_date",
    "lineItem/UsageEndDate": "line_item_usage_end_date",
    "lineItem/ProductCode": "line_item_product_code",
    "lineItem/UsageType": "line_item_usage_type",
    "lineItem/Operation": "line_item_operation",
    "lineItem/AvailabilityZone": "line_item_availability_zone",
    "lineItem/ResourceId": "line_item_resource_id",
    "lineItem/UsageAmount": "line_item_usage_amount",
    "lineItem/CurrencyCode": "line_item_currency_code",
    "lineItem/UnblendedCost": "line_item_unblended_cost",
    "lineItem/NetUnblendedCost": "line_item_net_unblended_cost",
    "lineItem/LineItemDescription": "line_item_line_item_description",
    "lineItem/LegalEntity": "line_item_legal_entity",
    "product/ProductName": "product_product_name",
    "product/regionCode": "product_region_code",
    "product/region": "product_region",
    "product/location": "product_location",
    "product/sku": "product_sku",
    "pricing/unit": "pricing_unit",
    "pricing/term": "pricing_term",
    "pricing/PurchaseOption": "pricing_purchase_option",
    "pricing/publicOnDemandCost": "pricing_public_on_demand_cost",
    "pricing/RateCode": "pricing_rate_code",
    "reservation/ReservationARN": "reservation_reservation_a_r_n",
    "reservation/EffectiveCost": "reservation_effective_cost",
    "reservation/UnusedAmortizedUpfrontFeeForBillingPeriod": (
        "reservation_unused_amortized_upfront_fee_for_billing_period"
    ),
    "reservation/UnusedRecurringFee": "reservation_unused_recurring_fee",
    "savingsPlan/SavingsPlanARN": "savings_plan_savings_plan_a_r_n",
    "savingsPlan/SavingsPlanEffectiveCost": "savings_plan_savings_plan_effective_cost",
    "savingsPlan/TotalCommitmentToDate": "savings_plan_total_commitment_to_date",
    "savingsPlan/UsedCommitment": "savings_plan_used_commitment",
}
# product_* static columns whose legacy attribute lives in the `product` map otherwise
PRODUCT_MAP_KEYS = {
    "product/ProductName": "product_name",
    "product/regionCode": "region_code",
    "product/region": "region",
    "product/location": "location",
    "product/sku": "sku",
}


class AwsCur2Mapper(AwsCurMapper):
    """`aws-cur2`: CUR 2.0 CSV (snake_case columns, JSON map columns)."""

    format = "aws-cur2"

    def __init__(self) -> None:
        super().__init__()
        self.rename = dict(RENAME)
        self._row_maps: dict[str, dict[str, str]] = {}

    def _map(self, row: NativeRow, name: str, n: int) -> dict[str, str]:
        value = (row.get(name) or "").strip()
        if not value:
            return {}
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError as exc:
            raise MappingError(
                n,
                name,
                f"not a JSON object ({exc.msg} at char {exc.pos})",
                f'write {name} as a JSON object, e.g. {{"key": "value"}}',
            ) from None
        if not isinstance(parsed, dict):
            raise MappingError(n, name, "is JSON but not an object", f"write {name} as an object")
        return {str(k): str(v) for k, v in parsed.items() if v is not None and str(v) != ""}

    def tags(self, row: NativeRow) -> dict[str, str]:
        tags = self._row_maps.get("resource_tags", {})
        return {k.removeprefix("user_"): v for k, v in tags.items()}

    def cost_categories(self, row: NativeRow) -> dict[str, str]:
        return self._row_maps.get("cost_category", {})

    def product(self, cells: Cells, legacy: str) -> str | None:
        value = cells.text(self.col(legacy))
        if value is None and legacy in PRODUCT_MAP_KEYS:
            value = self._row_maps.get("product", {}).get(PRODUCT_MAP_KEYS[legacy]) or None
        return value

    def map_row(self, row: NativeRow, n: int, stats: MapStats) -> list[FocusRow]:
        self._row_maps = {
            name: self._map(row, name, n) for name in ("product", "resource_tags", "cost_category")
        }
        return super().map_row(row, n, stats)
