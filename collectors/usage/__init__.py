"""Long-form utilization series (series_id, timestamp, metric, value) into usage_sample.

This module is the format's vocabulary, kept in one place because docs/usage-import.md
states it to users; `read` parses and validates a file without touching the store and
`ingest` writes it.
"""

from __future__ import annotations

REQUIRED = ("series_id", "timestamp", "metric", "value")
# Counters cannot go negative: a negative value is a broken export, not a measurement.
COUNTER_METRICS = frozenset({"get_requests", "gb_retrieved"})
COUNTER_SUFFIXES = ("_total", "_count", "_bytes")
EPOCH_MAX = 1e11  # seconds (year 5138): larger numbers are milliseconds or nanoseconds
MAX_EXAMPLES = 5

# Why a row is quarantined: reason -> (column, message). The order is the precedence: a
# row with several faults is counted once, under the first that applies.
REASONS: dict[str, tuple[str, str]] = {
    "empty_series_id": ("series_id", "series_id is empty"),
    "bad_timestamp": ("timestamp", "timestamp is neither ISO 8601 nor Unix epoch seconds"),
    "naive_timestamp": ("timestamp", "timestamp has no time zone: add Z or an offset (+02:00)"),
    "bad_metric": ("metric", "metric must be lower-case letters, digits, '_' or '.'"),
    "non_numeric_value": ("value", "value is not a number"),
    "non_finite_value": ("value", "value is NaN or infinite"),
    "negative_counter": ("value", "negative value for a counter metric"),
}

EPOCH_RE = r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$"
ISO_TZ_RE = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}(:?\d{2})?)$"
ISO_NAIVE_RE = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$"
METRIC_RE = r"^[a-z0-9_.]+$"


def is_counter(metric: str) -> bool:
    """True for metrics whose values may not be negative (see COUNTER_*)."""
    return metric in COUNTER_METRICS or metric.endswith(COUNTER_SUFFIXES)
