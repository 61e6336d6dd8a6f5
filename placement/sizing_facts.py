"""Load every workload's utilization percentiles in ONE aggregated query.

The store computes the ranks: a window function numbers each (series, metric)'s samples
in the window by value, and only the rows next to the p10 and p90 positions come back
(at most 4 per series and metric), so the transfer stays small at 10k workloads × 14
days × 24 h. Python then interpolates between the two ranks exactly as
`placement.sizing.percentile` does. Works on SQLite (≥ 3.25) and PostgreSQL alike.

The window ends at the newest `cpu_cores` sample in the store (not the wall clock, so a
store loaded yesterday or a demo estate sizes the same way) and is half-open:
(newest − window_days, newest].
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from placement.sizing import SizingSettings, Usage, interpolation_point
from store.models import UsageSample, Workload

SAMPLES = UsageSample.__table__  # type: ignore[attr-defined]
WORKLOADS = Workload.__table__  # type: ignore[attr-defined]
CPU_METRIC, MEMORY_METRIC = "cpu_cores", "memory_gib"


def _ranked(since: datetime, only: Sequence[str] | None) -> sa.Select[Any]:
    """(series, metric, n, 0-based rank, value) of the samples next to p10 and p90."""
    series: Any = sa.select(WORKLOADS.c.series_id).where(WORKLOADS.c.series_id.is_not(None))
    if only is not None:
        series = list(only)
    part = (SAMPLES.c.series_id, SAMPLES.c.metric)
    inner = (
        sa.select(
            SAMPLES.c.series_id,
            SAMPLES.c.metric,
            SAMPLES.c.value,
            (sa.func.row_number().over(partition_by=part, order_by=SAMPLES.c.value) - 1).label(
                "rk"
            ),
            sa.func.count().over(partition_by=part).label("n"),
        )
        .where(
            SAMPLES.c.metric.in_((CPU_METRIC, MEMORY_METRIC)),
            SAMPLES.c.ts > since,
            SAMPLES.c.series_id.in_(series),
        )
        .subquery()
    )
    lo90 = ((inner.c.n - 1) * 9) // 10
    lo10 = (inner.c.n - 1) // 10
    return sa.select(inner.c.series_id, inner.c.metric, inner.c.n, inner.c.rk, inner.c.value).where(
        sa.or_(
            inner.c.rk == lo90,
            inner.c.rk == lo90 + 1,
            inner.c.rk == lo10,
            inner.c.rk == lo10 + 1,
        )
    )


def _pick(n: int, ranks: dict[int, float], q: float) -> float:
    lo, frac = interpolation_point(n, q)
    low = ranks[lo]
    if frac == 0 or lo + 1 >= n:
        return low
    return low + (ranks[lo + 1] - low) * frac


def load_usage(
    conn: Connection, settings: SizingSettings, only: Sequence[str] | None = None
) -> tuple[dict[str, Usage], datetime | None]:
    """(usage per workload `series_id` with samples in the window, the window's end):
    every workload's, or those of the `only` series (`policy explain` reads one).
    Nothing is read when sizing is disabled."""
    if not settings.enabled:
        return {}, None
    newest = conn.execute(
        sa.select(sa.func.max(SAMPLES.c.ts, type_=SAMPLES.c.ts.type)).where(
            SAMPLES.c.metric == CPU_METRIC
        )
    ).scalar()
    if newest is None:
        return {}, None
    since = newest - timedelta(days=settings.window_days)
    counts: dict[tuple[str, str], int] = {}
    ranks: dict[tuple[str, str], dict[int, float]] = defaultdict(dict)
    for row in conn.execute(_ranked(since, only)):
        counts[row.series_id, row.metric] = int(row.n)
        ranks[row.series_id, row.metric][int(row.rk)] = float(row.value)
    out: dict[str, Usage] = {}
    for sid in sorted({sid for sid, _ in counts}):
        n_cpu, n_mem = counts.get((sid, CPU_METRIC), 0), counts.get((sid, MEMORY_METRIC), 0)
        cpu = ranks.get((sid, CPU_METRIC), {})
        mem = ranks.get((sid, MEMORY_METRIC), {})
        out[sid] = Usage(
            cpu_samples=n_cpu,
            memory_samples=n_mem,
            cpu_p90=_pick(n_cpu, cpu, 0.9) if n_cpu else 0.0,
            memory_p10=_pick(n_mem, mem, 0.1) if n_mem else 0.0,
            memory_p90=_pick(n_mem, mem, 0.9) if n_mem else 0.0,
        )
    return out, newest
