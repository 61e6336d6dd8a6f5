"""What a metric's name says about how to forecast it.

- Bounded metrics (utilization in percent: names ending `_pct`, `_percent`,
  `_utilization`) use logistic growth between 0 and 100, so no trend forecasts 140% CPU.
- Counters (`get_requests`, `gb_retrieved`, names ending `_total`, `_count`, `_bytes`)
  cannot be negative: a negative sample is dropped as bad data (forecasts.series).
- `spend` (daily EffectiveCost per account × service) is also checked for anomalies.
- Every other metric we collect is demand (`cpu_cores`, `memory_gib`), never negative:
  forecasts are clipped at 0.
"""

from __future__ import annotations

from dataclasses import dataclass

PERCENT_SUFFIXES = ("_pct", "_percent", "_utilization")
COUNTER_METRICS = ("get_requests", "gb_retrieved")
COUNTER_SUFFIXES = ("_total", "_count", "_bytes")
SPEND_METRIC = "spend"


@dataclass(frozen=True)
class MetricKind:
    bounds: tuple[float, float] | None = None
    nonnegative: bool = True
    counter: bool = False
    spend: bool = False


def kind_of(metric: str) -> MetricKind:
    if metric.endswith(PERCENT_SUFFIXES):
        return MetricKind(bounds=(0.0, 100.0))
    if metric == SPEND_METRIC:
        return MetricKind(spend=True)
    if metric in COUNTER_METRICS or metric.endswith(COUNTER_SUFFIXES):
        return MetricKind(counter=True)
    return MetricKind()
