"""The FOCUS 1.2 spec's own commitment examples satisfy the invariants of focus.md §3."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from collectors.focus.invariants import (
    commitment_violations,
    consumed_quantity_violations,
    read_focus_rows,
)
from store.errors import InputFileError

EXAMPLES = "focus/spec-examples-1.2"


def _examples(shared_data: Path) -> list[Path]:
    files = sorted((shared_data / EXAMPLES).glob("*/*.csv"))
    assert len(files) == 11
    return files


# The spec's purchase scenarios 2 and 3 end a period at "2023-02-01T30:00:00Z" (hour 30).
# Ingest rightly rejects that; the invariant check reads a copy with hour 30 written as
# the next day's 06:00, which changes no cost.
IMPOSSIBLE_HOUR = "2023-02-01T30:00:00Z"


def _readable_copy(path: Path, tmp_path: Path) -> Path:
    text = path.read_text()
    if IMPOSSIBLE_HOUR not in text:
        return path
    fixed = tmp_path / path.name
    fixed.write_text(text.replace(IMPOSSIBLE_HOUR, "2023-02-02T06:00:00Z"))
    return fixed


def test_spec_typo_is_caught_with_row_and_column(shared_data: Path) -> None:
    path = (
        shared_data
        / EXAMPLES
        / "commitment_discount_scenarios"
        / ("commitment_discount_purchase_scenario_2.csv")
    )
    with pytest.raises(InputFileError, match=r"row 3, column ChargePeriodEnd.*T30:00:00Z"):
        list(read_focus_rows(path, strict=False))


def test_spec_examples_satisfy_commitment_invariants(shared_data: Path, tmp_path: Path) -> None:
    for path in _examples(shared_data):
        rows = list(read_focus_rows(_readable_copy(path, tmp_path), strict=False))
        assert rows, path.name
        assert commitment_violations(rows) == [], path.name


def test_flexibility_examples_balance_purchase_and_usage(shared_data: Path) -> None:
    for path in sorted((shared_data / EXAMPLES / "commitment_discount_flexibility").glob("*.csv")):
        rows = list(read_focus_rows(path, strict=False))
        purchased = sum(
            (r["BilledCost"] for r in rows if r["ChargeCategory"] == "Purchase"), Decimal(0)
        )
        used = sum(
            (
                r["EffectiveCost"]
                for r in rows
                if r["ChargeCategory"] == "Usage" and r["CommitmentDiscountId"]
            ),
            Decimal(0),
        )
        assert purchased == used, path.name


def test_usage_scenario_3_splits_used_and_unused(shared_data: Path) -> None:
    path = (
        shared_data
        / EXAMPLES
        / "commitment_discount_scenarios"
        / ("commitment_discount_usage_scenario_3.csv")
    )
    rows = list(read_focus_rows(path, strict=False))
    by_status = {r["CommitmentDiscountStatus"]: r["EffectiveCost"] for r in rows}
    assert by_status == {"Used": Decimal("0.75"), "Unused": Decimal("0.25")}
    assert (
        next(r for r in rows if r["CommitmentDiscountStatus"] == "Unused")["ConsumedQuantity"]
        is None
    )


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        (
            {"ChargeCategory": "Purchase", "EffectiveCost": "1", "BilledCost": "1"},
            "EffectiveCost 0",
        ),
        (
            {
                "ChargeCategory": "Usage",
                "CommitmentDiscountId": "c",
                "CommitmentDiscountStatus": "Used",
                "PricingCategory": "Committed",
                "BilledCost": "1",
                "EffectiveCost": "1",
            },
            "BilledCost 0",
        ),
    ],
)
def test_violations_are_reported(row: dict[str, str], problem: str) -> None:
    found = commitment_violations([row])
    assert len(found) == 1 and problem in found[0]


def test_consumed_quantity_rule_and_the_spec_example_that_breaks_it(shared_data: Path) -> None:
    unused = {
        "ChargeCategory": "Usage",
        "CommitmentDiscountStatus": "Unused",
        "ConsumedQuantity": 1,
    }
    assert "Unused" in consumed_quantity_violations([unused])[0]
    path = (
        shared_data
        / EXAMPLES
        / "commitment_discount_flexibility"
        / ("zero_percent_utilization_without_commitment_discount_flexibility.csv")
    )
    assert len(consumed_quantity_violations(read_focus_rows(path, strict=False))) == 1


def test_unbalanced_commitment_is_reported() -> None:
    rows = [
        {
            "ChargeCategory": "Purchase",
            "CommitmentDiscountId": "c",
            "BilledCost": "10",
            "EffectiveCost": "0",
        },
        {
            "ChargeCategory": "Usage",
            "CommitmentDiscountId": "c",
            "CommitmentDiscountStatus": "Used",
            "PricingCategory": "Committed",
            "BilledCost": "0",
            "EffectiveCost": "9",
        },
    ]
    assert "≠" in commitment_violations(rows)[0]
