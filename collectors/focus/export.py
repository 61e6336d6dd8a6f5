"""Write the store's cost records back out as FOCUS 1.2 (CSV or Parquet), streamed.

Other FinOps tools can then read what we collected. Money keeps every decimal (text in
CSV, decimal128(38, 18) in Parquet); custom columns come last with the `x_` prefix
FOCUS requires (an input column `Id` comes back as `x_Id`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from collectors.focus.schema import ALL_COLUMNS, DECIMAL_COLUMNS, PROMOTED
from store.errors import ConfigError
from store.models import CostRecord
from store.money import canonical

T = CostRecord.__table__  # type: ignore[attr-defined]
EXPORT_VERSION = "1.2"


@dataclass(frozen=True)
class ExportSummary:
    path: str
    format: str
    rows: int
    columns: int
    billed_cost_total: Decimal
    effective_cost_total: Decimal


def _custom_name(name: str) -> str:
    return name if name.startswith("x_") else f"x_{name}"


def _filters(since: datetime | None, until: datetime | None, provider: str | None) -> list[Any]:
    where: list[Any] = []
    if since:
        where.append(T.c.charge_period_start >= since)
    if until:
        where.append(T.c.charge_period_start < until)
    if provider:
        where.append(sa.func.lower(T.c.provider_name) == provider.lower())
    return where


def _custom_keys(engine: Engine, where: list[Any]) -> list[str]:
    keys: set[str] = set()
    with engine.connect() as conn:
        stmt = sa.select(T.c.custom).where(T.c.custom.is_not(None), *where)
        for (custom,) in conn.execution_options(yield_per=50_000).execute(stmt):
            keys.update(custom)
    return sorted(keys)


def _fmt(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def _batches(
    engine: Engine, where: list[Any], custom_keys: list[str], size: int
) -> Iterator[dict[str, list[str | None]]]:
    stmt = sa.select(T).where(*where).order_by(T.c.charge_period_start, T.c.id)
    names = list(ALL_COLUMNS) + [_custom_name(k) for k in custom_keys]
    with engine.connect() as conn:
        result = conn.execution_options(yield_per=size).execute(stmt)
        for chunk in result.mappings().partitions(size):
            cols: dict[str, list[str | None]] = {n: [] for n in names}
            for row in chunk:
                attrs = row["attributes"] or {}
                custom = row["custom"] or {}
                for focus_name in ALL_COLUMNS:
                    store_name = PROMOTED.get(focus_name)
                    if store_name:
                        value = row[store_name]
                    elif focus_name == "Tags":
                        tags = row["tags"]
                        value = None if tags is None else json.dumps(tags, sort_keys=True)
                    else:
                        value = attrs.get(focus_name)
                    cols[focus_name].append(_fmt(value))
                for k in custom_keys:
                    cols[_custom_name(k)].append(_fmt(custom.get(k)))
            yield cols


def _arrow(cols: dict[str, list[str | None]], parquet: bool) -> pa.Table:
    arrays, fields = [], []
    for name, values in cols.items():
        arr = pa.array(values, pa.string())
        if parquet and name in DECIMAL_COLUMNS:
            try:
                arr = arr.cast(pa.decimal128(38, 18))
            except pa.ArrowInvalid as exc:
                raise ConfigError(
                    f"{name} has a value with more than 18 decimals, which Parquet's "
                    f"decimal128(38, 18) would round: {exc}",
                    fix="export to .csv instead, which keeps every decimal",
                ) from exc
        arrays.append(arr)
        fields.append(pa.field(name, arr.type))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def export_focus(
    engine: Engine,
    out: Path,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    provider: str | None = None,
    batch_rows: int = 50_000,
    progress: Callable[[int], None] | None = None,
) -> ExportSummary:
    name = out.name.lower()
    if name.endswith(".parquet"):
        fmt = "parquet"
    elif name.endswith(".csv"):
        fmt = "csv"
    else:
        raise ConfigError(
            f"cannot tell the export format from {out.name}",
            fix="name the output *.csv or *.parquet",
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    where = _filters(since, until, provider)
    custom_keys = _custom_keys(engine, where)
    tmp = out.with_name(out.name + ".partial")
    writer: Any = None
    rows, billed, effective = 0, Decimal(0), Decimal(0)
    ncols = len(ALL_COLUMNS) + len(custom_keys)
    try:
        for cols in _batches(engine, where, custom_keys, batch_rows):
            table = _arrow(cols, fmt == "parquet")
            if writer is None:
                writer = (
                    pq.ParquetWriter(str(tmp), table.schema, compression="zstd")
                    if fmt == "parquet"
                    else pacsv.CSVWriter(str(tmp), table.schema)
                )
            writer.write_table(table)
            rows += table.num_rows
            billed += sum((Decimal(v) for v in cols["BilledCost"] if v), Decimal(0))
            effective += sum((Decimal(v) for v in cols["EffectiveCost"] if v), Decimal(0))
            if progress:
                progress(table.num_rows)
        if writer is None:  # no rows: still write a header so tools see the schema
            names = list(ALL_COLUMNS) + [_custom_name(k) for k in custom_keys]
            empty: dict[str, list[str | None]] = {n: [] for n in names}
            table = _arrow(empty, fmt == "parquet")
            writer = (
                pq.ParquetWriter(str(tmp), table.schema)
                if fmt == "parquet"
                else pacsv.CSVWriter(str(tmp), table.schema)
            )
            writer.write_table(table)
        writer.close()
        tmp.replace(out)
    finally:
        if tmp.exists():
            tmp.unlink()
    return ExportSummary(str(out), fmt, rows, ncols, canonical(billed), canonical(effective))
