"""`optimizer collect focus`: one FOCUS file in, one transaction, never double counted.

Each file is its own source (`focus:<absolute path>`). Re-ingesting it replaces what it
wrote before; a row that another file already brought (same natural key) is updated
rather than added. A bad value anywhere rolls the whole file back.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
from sqlalchemy.engine import Engine

from collectors.focus.natural_keys import NaturalKeys
from collectors.focus.normalize import BatchNormalizer, BatchResult
from collectors.focus.prefetch import prefetch
from collectors.focus.reader import OpenedFile, open_focus_file
from collectors.focus.schema import plan_columns
from store import costs
from store.bulk import delete_where, upsert_rows
from store.errors import InputFileError, OptimizerError
from store.money import canonical, money_str
from store.sources import (
    record_file,
    record_source_failure,
    record_source_success,
    unchanged_file,
)

COST_COLUMNS = (
    "natural_key", "source_key", "focus_version", "billed_cost", "effective_cost",
    "list_cost", "contracted_cost", "billing_currency", "billing_account_id",
    "billing_period_start", "billing_period_end", "charge_period_start", "charge_period_end",
    "charge_category", "charge_class", "charge_frequency", "pricing_category",
    "provider_name", "sub_account_id", "service_name", "service_category", "region_id",
    "availability_zone", "resource_id", "sku_id", "commitment_discount_id",
    "commitment_discount_status", "consumed_quantity", "consumed_unit", "pricing_quantity",
    "pricing_unit", "tags", "attributes", "custom",
)  # fmt: skip

Progress = Callable[[int], None]


@dataclass
class IngestSummary:
    path: str
    source_key: str
    format: str
    focus_version: str
    rows: int
    rows_replaced: int
    billed_cost_total: Decimal
    effective_cost_total: Decimal
    period_start: datetime | None
    period_end: datetime | None
    by_service: list[costs.ServiceTotal]
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    unchanged: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "source_key": self.source_key,
            "format": self.format,
            "focus_version": self.focus_version,
            "rows": self.rows,
            "rows_replaced": self.rows_replaced,
            "billed_cost_total": money_str(self.billed_cost_total),
            "effective_cost_total": money_str(self.effective_cost_total),
            "period_start": self.period_start.isoformat() if self.period_start else None,
            "period_end": self.period_end.isoformat() if self.period_end else None,
            "by_service": [
                {
                    "provider": s.provider,
                    "service": s.service,
                    "rows": s.rows,
                    "billed_cost": money_str(s.billed_cost),
                    "effective_cost": money_str(s.effective_cost),
                }
                for s in self.by_service
            ],
            "warnings": self.warnings,
            "seconds": round(self.seconds, 3),
            "unchanged": self.unchanged,
        }


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _missing_columns_error(
    path: Path, missing: tuple[str, ...], header: list[str]
) -> InputFileError:
    hint = "export the file with every mandatory FOCUS column"
    lowered = {h.lower() for h in header}
    if "serviceprovidername" in lowered:
        hint = "this looks like FOCUS 1.3 or later; export FOCUS 1.2 (1.0–1.2 are supported)"
    elif "line_item_unblended_cost" in lowered or "lineitem/unblendedcost" in lowered:
        hint = "this is an AWS CUR file, not FOCUS: use `optimizer collect export --format aws-cur`"
    return InputFileError(
        f"{path.name} is missing mandatory FOCUS column(s): {', '.join(missing)}",
        where=f"{path}: header (row 0)",
        fix=hint,
    )


@dataclass
class _Totals:
    """Exact running totals of what a file held, per provider and service."""

    groups: dict[tuple[str | None, str | None], list[Any]] = field(default_factory=dict)
    missing_expected: dict[str, int] = field(default_factory=dict)
    first: datetime | None = None
    last: datetime | None = None
    rows: int = 0

    def add(self, result: BatchResult, n: int) -> None:
        self.rows += n
        for name, count in result.missing_expected.items():
            self.missing_expected[name] = self.missing_expected.get(name, 0) + count
        for group, (k, billed, effective) in result.totals.items():
            acc = self.groups.setdefault(group, [0, Decimal(0), Decimal(0)])
            acc[0], acc[1], acc[2] = acc[0] + k, acc[1] + billed, acc[2] + effective
        start, end = result.period
        if start is not None and (self.first is None or start < self.first):
            self.first = start
        if end is not None and (self.last is None or end > self.last):
            self.last = end

    def by_service(self) -> list[costs.ServiceTotal]:
        ordered = sorted(self.groups.items(), key=lambda g: (g[0][0] or "", g[0][1] or ""))
        return [
            costs.ServiceTotal(p or "", sv, k, canonical(b), canonical(e))
            for (p, sv), (k, b, e) in ordered
        ]

    def total(self) -> costs.CostTotals:
        services = self.by_service()
        return costs.CostTotals(
            self.rows,
            canonical(sum((s.billed_cost for s in services), Decimal(0))),
            canonical(sum((s.effective_cost for s in services), Decimal(0))),
            self.first,
            self.last,
        )


def _prepared_batches(
    opened: OpenedFile, normalizer: BatchNormalizer, source_key: str
) -> Iterator[tuple[list[tuple[Any, ...]], BatchResult, int]]:
    """Validated, keyed rows ready for the database (runs in the prefetch thread)."""
    natural = NaturalKeys()
    for batch in opened.batches:
        result = normalizer.normalize(batch)
        n = batch.num_rows
        cols = result.columns
        cols["natural_key"] = natural.keys(result.key_material)
        cols["source_key"] = [source_key] * n
        rows = list(zip(*(cols[c] for c in COST_COLUMNS), strict=True))
        result.columns, result.key_material = {}, []  # free the column lists early
        yield rows, result, n


def _unchanged_summary(
    engine: Engine, path: Path, key: str, fmt: str, version: str, started: float
) -> IngestSummary:
    with engine.connect() as conn:
        total = costs.totals(conn, key)
        by_service = costs.totals_by_service(conn, key)
    return IngestSummary(
        path=str(path),
        source_key=key,
        format=fmt,
        focus_version=version,
        rows=total.rows,
        rows_replaced=0,
        billed_cost_total=total.billed_cost,
        effective_cost_total=total.effective_cost,
        period_start=total.period_start,
        period_end=total.period_end,
        by_service=by_service,
        warnings=["unchanged since the last ingest of this source: skipped (use --force)"],
        seconds=time.perf_counter() - started,
        unchanged=True,
    )


def ingest_file(
    engine: Engine,
    path: Path,
    *,
    source_key: str | None = None,
    version: str | None = None,
    strict: bool = True,
    batch_rows: int = 65_536,
    progress: Progress | None = None,
    force: bool = False,
) -> IngestSummary:
    """Ingest one FOCUS file in one transaction; see the module docstring.

    A file identical (sha256) to the one this source last ingested, whose rows are all
    still in the store, is skipped (`unchanged`) unless `force`.
    """
    started = time.perf_counter()
    path = path.expanduser().resolve()
    opened = open_focus_file(path, batch_rows)
    plan = plan_columns(opened.header, version)
    if plan.missing_mandatory and strict:
        raise _missing_columns_error(path, plan.missing_mandatory, opened.header)
    key = source_key or f"focus:{path}"
    sha = file_sha256(path)
    if not force:
        with engine.connect() as conn:
            if unchanged_file(conn, key, sha):
                return _unchanged_summary(engine, path, key, opened.format, plan.version, started)
    normalizer = BatchNormalizer(path, plan, strict=strict)
    acc = _Totals()
    pool = pa.default_memory_pool()
    try:
        with engine.begin() as conn:
            replaced = delete_where(conn, "cost_record", "source_key", key)
            rows_before = costs.count(conn)
            batches = prefetch(_prepared_batches(opened, normalizer, key), depth=1)
            for prepared, result, n in batches:
                upsert_rows(conn, "cost_record", COST_COLUMNS, prepared, conflict=("natural_key",))
                acc.add(result, n)
                pool.release_unused()  # hand freed Arrow buffers back: RSS tracks what is live
                if progress:
                    progress(n)
            overlap = acc.rows - (costs.count(conn) - rows_before)
            total = acc.total()
            record_file(conn, key, str(path), sha, total)
            detail = f"{path.name} ({plan.version})"
            record_source_success(conn, key, "focus", total, detail=detail)
    except OptimizerError as exc:  # rolled back; say so where `optimizer status` looks
        with engine.begin() as conn:
            record_source_failure(conn, key, "focus", exc.message)
        raise
    rows, missing_expected, by_service = acc.rows, acc.missing_expected, acc.by_service()
    warnings = [
        f"{count} row(s) have no {name} (FOCUS requires one); kept as null"
        for name, count in sorted(missing_expected.items())
    ]
    if plan.unprefixed_custom:
        warnings.append(
            "custom column(s) without the x_ prefix kept as custom data: "
            + ", ".join(plan.unprefixed_custom)
        )
    if overlap:
        warnings.append(
            f"{overlap} row(s) were already in the store from another source; they now "
            "belong to this file and were not counted twice"
        )
    return IngestSummary(
        path=str(path),
        source_key=key,
        format=opened.format,
        focus_version=plan.version,
        rows=rows,
        rows_replaced=replaced,
        billed_cost_total=total.billed_cost,
        effective_cost_total=total.effective_cost,
        period_start=total.period_start,
        period_end=total.period_end,
        by_service=by_service,
        warnings=warnings,
        seconds=time.perf_counter() - started,
    )
