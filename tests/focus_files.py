"""Small FOCUS files written by the tests themselves (no dependency on ../shared)."""

from __future__ import annotations

import csv
import gzip
from decimal import Decimal
from pathlib import Path

from collectors.focus.schema import MANDATORY

HEADER = [
    *MANDATORY,
    "ChargeFrequency",
    "PricingCategory",
    "RegionId",
    "ResourceId",
    "SkuId",
    "SubAccountId",
    "Tags",
    "ConsumedQuantity",
    "ConsumedUnit",
    "x_Team",
    "Id",
]


def base_row(i: int, cost: str = "1.25") -> dict[str, str]:
    day = 1 + (i % 28)
    return {
        "BilledCost": cost,
        "BillingAccountId": "111122223333",
        "BillingAccountName": "Acme",
        "BillingCurrency": "USD",
        "BillingPeriodEnd": "2024-10-01 00:00:00",
        "BillingPeriodStart": "2024-09-01T00:00:00Z",
        "ChargeCategory": "usage" if i % 3 else "Usage",
        "ChargeClass": "NULL",
        "ChargeDescription": f"line {i}",
        "ChargePeriodEnd": f"2024-09-{day:02d} 01:00:00",
        "ChargePeriodStart": f"2024-09-{day:02d} 00:00:00",
        "ContractedCost": cost,
        "EffectiveCost": cost,
        "InvoiceIssuerName": "AWS",
        "ListCost": cost,
        "PricingQuantity": "1",
        "PricingUnit": "Hours",
        "ProviderName": "AWS",
        "PublisherName": "AWS",
        "ServiceCategory": "compute" if i % 2 else "Compute",
        "ServiceName": "Amazon Elastic Compute Cloud",
        "ChargeFrequency": "Usage-based",
        "PricingCategory": "Standard",
        "RegionId": "eu-west-1",
        "ResourceId": f"i-{i:06d}",
        "SkuId": "SKU1",
        "SubAccountId": "444455556666",
        "Tags": '{"team": "web", " org": "x"}' if i % 2 else "NULL",
        "ConsumedQuantity": "1",
        "ConsumedUnit": "Hours",
        "x_Team": "web",
        "Id": str(i),
    }


def write_focus_csv(
    path: Path, rows: list[dict[str, str]], header: list[str] | None = None
) -> Path:
    header = header or HEADER
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "wt", newline="", encoding="utf-8") as fh:  # type: ignore[operator]
        writer = csv.DictWriter(fh, fieldnames=header, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def total(rows: list[dict[str, str]], column: str = "BilledCost") -> Decimal:
    return sum((Decimal(r[column]) for r in rows), Decimal(0))
