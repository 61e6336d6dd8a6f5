"""GCP part of the collector benchmark (bench/collect.py): the real BigQuery, Cloud
Billing Catalog and Compute Engine REST clients against tests/gcp_fake.py, the real
MetricServiceClient against its in-process gRPC MetricService, and the real Cloud Storage
client against gcp-storage-emulator.

`resources` means, for one billing account and project: that many (service, SKU) spend
groups for each of `days` days (the aggregated export query's rows, pages of 10,000 as
requested from getQueryResults; one in ten with a credit); that many instances over 4
regions (aggregated lists of 500 per page), each with `days` × 24 hourly CPU points
(ListTimeSeries pages of 100 series, made on request); one bucket per 200 resources with
4 objects in 2 storage classes; the Compute Engine catalog of 4 regions × 4 families ×
4 usage types (core + RAM) and 40 machine types per zone.
Runs: the first collect, then a re-run over the same window (the idempotent replace
path); with `heap`, a third run under tracemalloc gives the Python heap peak.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from google.auth.credentials import AnonymousCredentials
from google.cloud import storage  # type: ignore[attr-defined]

from bench.collect_common import labels, measure
from collectors.gcp.collector import GcpCollector
from collectors.gcp.settings import GcpSource
from store.engine import make_engine
from store.migrate import upgrade
from tests.gcp_data import (
    ACCOUNT,
    PROJECT,
    TABLE,
    bq_row,
    cpu_series,
    instance,
    machine_type,
    price,
    sku,
)
from tests.gcp_fake import FakeGcp
from tests.gcp_storage import free_port

REGIONS = ("us-central1", "us-east1", "europe-west1", "asia-east1")
FAMILIES = {"N2": (31_611_000, 4_237_000), "E2": (21_811_000, 2_923_000),
            "N2D": (27_502_000, 3_686_000), "C3": (33_982_000, 4_555_000)}  # fmt: skip
USAGE = {"OnDemand": 1.0, "Preemptible": 0.25, "Commit1Yr": 0.63, "Commit3Yr": 0.45}
SHAPES = [(f"{f.lower()}-{kind}-{v}", v, v * mem) for f in FAMILIES
          for kind, mem in (("standard", 4096), ("highmem", 8192)) for v in (2, 4, 8, 16, 32)]  # fmt: skip  # noqa: E501


def catalog() -> list[dict[str, Any]]:
    out = []
    for family, (core, ram) in FAMILIES.items():
        for usage, factor in USAGE.items():
            for kind, nanos, unit in (("Core", core, "h"), ("Ram", ram, "GiBy.h")):
                if usage.startswith("Commit"):
                    years = usage[-3]
                    what = "Cpu" if kind == "Core" else "Ram"
                    text = f"Commitment v1: {family} {what} in Americas for {years} Year"
                else:
                    spot = "Spot Preemptible " if usage == "Preemptible" else ""
                    text = f"{spot}{family} Instance {kind} running in Americas"
                out.append(sku(text, usage, unit, [price(0, int(nanos * factor))], REGIONS))
    return out


def seed(fake: FakeGcp, resources: int, days: int, today: Any) -> None:
    fake.page_size = 500
    fake.bq_page_size = 10_000
    fake.skus = catalog()
    fake.storage_skus = [
        sku(f"{cls} Storage {region}", "OnDemand", "GiBy.mo", [price(0, nanos)], (region,))
        for region in REGIONS
        for cls, nanos in (("Standard", 20_000_000), ("Nearline", 10_000_000),
                           ("Coldline", 4_000_000), ("Archive", 1_200_000))
    ]  # fmt: skip
    fake.machine_types = {
        f"{r}-{z}": [machine_type(n, v, m, f"{r}-{z}") for n, v, m in SHAPES]
        for r in REGIONS for z in "abc"
    }  # fmt: skip
    zones: dict[str, list[dict[str, Any]]] = {}
    for i in range(resources):
        zone = f"{REGIONS[i % len(REGIONS)]}-{'abc'[i % 3]}"
        zones.setdefault(zone, []).append(
            instance(10_000 + i, f"vm-{i:05d}", SHAPES[i % len(SHAPES)][0], zone,
                     spot=i % 7 == 0, labels={"owner": f"team-{i % 30}"})
        )  # fmt: skip
    fake.instances = {PROJECT: zones}
    credit = '[{"type":"SUSTAINED_USAGE_DISCOUNT","name":"SUD","amount":-0.5}]'
    fake.bq_rows = [
        bq_row(today - timedelta(days=k), f"service-{g // 20:04d}",
               f"{((g * 7919 + k * 104729) % 100_000) / 1000:.3f}",
               credit if g % 10 == 0 else "[]", sku_id=f"SKU-{g:05d}")
        for k in range(1, days + 1) for g in range(resources)
    ]  # fmt: skip
    first = datetime(today.year, today.month, today.day, tzinfo=UTC) - timedelta(days=days)
    fake.series_factory = lambda i: cpu_series(10_000 + i, first, days * 24, (i % 97) / 100)
    fake.series_count = resources


def seed_buckets(url: str, resources: int) -> None:
    client = storage.Client(project=PROJECT, credentials=AnonymousCredentials(),
                            client_options={"api_endpoint": url})  # fmt: skip
    for b in range(max(resources // 200, 1)):
        bucket = client.create_bucket(f"bench-{b:04d}")
        if b % 2 == 0:
            bucket.add_lifecycle_set_storage_class_rule("NEARLINE", age=30)
            bucket.patch()
        for n in range(4):
            blob = bucket.blob(f"data/{n}.bin")
            blob.storage_class = ("STANDARD", "NEARLINE")[n % 2]
            blob.upload_from_string(b"x" * (1000 * (n + 1)))


def run(resources: int, days: int, heap: bool = False) -> dict[str, Any]:
    """`resources` spend groups and instances (+ 1 bucket per 200); see bench/collect.py
    for the result's shape."""
    from gcp_storage_emulator.server import create_server

    work = Path(tempfile.mkdtemp(prefix="bench-collect-gcp-"))
    fake = FakeGcp()
    port = free_port()
    gcs = create_server("127.0.0.1", port, in_memory=True)
    gcs.start()
    today = datetime.now(UTC).date()
    runs = []
    try:
        seed(fake, resources, days, today)
        seed_buckets(f"http://127.0.0.1:{port}", resources)
        engine = make_engine(f"sqlite:///{work / 'bench.db'}")
        upgrade(engine)
        source = GcpSource(
            type="gcp", name="bench", billing_account=ACCOUNT, projects=[PROJECT],
            bigquery_table=TABLE, first_days=days, restate_days=days,
            endpoints=fake.endpoints(f"http://127.0.0.1:{port}"),
        )  # fmt: skip
        seen = lambda: len(fake.requests) + len(fake.monitoring_requests)  # noqa: E731
        for label in labels(heap):
            runs.append(measure(label, partial(GcpCollector(source).collect, engine, today), seen))
    finally:
        fake.close()
        gcs.stop()
    return {
        "cloud": "gcp",
        "resources": resources,
        "days": days,
        "what": f"{resources:,} spend groups × {days} days (BigQuery pages of 10,000) + "
        f"{resources:,} instances (hourly CPU over gRPC) + {max(resources // 200, 1):,} "
        f"buckets (gcp-storage-emulator) + catalog of {len(REGIONS)} regions",
        "runs": runs,
    }
