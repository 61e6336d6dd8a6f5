"""Azure part of the collector benchmark (bench/collect.py): the real Cost Management,
compute, monitor and storage clients and the Retail Prices PipelineClient against the
HTTPS fake of tests/azure_fake.py (trustme CA).

`resources` means, in one subscription: that many service × charge-type cost groups for
each of `days` days (ActualCost and AmortizedCost, 5,000 rows per page with `nextLink`
between, as Azure pages); that many VMs over 4 regions (ARM pages of 1,000), each with
`days` × 24 hourly "Percentage CPU" and "Available Memory Bytes" points (one
metrics.list call per VM for both); one storage
account per 20 resources (3 access tiers of BlobCapacity/BlobCount, half with a lifecycle
policy); the Retail Prices of 4 regions × 40 sizes (on demand + spot, pages of 1,000).
Runs: the first collect (every day new), then a re-run over the same window (the
idempotent replace path); with `heap`, a third run under tracemalloc gives the Python heap
peak of the collect alone.
"""

from __future__ import annotations

import os
import tempfile
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import trustme

from bench.collect_common import labels, measure
from collectors.azure.collector import AzureCollector
from collectors.azure.settings import AzureSource
from store.engine import make_engine
from store.migrate import upgrade
from tests.azure_fake import TOKEN, FakeAzure, Series, account, price, sku, vm

SUB = "00000000-0000-0000-0000-000000000000"
REGIONS = ("eastus", "westeurope", "northeurope", "westus2")
VCPUS = (2, 4, 8, 16, 32, 48, 64, 96)
SIZES = [(f"Standard_D{v}s_v{g}", v, v * 4.0) for g in range(3, 8) for v in VCPUS]


def rows_for(groups: int, days: int, today: Any, scale: float) -> list[list[Any]]:
    """`groups` service × charge-type pairs × `days` days, deterministic costs (the columns
    of a subscription scope's query: cost, UsageDate, ServiceName, ChargeType, Currency)."""
    out = []
    for g in range(groups):
        service, charge = f"service-{g // 2:05d}", ("Usage", "Tax")[g % 2]
        for k in range(1, days + 1):
            day = today - timedelta(days=k)
            cost = round(((g * 7919 + k * 104729) % 100_000) / 1000 * scale, 6)
            out.append([cost, int(day.strftime("%Y%m%d")), service, charge, "USD"])
    return out


def seed_estate(fake: FakeAzure, resources: int, days: int, today: Any) -> None:
    """VMs, storage accounts, SKUs and prices; metric series made on request."""
    fake.page_size = 1000
    fake.skus = [sku(name, v, mem, list(REGIONS)) for name, v, mem in SIZES]
    fake.vms[SUB] = [
        vm(SUB, f"rg-{i % 50:02d}", f"vm-{i:05d}", SIZES[i % len(SIZES)][0],
           REGIONS[i % len(REGIONS)], spot=i % 7 == 0, tags={"owner": f"team-{i % 30}"})
        for i in range(resources)
    ]  # fmt: skip
    accounts = [account(SUB, f"rg-{i % 50:02d}", f"store{i:05d}", REGIONS[i % len(REGIONS)])
                for i in range(max(resources // 20, 1))]  # fmt: skip
    fake.accounts[SUB] = accounts
    rule = {"enabled": True, "name": "cool", "type": "Lifecycle", "definition": {"actions": {
        "baseBlob": {"tierToCool": {"daysAfterModificationGreaterThan": 30}}}}}  # fmt: skip
    fake.policies = {a["id"].lower(): [rule] for a in accounts[::2]}
    fake.prices = [price(region, name, round(v * 0.048, 4), spot) for region in REGIONS
                   for name, v, _ in SIZES for spot in (False, True)]  # fmt: skip
    first = datetime(today.year, today.month, today.day, tzinfo=UTC) - timedelta(days=days)

    def series(resource_id: str, metric: str) -> list[Series]:
        seed = sum(resource_id.encode()) % 97
        if metric in ("Percentage CPU", "Available Memory Bytes"):
            hours = range(days * 24)
            values = ([float((seed + h * 13) % 100) for h in hours] if metric == "Percentage CPU"
                      else [float((1 + (seed + h) % 4) * 2**30) for h in hours])  # fmt: skip
            points = [{"timeStamp": f"{first + timedelta(hours=h):%Y-%m-%dT%H:%M:%SZ}",
                       "average": values[h]} for h in hours]  # fmt: skip
            return [({}, points)]
        stamp = f"{first + timedelta(days=days - 1):%Y-%m-%dT%H:%M:%SZ}"
        base = 2**30 if metric == "BlobCapacity" else 1000
        return [({"Tier": tier}, [{"timeStamp": stamp, "average": float(base * (seed + n))}])
                for n, tier in enumerate(("Hot", "Cool", "Archive"))]  # fmt: skip

    fake.series_factory = series


def run(resources: int, days: int, heap: bool = False, page_size: int = 5000) -> dict[str, Any]:
    """`resources` cost groups, VMs (+ 1 storage account per 20); see bench/collect.py
    for the result's shape."""
    ca = trustme.CA()
    work = Path(tempfile.mkdtemp(prefix="bench-collect-"))
    ca_path = work / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    os.environ["OPTIMIZER_AZURE_TEST_TOKEN"] = TOKEN
    fake = FakeAzure(ca.issue_cert("127.0.0.1"), str(ca_path))
    today = datetime.now(UTC).date()
    fake.set_rows("ActualCost", rows_for(resources, days, today, 1.0), page_size)
    fake.set_rows("AmortizedCost", rows_for(resources, days, today, 0.9), page_size)
    seed_estate(fake, resources, days, today)
    engine = make_engine(f"sqlite:///{work / 'bench.db'}")
    upgrade(engine)
    source = AzureSource(
        type="azure", name="bench", scope=f"/subscriptions/{SUB}", endpoint_url=fake.url,
        ca_bundle=str(ca_path), first_days=days, restate_days=days,
        retail_prices_url=f"{fake.url}/api/retail/prices",
    )  # fmt: skip
    collector = AzureCollector(source)
    runs = []
    try:
        seen = lambda: fake.calls() + len(fake.gets)  # noqa: E731
        for label in labels(heap):
            runs.append(measure(label, partial(collector.collect, engine, today), seen))
    finally:
        fake.close()
    return {
        "cloud": "azure",
        "resources": resources,
        "days": days,
        "what": f"{resources:,} cost groups (pages of {page_size:,}) + {resources:,} VMs "
        f"(hourly CPU + memory) + {max(resources // 20, 1):,} storage accounts + prices of "
        f"{len(REGIONS)} regions",
        "runs": runs,
    }
