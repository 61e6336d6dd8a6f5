"""`optimizer collect export`: native billing exports into FOCUS cost records.

The real public samples in ../shared/data/native-exports must come out with the same
totals as the files themselves. Those source totals are computed here, independently of
the mappers, straight from the raw columns:

- AWS legacy CUR: BilledCost = EffectiveCost = Σ lineItem/UnblendedCost (neither sample
  has NetUnblendedCost, Savings Plan or reservation rows, so nothing is amortised).
- Azure cost details: BilledCost = Σ CostInBillingCurrency (EA) or Σ Cost (the toolkit
  file); EffectiveCost = the same minus commitment purchases (ChargeType Purchase with
  PricingModel Reservation/SavingsPlan), which FOCUS amortises into usage.
- GCP billing export: BilledCost = EffectiveCost = Σ cost + Σ credits.amount (the net
  cost, as FOCUS and Google's invoice count it: each credit becomes a Credit row).
"""

from __future__ import annotations

import ast
import csv
import gzip
import json
import shutil
from collections import Counter
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result
from sqlalchemy.engine import Engine

from collectors.exports.ingest import import_export_file
from optimizer.cli import cli
from store import costs
from store.errors import InputFileError
from store.models import CostRecord
from tests.conftest import run_cli

NATIVE = Path(__file__).resolve().parents[2] / "shared" / "data" / "native-exports"
AWS_SAMPLE = "aws/sample-anonymous-aws-export-dataset.csv"
AWS_KOKU = "aws/test_cur.csv"
AZURE_EA = "azure/sample-anonymous-ea-export-dataset.csv"
AZURE_TOOLKIT = "azure/EA_ActualCost_Small.csv"
GCP_KOKU = "gcp/202011_30c31bca571d9b7f3b2c8459dd8bc34a_2020-11-08_2020-11-11.csv"
CENT = Decimal("0.01")


@pytest.fixture
def native() -> Path:
    if not NATIVE.is_dir():
        pytest.skip(f"native export samples not found at {NATIVE} (../shared/data is absent)")
    return NATIVE


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def source_totals(fmt: str, path: Path) -> tuple[Decimal, Decimal]:
    """(BilledCost, EffectiveCost) the file itself says, from its raw columns."""
    rows = read_rows(path)
    if fmt == "aws-cur":
        total = sum((Decimal(r["lineItem/UnblendedCost"]) for r in rows), Decimal(0))
        return total, total
    if fmt == "azure-cost-details":
        col = "CostInBillingCurrency" if "CostInBillingCurrency" in rows[0] else "Cost"
        billed = sum((Decimal(r[col]) for r in rows), Decimal(0))
        purchases = sum(
            (
                Decimal(r[col])
                for r in rows
                if r["ChargeType"] == "Purchase"
                and r["PricingModel"] in ("Reservation", "SavingsPlan")
            ),
            Decimal(0),
        )
        return billed, billed - purchases
    cost = sum((Decimal(r["cost"]) for r in rows), Decimal(0))
    credits = sum(
        (Decimal(str(c["amount"])) for r in rows for c in ast.literal_eval(r["credits"] or "[]")),
        Decimal(0),
    )
    return cost + credits, cost + credits


def store_totals(engine: Engine) -> costs.CostTotals:
    with engine.connect() as conn:
        return costs.totals(conn)


def categories(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(CostRecord.charge_category)).scalars().all()  # type: ignore[call-overload]
    return dict(Counter(rows))


def invoke(engine: Engine, *args: str | Path, json_out: bool = True) -> Result:
    flags = ["--db", str(engine.url.database), *(["--json"] if json_out else [])]
    return CliRunner().invoke(cli, [*flags, "collect", "export", *map(str, args)])


def exit_code(result: Result) -> int:
    """The code `optimizer` exits with (its main maps OptimizerError to exit codes)."""
    exc = result.exception
    code = getattr(exc, "exit_code", None)
    return result.exit_code if code is None or isinstance(exc, SystemExit) else int(code)


SAMPLES = [
    ("aws-cur", AWS_SAMPLE, {"Usage": 1269, "Tax": 12}),
    ("aws-cur", AWS_KOKU, {"Usage": 19}),
    ("azure-cost-details", AZURE_EA, {"Usage": 27}),
    ("azure-cost-details", AZURE_TOOLKIT, {"Usage": 10, "Purchase": 1}),
    ("gcp-billing-export", GCP_KOKU, {"Usage": 25, "Credit": 8}),
]


@pytest.mark.parametrize(("fmt", "name", "expected"), SAMPLES, ids=[s[1] for s in SAMPLES])
def test_real_samples_keep_their_totals_and_reimport_replaces(
    engine: Engine, native: Path, fmt: str, name: str, expected: dict[str, int]
) -> None:
    path = native / name
    billed, effective = source_totals(fmt, path)
    first = import_export_file(engine, path, fmt)
    assert first.billed_cost_total == billed and first.effective_cost_total == effective
    assert first.billed_cost_total.quantize(CENT) == billed.quantize(CENT)
    assert first.categories == expected
    assert first.source_key == f"export:{fmt}:{path.resolve()}"
    t = store_totals(engine)
    assert (t.rows, t.billed_cost, t.effective_cost) == (sum(expected.values()), billed, effective)
    assert categories(engine) == expected
    again = import_export_file(engine, path, fmt)
    assert again.rows_replaced == sum(expected.values())
    assert store_totals(engine) == t


def test_sample_totals_are_the_known_ones(sqlite_engine: Engine, native: Path) -> None:
    """The numbers the report quotes, pinned (SOURCES.md: AWS total unblended ≈ $1.68)."""
    got = {}
    for fmt, name, _ in SAMPLES:
        s = import_export_file(sqlite_engine, native / name, fmt, dry_run=True)
        got[name] = (str(s.billed_cost_total), str(s.effective_cost_total))
    assert got == {
        AWS_SAMPLE: ("1.6823086974", "1.6823086974"),
        AWS_KOKU: ("0.0827499841274349353", "0.0827499841274349353"),
        AZURE_EA: ("1.26136926505726", "1.26136926505726"),
        AZURE_TOOLKIT: ("8.5450077867419368", "5.2950077867419368"),
        GCP_KOKU: ("0", "0"),
    }
    assert store_totals(sqlite_engine).rows == 0  # dry run wrote nothing


def one(engine: Engine, **where: object) -> CostRecord:
    with engine.connect() as conn:
        stmt = sa.select(CostRecord).filter_by(**where).limit(1)
        return conn.execute(stmt).one()  # type: ignore[return-value]


def test_mapped_fields(sqlite_engine: Engine, native: Path) -> None:
    import_export_file(sqlite_engine, native / AZURE_TOOLKIT, "azure-cost-details")
    purchase = one(sqlite_engine, charge_category="Purchase")
    assert (purchase.billed_cost, purchase.effective_cost) == (Decimal("3.25"), Decimal(0))
    assert (purchase.commitment_discount_id or "").startswith("/providers/Microsoft.Capacity/")
    assert purchase.pricing_category == "Committed"
    assert str(purchase.billing_period_end) == "2023-10-01 00:00:00+00:00"
    with sqlite_engine.connect() as conn:
        tags = [r for (r,) in conn.execute(sa.select(CostRecord.tags)) if r]  # type: ignore[call-overload]
    assert {"CostCenter": "SubACM", "org": ""} in tags

    import_export_file(sqlite_engine, native / GCP_KOKU, "gcp-billing-export")
    credit = one(sqlite_engine, charge_category="Credit")
    assert credit.provider_name == "Google Cloud" and credit.billed_cost < 0
    assert (credit.custom or {})["x_CreditType"] == "PROMOTION"
    assert str(credit.billing_period_start) == "2020-11-01 07:00:00+00:00"  # Pacific month
    bq = one(sqlite_engine, provider_name="Google Cloud", service_name="BigQuery")
    with sqlite_engine.connect() as conn:
        stmt = sa.select(CostRecord.tags).where(CostRecord.provider_name == "Google Cloud")  # type: ignore[call-overload]
        labels = [r for (r,) in conn.execute(stmt) if r]
    assert {"goog-resource-type": "bigquery_dataset"} in labels
    assert bq.service_category == "Databases"  # focus_converters maps BigQuery there

    import_export_file(sqlite_engine, native / AWS_SAMPLE, "aws-cur")
    tax = one(sqlite_engine, provider_name="AWS", charge_category="Tax")
    assert tax.pricing_category is None and tax.pricing_quantity is None
    s3 = one(sqlite_engine, provider_name="AWS", service_name="Amazon Simple Storage Service")
    assert s3.sub_account_id == "123412340534" and s3.billing_currency == "USD"
    assert s3.service_category == "Storage"


CUR2_HEADER = [
    "identity_line_item_id", "bill_bill_type", "bill_billing_entity", "bill_invoicing_entity",
    "bill_payer_account_id", "bill_payer_account_name", "bill_billing_period_start_date",
    "bill_billing_period_end_date", "line_item_usage_account_id", "line_item_line_item_type",
    "line_item_usage_start_date", "line_item_usage_end_date", "line_item_product_code",
    "line_item_usage_type", "line_item_operation", "line_item_resource_id",
    "line_item_usage_amount", "line_item_currency_code", "line_item_unblended_cost",
    "line_item_net_unblended_cost", "line_item_line_item_description", "pricing_unit",
    "pricing_term", "pricing_public_on_demand_cost", "product", "product_region_code",
    "product_sku", "resource_tags", "cost_category", "reservation_reservation_a_r_n",
    "reservation_effective_cost", "reservation_unused_amortized_upfront_fee_for_billing_period",
    "reservation_unused_recurring_fee", "savings_plan_savings_plan_a_r_n",
    "savings_plan_savings_plan_effective_cost", "savings_plan_total_commitment_to_date",
    "savings_plan_used_commitment",
]  # fmt: skip
SP = "arn:aws:savingsplans::111122223333:savingsplan/sp-1"
RI = "arn:aws:ec2:us-east-1:111122223333:reserved-instances/ri-1"
# Synthetic CUR 2.0 rows (no public real sample exists): one of each interesting type.
# type, unblended, net, sp_effective, ri_effective, ri unused fee parts, sp commitment parts
CUR2_ROWS = [
    ("Usage", "1.50", "1.40", "", "", "", "", "", ""),
    ("SavingsPlanCoveredUsage", "2.00", "", "1.20", "", "", "", "", ""),
    ("SavingsPlanNegation", "-2.00", "", "", "", "", "", "", ""),
    ("SavingsPlanRecurringFee", "1.50", "", "", "", "", "", "1.50", "1.20"),
    ("DiscountedUsage", "0", "", "", "0.80", "", "", "", ""),
    ("RIFee", "1.00", "", "", "", "0.10", "0.10", "", ""),
    ("Tax", "0.30", "", "", "", "", "", "", ""),
    ("Credit", "-0.25", "", "", "", "", "", "", ""),
]


def write_cur2(path: Path, rows: Sequence[tuple[str, ...]] = CUR2_ROWS, gz: bool = False) -> Path:
    opener = gzip.open if gz else open
    with opener(path, "wt", newline="") as fh:
        w = csv.DictWriter(fh, CUR2_HEADER)
        w.writeheader()
        for i, (kind, unblended, net, sp_eff, ri_eff, ri_up, ri_rec, sp_tot, sp_used) in enumerate(
            rows
        ):
            arn = (
                SP
                if kind.startswith("SavingsPlan")
                else (RI if kind in ("DiscountedUsage", "RIFee") else "")
            )
            w.writerow(
                {
                    "identity_line_item_id": f"li-{i}",
                    "bill_bill_type": "Anniversary",
                    "bill_billing_entity": "AWS",
                    "bill_invoicing_entity": "Amazon Web Services, Inc.",
                    "bill_payer_account_id": "111122223333",
                    "bill_payer_account_name": "payer",
                    "bill_billing_period_start_date": "2024-09-01T00:00:00.000Z",
                    "bill_billing_period_end_date": "2024-10-01T00:00:00.000Z",
                    "line_item_usage_account_id": "444455556666",
                    "line_item_line_item_type": kind,
                    "line_item_usage_start_date": "2024-09-02T00:00:00.000Z",
                    "line_item_usage_end_date": "2024-09-02T01:00:00.000Z",
                    "line_item_product_code": "AmazonEC2",
                    "line_item_usage_type": "BoxUsage:m5.large",
                    "line_item_operation": "RunInstances",
                    "line_item_resource_id": f"i-{i:04d}",
                    "line_item_usage_amount": "1" if kind != "Tax" else "",
                    "line_item_currency_code": "USD",
                    "line_item_unblended_cost": unblended,
                    "line_item_net_unblended_cost": net,
                    "line_item_line_item_description": f"{kind} line",
                    "pricing_unit": "Hrs",
                    "pricing_term": "OnDemand" if kind == "Usage" else "",
                    "pricing_public_on_demand_cost": "2.00" if kind.endswith("Usage") else "",
                    "product": json.dumps(
                        {"product_name": "Amazon Elastic Compute Cloud", "region": "us-east-1"}
                    ),
                    "product_region_code": "us-east-1",
                    "product_sku": "SKU123",
                    "resource_tags": json.dumps({"user_team": "web", "aws_createdBy": "x"}),
                    "cost_category": json.dumps({"env": "prod"}),
                    "reservation_reservation_a_r_n": arn if arn == RI else "",
                    "reservation_effective_cost": ri_eff,
                    "reservation_unused_amortized_upfront_fee_for_billing_period": ri_up,
                    "reservation_unused_recurring_fee": ri_rec,
                    "savings_plan_savings_plan_a_r_n": arn if arn == SP else "",
                    "savings_plan_savings_plan_effective_cost": sp_eff,
                    "savings_plan_total_commitment_to_date": sp_tot,
                    "savings_plan_used_commitment": sp_used,
                }
            )
    return path


def test_cur2_synthetic_fixture(engine: Engine, tmp_path: Path) -> None:
    s = import_export_file(engine, write_cur2(tmp_path / "cur2.csv.gz", gz=True), "aws-cur2")
    assert s.categories == {"Usage": 4, "Purchase": 2, "Tax": 1, "Credit": 1}
    # Billed: net where given (1.40), else unblended: 1.40+2-2+1.5+0+1+0.3-0.25
    assert s.billed_cost_total == Decimal("3.95")
    # Effective: 1.40 + SP 1.20 + negation 0 + SP fee unused 0.30 + RI 0.80 + RI unused 0.20
    # + tax 0.30 + credit -0.25
    assert s.effective_cost_total == Decimal("3.95")
    covered = one(engine, commitment_discount_id=SP, commitment_discount_status="Used")
    assert covered.effective_cost == Decimal("1.20") and covered.pricing_category == "Committed"
    assert covered.tags == {"team": "web", "aws_createdBy": "x"}
    assert (
        covered.region_id == "us-east-1" and covered.service_name == "Amazon Elastic Compute Cloud"
    )
    assert (covered.custom or {})["x_CostCategories"] == '{"env":"prod"}'
    fee = one(engine, commitment_discount_id=RI, charge_category="Purchase")
    assert fee.effective_cost == Decimal("0.20") and fee.charge_frequency == "Recurring"


def test_malformed_file_writes_nothing_exit_3_others_go_in(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    good = write_cur2(tmp_path / "good.csv")
    rows = list(CUR2_ROWS)
    rows[2] = ("SavingsPlanNegation", "12,50", "", "", "", "", "", "", "")
    bad = write_cur2(tmp_path / "bad.csv", rows)
    result = invoke(sqlite_engine, "--format", "aws-cur2", bad, good)
    assert exit_code(result) == 3, result.output
    payload = json.loads(result.stdout)
    assert payload["rows"] == 8 and payload["billed_cost_total"] == "3.95"
    [failure] = payload["failed"]
    assert "bad.csv: row 3, column line_item_unblended_cost" in failure["message"]
    assert "'12,50'" in failure["message"] and failure["fix"]
    assert store_totals(sqlite_engine).rows == 8
    # the real entry point, as users run it: exit code 3 and a "To fix:" line
    alone = run_cli(
        "--db",
        str(sqlite_engine.url.database),
        "collect",
        "export",
        "--format",
        "aws-cur2",
        str(bad),
    )
    assert alone.returncode == 3, alone.stderr
    assert "To fix:" in alone.stderr and "row 3, column line_item_unblended_cost" in alone.stderr
    assert store_totals(sqlite_engine).rows == 8


@pytest.mark.parametrize(
    ("fmt", "source", "column", "value", "expect"),
    [
        ("aws-cur", AWS_KOKU, "lineItem/UsageStartDate", "yesterday", "not a date/time"),
        ("azure-cost-details", AZURE_EA, "Date", "13/45/2023", "not a date"),
        ("azure-cost-details", AZURE_EA, "Tags", '"a": ', "not JSON object members"),
        ("gcp-billing-export", GCP_KOKU, "credits", "[{'amount': __import__('os')}]", "not a list"),
        ("gcp-billing-export", GCP_KOKU, "cost", "NaN", "not a decimal"),
    ],
)
def test_bad_values_name_file_row_and_column(
    engine: Engine,
    native: Path,
    tmp_path: Path,
    fmt: str,
    source: str,
    column: str,
    value: str,
    expect: str,
) -> None:
    rows = read_rows(native / source)
    rows[4][column] = value
    path = tmp_path / "bad.csv"
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    with pytest.raises(InputFileError) as err:
        import_export_file(engine, path, fmt)
    assert f"bad.csv: row 5, column {column}" in err.value.message
    assert expect in err.value.message and err.value.fix
    assert store_totals(engine).rows == 0


def test_missing_columns_and_wrong_format(
    sqlite_engine: Engine, native: Path, tmp_path: Path
) -> None:
    with pytest.raises(InputFileError) as err:
        import_export_file(sqlite_engine, native / GCP_KOKU, "aws-cur")
    assert "lineItem/UnblendedCost" in err.value.message
    assert "gcp-billing-export" in (err.value.fix or "")
    shutil.copy(native / AZURE_EA, tmp_path / "a.csv")
    result = invoke(sqlite_engine, "--format", "aws-cur2", tmp_path / "a.csv", json_out=False)
    assert exit_code(result) == 3 and "azure-cost-details" in (result.exception.fix or "")  # type: ignore[union-attr]


def test_json_and_dry_run(sqlite_engine: Engine, native: Path) -> None:
    paths = [native / AWS_SAMPLE, native / AWS_KOKU]
    dry = invoke(sqlite_engine, "--format", "aws-cur", "--dry-run", *paths)
    assert dry.exit_code == 0, dry.output
    payload = json.loads(dry.stdout)
    assert payload["dry_run"] is True and payload["rows"] == 1300
    assert payload["billed_cost_total"] == "1.7650586815274349353"
    assert payload["effective_cost_total"] == "1.7650586815274349353"
    per_file = {Path(f["path"]).name: f["billed_cost_total"] for f in payload["files"]}
    assert per_file == {
        "sample-anonymous-aws-export-dataset.csv": "1.6823086974",
        "test_cur.csv": "0.0827499841274349353",
    }
    assert payload["files"][0]["charge_categories"] == {"Tax": 12, "Usage": 1269}
    assert store_totals(sqlite_engine).rows == 0
    real = invoke(sqlite_engine, "--format", "aws-cur", *paths)
    assert real.exit_code == 0 and json.loads(real.stdout)["rows"] == 1300
    assert store_totals(sqlite_engine).rows == 1300
    text = invoke(sqlite_engine, "--format", "aws-cur", "--dry-run", paths[1], json_out=False)
    assert text.exit_code == 0 and "dry run" in text.output and "Usage 19" in text.output
