"""Spend from an AWS Data Exports export (CUR 2.0, FOCUS) in S3: moto's S3 through boto3,
deliveries laid out as AWS writes them (tests/aws_exports_fake.py)."""

from __future__ import annotations

import csv
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from collectors.aws.collector import AwsCollector, totals
from collectors.aws.settings import AwsSource
from store.models import IngestedFile
from tests.aws_exports_fake import (
    cur2_csv_gz,
    cur2_parquet,
    cur2_rows,
    deliver,
    focus_csv_gz,
    legacy_to_cur2,
    total,
)
from tests.aws_fake import FakeAws, aws_fixture, moto_server  # noqa: F401
from tests.test_aws_collector import TODAY

BUCKET = "billing-exports"
PREFIX = "cur"
ROOT = f"{PREFIX}/cur2-daily"
CUR = TODAY.strftime("%Y-%m")
PREV = (TODAY.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
OLD = "2020-01"
SAMPLE = Path(__file__).resolve().parents[2] / "shared/data/native-exports/aws"


def source(aws: FakeAws, **export: Any) -> AwsSource:
    return AwsSource(
        type="aws", name="prod", endpoint_url=aws.url, first_days=3, max_attempts=2,
        inventory=False, metrics=False, s3=False, prices=False,
        data_export={"bucket": BUCKET, "prefix": ROOT, **export},
    )  # fmt: skip


@pytest.fixture
def s3(aws: FakeAws) -> Any:
    client = aws.client("s3")
    client.create_bucket(Bucket=BUCKET)
    return client


PREV_A, PREV_B, CUR_COSTS = ["1.25", "2.50", "0.0001"], ["3.75"], ["10.00", "0.10"]


def seed(s3: Any) -> None:
    deliver(
        s3,
        BUCKET,
        PREFIX,
        PREV,
        [
            ("snappy.parquet", cur2_parquet(cur2_rows(PREV, PREV_A))),
            ("csv.gz", cur2_csv_gz(cur2_rows(PREV, PREV_B, "999"))),
        ],
    )
    deliver(s3, BUCKET, PREFIX, CUR, [("csv.gz", cur2_csv_gz(cur2_rows(CUR, CUR_COSTS)))])
    deliver(s3, BUCKET, PREFIX, OLD, [("csv.gz", cur2_csv_gz(cur2_rows(OLD, ["100"])))])


def files(engine: Engine) -> list[tuple[str, int]]:
    t = IngestedFile.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:
        return [(r.path.rsplit("/", 2)[1], r.rows)
                for r in conn.execute(sa.select(t).order_by(t.c.id))]  # fmt: skip


def test_new_periods_then_unchanged_skipped(aws: FakeAws, s3: Any, engine: Engine) -> None:
    seed(s3)
    c = AwsCollector(source(aws)).check()
    assert (c.status, c.detail) == ("ok", "account 123456789012; data export with 3 period(s)")
    s = AwsCollector(source(aws)).collect(engine, TODAY)
    assert s.status == "ok", s
    assert s.rows == {"cost_records": 6, "export_periods_read": 2, "export_periods_unchanged": 0}
    want = total(PREV_A + PREV_B + CUR_COSTS)
    assert totals(engine, "prod") == (6, want)  # the 2020 period is outside the window
    # 1 list; manifests of PREV and CUR + their 3 data files; never Cost Explorer
    assert s.api_calls == {"s3:GetObject": 5, "s3:ListBucket": 1, "sts:GetCallerIdentity": 1}
    assert "Cost Explorer not called" in s.detail
    assert files(engine) == [(f"BILLING_PERIOD={PREV}", 4), (f"BILLING_PERIOD={CUR}", 2)]
    again = AwsCollector(source(aws)).collect(engine, TODAY)
    assert again.status == "ok" and again.api_calls.get("s3:GetObject", 0) == 0
    assert again.rows["export_periods_unchanged"] == 2 and again.rows["cost_records"] == 0
    assert totals(engine, "prod") == (6, want)
    with engine.connect() as conn:
        parquet_row = conn.execute(sa.text(
            "select billed_cost, sub_account_id, service_name from cost_record "
            "where billed_cost < 0.001")).one()  # fmt: skip
    assert Decimal(str(parquet_row[0])) == Decimal("0.0001")
    assert parquet_row[1:] == ("444455556666", "Amazon Elastic Compute Cloud")


def test_restated_period_replaces(aws: FakeAws, s3: Any, engine: Engine) -> None:
    seed(s3)
    AwsCollector(source(aws)).collect(engine, TODAY)
    # AWS re-delivers the current period: one row fewer, one amount changed
    deliver(s3, BUCKET, PREFIX, CUR, [("csv.gz", cur2_csv_gz(cur2_rows(CUR, ["12.00"])))])
    s = AwsCollector(source(aws)).collect(engine, TODAY)
    assert s.status == "ok"
    assert (s.rows["export_periods_read"], s.rows["export_periods_unchanged"]) == (1, 1)
    assert s.api_calls["s3:GetObject"] == 2  # the changed manifest and its one file
    assert totals(engine, "prod") == (5, total(PREV_A + PREV_B) + Decimal("12"))
    assert files(engine)[-1] == (f"BILLING_PERIOD={CUR}", 1)


def test_malformed_file_quarantined_others_kept(aws: FakeAws, s3: Any, engine: Engine) -> None:
    seed(s3)
    AwsCollector(source(aws)).collect(engine, TODAY)
    before = totals(engine, "prod")
    bad = cur2_rows(CUR, ["1.00", "2.00"])
    bad[1]["line_item_unblended_cost"] = "12,50"
    deliver(s3, BUCKET, PREFIX, CUR, [("csv.gz", cur2_csv_gz(cur2_rows(CUR, ["5"]))),
                                      ("csv.gz", cur2_csv_gz(bad))])  # fmt: skip
    deliver(s3, BUCKET, PREFIX, PREV, [("csv.gz", cur2_csv_gz(cur2_rows(PREV, ["7.00"])))])
    s = AwsCollector(source(aws)).collect(engine, TODAY)
    assert s.status == "ok" and s.rows["export_periods_read"] == 1
    (reason,) = s.quarantined
    assert "cur2-daily-00002.csv.gz: row 2, column line_item_unblended_cost" in reason
    assert reason.endswith(f"period {CUR} kept as it was")
    # PREV restated to 7.00; CUR keeps what it had (no partial period), retried next run
    assert totals(engine, "prod") == (3, Decimal("7") + total(CUR_COSTS))
    assert before[0] == 6
    retry = AwsCollector(source(aws)).collect(engine, TODAY)
    assert retry.quarantined == s.quarantined and retry.api_calls["s3:GetObject"] == 3


def test_missing_data_file_and_bad_manifest_quarantined(
    aws: FakeAws, s3: Any, sqlite_engine: Engine
) -> None:
    seed(s3)
    s3.delete_object(Bucket=BUCKET, Key=f"{ROOT}/data/BILLING_PERIOD={CUR}/cur2-daily-00001.csv.gz")
    manifest = f"{ROOT}/metadata/BILLING_PERIOD={PREV}/cur2-daily-Manifest.json"
    s3.put_object(Bucket=BUCKET, Key=manifest, Body=b"{not json")
    s = AwsCollector(source(aws)).collect(sqlite_engine, TODAY)
    assert s.status == "ok" and s.rows["cost_records"] == 0
    reasons = sorted(s.quarantined)
    assert "manifest is not JSON" in reasons[0] or "manifest is not JSON" in reasons[1]
    assert any("s3:GetObject: NoSuchKey" in r for r in reasons)


def test_no_manifest_is_no_data_with_hint(aws: FakeAws, s3: Any, sqlite_engine: Engine) -> None:
    s3.put_object(Bucket=BUCKET, Key=f"{ROOT}/data/readme.txt", Body=b"x")
    s = AwsCollector(source(aws)).collect(sqlite_engine, TODAY)
    assert s.status == "no_data" and "no Data Exports manifest" in s.detail
    assert "data_export.prefix" in s.hint
    c = AwsCollector(source(aws)).check()
    assert c.status == "no_data" and c.hint
    gone = AwsCollector(source(aws, bucket="no-such-bucket")).collect(sqlite_engine, TODAY)
    assert gone.status == "invalid_config" and "data_export.bucket" in gone.hint
    deliver(s3, BUCKET, PREFIX, CUR, [("csv.gz", cur2_csv_gz(cur2_rows(CUR, ["1"])))], export="b")
    deliver(s3, BUCKET, PREFIX, CUR, [("csv.gz", cur2_csv_gz(cur2_rows(CUR, ["1"])))], export="c")
    two = AwsCollector(source(aws, prefix=PREFIX)).check()
    assert two.status == "invalid_config" and "more than one export" in two.detail


def test_focus_export(aws: FakeAws, s3: Any, sqlite_engine: Engine) -> None:
    costs = ["1.10", "2.20", "3.30"]
    deliver(s3, BUCKET, PREFIX, CUR, [("csv.gz", focus_csv_gz(CUR, costs))])
    s = AwsCollector(source(aws, format="focus")).collect(sqlite_engine, TODAY)
    assert s.status == "ok" and s.rows["cost_records"] == 3
    assert totals(sqlite_engine, "prod") == (3, total(costs))
    # a CUR 2.0 file under a source that says FOCUS: quarantined, naming what is missing
    deliver(s3, BUCKET, PREFIX, CUR, [("csv.gz", cur2_csv_gz(cur2_rows(CUR, ["9"])))])
    wrong = AwsCollector(source(aws, format="focus")).collect(sqlite_engine, TODAY)
    assert "missing FOCUS column(s)" in next(iter(wrong.quarantined))
    assert totals(sqlite_engine, "prod") == (3, total(costs))


def test_real_legacy_sample_as_cur2_parquet(aws: FakeAws, s3: Any, sqlite_engine: Engine) -> None:
    sample = SAMPLE / "sample-anonymous-aws-export-dataset.csv"
    if not sample.is_file():
        pytest.skip(f"{sample} not found (../shared/data is absent)")
    rows = legacy_to_cur2(sample)
    with sample.open(encoding="utf-8-sig", newline="") as fh:
        want = sum((Decimal(r["lineItem/UnblendedCost"] or "0") for r in csv.DictReader(fh)),
                   Decimal(0))  # fmt: skip
    deliver(s3, BUCKET, PREFIX, "2023-11", [("snappy.parquet", cur2_parquet(rows))])
    s = AwsCollector(source(aws, first_period="2023-11")).collect(sqlite_engine, TODAY)
    assert s.status == "ok" and not s.quarantined, s
    n, billed = totals(sqlite_engine, "prod")
    assert n == s.rows["cost_records"] == len(rows) == 1281
    assert billed.quantize(Decimal("0.000001")) == want.quantize(Decimal("0.000001"))


def test_config_takes_a_data_export(tmp_path: Path) -> None:
    from optimizer.config import load_config

    path = tmp_path / "optimizer.toml"
    path.write_text(
        '[[sources]]\ntype = "aws"\nname = "prod"\n\n[sources.data_export]\n'
        'bucket = "acme-billing"\nprefix = "exports/cur2-daily"\nformat = "focus"\n'
        'first_period = "2024-01"\n'
    )
    (src,) = load_config(path).sources
    assert isinstance(src, AwsSource) and src.data_export is not None
    assert (src.data_export.bucket, src.data_export.format) == ("acme-billing", "focus")
    path.write_text(
        '[[sources]]\ntype = "aws"\nname = "prod"\n\n[sources.data_export]\n'
        'bucket = "acme-billing"\nformat = "cur1"\n'
    )
    with pytest.raises(Exception, match="format"):
        load_config(path)
