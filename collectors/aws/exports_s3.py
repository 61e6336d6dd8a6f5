"""Spend from an AWS Data Exports export (CUR 2.0 or FOCUS 1.x) delivered to S3.

Data Exports rewrite a billing period's files and its manifest
`metadata/BILLING_PERIOD=YYYY-MM/<export>-Manifest.json` each time the period's data
change (restatements included). So a period is the unit: one ListObjectsV2 of the
prefix gives every manifest's ETag; a period whose manifest ETag is the one recorded at
its last successful read is skipped without any GetObject; a changed one has its
manifest and data files read, and its rows of this source replace the period's rows in
one transaction (delete [period start, end) + insert), so restatements replace and
nothing is counted twice. What was read is recorded in `ingested_file` (path = the
manifest's s3:// URI, sha256 = "<ETag>|<executionId>", rows and totals of the period):
the audit trail `sources` already keeps for files, and the marker of the next run.

Rows are mapped by the existing mappings only: CUR 2.0 by
`collectors.exports.aws_cur2.AwsCur2Mapper`, FOCUS by the FOCUS reader and batch
normaliser, both through the FOCUS batch validation. A file that fails (unreadable,
bad value, missing column, missing object) rolls its period back: the period keeps what
it had, the failure is counted as quarantined with a reason, other periods go in.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path, PurePosixPath
from typing import Any

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from collectors.cloud import SourceError
from collectors.exports.aws_cur2 import AwsCur2Mapper
from collectors.exports.common import MappingError, MapStats
from collectors.exports.ingest import HEADER
from collectors.focus.ingest import COST_COLUMNS
from collectors.focus.natural_keys import NaturalKeys
from collectors.focus.normalize import BatchNormalizer, BatchResult
from collectors.focus.reader import open_focus_file
from collectors.focus.schema import plan_columns
from store.bulk import upsert_rows
from store.costs import CostTotals
from store.errors import InputFileError
from store.models import CostRecord, IngestedFile
from store.sources import record_file

MANIFEST = re.compile(
    r"^(?P<root>(?:.*/)?)metadata/BILLING_PERIOD=(?P<period>\d{4}-\d{2})/[^/]+-Manifest\.json$"
)
Download = Callable[[str, Path], None]  # (key, local path) -> file written


class ExportProblem(Exception):
    """The export as a whole cannot be read (status, detail, hint for the summary)."""

    def __init__(self, status: str, detail: str, hint: str):
        super().__init__(detail)
        self.status, self.detail, self.hint = status, detail, hint


@dataclass(frozen=True)
class ManifestRef:
    period: str  # YYYY-MM
    key: str
    etag: str


@dataclass(frozen=True)
class Manifest:
    execution_id: str
    start: datetime
    end: datetime
    data_keys: list[str]


@dataclass
class ExportResult:
    read: list[str] = field(default_factory=list)  # periods replaced
    skipped: list[str] = field(default_factory=list)  # periods unchanged since the last run
    rows: int = 0
    quarantined: dict[str, int] = field(default_factory=dict)


def find_manifests(objects: Iterator[dict[str, Any]], prefix: str) -> list[ManifestRef]:
    """The billing-period manifests of the one export under `prefix`, oldest first."""
    found: dict[str, list[ManifestRef]] = {}
    for obj in objects:
        m = MANIFEST.match(str(obj.get("Key", "")))
        if m:
            ref = ManifestRef(m["period"], str(obj["Key"]), str(obj.get("ETag", "")).strip('"'))
            found.setdefault(m["root"], []).append(ref)
    where = f"under prefix {prefix!r}" if prefix else "in the bucket"
    if not found:
        raise ExportProblem(
            "no_data",
            f"no Data Exports manifest (metadata/BILLING_PERIOD=YYYY-MM/*-Manifest.json) {where}",
            "set data_export.prefix to the export's folder (S3 prefix + export name); a new "
            "export delivers its first files within 24 hours",
        )
    if len(found) > 1:
        roots = ", ".join(sorted(r or "(bucket root)" for r in found))
        raise ExportProblem(
            "invalid_config",
            f"more than one export {where}: {roots}",
            "set data_export.prefix to one export's folder",
        )
    (refs,) = found.values()
    return sorted(refs, key=lambda r: r.period)


def _when(value: Any, what: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"billingPeriod.{what} {value!r} is not a date/time") from None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_manifest(raw: bytes, bucket: str, period: str) -> Manifest:
    """A Data Exports manifest: executionId, billingPeriod{start,end}, dataFiles (s3 URIs)."""
    try:
        doc = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"manifest is not JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise ValueError("manifest is not a JSON object")
    files = doc.get("dataFiles")
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        raise ValueError("manifest has no dataFiles list")
    keys = []
    for uri in files:
        if uri.startswith("s3://"):
            b, _, key = uri[5:].partition("/")
            if b != bucket:
                raise ValueError(f"data file {uri} is in another bucket")
            keys.append(key)
        else:
            keys.append(uri)
    bp = doc.get("billingPeriod") or {}
    if isinstance(bp, dict) and bp.get("start") and bp.get("end"):
        start, end = _when(bp["start"], "start"), _when(bp["end"], "end")
    else:  # fall back on the partition name
        y, m = (int(p) for p in period.split("-"))
        start = datetime(y, m, 1, tzinfo=UTC)
        end = datetime(y + m // 12, m % 12 + 1, 1, tzinfo=UTC)
    return Manifest(str(doc.get("executionId") or ""), start, end, keys)


def last_marker(conn: Connection, source_key: str, uri: str) -> str | None:
    files: sa.Table = IngestedFile.__table__  # type: ignore[attr-defined]
    return conn.execute(
        sa.select(files.c.sha256)
        .where(files.c.source_key == source_key, files.c.path == uri)
        .order_by(files.c.id.desc())
        .limit(1)
    ).scalar_one_or_none()


# -- rows -------------------------------------------------------------------------------
def _cur2_results(path: Path) -> Iterator[BatchResult]:
    opened = open_focus_file(path)
    mapper = AwsCur2Mapper()
    missing = mapper.missing_columns(opened.header)
    if missing:
        raise InputFileError(f"{path.name} is missing CUR 2.0 column(s): {', '.join(missing)}")
    normalizer = BatchNormalizer(path, plan_columns(HEADER, "1.2"))
    stats, n = MapStats(), 0
    for batch in opened.batches:
        mapped = []
        for row in batch.to_pylist():
            n += 1
            try:
                mapped.extend(mapper.map_row(row, n, stats))
            except MappingError as exc:
                raise InputFileError(f"{path.name}: {exc}") from None
        if mapped:
            arrays = [pa.array([r.get(c) for r in mapped], pa.string()) for c in HEADER]
            yield normalizer.normalize(pa.RecordBatch.from_arrays(arrays, names=HEADER))


def _focus_results(path: Path) -> Iterator[BatchResult]:
    opened = open_focus_file(path)
    plan = plan_columns(opened.header)
    if plan.missing_mandatory:
        raise InputFileError(
            f"{path.name} is missing FOCUS column(s): {', '.join(plan.missing_mandatory)}"
        )
    normalizer = BatchNormalizer(path, plan)
    for batch in opened.batches:
        yield normalizer.normalize(batch)


def _write_period(
    conn: Connection, source_key: str, m: Manifest, paths: list[Path], fmt: str
) -> tuple[int, Decimal, Decimal]:
    records: sa.Table = CostRecord.__table__  # type: ignore[attr-defined]
    conn.execute(
        sa.delete(records).where(
            records.c.source_key == source_key,
            records.c.charge_period_start >= m.start,
            records.c.charge_period_start < m.end,
        )
    )
    natural = NaturalKeys()
    rows, billed, effective = 0, Decimal(0), Decimal(0)
    for path in paths:
        results = _cur2_results(path) if fmt == "cur2" else _focus_results(path)
        for result in results:
            cols = result.columns
            n = len(result.key_material)
            cols["natural_key"] = natural.keys(result.key_material)
            cols["source_key"] = [source_key] * n
            tuples = list(zip(*(cols[c] for c in COST_COLUMNS), strict=True))
            upsert_rows(conn, "cost_record", COST_COLUMNS, tuples, conflict=("natural_key",))
            rows += n
            for _, b, e in result.totals.values():
                billed += Decimal(b)
                effective += Decimal(e)
    return rows, billed, effective


def read_export(
    engine: Engine,
    source_key: str,
    bucket: str,
    fmt: str,
    refs: list[ManifestRef],
    since: date,
    get_bytes: Callable[[str], bytes],
    download: Download,
) -> ExportResult:
    """Read every period ending after `since` whose manifest changed (see module doc)."""
    out = ExportResult()
    for ref in refs:
        y, mo = (int(p) for p in ref.period.split("-"))
        if date(y + mo // 12, mo % 12 + 1, 1) <= since:
            continue
        uri = f"s3://{bucket}/{ref.key}"
        with engine.connect() as conn:
            before = last_marker(conn, source_key, uri)
        if before is not None and before.split("|")[0] == ref.etag:
            out.skipped.append(ref.period)
            continue
        try:
            manifest = parse_manifest(get_bytes(ref.key), bucket, ref.period)
        except ValueError as exc:
            _quarantine(out, f"{uri}: {exc}; period {ref.period} kept as it was")
            continue
        except SourceError as exc:  # replaced between the listing and now: next run
            if "NoSuchKey" not in exc.detail:
                raise
            _quarantine(out, f"{exc.detail}; period {ref.period} kept as it was")
            continue
        marker = f"{ref.etag}|{manifest.execution_id}"
        with tempfile.TemporaryDirectory(prefix="aws-export-") as tmp:
            try:
                paths = _download_all(manifest.data_keys, Path(tmp), download)
            except SourceError as exc:
                if "NoSuchKey" not in exc.detail:
                    raise
                _quarantine(out, f"{exc.detail}; period {ref.period} kept as it was")
                continue
            try:
                with engine.begin() as conn:
                    rows, billed, eff = _write_period(conn, source_key, manifest, paths, fmt)
                    totals = CostTotals(rows, billed, eff, manifest.start, manifest.end)
                    record_file(conn, source_key, uri, marker, totals)
            except InputFileError as exc:
                _quarantine(out, f"{_problem(exc)}; period {ref.period} kept as it was")
                continue
        out.read.append(ref.period)
        out.rows += rows
    return out


def _download_all(keys: list[str], tmp: Path, download: Download) -> list[Path]:
    paths = []
    for i, key in enumerate(keys):
        path = tmp / f"{i:05d}-{PurePosixPath(key).name}"
        download(key, path)
        paths.append(path)
    return paths


def _problem(exc: InputFileError) -> str:
    return exc.message.split("; nothing from this file")[0]


def _quarantine(out: ExportResult, reason: str) -> None:
    out.quarantined[reason] = out.quarantined.get(reason, 0) + 1
