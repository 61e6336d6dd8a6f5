"""AWS part of the collector benchmark (bench/collect.py): the real boto3 clients against
moto's server (tests/aws_fake.py) in this process, plus the local Price List Query API
fake (tests/aws_pricing_fake.py).

Seeded: `resources` EC2 instances (run_instances in batches of 500, four instance types),
hourly CPUUtilization for each over `days` days (put_metric_data, 1,000 points a call),
and Cost Explorer results for the `days`-day window: `resources` (account, service)
groups a day, queued in moto as pages of 5,000 groups linked by NextPageToken. Runs: the
first collect (spend, instances + CloudWatch, prices), then a re-run over the same window
(the idempotent replace path); with `heap`, a third run under tracemalloc. Then the
Data Exports path: a CUR 2.0 export of `resources` × `days` line items in the current
billing period (Parquet files of 50,000 rows, as AWS splits them) read by a second
source, first read and an unchanged re-run (manifest skipped, no GetObject).

moto keeps every metric point in Python lists and scans all of them for each query, so
GetMetricData costs queries × points = resources² × days × 24: measured here, 200
instances × 3 days (14,400 points) already take ~20 s of the ~25 s collect. Above
METRICS_MAX_RESOURCES instances CloudWatch is therefore neither seeded nor read (the
result's "what" says so): a 10,000-instance, 30-day run would scan 7.2 M points for each
of 10,000 queries, which moto cannot serve in any useful time; real CloudWatch indexes.
"""

from __future__ import annotations

import os
import tempfile
import time
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

from bench.collect_common import labels, measure
from collectors.aws.collector import AwsCollector
from collectors.aws.settings import AwsSource
from store.engine import make_engine
from store.migrate import upgrade
from tests.aws_exports_fake import cur2_parquet, cur2_rows, deliver
from tests.aws_fake import FakeAws, free_port
from tests.aws_pricing_fake import FakePricing, product

TYPES = ("m5.large", "c5.xlarge", "r5.large", "t3.micro")
GROUPS_PER_PAGE = 5000
EXPORT_FILE_ROWS = 50_000
METRICS_MAX_RESOURCES = 1000


def _env() -> None:
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_EC2_METADATA_DISABLED="true",
        AWS_CONFIG_FILE="/nonexistent",
        AWS_SHARED_CREDENTIALS_FILE="/nonexistent",
    )
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN"):
        os.environ.pop(name, None)


def seed_instances(url: str, n: int, days: int, metrics: bool) -> int:
    ec2 = boto3.client("ec2", region_name="us-east-1", endpoint_url=url)
    cw = boto3.client("cloudwatch", region_name="us-east-1", endpoint_url=url)
    ids: list[str] = []
    while len(ids) < n:
        k = min(500, n - len(ids))
        r = ec2.run_instances(ImageId="ami-12c6146b", MinCount=k, MaxCount=k,
                              InstanceType=TYPES[len(ids) // 500 % len(TYPES)])  # fmt: skip
        ids.extend(i["InstanceId"] for i in r["Instances"])
    if not metrics:
        return 0
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    points = [
        {"MetricName": "CPUUtilization", "Dimensions": [{"Name": "InstanceId", "Value": iid}],
         "Timestamp": now - timedelta(hours=h), "Value": float((j * 31 + h) % 100),
         "Unit": "Percent"}
        for j, iid in enumerate(ids) for h in range(1, days * 24 + 1)
    ]  # fmt: skip
    for i in range(0, len(points), 1000):
        cw.put_metric_data(Namespace="AWS/EC2", MetricData=points[i : i + 1000])
    return len(points)


def ce_pages(groups: int, days: int, today: Any) -> list[dict[str, Any]]:
    """GetCostAndUsage pages: `groups` (account, service) pairs × `days` days."""
    results: list[dict[str, Any]] = []
    for k in range(days, 0, -1):
        day = today - timedelta(days=k)
        results.append({
            "TimePeriod": {"Start": day.isoformat(), "End": (day + timedelta(days=1)).isoformat()},
            "Total": {}, "Estimated": False,
            "Groups": [
                {"Keys": [f"{100000000000 + g % 50}", f"service-{g // 50:05d}"],
                 "Metrics": {m: {"Amount": f"{((g * 7919 + k * 104729) % 100000) / 1000:.6f}",
                                 "Unit": "USD"} for m in ("UnblendedCost", "AmortizedCost")}}
                for g in range(groups)
            ],
        })  # fmt: skip
    pages: list[dict[str, Any]] = []
    current: list[dict[str, Any]] = []
    size = 0
    for result in results:  # split days into pages of about GROUPS_PER_PAGE groups
        current.append(result)
        size += len(result["Groups"])
        if size >= GROUPS_PER_PAGE:
            pages.append({"ResultsByTime": current})
            current, size = [], 0
    if current or not pages:
        pages.append({"ResultsByTime": current})
    defs = [{"Type": "DIMENSION", "Key": "LINKED_ACCOUNT"}, {"Type": "DIMENSION", "Key": "SERVICE"}]
    for i, p in enumerate(pages):
        p["GroupDefinitions"] = defs
        p["DimensionValueAttributes"] = []
        if i + 1 < len(pages):
            p["NextPageToken"] = f"page-{i + 1}"
    return pages


def seed_export(url: str, rows: int, period: str) -> None:
    s3 = boto3.client("s3", region_name="us-east-1", endpoint_url=url)
    s3.create_bucket(Bucket="bench-exports")
    files = []
    for start in range(0, rows, EXPORT_FILE_ROWS):
        n = min(EXPORT_FILE_ROWS, rows - start)
        costs = [f"{((start + i) * 7919 % 100000) / 1000:.6f}" for i in range(n)]
        table = cur2_rows(period, costs)
        for i, r in enumerate(table):  # unique line items across files
            r["identity_line_item_id"] = f"li-{start + i}"
            r["line_item_resource_id"] = f"i-{start + i:08d}"
        files.append(("snappy.parquet", cur2_parquet(table)))
    deliver(s3, "bench-exports", "cur", period, files)


def run(resources: int, days: int, heap: bool = False) -> dict[str, Any]:
    """See bench/collect.py for the result's shape."""
    _env()
    work = Path(tempfile.mkdtemp(prefix="bench-collect-aws-"))
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    pricing = FakePricing([product(t, "us-east-1", "0.1") for t in TYPES])
    today = datetime.now(UTC).date() + timedelta(days=1)
    runs = []
    try:
        fake = FakeAws(url)
        fake.reset()
        t = time.perf_counter()
        metrics = resources <= METRICS_MAX_RESOURCES
        points = seed_instances(url, resources, days, metrics)
        fake.queue_ce(*ce_pages(resources, days, today))
        seed_seconds = time.perf_counter() - t
        engine = make_engine(f"sqlite:///{work / 'bench.db'}")
        upgrade(engine)
        source = AwsSource(
            type="aws", name="bench", endpoint_url=url, pricing_endpoint_url=pricing.url,
            first_days=days, restate_days=days, s3=False, metrics=metrics,
        )  # fmt: skip
        for label in labels(heap):
            runs.append(measure(label, partial(AwsCollector(source).collect, engine, today)))
        seed_export(url, resources * days, today.strftime("%Y-%m"))
        export = AwsSource(
            type="aws", name="bench-export", endpoint_url=url, first_days=days,
            restate_days=days, inventory=False, metrics=False, s3=False, prices=False,
            data_export={"bucket": "bench-exports", "prefix": "cur/cur2-daily"},
        )  # fmt: skip
        for label in ("data export: first read", "data export: re-run (unchanged)"):
            runs.append(measure(label, partial(AwsCollector(export).collect, engine, today)))
    finally:
        pricing.close()
        server.stop()
    return {
        "cloud": "aws",
        "resources": resources,
        "days": days,
        "what": f"{resources:,} EC2 instances ({points:,} CloudWatch points"
        + ("" if metrics else f": CloudWatch off above {METRICS_MAX_RESOURCES:,} in moto")
        + f"; seeded in "
        f"{seed_seconds:.1f} s) + {resources:,} (account, service) groups a day in Cost "
        f"Explorer; then a CUR 2.0 export of {resources * days:,} line items; moto server",
        "runs": runs,
    }
