"""How one FOCUS 1.2 CSV row is laid out, formatted and stamped with its charge period.

The demo writes hundreds of thousands of rows, so the row mechanics live apart from what
is charged (billing.py): every resource gets one pre-quoted template, and each day only
swaps in the period, invoice and amount cells. Nothing here knows what a workload or a
storage group costs.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from optimizer.demo.estate import Estate
from optimizer.demo.snapshot_loader import Snapshot

Q = Decimal("0.0000000001")  # every amount is written with 10 decimals
CLOUD = {  # provider name, account types, then (ServiceName, ServiceCategory, Subcategory)
    "aws": ("AWS", "Payer Account", "Linked Account",
            ("Amazon Elastic Compute Cloud", "Compute", "Virtual Machines"),
            ("Amazon Simple Storage Service", "Storage", "Object Storage"),
            ("AWS Data Transfer", "Networking", "Data Transfer")),
    "azure": ("Microsoft", "Billing Profile", "Subscription",
              ("Virtual Machines", "Compute", "Virtual Machines"),
              ("Storage", "Storage", "Object Storage"),
              ("Bandwidth", "Networking", "Data Transfer")),
    "gcp": ("Google Cloud", "Billing Account", "Project",
            ("Compute Engine", "Compute", "Virtual Machines"),
            ("Cloud Storage", "Storage", "Object Storage"),
            ("Networking", "Networking", "Data Transfer")),
}  # fmt: skip
COLUMNS = (
    "BilledCost", "BillingAccountId", "BillingAccountName", "BillingAccountType",
    "BillingCurrency", "BillingPeriodEnd", "BillingPeriodStart", "ChargeCategory", "ChargeClass",
    "ChargeDescription", "ChargeFrequency", "ChargePeriodEnd", "ChargePeriodStart",
    "CommitmentDiscountCategory", "CommitmentDiscountId", "CommitmentDiscountName",
    "CommitmentDiscountStatus", "CommitmentDiscountType", "ConsumedQuantity", "ConsumedUnit",
    "ContractedCost", "ContractedUnitPrice", "EffectiveCost", "InvoiceId", "InvoiceIssuerName",
    "ListCost", "ListUnitPrice", "PricingCategory", "PricingCurrency", "PricingQuantity",
    "PricingUnit", "ProviderName", "PublisherName", "RegionId", "RegionName",
    "AvailabilityZone", "ResourceId", "ResourceName", "ResourceType", "ServiceCategory",
    "ServiceName", "ServiceSubcategory", "SkuId", "SkuPriceId", "SkuPriceDetails",
    "SubAccountId", "SubAccountName", "SubAccountType", "Tags",
)  # fmt: skip
_POS = {c: i for i, c in enumerate(COLUMNS)}
_CPS, _CPE, _BPS, _BPE = (
    _POS[c]
    for c in ("ChargePeriodStart", "ChargePeriodEnd", "BillingPeriodStart", "BillingPeriodEnd")
)
_INV, _BILLED = _POS["InvoiceId"], _POS["BilledCost"]
Amounts = list[tuple[int, str]]


def money(value: Decimal) -> str:
    return format(value.quantize(Q), "f")


def _ts(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def charge_amounts(
    effective: Decimal,
    unit: Decimal | None = None,
    qty: Decimal | None = None,
    *,
    list_unit: Decimal | None = None,
    consumed: bool = True,
) -> Amounts:
    """The amount cells of one row, as (position, text), formatted once and reused daily.

    ListCost = list_unit (default `unit`) × qty and ContractedCost = unit × qty; without
    a unit (Tax) both equal EffectiveCost.
    """
    cells = {"EffectiveCost": effective, "ListCost": effective, "ContractedCost": effective}
    if unit is not None and qty is not None:
        listed = unit if list_unit is None else list_unit
        cells.update(ListCost=listed * qty, ContractedCost=unit * qty, PricingQuantity=qty)
        cells.update(ListUnitPrice=listed, ContractedUnitPrice=unit)
        if consumed:
            cells["ConsumedQuantity"] = qty
    return [(_POS[k], money(v)) for k, v in cells.items()]


def charge_kind(
    category: str, pricing: str | None, unit: str | None, **more: Any
) -> dict[str, Any]:
    """The columns that say what kind of charge a row is."""
    frequency = {"Usage": "Usage-Based", "Purchase": "Recurring", "Tax": "Recurring"}[category]
    used = category == "Usage" and more.get("CommitmentDiscountStatus") != "Unused"
    return {"ChargeCategory": category, "ChargeFrequency": frequency, "PricingCategory": pricing,
            "PricingUnit": unit, "ConsumedUnit": unit if used else None, **more}  # fmt: skip


def _cell(value: str) -> str:
    """CSV quoting, done once per template instead of once per row."""
    if any(ch in value for ch in ',"\n\r'):
        return '"' + value.replace('"', '""') + '"'
    return value


@dataclass(frozen=True)
class Day:
    """One charge day, with its cells pre-formatted (rows are many, days are few)."""

    start: datetime
    month: datetime
    days_in_month: int
    cells: tuple[str, str, str, str]  # ChargePeriodStart/End, BillingPeriodStart/End
    yyyymm: str


def _span(start: datetime, end: datetime) -> Day:
    """The charge period [start, end) inside the month of `start`."""
    month = start.replace(day=1)
    nxt = (month + timedelta(days=32)).replace(day=1)
    cells = (_ts(start), _ts(end), _ts(month), _ts(nxt))
    return Day(start, month, (nxt - month).days, cells, f"{month:%Y%m}")


def charge_days(estate: Estate) -> list[Day]:
    starts = [estate.start + timedelta(days=i) for i in range(estate.days)]
    return [_span(d, d + timedelta(days=1)) for d in starts]


def charge_months(days: list[Day]) -> list[tuple[Day, int]]:
    """Each month of the window as one charge period, with its number of days."""
    spans: dict[datetime, list[Day]] = defaultdict(list)
    for d in days:
        spans[d.month].append(d)
    return [
        (_span(ds[0].start, ds[-1].start + timedelta(days=1)), len(ds)) for ds in spans.values()
    ]


@dataclass(frozen=True)
class Template:
    cells: tuple[str, ...]
    provider: str
    service: int  # index into CLOUD[provider]: 3 compute, 4 storage, 5 networking
    invoice: str  # InvoiceId but the month


class FocusRows:
    """Builds rows from one template per resource; only dates and amounts vary by day.

    `billed` sums BilledCost per (provider, month, service) as rows are emitted, for tax.
    """

    def __init__(self, estate: Estate, snap: Snapshot) -> None:
        self.estate = estate
        self.regions = {(r.provider, r.region): r.display_name for r in snap.regions}
        self.billed: dict[tuple[str, datetime, int], Decimal] = defaultdict(Decimal)

    def template(
        self, provider: str, service: int, owner: tuple[str, str] | None, **values: Any
    ) -> Template:
        """Cells shared by every row of one resource; `owner` is (sub-account, team)."""
        name, bill_type, sub_type = CLOUD[provider][:3]
        svc = CLOUD[provider][service]
        cells: dict[str, Any] = {
            "BillingAccountId": self.estate.billing_accounts[provider],
            "BillingAccountName": f"Acme Corp ({name})", "BillingAccountType": bill_type,
            "BillingCurrency": "USD", "PricingCurrency": "USD", "InvoiceIssuerName": name,
            "ProviderName": name, "PublisherName": name, "ServiceName": svc[0],
            "ServiceCategory": svc[1], "ServiceSubcategory": svc[2],
            "RegionName": self.regions.get((provider, values.get("RegionId", ""))),
        }  # fmt: skip
        if owner:
            cells.update(SubAccountId=owner[0], SubAccountName=f"{owner[1]}-{provider}",
                         SubAccountType=sub_type)  # fmt: skip
        cells.update(values)
        row = [""] * len(COLUMNS)
        for key, value in cells.items():
            if value is not None and not isinstance(value, str):
                value = json.dumps(value, sort_keys=True, separators=(",", ":"))
            row[_POS[key]] = _cell(value or "")
        return Template(tuple(row), provider, service, f"INV-{provider.upper()}-")

    def emit(self, t: Template, day: Day, billed: Decimal, amounts: Amounts) -> str:
        """One CSV line of `t` for one charge period."""
        row = list(t.cells)
        row[_CPS], row[_CPE], row[_BPS], row[_BPE] = day.cells
        row[_INV] = t.invoice + day.yyyymm
        row[_BILLED] = money(billed)
        for pos, text in amounts:
            row[pos] = text
        self.billed[t.provider, day.month, t.service] += billed
        return ",".join(row) + "\n"
