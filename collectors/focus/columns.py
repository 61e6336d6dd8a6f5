"""Arrow column helpers for FOCUS ingest: text forms, JSON objects and exact totals.

Pure functions over Arrow arrays; they keep per-row Python work out of the hot path.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

CONTROL_RE = r"[\x00-\x1f]"
GroupKey = tuple[str | None, str | None]  # (ProviderName, ServiceName)


def batch_totals(focus: dict[str, pa.Array], n: int) -> dict[GroupKey, list[Any]]:
    """Exact BilledCost/EffectiveCost sums per provider and service, in Arrow."""
    provider = focus.get("ProviderName", pa.nulls(n, pa.string()))
    service = focus.get("ServiceName", pa.nulls(n, pa.string()))
    billed = focus.get("BilledCost", pa.nulls(n, pa.string()))
    effective = focus.get("EffectiveCost", pa.nulls(n, pa.string()))
    out: dict[GroupKey, list[Any]] = {}
    try:
        dec = pa.decimal128(38, 18)
        table = pa.table(
            {"p": provider, "s": service, "b": billed.cast(dec), "e": effective.cast(dec)}
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # > 18 decimals: exact in Python
        for p, sv, b, e in zip(
            provider.to_pylist(),
            service.to_pylist(),
            billed.to_pylist(),
            effective.to_pylist(),
            strict=True,
        ):
            acc = out.setdefault((p, sv), [0, Decimal(0), Decimal(0)])
            acc[0] += 1
            acc[1] += Decimal(b or 0)
            acc[2] += Decimal(e or 0)
        return out
    grouped = table.group_by(["p", "s"]).aggregate(
        [("b", "count", pc.CountOptions(mode="all")), ("b", "sum"), ("e", "sum")]
    )
    for row in grouped.to_pylist():
        out[(row["p"], row["s"])] = [
            row["b_count"],
            row["b_sum"] or Decimal(0),
            row["e_sum"] or Decimal(0),
        ]
    return out


def timestamp_text(arr: pa.Array) -> pa.Array:
    """Naive UTC text as SQLAlchemy stores it on SQLite ('2024-09-01 00:00:00.000000').

    Cast through a naive timestamp: formatting tz-aware values is ~20x slower in Arrow.
    """
    return pc.cast(arr.cast(pa.timestamp("us")), pa.string())


def _json_string(arr: pa.Array) -> pa.Array:
    escaped = pc.replace_substring(arr, "\\", "\\\\")
    escaped = pc.replace_substring(escaped, '"', '\\"')
    return pc.binary_join_element_wise('"', escaped, '"', "")


def json_objects(columns: dict[str, pa.Array], n: int) -> list[str | None]:
    """One JSON object per row from string columns (nulls left out), built in Arrow."""
    if not columns:
        return [None] * n
    fragments = []
    for name, arr in columns.items():
        key = json.dumps(name) + ":"
        fragments.append(pc.binary_join_element_wise(key, _json_string(arr), ""))
    # A constant first element keeps every row non-empty: with null_handling="skip",
    # pyarrow 26 drops the rows whose inputs are all null.
    body = pc.binary_join_element_wise("{", *fragments, ",", null_handling="skip")
    body = pc.replace_substring(body, "{,", "{", max_replacements=1)
    objects = pc.binary_join_element_wise(body, "}", "")
    values: list[str | None] = objects.to_pylist()
    needs_python = any(
        pc.any(pc.match_substring_regex(a, CONTROL_RE)).as_py() for a in columns.values()
    )
    if needs_python:  # rare: control characters need \u escapes; let json do it
        py = {k: v.to_pylist() for k, v in columns.items()}
        for i in range(n):
            row = {k: vals[i] for k, vals in py.items() if vals[i] is not None}
            values[i] = json.dumps(row, separators=(",", ":")) if row else None
    return [None if v == "{}" else v for v in values]
