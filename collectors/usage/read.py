"""Read a long-form usage file into Arrow/numpy arrays, quarantining the bad rows.

Pure: no store access, so `--dry-run` and the tests see exactly what would be written.
Validation is vectorised (regexes and casts in Arrow, masks in numpy); Python only
touches the rows that fail a cast (found by bisection) and the few reported examples.
The format is documented in docs/usage-import.md.
"""

from __future__ import annotations

import csv
import gzip
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from collectors.focus.reader import OpenedFile, detect_format, open_focus_file, parquet_file
from collectors.usage import (
    COUNTER_METRICS,
    COUNTER_SUFFIXES,
    EPOCH_MAX,
    EPOCH_RE,
    ISO_NAIVE_RE,
    ISO_TZ_RE,
    MAX_EXAMPLES,
    METRIC_RE,
    REASONS,
    REQUIRED,
)
from store.errors import InputFileError

Progress = Callable[[int], None]


@dataclass(frozen=True)
class BadRow:
    line: int  # CSV: physical line, header = 1; Parquet: row, first data row = 1
    reason: str
    column: str
    value: str

    def render(self, label: str) -> str:
        return f"{label} {self.line}: {REASONS[self.reason][1]} ({self.column}={self.value})"


@dataclass
class Quarantine:
    counts: dict[str, int] = field(default_factory=dict)
    examples: list[BadRow] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass
class UsageFrame:
    """The good rows of one file, deduplicated and sorted by (series_id, metric, ts)."""

    path: Path
    format: str
    rows_read: int
    series_id: pa.Array  # string
    metric: pa.Array  # string
    ts_us: np.ndarray  # int64, microseconds since the epoch, UTC
    value: np.ndarray  # float64, finite
    quarantine: Quarantine
    repairs: dict[str, int]

    @property
    def line_label(self) -> str:
        return "row" if self.format == "parquet" else "line"

    @property
    def rows(self) -> int:
        return len(self.value)


def _text(arr: pa.Array) -> pa.Array:
    if not pa.types.is_string(arr.type):
        arr = pc.cast(arr, pa.string())
    return pc.utf8_trim_whitespace(arr)


def _mask(arr: pa.Array) -> np.ndarray:
    """Boolean Arrow array to numpy, null as False."""
    return np.asarray(pc.fill_null(arr, False).to_numpy(zero_copy_only=False), dtype=bool)


def _cast_where_possible(arr: pa.Array, to: pa.DataType) -> pa.Array:
    """Cast, with nulls where a value does not parse: bisects, so k bad rows cost O(k log n)."""
    try:
        return pc.cast(arr, to)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        if len(arr) == 1:
            return pa.nulls(1, to)
        mid = len(arr) // 2
        return pa.concat_arrays(
            [_cast_where_possible(arr[:mid], to), _cast_where_possible(arr[mid:], to)]
        )


def parse_floats(text: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(float64, parsed mask) from trimmed text; NaN and inf parse (they are caught later)."""
    cast = _cast_where_possible(text, pa.float64())
    return pc.fill_null(cast, 0.0).to_numpy(zero_copy_only=False), _mask(pc.is_valid(cast))


def epoch_us(secs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unix epoch seconds to microseconds, with a mask of plausible values (0 ≤ s < 1e11)."""
    ok = np.isfinite(secs) & (secs >= 0) & (secs < EPOCH_MAX)
    return np.where(ok, np.rint(np.where(ok, secs, 0) * 1e6), 0).astype(np.int64), ok


def parse_iso_utc(text: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """ISO 8601 text with a zone to UTC microseconds (digits past the microsecond dropped)."""
    text = pc.replace_substring_regex(text, r"(\.\d{6})\d+", r"\1")
    text = pc.replace_substring_regex(text, r"z$", "Z")
    cast = _cast_where_possible(text, pa.timestamp("us", tz="UTC"))
    us = pc.fill_null(cast.cast(pa.int64()), 0).to_numpy(zero_copy_only=False)
    return us, _mask(pc.is_valid(cast))


def _timestamps(col: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(microseconds UTC, ok mask, naive mask); rows neither ok nor naive are bad."""
    n = len(col)
    ts, ok, naive = np.zeros(n, np.int64), np.zeros(n, bool), np.zeros(n, bool)
    t = col.type
    if pa.types.is_timestamp(t) and t.tz:
        utc = pc.cast(col, pa.timestamp("us", tz="UTC"), safe=False)
        ok = _mask(pc.is_valid(col))
        ts = pc.fill_null(utc.cast(pa.int64()), 0).to_numpy(zero_copy_only=False)
    elif pa.types.is_timestamp(t) or pa.types.is_date(t):
        naive = _mask(pc.is_valid(col))
    elif pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        secs = pc.fill_null(pc.cast(col, pa.float64()), np.nan).to_numpy(zero_copy_only=False)
        ts, ok = epoch_us(secs)
    else:
        text = _text(col)
        epoch = _mask(pc.match_substring_regex(text, EPOCH_RE))
        iso = _mask(pc.match_substring_regex(text, ISO_TZ_RE))
        naive = _mask(pc.match_substring_regex(text, ISO_NAIVE_RE))
        if epoch.any():
            secs, parsed = parse_floats(text.filter(pa.array(epoch)))
            us, in_range = epoch_us(secs)
            ts[epoch], ok[epoch] = us, parsed & in_range
        if iso.any():
            us, parsed = parse_iso_utc(text.filter(pa.array(iso)))
            ts[iso], ok[iso] = us, parsed
    return ts, ok, naive


def _values(col: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(float64 values, parsed mask)."""
    t = col.type
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        floats = pc.cast(col, pa.float64())
        parsed = _mask(pc.is_valid(floats))
        return pc.fill_null(floats, 0.0).to_numpy(zero_copy_only=False), parsed
    return parse_floats(_text(col))


@dataclass
class _Validated:
    keep: np.ndarray
    reason: np.ndarray  # int8 index into REASONS, -1 = good
    series_id: pa.Array
    metric: pa.Array
    ts_us: np.ndarray
    value: np.ndarray


def validate_batch(cols: dict[str, pa.Array]) -> _Validated:
    """Classify every row of one batch; see REASONS for the precedence."""
    sid = _text(cols["series_id"])
    metric = _text(cols["metric"])
    ts, ts_ok, naive = _timestamps(cols["timestamp"])
    value, parsed = _values(cols["value"])
    metric_ok = _mask(pc.match_substring_regex(metric, METRIC_RE))
    counter = _mask(pc.is_in(metric, pa.array(sorted(COUNTER_METRICS))))
    for suffix in COUNTER_SUFFIXES:
        counter |= _mask(pc.ends_with(metric, suffix))
    finite = np.isfinite(value)
    faults = [
        _mask(pc.fill_null(pc.equal(pc.utf8_length(sid), 0), True)),
        ~ts_ok & ~naive,
        naive,
        ~metric_ok,
        ~parsed,
        parsed & ~finite,
        counter & finite & (value < 0),
    ]
    reason = np.full(len(value), -1, np.int8)
    for code in range(len(faults) - 1, -1, -1):  # first fault in precedence order wins
        reason[faults[code]] = code
    keep = reason < 0
    k = pa.array(keep)
    return _Validated(keep, reason, sid.filter(k), metric.filter(k), ts[keep], value[keep])


def _columns(path: Path, header: list[str], where: str) -> dict[str, str]:
    """Required name -> the file's spelling of it (case-insensitive), or a clear error."""
    found: dict[str, list[str]] = {}
    for name in header:
        found.setdefault(name.strip().lower(), []).append(name)
    missing = [c for c in REQUIRED if c not in found]
    twice = [c for c in REQUIRED if len(found.get(c, [])) > 1]
    if missing or twice:
        problem = (
            f"is missing required column(s): {', '.join(missing)}"
            if missing
            else (f"has column(s) more than once: {', '.join(twice)}")
        )
        raise InputFileError(
            f"{path.name} {problem} (header: {', '.join(header) or 'nothing'})",
            where=where,
            fix="give the file one header column each for series_id, timestamp, metric and "
            "value (any order, any case; see docs/usage-import.md)",
        )
    return {c: found[c][0] for c in REQUIRED}


def _parquet(path: Path, batch_rows: int) -> OpenedFile:
    """Parquet keeps its types (unlike FOCUS's text reader): a tz on a timestamp matters."""
    pf = parquet_file(path)
    header = list(pf.schema_arrow.names)
    columns = list(_columns(path, header, f"{path}: schema").values())
    batches = pf.iter_batches(batch_size=batch_rows, columns=columns)
    return OpenedFile(path, "parquet", header, pf.metadata.num_rows, batches)


def open_usage_file(path: Path, batch_rows: int = 262_144) -> tuple[OpenedFile, dict[str, str]]:
    """The file's batches and its spelling of each required column; header checked now."""
    if path.is_file() and detect_format(path) == "parquet":
        opened = _parquet(path, batch_rows)
    else:  # CSV and gzip CSV: FOCUS's streaming text reader (errors name the file)
        opened = open_focus_file(path, batch_rows)
    where = f"{path}: " + ("schema" if opened.format == "parquet" else "header (line 1)")
    return opened, _columns(path, opened.header, where)


def _batches(opened: OpenedFile) -> Iterator[pa.RecordBatch]:
    try:
        yield from opened.batches
    except (pa.ArrowInvalid, OSError, EOFError) as exc:
        raise InputFileError(
            f"cannot read {opened.path.name}: {exc}",
            where=str(opened.path),
            fix="export the file again (it is truncated or corrupt)",
        ) from exc


def _dedupe(
    sid: pa.Array, metric: pa.Array, ts: np.ndarray, value: np.ndarray
) -> tuple[pa.Array, pa.Array, np.ndarray, np.ndarray, int]:
    """Sort by (series_id, metric, ts) and average duplicates (forecasts.series' rule)."""
    table = pa.table({"s": sid, "m": metric, "t": ts})
    order = pc.sort_indices(
        table, sort_keys=[("s", "ascending"), ("m", "ascending"), ("t", "ascending")]
    )
    sid, metric = sid.take(order), metric.take(order)
    idx = order.to_numpy()
    ts, value = ts[idx], value[idx]
    if len(ts) < 2:
        return sid, metric, ts, value, 0
    same = (
        (ts[1:] == ts[:-1])
        & _mask(pc.equal(sid[1:], sid[:-1]))
        & _mask(pc.equal(metric[1:], metric[:-1]))
    )
    if not same.any():
        return sid, metric, ts, value, 0
    first = np.flatnonzero(np.concatenate(([True], ~same)))
    counts = np.diff(np.append(first, len(ts)))
    means = np.add.reduceat(value, first) / counts
    keep = pa.array(first)
    return sid.take(keep), metric.take(keep), ts[first], means, int(same.sum())


def _csv_lines(path: Path, fmt: str, rows: list[int]) -> dict[int, int]:
    """Physical line (header = 1) of the given data rows (0-based), read only as far as needed.

    Arrow skips blank lines and quoted values may span lines, so row + 2 is not enough.
    """
    wanted, found = sorted(set(rows)), dict[int, int]()
    opener = gzip.open if fmt == "csv.gz" else open
    with opener(path, "rt", encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        next(reader, None)
        row, start = 0, reader.line_num + 1
        for record in reader:
            if record:
                if row == wanted[len(found)]:
                    found[row] = start
                    if len(found) == len(wanted):
                        break
                row += 1
            start = reader.line_num + 1
    return found


def read_usage_file(
    path: Path, batch_rows: int = 262_144, progress: Progress | None = None
) -> UsageFrame:
    """Read and validate one file; raises InputFileError when it cannot be used at all."""
    opened, names_in_file = open_usage_file(path, batch_rows)
    q = Quarantine()
    raw_examples: list[tuple[int, str, str, str]] = []
    parts: list[_Validated] = []
    offset = 0
    names = list(REASONS)
    for batch in _batches(opened):
        cols = {c: batch.column(names_in_file[c]) for c in REQUIRED}
        checked = validate_batch(cols)
        if progress:
            progress(len(checked.keep))
        bad = np.flatnonzero(~checked.keep)
        if len(bad):
            codes, counts = np.unique(checked.reason[bad], return_counts=True)
            for code, count in zip(codes.tolist(), counts.tolist(), strict=True):
                q.counts[names[code]] = q.counts.get(names[code], 0) + count
            for i in bad[: MAX_EXAMPLES - len(raw_examples)].tolist():
                reason = names[checked.reason[i]]
                column = REASONS[reason][0]
                raw = cols[column][i].as_py()
                shown = "empty" if raw is None else repr(raw)
                raw_examples.append((offset + i, reason, column, shown))
        parts.append(checked)
        offset += len(checked.keep)
    lines = (
        _csv_lines(opened.path, opened.format, [r[0] for r in raw_examples])
        if raw_examples and opened.format != "parquet"
        else {}
    )
    first = 1 if opened.format == "parquet" else 2
    q.examples = [BadRow(lines.get(r, r + first), why, c, v) for r, why, c, v in raw_examples]
    sid = pa.concat_arrays([p.series_id for p in parts]) if parts else pa.array([], pa.string())
    metric = pa.concat_arrays([p.metric for p in parts]) if parts else pa.array([], pa.string())
    ts = np.concatenate([p.ts_us for p in parts]) if parts else np.zeros(0, np.int64)
    value = np.concatenate([p.value for p in parts]) if parts else np.zeros(0)
    sid, metric, ts, value, dupes = _dedupe(sid, metric, ts, value)
    repairs = {"duplicates_averaged": dupes} if dupes else {}
    return UsageFrame(opened.path, opened.format, offset, sid, metric, ts, value, q, repairs)
