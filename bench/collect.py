"""Collector benchmark (issue #5 §5): each cloud's collector against the local fakes the
tests use, a 30-day window for `--resources` resources per cloud.

Per cloud (bench/collect_<cloud>.py, run in its own process so each gets its own peak
memory): the first collect, then a re-run over the same window (the idempotent replace
path); seconds, rows by kind, rows per second into the store, API calls by operation,
and the process's max RSS (the fake serves from the same process, so it is included).

    .venv/bin/python bench/collect.py [--cloud aws|azure|gcp|all] [--resources 10000]
                                      [--days 30] [--heap] [--json] [--out FILE]

Each part's `run(resources, days, heap)` returns {"cloud", "resources", "days", "what",
"runs": [{"run", "status", "seconds", "rows": {kind: n}, "rows_per_second",
"api_calls": {operation: n}, "requests_seen_by_fake", "python_heap_peak_mib"}]}.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

CLOUDS = ("aws", "azure", "gcp")


def run_one(cloud: str, resources: int, days: int, heap: bool) -> dict[str, Any]:
    module = importlib.import_module(f"bench.collect_{cloud}")
    result: dict[str, Any] = module.run(resources=resources, days=days, heap=heap)
    result["max_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result["cores"] = os.cpu_count()
    return result


def in_subprocess(cloud: str, args: argparse.Namespace) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__)), "--cloud", cloud, "--json",
           "--resources", str(args.resources), "--days", str(args.days)]  # fmt: skip
    if args.heap:
        cmd.append("--heap")
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=ROOT)
    if done.returncode != 0:
        return {"cloud": cloud, "error": done.stderr.strip().splitlines()[-1:] or ["failed"]}
    result: dict[str, Any] = json.loads(done.stdout)[0]
    return result


def table(result: dict[str, Any]) -> str:
    if "error" in result:
        return f"{result['cloud']}: FAILED {result['error']}\n"
    lines = [
        f"{result['cloud']}: {result['what']}, {result['days']} days",
        "| run | status | seconds | rows | rows/s | API calls | heap peak MiB |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in result["runs"]:
        rows = sum(r["rows"].values())
        calls = sum(r["api_calls"].values())
        rate = "-" if not r.get("rows_per_second") else f"{r['rows_per_second']:,.0f}"
        heap = r.get("python_heap_peak_mib")
        heap_text = "-" if heap is None else f"{heap:.0f}"
        lines.append(
            f"| {r['run']} | {r['status']} | {r['seconds']:.1f} | {rows:,} | {rate} | "
            f"{calls} | {heap_text} |"
        )
    lines.append(f"max RSS (process, fake included): {result['max_rss_mib']:.0f} MiB")
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cloud", choices=(*CLOUDS, "all"), default="all")
    p.add_argument("--resources", type=int, default=10_000, help="resources per cloud")
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--heap", action="store_true", help="a third run under tracemalloc (slow)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--out", type=Path)
    args = p.parse_args()
    if args.cloud == "all":
        results = [in_subprocess(cloud, args) for cloud in CLOUDS]
    else:
        results = [run_one(args.cloud, args.resources, args.days, args.heap)]
    text = sys.stderr if args.json else sys.stdout
    for result in results:
        print(table(result), file=text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2))
    if args.json:
        print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
