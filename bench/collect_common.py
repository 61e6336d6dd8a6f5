"""One timed collector run, as every part of the collector benchmark measures it (the
result's shape is documented in bench/collect.py)."""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable
from typing import Any

from collectors.cloud import CollectSummary

RUNS = ("first collect", "re-run (replace)")
TRACED = "re-run under tracemalloc"


def labels(heap: bool) -> list[str]:
    """The runs of one part: a first collect and a re-run, plus a traced one with `heap`."""
    return [*RUNS, TRACED] if heap else list(RUNS)


def measure(
    label: str, collect: Callable[[], CollectSummary], requests: Callable[[], int] | None = None
) -> dict[str, Any]:
    """Run `collect` once; under tracemalloc (slow, so never timed) for the TRACED run.
    `requests` counts what the fake saw, where it can (moto counts nothing)."""
    traced = label == TRACED
    before = requests() if requests else 0
    if traced:
        tracemalloc.start()
    t = time.perf_counter()
    summary = collect()
    secs = time.perf_counter() - t
    heap_peak = tracemalloc.get_traced_memory()[1] if traced else 0
    if traced:
        tracemalloc.stop()
    rows = sum(summary.rows.values())
    return {
        "run": label, "status": summary.status, "seconds": secs,
        "rows": dict(summary.rows), "rows_per_second": rows / secs if secs else None,
        "api_calls": summary.api_calls,
        "requests_seen_by_fake": requests() - before if requests else None,
        "python_heap_peak_mib": heap_peak / 2**20 if traced else None,
    }  # fmt: skip
