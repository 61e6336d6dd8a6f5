"""Collector benchmark (issue #5 §5), against the local fakes the tests use.

Azure (this first cut): the real `CostManagementClient` against the HTTPS fake of
tests/azure_fake.py (trustme CA), which serves `--groups` subscription × service groups
for each of `--days` days, for both ActualCost and AmortizedCost, `--page-size` rows per
page with `nextLink` between pages (Azure pages 5,000 rows at a time). Measured in one
run: the first collect (every day new), then a re-run over the same window (the
idempotent replace path); rows per second into the store, API calls, and peak memory
(the process's max RSS, which includes the fake serving from the same process; with
`--heap`, a third run under tracemalloc gives the Python heap peak of the collect alone).

    .venv/bin/python bench/collect.py [--groups 10000] [--days 30] [--json] [--out FILE]

AWS (moto's server) and GCP are not benchmarked yet.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import trustme  # noqa: E402

from collectors.azure.collector import AzureCollector  # noqa: E402
from collectors.azure.settings import AzureSource  # noqa: E402
from store.engine import make_engine  # noqa: E402
from store.migrate import upgrade  # noqa: E402
from tests.azure_fake import TOKEN, FakeAzure  # noqa: E402

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


def run(args: argparse.Namespace) -> dict[str, Any]:
    ca = trustme.CA()
    work = Path(tempfile.mkdtemp(prefix="bench-collect-"))
    ca_path = work / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    os.environ["OPTIMIZER_AZURE_TEST_TOKEN"] = TOKEN
    fake = FakeAzure(ca.issue_cert("127.0.0.1"), str(ca_path))
    today = datetime.now(UTC).date()
    fake.set_rows("ActualCost", rows_for(args.groups, args.days, today, 1.0), args.page_size)
    fake.set_rows("AmortizedCost", rows_for(args.groups, args.days, today, 0.9), args.page_size)
    engine = make_engine(f"sqlite:///{work / 'bench.db'}")
    upgrade(engine)
    source = AzureSource(
        type="azure", name="bench", scope=f"/subscriptions/{SUB.format(0)}",
        endpoint_url=fake.url, ca_bundle=str(ca_path), first_days=args.days, restate_days=args.days,
    )  # fmt: skip
    collector = AzureCollector(source)
    runs = []
    try:
        labels = ["first collect", "re-run (replace)"]
        if args.heap:
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
                "cost_records": rows, "rows_per_second": rows / secs if secs else None,
                "api_calls": summary.api_calls, "requests_seen_by_fake": fake.calls() - before,
                "python_heap_peak_mib": heap_peak / 2**20 if traced else None,
            })  # fmt: skip
    finally:
        fake.close()
    return {
        "cloud": "azure",
        "groups": args.groups,
        "days": args.days,
        "page_size": args.page_size,
        "runs": runs,
        "max_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "cores": os.cpu_count(),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--groups", type=int, default=10_000, help="subscription × service groups")
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--page-size", type=int, default=5000)
    p.add_argument("--heap", action="store_true", help="a third run under tracemalloc (slow)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--out", type=Path)
    args = p.parse_args()
    result = run(args)
    text = sys.stderr if args.json else sys.stdout
    print(
        f"azure: {args.groups:,} groups × {args.days} days, pages of {args.page_size:,}", file=text
    )
    print(
        "| run | status | seconds | cost records | rows/s | API calls | heap peak MiB |", file=text
    )
    print("|---|---|---|---|---|---|---|", file=text)
    for r in result["runs"]:
        calls = sum(r["api_calls"].values())
        heap = "-" if r["python_heap_peak_mib"] is None else f"{r['python_heap_peak_mib']:.0f}"
        print(f"| {r['run']} | {r['status']} | {r['seconds']:.1f} | {r['cost_records']:,} | "
              f"{r['rows_per_second']:,.0f} | {calls} | {heap} |", file=text)  # fmt: skip
    print(f"max RSS (process, fake included): {result['max_rss_mib']:.0f} MiB", file=text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2))
    if args.json:
        print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
