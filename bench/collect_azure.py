"""Azure part of the collector benchmark (bench/collect.py): the real
`CostManagementClient` against the HTTPS fake of tests/azure_fake.py (trustme CA), which
serves `resources` subscription × service groups for each of `days` days, for both
ActualCost and AmortizedCost, 5,000 rows per page with `nextLink` between pages (as Azure
pages). Runs: the first collect (every day new), then a re-run over the same window (the
idempotent replace path); with `heap`, a third run under tracemalloc gives the Python heap
peak of the collect alone.
"""

from __future__ import annotations

import os
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import trustme

from collectors.azure.collector import AzureCollector
from collectors.azure.settings import AzureSource
from store.engine import make_engine
from store.migrate import upgrade
from tests.azure_fake import TOKEN, FakeAzure

SUB = "00000000-0000-0000-0000-0000000000{:02d}"


def rows_for(groups: int, days: int, today: Any, scale: float) -> list[list[Any]]:
    """`groups` (subscription, service) pairs × `days` days, deterministic costs."""
    out = []
    for g in range(groups):
        sub, service = SUB.format(g % 50), f"service-{g // 50:05d}"
        for k in range(1, days + 1):
            day = today - timedelta(days=k)
            cost = round(((g * 7919 + k * 104729) % 100_000) / 1000 * scale, 6)
            out.append([cost, int(day.strftime("%Y%m%d")), sub, service, "USD"])
    return out


def run(resources: int, days: int, heap: bool = False, page_size: int = 5000) -> dict[str, Any]:
    """`resources` subscription × service groups; see bench/collect.py for the result's shape."""
    ca = trustme.CA()
    work = Path(tempfile.mkdtemp(prefix="bench-collect-"))
    ca_path = work / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    os.environ["OPTIMIZER_AZURE_TEST_TOKEN"] = TOKEN
    fake = FakeAzure(ca.issue_cert("127.0.0.1"), str(ca_path))
    today = datetime.now(UTC).date()
    fake.set_rows("ActualCost", rows_for(resources, days, today, 1.0), page_size)
    fake.set_rows("AmortizedCost", rows_for(resources, days, today, 0.9), page_size)
    engine = make_engine(f"sqlite:///{work / 'bench.db'}")
    upgrade(engine)
    source = AzureSource(
        type="azure", name="bench", scope=f"/subscriptions/{SUB.format(0)}",
        endpoint_url=fake.url, ca_bundle=str(ca_path), first_days=days, restate_days=days,
    )  # fmt: skip
    collector = AzureCollector(source)
    runs = []
    try:
        labels = ["first collect", "re-run (replace)"]
        if heap:
            labels.append("re-run under tracemalloc")
        for label in labels:
            before = fake.calls()
            traced = label.endswith("tracemalloc")  # slows Python: timed runs go without it
            if traced:
                tracemalloc.start()
            t = time.perf_counter()
            summary = collector.collect(engine, today)
            secs = time.perf_counter() - t
            heap_peak = tracemalloc.get_traced_memory()[1] if traced else 0
            if traced:
                tracemalloc.stop()
            rows = summary.rows.get("cost_records", 0)
            runs.append({
                "run": label, "status": summary.status, "seconds": secs,
                "rows": dict(summary.rows), "rows_per_second": rows / secs if secs else None,
                "api_calls": summary.api_calls, "requests_seen_by_fake": fake.calls() - before,
                "python_heap_peak_mib": heap_peak / 2**20 if traced else None,
            })  # fmt: skip
    finally:
        fake.close()
    return {
        "cloud": "azure",
        "resources": resources,
        "days": days,
        "what": f"{resources:,} subscription × service groups, pages of {page_size:,}",
        "runs": runs,
    }
