"""What every native-export mapper shares: parsing money and dates, errors, FOCUS rows.

Mappers are pure: a native row (column name -> text) in, FOCUS rows (FOCUS column ->
text or None) out. They never touch the store or a cloud SDK, so the cloud collectors
can feed them the rows they read from S3, a storage account or BigQuery.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Protocol

FocusRow = dict[str, str | None]
NativeRow = Mapping[str, str | None]
ZERO = Decimal(0)


class MappingError(Exception):
    """A bad value in a native row; the ingest adds the file name and turns it into an
    InputFileError (file, row, column, To fix)."""

    def __init__(self, row: int, column: str, problem: str, fix: str):
        super().__init__(f"row {row}, column {column}: {problem}")
        self.row = row
        self.column = column
        self.problem = problem
        self.fix = fix


@dataclass
class MapStats:
    """Counts a mapper keeps while it reads one file (turned into warnings)."""

    counts: dict[str, int] = field(default_factory=dict)

    def add(self, what: str, n: int = 1) -> None:
        self.counts[what] = self.counts.get(what, 0) + n


class Mapper(Protocol):
    """One native format: which columns it needs and how a row becomes FOCUS rows."""

    format: str
    provider: str

    def missing_columns(self, header: list[str]) -> list[str]: ...

    def map_row(self, row: NativeRow, n: int, stats: MapStats) -> list[FocusRow]: ...


class Cells:
    """Typed access to one native row, raising MappingError that names row and column."""

    def __init__(self, row: NativeRow, n: int):
        self.row = row
        self.n = n

    def text(self, *names: str) -> str | None:
        """The first non-empty value among `names` (trimmed), or None."""
        for name in names:
            value = self.row.get(name)
            if value is not None:
                value = value.strip()
                if value:
                    return value
        return None

    def fail(self, column: str, problem: str, fix: str) -> MappingError:
        return MappingError(self.n, column, problem, fix)

    def money(self, name: str, *, required: bool = False) -> Decimal | None:
        value = self.text(name)
        if value is None:
            if required:
                raise self.fail(name, "is empty, but a value is needed", f"fill {name} in this row")
            return None
        try:
            out = Decimal(value)
        except InvalidOperation:
            out = Decimal("NaN")
        if not out.is_finite():
            raise self.fail(
                name,
                f"{value!r} is not a decimal number",
                f"write {name} as a plain decimal such as 12.34 (no currency symbol, "
                "thousands separator or NaN)",
            )
        return out

    def timestamp(self, name: str, *, required: bool = True) -> datetime | None:
        value = self.text(name)
        if value is None:
            if required:
                raise self.fail(name, "is empty, but a date/time is needed", f"fill {name}")
            return None
        try:
            parsed = datetime.fromisoformat(value.replace(" UTC", "+00:00"))
        except ValueError:
            raise self.fail(
                name,
                f"{value!r} is not a date/time",
                f"write {name} as ISO 8601, e.g. 2024-09-01T00:00:00Z",
            ) from None
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)

    def us_date(self, name: str, *, required: bool = True) -> date | None:
        """M/D/YYYY (Azure), also accepting YYYY-MM-DD (MCA exports use it)."""
        value = self.text(name)
        if value is None:
            if required:
                raise self.fail(name, "is empty, but a date is needed", f"fill {name}")
            return None
        try:
            if "/" in value:
                month, day, year = (int(p) for p in value.split(" ")[0].split("/"))
                return date(year, month, day)
            return date.fromisoformat(value[:10])
        except ValueError:
            raise self.fail(
                name,
                f"{value!r} is not a date",
                f"write {name} as M/D/YYYY (e.g. 9/1/2023) or YYYY-MM-DD",
            ) from None


def iso(value: datetime | None) -> str | None:
    """UTC ISO 8601 text as FOCUS wants it (microseconds only when present)."""
    if value is None:
        return None
    value = value.astimezone(UTC)
    if value.microsecond:
        return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def day_start(value: date) -> datetime:
    return datetime(value.year, value.month, value.day, tzinfo=UTC)


def next_day(value: date) -> datetime:
    return day_start(value) + timedelta(days=1)


def money(value: Decimal | None) -> str | None:
    """Decimal as plain text with every digit (no exponent, so Arrow parses it)."""
    if value is None:
        return None
    text = format(value, "f")
    return "0" if text in ("-0", "0E-0") else text


def tags_json(tags: Mapping[str, object] | None) -> str | None:
    if not tags:
        return None
    return json.dumps(dict(tags), sort_keys=True, separators=(",", ":"))


def custom(row: FocusRow, values: Iterable[tuple[str, str | None]]) -> None:
    """Keep provider columns FOCUS has no place for as `x_` custom columns."""
    for name, value in values:
        if value is not None:
            row[name] = value
