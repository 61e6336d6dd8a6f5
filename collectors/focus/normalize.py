"""Validate and normalise one Arrow batch of FOCUS text into store-ready columns.

Pure functions over Arrow arrays, vectorised so ingest stays fast; on the first bad
value they raise an `InputFileError` naming the file, row and column. Rows are
numbered from 1 after the header, as a spreadsheet shows them minus one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from collectors.focus.columns import GroupKey, batch_totals, json_objects, timestamp_text
from collectors.focus.schema import (
    ALL_COLUMNS,
    DATETIME_COLUMNS,
    DECIMAL_COLUMNS,
    ENUMS,
    EXPECTED_VALUES,
    JSON_COLUMNS,
    MEASURES,
    PROMOTED,
    REQUIRED_VALUES,
    ColumnPlan,
)
from store.errors import InputFileError

DECIMAL_RE = r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$"
ZONE_RE = r"(Z|z|[+-]\d{2}:?\d{2})$"
DATE_ONLY_RE = r"^\d{4}-\d{2}-\d{2}$"
NULL_STR = pa.scalar(None, pa.string())
NULL_LITERALS = pa.array(["", "NULL", "null", "Null"])
ATTRIBUTE_COLUMNS = tuple(c for c in ALL_COLUMNS if c not in PROMOTED and c != "Tags")
KEY_COLUMNS = tuple(c for c in ALL_COLUMNS if c not in MEASURES)


@dataclass
class BatchResult:
    columns: dict[str, list[Any]]  # cost_record column -> values (without natural_key)
    key_material: list[bytes]  # one per row, hashed into the natural key by the caller
    missing_expected: dict[str, int] = field(default_factory=dict)
    # (provider, service) -> [rows, BilledCost, EffectiveCost], exact
    totals: dict[GroupKey, list[Any]] = field(default_factory=dict)
    period: tuple[Any, Any] = (None, None)  # min ChargePeriodStart, max ChargePeriodEnd


class BatchNormalizer:
    """Normalises every batch of one file, keeping the row offset for messages."""

    def __init__(self, path: Path, plan: ColumnPlan, *, strict: bool = True):
        self.path = path
        self.plan = plan
        self.strict = strict
        self.rows_seen = 0

    # -- errors -------------------------------------------------------------------
    def _fail(self, index: int, column: str, problem: str, fix: str) -> InputFileError:
        row = self.rows_seen + index + 1
        return InputFileError(
            f"{self.path.name}: row {row}, column {column}: {problem}; nothing from this "
            "file was written",
            where=f"{self.path}:row {row} (line {row + 1} if no value spans lines)",
            fix=fix,
        )

    # -- columns ------------------------------------------------------------------
    def _clean(self, arr: pa.Array) -> pa.Array:
        arr = pc.utf8_trim_whitespace(arr)
        return pc.if_else(pc.is_in(arr, value_set=NULL_LITERALS), NULL_STR, arr)

    def _decimal(self, name: str, arr: pa.Array) -> pa.Array:
        try:  # fast path: Arrow's float parser accepts every plain decimal
            as_float = pc.cast(arr, pa.float64())
            if pc.all(pc.is_finite(as_float)).as_py() is not False:
                return arr
        except pa.ArrowInvalid:
            pass
        ok = pc.match_substring_regex(arr, DECIMAL_RE)
        bad = pc.and_(pc.invert(ok), pc.is_valid(arr))
        if pc.any(bad).as_py():
            i = pc.index(bad, True).as_py()
            raise self._fail(
                i,
                name,
                f"{arr[i].as_py()!r} is not a decimal number",
                f"write {name} as a plain decimal such as 12.34 (no currency symbol, "
                "thousands separator or NaN)",
            )
        return arr

    def _datetime(self, name: str, arr: pa.Array) -> pa.Array:
        date_only = pc.fill_null(pc.match_substring_regex(arr, DATE_ONLY_RE), False)
        arr2 = pc.if_else(date_only, pc.binary_join_element_wise(arr, "T00:00:00", ""), arr)
        has_zone = pc.fill_null(pc.match_substring_regex(arr2, ZONE_RE), True)
        arr2 = pc.if_else(has_zone, arr2, pc.binary_join_element_wise(arr2, "Z", ""))
        try:
            ts = pc.cast(arr2, pa.timestamp("us", tz="UTC"))
        except pa.ArrowInvalid:
            for i, value in enumerate(arr2.to_pylist()):
                try:
                    pc.cast(pa.array([value]), pa.timestamp("us", tz="UTC"))
                except pa.ArrowInvalid:
                    raise self._fail(
                        i,
                        name,
                        f"{arr[i].as_py()!r} is not a date/time",
                        f"write {name} as ISO 8601 UTC, e.g. 2024-09-01T00:00:00Z",
                    ) from None
            raise
        return ts

    def _enum(self, name: str, arr: pa.Array) -> pa.Array:
        allowed = {v.lower(): v for v in ENUMS[name]}
        encoded = arr.dictionary_encode()
        mapped: list[str | None] = []
        for value in encoded.dictionary.to_pylist():
            canonical = allowed.get(value.lower().replace("_", "-"))
            if canonical is None and name == "ChargeFrequency":
                canonical = allowed.get(value.lower().replace(" ", "-"))
            if canonical is None:
                i = pc.index(arr, value).as_py()
                raise self._fail(
                    i,
                    name,
                    f"{value!r} is not one of {', '.join(ENUMS[name])}",
                    f"use one of the FOCUS values for {name}",
                )
            mapped.append(canonical)
        return pc.take(pa.array(mapped, pa.string()), encoded.indices)

    def _json_object(self, name: str, arr: pa.Array) -> pa.Array:
        encoded = arr.dictionary_encode()
        canonical: list[str] = []
        for value in encoded.dictionary.to_pylist():
            try:
                parsed = json.loads(value)
            except json.JSONDecodeError as exc:
                i = pc.index(arr, value).as_py()
                raise self._fail(
                    i,
                    name,
                    f"not valid JSON ({exc.msg} at char {exc.pos})",
                    f'write {name} as a JSON object, e.g. {{"team": "web"}}',
                ) from None
            if not isinstance(parsed, dict):
                i = pc.index(arr, value).as_py()
                raise self._fail(
                    i,
                    name,
                    "is JSON but not an object",
                    f'write {name} as a JSON object, e.g. {{"team": "web"}}',
                )
            canonical.append(json.dumps(parsed, sort_keys=True, separators=(",", ":")))
        return pc.take(pa.array(canonical, pa.string()), encoded.indices)

    # -- the batch ----------------------------------------------------------------
    def normalize(self, batch: pa.RecordBatch) -> BatchResult:
        n = batch.num_rows
        focus: dict[str, pa.Array] = {}
        custom: dict[str, pa.Array] = {}
        for name, column in zip(batch.schema.names, batch.columns, strict=True):
            cleaned = self._clean(column)
            canonical = self.plan.rename.get(name)
            if canonical:
                focus[canonical] = cleaned
            else:
                custom[name] = cleaned
        missing_expected: dict[str, int] = {}
        for name in REQUIRED_VALUES:
            arr = focus.get(name)
            if arr is None:
                if self.strict:
                    raise self._fail(0, name, "the column is missing", "export all FOCUS columns")
                continue
            if arr.null_count:
                i = pc.index(pc.is_null(arr), True).as_py()
                raise self._fail(
                    i,
                    name,
                    "is empty, but FOCUS requires a value",
                    f"fill {name} in this row, or remove the row from the file",
                )
        for name in EXPECTED_VALUES:
            arr = focus.get(name)
            if arr is not None and arr.null_count:
                missing_expected[name] = arr.null_count
        for name in list(focus):
            arr = focus[name]
            if name in DECIMAL_COLUMNS:
                focus[name] = self._decimal(name, arr)
            elif name in DATETIME_COLUMNS:
                focus[name] = self._datetime(name, arr)
            elif name in ENUMS and arr.null_count < n:
                focus[name] = self._enum(name, arr)
            elif name in JSON_COLUMNS and arr.null_count < n:
                focus[name] = self._json_object(name, arr)
        self._check_periods(focus)
        result = self._store_columns(focus, custom, n)
        key = self._key_material(focus, n)
        self.rows_seen += n
        start, end = focus.get("ChargePeriodStart"), focus.get("ChargePeriodEnd")
        period = (
            None if start is None else pc.min(start).as_py(),
            None if end is None else pc.max(end).as_py(),
        )
        return BatchResult(result, key, missing_expected, batch_totals(focus, n), period)

    def _check_periods(self, focus: dict[str, pa.Array]) -> None:
        start, end = focus.get("ChargePeriodStart"), focus.get("ChargePeriodEnd")
        if start is None or end is None:
            return
        backwards = pc.fill_null(pc.less(end, start), False)
        if pc.any(backwards).as_py():
            i = pc.index(backwards, True).as_py()
            raise self._fail(
                i,
                "ChargePeriodEnd",
                "ends before ChargePeriodStart",
                "periods are half-open [start, end): end must not precede start",
            )

    def _store_columns(
        self, focus: dict[str, pa.Array], custom: dict[str, pa.Array], n: int
    ) -> dict[str, list[Any]]:
        out: dict[str, list[Any]] = {}
        for focus_name, store_name in PROMOTED.items():
            arr = focus.get(focus_name)
            if arr is None:
                out[store_name] = [None] * n
            elif pa.types.is_timestamp(arr.type):
                out[store_name] = timestamp_text(arr).to_pylist()
            else:
                out[store_name] = arr.to_pylist()
        tags = focus.get("Tags")
        out["tags"] = [None] * n if tags is None else tags.to_pylist()
        attrs = {c: focus[c] for c in ATTRIBUTE_COLUMNS if c in focus}
        out["attributes"] = json_objects(attrs, n)
        out["custom"] = json_objects(custom, n)
        out["focus_version"] = [self.plan.version] * n
        return out

    def _key_material(self, focus: dict[str, pa.Array], n: int) -> list[bytes]:
        """Every identifying FOCUS column, absent ones as null, so versions agree."""
        parts = []
        for name in KEY_COLUMNS:
            arr = focus.get(name)
            if arr is None:
                arr = pa.nulls(n, pa.string())
            elif pa.types.is_timestamp(arr.type):
                arr = timestamp_text(arr)
            parts.append(arr)
        joined = pc.binary_join_element_wise(
            *parts, "\x1f", null_handling="replace", null_replacement="\x00"
        )
        material: list[bytes] = pc.cast(joined, pa.binary()).to_pylist()
        return material
