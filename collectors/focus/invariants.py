"""FOCUS commitment-discount invariants (focus.md §3), checked on validated rows.

Used by tests on the spec's own examples and on the demo estate, and available to
users as a data-quality check: a row set that breaks them double counts or hides
amortised spend.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from collectors.focus.normalize import BatchNormalizer
from collectors.focus.reader import open_focus_file
from collectors.focus.schema import DECIMAL_COLUMNS, STORE_TO_FOCUS, plan_columns

Row = Mapping[str, Any]


def read_focus_rows(path: Path, *, strict: bool = True) -> Iterator[dict[str, Any]]:
    """Validated rows with FOCUS column names and Decimal money (no store involved)."""
    opened = open_focus_file(path)
    normalizer = BatchNormalizer(path, plan_columns(opened.header), strict=strict)
    for batch in opened.batches:
        cols = normalizer.normalize(batch).columns
        for i in range(batch.num_rows):
            row: dict[str, Any] = {}
            for store_name, focus_name in STORE_TO_FOCUS.items():
                row[focus_name] = cols[store_name][i]
            for extra in ("attributes", "custom"):
                if cols[extra][i]:
                    row.update(json.loads(cols[extra][i]))
            for name in DECIMAL_COLUMNS:
                if row.get(name) is not None:
                    row[name] = Decimal(row[name])
            yield row


def _dec(row: Row, name: str) -> Decimal:
    value = row.get(name)
    return Decimal(0) if value is None else Decimal(value)


def consumed_quantity_violations(rows: Iterable[Row]) -> list[str]:
    """ConsumedQuantity belongs to used consumption only (focus.md §3).

    Kept apart from the commitment invariants: the spec's own example
    `zero_percent_utilization_without_commitment_discount_flexibility.csv` carries a
    ConsumedQuantity on its Unused row, so this is a data-quality warning, not an error.
    """
    problems = []
    for n, row in enumerate(rows, start=1):
        if row.get("ConsumedQuantity") is None:
            continue
        if row.get("ChargeCategory") != "Usage":
            problems.append(f"row {n}: ConsumedQuantity on a {row.get('ChargeCategory')} row")
        elif row.get("CommitmentDiscountStatus") == "Unused":
            problems.append(f"row {n}: ConsumedQuantity on an Unused commitment row")
    return problems


def commitment_violations(rows: Iterable[Row]) -> list[str]:
    """Every broken commitment invariant (focus.md §3, per CommitmentDiscountId)."""
    problems: list[str] = []
    purchased: dict[str, Decimal] = defaultdict(Decimal)
    amortised: dict[str, Decimal] = defaultdict(Decimal)
    for n, row in enumerate(rows, start=1):
        cd_id = row.get("CommitmentDiscountId")
        category = row.get("ChargeCategory")
        if category == "Purchase":
            if _dec(row, "EffectiveCost") != 0:
                problems.append(f"row {n}: a Purchase row must have EffectiveCost 0")
            if cd_id:
                purchased[cd_id] += _dec(row, "BilledCost")
            continue
        if category != "Usage" or not cd_id:
            continue
        status = row.get("CommitmentDiscountStatus")
        amortised[cd_id] += _dec(row, "EffectiveCost")
        covered = status == "Used" and row.get("PricingCategory") == "Committed"
        if covered and _dec(row, "BilledCost") != 0:
            problems.append(f"row {n}: usage covered by {cd_id} must have BilledCost 0")
        if status is None and row.get("PricingCategory") == "Committed":
            problems.append(f"row {n}: committed usage must say Used or Unused")
    for cd_id in sorted(set(purchased) & set(amortised)):
        if purchased[cd_id] != amortised[cd_id]:
            problems.append(
                f"{cd_id}: Σ EffectiveCost of usage {amortised[cd_id]} ≠ Σ BilledCost of "
                f"purchases {purchased[cd_id]}"
            )
    return problems
