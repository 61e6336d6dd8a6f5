"""Stream FOCUS files as Arrow record batches of strings, whatever their format.

Everything is read as text so that validation, not the reader, decides what a value
means (and so money keeps every decimal). Memory stays bounded by the batch size.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from store.errors import InputFileError

NULL_LITERALS = ["", "NULL", "null", "Null"]
CSV_BLOCK_BYTES = 4 << 20


@dataclass
class OpenedFile:
    path: Path
    format: str  # csv | csv.gz | parquet
    header: list[str]
    total_rows: int | None  # known up front for Parquet only
    batches: Iterator[pa.RecordBatch]


def parquet_file(path: Path) -> pq.ParquetFile:
    """The file opened as Parquet, or an InputFileError saying how to fix it."""
    try:
        return pq.ParquetFile(str(path))
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputFileError(
            f"{path.name} is not a readable Parquet file: {exc}",
            where=str(path),
            fix="export the file again, or name it .csv if it is a CSV",
        ) from exc


def detect_format(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(".parquet") or name.endswith(".pq"):
        return "parquet"
    if name.endswith(".csv.gz") or name.endswith(".gz"):
        return "csv.gz"
    if name.endswith(".csv") or name.endswith(".txt"):
        return "csv"
    raise InputFileError(
        f"cannot tell the format of {path.name}",
        where=str(path),
        fix="name the file *.csv, *.csv.gz or *.parquet",
    )


def _csv_header(path: Path, fmt: str) -> list[str]:
    opener = gzip.open if fmt == "csv.gz" else open
    try:
        with opener(path, "rt", encoding="utf-8-sig", newline="") as fh:
            row = next(csv.reader(io.StringIO(fh.readline())), None)
    except (OSError, UnicodeDecodeError, EOFError) as exc:
        raise InputFileError(
            f"cannot read {path.name}: {exc}",
            where=str(path),
            fix="check that the file is a UTF-8 CSV (gzip-compressed if it ends in .gz)",
        ) from exc
    if not row:
        raise InputFileError(f"{path.name} is empty", where=str(path), fix="export the file again")
    return [c.strip() for c in row]


def _to_string(column: pa.Array) -> pa.Array:
    """Typed Parquet columns become the text a CSV export would hold."""
    t = column.type
    if pa.types.is_string(t):
        return column
    if pa.types.is_large_string(t) or pa.types.is_dictionary(t):
        return pc.cast(column, pa.string())
    if pa.types.is_timestamp(t):  # naive UTC text (fast; tz-aware strftime is ~20x slower)
        utc = column if t.tz else pc.assume_timezone(column, "UTC")
        naive = pc.cast(utc, pa.timestamp("us", tz="UTC")).cast(pa.timestamp("us"))
        return pc.cast(naive, pa.string())
    if pa.types.is_date(t):
        return pc.strftime(pc.cast(column, pa.timestamp("s")), format="%Y-%m-%d")
    if pa.types.is_map(t) or pa.types.is_struct(t) or pa.types.is_list(t):
        import json

        return pa.array(
            [
                None if v is None else json.dumps(dict(v) if pa.types.is_map(t) else v)
                for v in column.to_pylist()
            ],
            pa.string(),
        )
    return pc.cast(column, pa.string())


def _parquet_batches(pf: pq.ParquetFile, rows: int) -> Iterator[pa.RecordBatch]:
    for batch in pf.iter_batches(batch_size=rows):
        yield pa.RecordBatch.from_arrays(
            [_to_string(c) for c in batch.columns], names=batch.schema.names
        )


def _csv_batches(path: Path, header: list[str]) -> Iterator[pa.RecordBatch]:
    try:
        reader = pacsv.open_csv(
            str(path),
            read_options=pacsv.ReadOptions(
                block_size=CSV_BLOCK_BYTES,
                column_names=header,
                skip_rows=1,
                encoding="utf8",
            ),
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types={c: pa.string() for c in header},
                null_values=NULL_LITERALS,
                strings_can_be_null=True,
            ),
        )
        yield from reader
    except pa.ArrowInvalid as exc:
        raise InputFileError(
            f"{path.name} is not a well-formed CSV: {exc}",
            where=str(path),
            fix="check quoting and that every row has as many fields as the header",
        ) from exc


def open_focus_file(path: Path, batch_rows: int = 65_536) -> OpenedFile:
    if not path.is_file():
        raise InputFileError(
            f"no such file: {path}",
            where=str(path),
            fix="check the path (globs are expanded by your shell)",
        )
    fmt = detect_format(path)
    if fmt == "parquet":
        pf = parquet_file(path)
        header = list(pf.schema_arrow.names)
        return OpenedFile(path, fmt, header, pf.metadata.num_rows, _parquet_batches(pf, batch_rows))
    header = _csv_header(path, fmt)
    return OpenedFile(path, fmt, header, None, _csv_batches(path, header))
