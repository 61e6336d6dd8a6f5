"""AWS Data Exports deliveries, written into moto's S3 through boto3 as AWS lays them out:
`<prefix>/<export>/data/BILLING_PERIOD=YYYY-MM/<export>-0000N.<csv.gz|snappy.parquet>`
and `<prefix>/<export>/metadata/BILLING_PERIOD=YYYY-MM/<export>-Manifest.json`, the
manifest naming its executionId, billingPeriod and dataFiles (s3:// URIs).

The CUR 2.0 rows are generated here (snake_case columns, JSON or map<string,string> map
columns, Parquet costs as doubles and dates as timestamps, as Data Exports write them);
`legacy_to_cur2` turns the real legacy CUR sample into CUR 2.0 rows (no public CUR 2.0
sample exists), renaming through the mapper's own table.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from collectors.exports.aws_cur2 import PRODUCT_MAP_KEYS, RENAME
from tests.focus_files import HEADER as FOCUS_HEADER
from tests.focus_files import base_row

EXPORT = "cur2-daily"
MAP_COLUMNS = ("product", "resource_tags", "cost_category")
DOUBLE_COLUMNS = ("line_item_unblended_cost", "line_item_net_unblended_cost",
                  "line_item_usage_amount")  # fmt: skip
TIME_COLUMNS = ("bill_billing_period_start_date", "bill_billing_period_end_date",
                "line_item_usage_start_date", "line_item_usage_end_date")  # fmt: skip


def _next_month(period: str) -> str:
    y, m = (int(p) for p in period.split("-"))
    return f"{y + m // 12:04d}-{m % 12 + 1:02d}"


def cur2_rows(period: str, costs: list[str], account: str = "444455556666") -> list[dict[str, Any]]:
    """One Usage row per cost, one day each, in billing period `period` (YYYY-MM)."""
    rows = []
    for i, cost in enumerate(costs):
        day = f"{period}-{i % 28 + 1:02d}"
        rows.append(
            {
                "identity_line_item_id": f"li-{period}-{i}",
                "bill_bill_type": "Anniversary",
                "bill_billing_entity": "AWS",
                "bill_invoicing_entity": "Amazon Web Services, Inc.",
                "bill_payer_account_id": "111122223333",
                "bill_billing_period_start_date": f"{period}-01T00:00:00.000Z",
                "bill_billing_period_end_date": f"{_next_month(period)}-01T00:00:00.000Z",
                "line_item_usage_account_id": account,
                "line_item_line_item_type": "Usage",
                "line_item_usage_start_date": f"{day}T00:00:00.000Z",
                "line_item_usage_end_date": f"{day}T01:00:00.000Z",
                "line_item_product_code": "AmazonEC2",
                "line_item_usage_type": "BoxUsage:m5.large",
                "line_item_operation": "RunInstances",
                "line_item_resource_id": f"i-{i:08d}",
                "line_item_usage_amount": "1",
                "line_item_currency_code": "USD",
                "line_item_unblended_cost": cost,
                "line_item_net_unblended_cost": "",
                "line_item_line_item_description": "$0.096 per On Demand Linux m5.large Instance",
                "pricing_unit": "Hrs",
                "pricing_term": "OnDemand",
                "product": json.dumps({"product_name": "Amazon Elastic Compute Cloud",
                                       "region": "us-east-1"}),
                "product_region_code": "us-east-1",
                "resource_tags": json.dumps({"user_team": "web"}),
                "cost_category": json.dumps({}),
            }
        )  # fmt: skip
    return rows


def legacy_to_cur2(path: Path) -> list[dict[str, Any]]:
    """The legacy CUR sample as CUR 2.0 rows: columns renamed, product/* and
    resourceTags/* folded into the `product` and `resource_tags` maps."""
    product_keys = {v: k for k, v in PRODUCT_MAP_KEYS.items()}
    out = []
    with path.open(encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            new: dict[str, Any] = {}
            product: dict[str, str] = {}
            tags: dict[str, str] = {}
            for name, value in row.items():
                if name in RENAME:
                    new[RENAME[name]] = value
                if name.startswith("product/") and value:
                    attr = name.removeprefix("product/")
                    product[product_keys.get(name, attr)] = value
                elif name.startswith("resourceTags/") and value:
                    tags[name.removeprefix("resourceTags/").replace(":", "_")] = value
            new.update(product=json.dumps(product), resource_tags=json.dumps(tags),
                       cost_category="{}")  # fmt: skip
            out.append(new)
    return out


def cur2_csv_gz(rows: list[dict[str, Any]]) -> bytes:
    header = list(rows[0]) if rows else ["identity_line_item_id"]
    text = io.StringIO()
    w = csv.DictWriter(text, header)
    w.writeheader()
    w.writerows(rows)
    return gzip.compress(text.getvalue().encode())


def cur2_parquet(rows: list[dict[str, Any]]) -> bytes:
    """Typed as Data Exports write Parquet: doubles, timestamps, map<string,string>."""
    cols: dict[str, pa.Array] = {}
    for name in rows[0]:
        values = [r.get(name) for r in rows]
        if name in MAP_COLUMNS:
            cols[name] = pa.array(
                [list(json.loads(v or "{}").items()) for v in values],
                pa.map_(pa.string(), pa.string()),
            )
        elif name in DOUBLE_COLUMNS:
            cols[name] = pa.array([float(v) if v else None for v in values], pa.float64())
        elif name in TIME_COLUMNS:
            cols[name] = (
                pa.array([None if not v else v.replace("Z", "") for v in values], pa.string())
                .cast(pa.timestamp("ms"))
                .cast(pa.timestamp("ms", tz="UTC"))
            )
        else:
            cols[name] = pa.array([v if v != "" else None for v in values], pa.string())
    buf = io.BytesIO()
    pq.write_table(pa.table(cols), buf, compression="snappy")
    return buf.getvalue()


def focus_csv_gz(period: str, costs: list[str]) -> bytes:
    rows = []
    for i, cost in enumerate(costs):
        r = base_row(i, cost)
        day = f"{period}-{i % 28 + 1:02d}"
        r.update(
            BillingPeriodStart=f"{period}-01T00:00:00Z",
            BillingPeriodEnd=f"{_next_month(period)}-01T00:00:00Z",
            ChargePeriodStart=f"{day}T00:00:00Z",
            ChargePeriodEnd=f"{day}T01:00:00Z",
        )
        rows.append(r)
    text = io.StringIO()
    w = csv.DictWriter(text, FOCUS_HEADER, extrasaction="ignore")
    w.writeheader()
    w.writerows(rows)
    return gzip.compress(text.getvalue().encode())


def total(costs: list[str]) -> Decimal:
    return sum((Decimal(c) for c in costs), Decimal(0))


def deliver(
    s3: Any,
    bucket: str,
    prefix: str,
    period: str,
    files: list[tuple[str, bytes]],
    execution_id: str | None = None,
    export: str = EXPORT,
) -> str:
    """Put one period's data files and its manifest, as one export execution would;
    returns the manifest's key. `files` are (suffix, body), e.g. ("csv.gz", b"...")."""
    root = f"{prefix.rstrip('/')}/{export}" if prefix else export
    uris = []
    for n, (suffix, body) in enumerate(files, start=1):
        key = f"{root}/data/BILLING_PERIOD={period}/{export}-{n:05d}.{suffix}"
        s3.put_object(Bucket=bucket, Key=key, Body=body)
        uris.append(f"s3://{bucket}/{key}")
    manifest = {
        "executionId": execution_id or str(uuid.uuid4()),
        "billingPeriod": {
            "start": f"{period}-01T00:00:00.000Z",
            "end": f"{_next_month(period)}-01T00:00:00.000Z",
        },
        "dataFiles": uris,
        "exportArn": f"arn:aws:bcm-data-exports:us-east-1:111122223333:export/{export}-1",
        "exportName": export,
    }
    key = f"{root}/metadata/BILLING_PERIOD={period}/{export}-Manifest.json"
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(manifest).encode())
    return key
