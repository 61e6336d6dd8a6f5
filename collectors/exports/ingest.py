"""`optimizer collect export`: native billing export files into FOCUS cost records.

A mapper (aws_cur, aws_cur2, azure_cost_details, gcp_billing) turns each native row into
FOCUS rows; from there the rows take the same road as `collect focus`: the FOCUS batch
validation, natural keys, one transaction per file. Each file is its own source,
`export:<format>:<absolute path>`: re-importing it replaces what it wrote, never doubles.
A bad value anywhere writes nothing from the file.
"""

from __future__ import annotations

import csv
import gzip
import io
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import pyarrow as pa
from sqlalchemy.engine import Engine

from collectors.exports.aws_cur import AwsCurMapper
from collectors.exports.aws_cur2 import AwsCur2Mapper
from collectors.exports.azure_cost_details import AzureCostDetailsMapper
from collectors.exports.common import FocusRow, Mapper, MappingError, MapStats
from collectors.exports.gcp_billing import GcpBillingMapper
from collectors.focus.ingest import COST_COLUMNS, IngestSummary, _Totals, file_sha256
from collectors.focus.natural_keys import NaturalKeys
from collectors.focus.normalize import BatchNormalizer
from collectors.focus.schema import ALL_COLUMNS, plan_columns
from store import costs
from store.bulk import delete_where, upsert_rows
from store.errors import InputFileError, OptimizerError
from store.sources import record_file, record_source_failure, record_source_success

FORMATS: dict[str, Callable[[], Mapper]] = {
    "aws-cur": AwsCurMapper,
    "aws-cur2": AwsCur2Mapper,
    "azure-cost-details": AzureCostDetailsMapper,
    "gcp-billing-export": GcpBillingMapper,
}
CUSTOM_COLUMNS = (
    "x_LineItemType", "x_UsageType", "x_Operation", "x_ProductCode", "x_CostCategories",
    "x_ChargeType", "x_PricingModel", "x_MeterName", "x_ResourceGroup", "x_AdditionalInfo",
    "x_CreditType", "x_CreditId", "x_CostType", "x_ServiceId", "x_ProjectName",
)  # fmt: skip
HEADER = [*ALL_COLUMNS, *CUSTOM_COLUMNS]
Progress = Callable[[int], None]
csv.field_size_limit(2**31 - 1)


@dataclass
class ExportImportSummary(IngestSummary):
    dry_run: bool = False
    source_rows: int = 0
    categories: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out = super().as_dict()
        out.update(
            dry_run=self.dry_run,
            source_rows=self.source_rows,
            charge_categories=dict(sorted(self.categories.items())),
        )
        return out


def _open_text(path: Path) -> TextIO:
    if not path.is_file():
        raise InputFileError(
            f"{path.name}: no such file", where=str(path), fix="check the path and try again"
        )
    raw = path.open("rb")
    if raw.read(2) == b"\x1f\x8b":
        raw.seek(0)
        return io.TextIOWrapper(gzip.GzipFile(fileobj=raw), encoding="utf-8-sig", newline="")
    raw.seek(0)
    return io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")


def _header_error(path: Path, fmt: str, missing: list[str], header: list[str]) -> InputFileError:
    hint = f"export the file with every column a {fmt} file has, or pick the right --format"
    lowered = {h.lower() for h in header}
    if "lineitem/unblendedcost" in lowered:
        hint = "this is a legacy CUR file: use --format aws-cur"
    elif "line_item_unblended_cost" in lowered:
        hint = "this is a CUR 2.0 file: use --format aws-cur2"
    elif "costinbillingcurrency" in lowered or "metercategory" in lowered:
        hint = "this is an Azure cost details file: use --format azure-cost-details"
    elif "usage_start_time" in lowered and "cost" in lowered:
        hint = "this is a GCP billing export: use --format gcp-billing-export"
    elif "billedcost" in lowered:
        hint = "this is a FOCUS file: use `optimizer collect focus`"
    return InputFileError(
        f"{path.name} is missing {fmt} column(s): {', '.join(missing)}; nothing from this "
        "file was written",
        where=f"{path}: header (row 0)",
        fix=hint,
    )


class _Reader:
    """Native rows -> mapped FOCUS Arrow batches, counting what it saw."""

    def __init__(self, path: Path, fmt: str, batch_rows: int):
        self.path = path
        self.fmt = fmt
        self.mapper = FORMATS[fmt]()
        self.batch_rows = batch_rows
        self.stats = MapStats()
        self.categories: dict[str, int] = {}
        self.source_rows = 0

    def _fail(self, exc: MappingError) -> InputFileError:
        return InputFileError(
            f"{self.path.name}: row {exc.row}, column {exc.column}: {exc.problem}; nothing "
            "from this file was written",
            where=f"{self.path}:row {exc.row} (line {exc.row + 1} if no value spans lines)",
            fix=exc.fix,
        )

    def _batch(self, rows: list[FocusRow]) -> pa.RecordBatch:
        for r in rows:
            category = r.get("ChargeCategory") or "?"
            self.categories[category] = self.categories.get(category, 0) + 1
        arrays = [pa.array([r.get(name) for r in rows], pa.string()) for name in HEADER]
        return pa.RecordBatch.from_arrays(arrays, names=HEADER)

    def batches(self) -> Iterator[pa.RecordBatch]:
        with _open_text(self.path) as fh:
            reader = csv.DictReader(fh)
            header = [h for h in (reader.fieldnames or [])]
            missing = self.mapper.missing_columns(header)
            if missing:
                raise _header_error(self.path, self.fmt, missing, header)
            pending: list[FocusRow] = []
            try:
                for n, row in enumerate(reader, start=1):
                    self.source_rows = n
                    pending.extend(self.mapper.map_row(row, n, self.stats))
                    if len(pending) >= self.batch_rows:
                        yield self._batch(pending)
                        pending = []
            except MappingError as exc:
                raise self._fail(exc) from None
            except csv.Error as exc:
                raise InputFileError(
                    f"{self.path.name}: row {self.source_rows + 1}: not readable as CSV ({exc})",
                    where=str(self.path),
                    fix="export the file again; it may be truncated or not CSV",
                ) from None
            if pending:
                yield self._batch(pending)


def import_export_file(
    engine: Engine,
    path: Path,
    fmt: str,
    *,
    dry_run: bool = False,
    batch_rows: int = 20_000,
    progress: Progress | None = None,
) -> ExportImportSummary:
    """Map one native export file to FOCUS rows and write them in one transaction."""
    if fmt not in FORMATS:
        raise InputFileError(
            f"unknown export format {fmt!r}", fix=f"use one of {', '.join(FORMATS)}"
        )
    started = time.perf_counter()
    path = path.expanduser().resolve()
    key = f"export:{fmt}:{path}"
    reader = _Reader(path, fmt, batch_rows)
    plan = plan_columns(HEADER, "1.2")
    normalizer = BatchNormalizer(path, plan)
    natural = NaturalKeys()
    acc = _Totals()
    replaced = 0
    overlap = 0

    def prepared() -> Iterator[tuple[list[tuple[Any, ...]], int]]:
        for batch in reader.batches():
            result = normalizer.normalize(batch)
            n = batch.num_rows
            acc.add(result, n)
            if progress:
                progress(n)
            if dry_run:
                continue
            cols = result.columns
            cols["natural_key"] = natural.keys(result.key_material)
            cols["source_key"] = [key] * n
            yield list(zip(*(cols[c] for c in COST_COLUMNS), strict=True)), n

    if dry_run:
        for _ in prepared():
            pass
        total = acc.total()
    else:
        sha = file_sha256(path)
        try:
            with engine.begin() as conn:
                replaced = delete_where(conn, "cost_record", "source_key", key)
                before = costs.count(conn)
                for rows, _n in prepared():
                    upsert_rows(conn, "cost_record", COST_COLUMNS, rows, conflict=("natural_key",))
                overlap = acc.rows - (costs.count(conn) - before)
                total = acc.total()
                record_file(conn, key, str(path), sha, total)
                record_source_success(conn, key, "export", total, detail=f"{path.name} ({fmt})")
        except OptimizerError as exc:
            with engine.begin() as conn:
                record_source_failure(conn, key, "export", exc.message)
            raise
    warnings = [f"{count} row(s): {what}" for what, count in sorted(reader.stats.counts.items())]
    warnings += [
        f"{count} row(s) have no {name} (FOCUS requires one); kept as null"
        for name, count in sorted(acc.missing_expected.items())
    ]
    if overlap:
        warnings.append(
            f"{overlap} row(s) were already in the store from another source; they now "
            "belong to this file and were not counted twice"
        )
    return ExportImportSummary(
        path=str(path),
        source_key=key,
        format=fmt,
        focus_version="1.2",
        rows=acc.rows,
        rows_replaced=replaced,
        billed_cost_total=total.billed_cost,
        effective_cost_total=total.effective_cost,
        period_start=total.period_start,
        period_end=total.period_end,
        by_service=acc.by_service(),
        warnings=warnings,
        seconds=time.perf_counter() - started,
        dry_run=dry_run,
        source_rows=reader.source_rows,
        categories=reader.categories,
    )
