"""What every cloud collector does with the store, written once: the read window from the
source's watermark, the replacement of a window of cost records, and the source's
success or failure record.

Window: [watermark − restate_days, today) once the source has a watermark, else
[today − first_days, today). The window's cost records of the source are deleted and the
re-read ones inserted in one transaction, through the FOCUS batch validation, so a re-run
replaces (never doubles) and restated amounts take over. The watermark moves to the
window's end only on success.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from collectors.cloud import CollectSummary, SourceError
from collectors.exports.common import FocusRow
from collectors.exports.ingest import HEADER
from collectors.focus.ingest import COST_COLUMNS
from collectors.focus.normalize import BatchNormalizer
from collectors.focus.schema import plan_columns
from store import costs
from store.bulk import upsert_rows
from store.models import CostRecord, SourceState
from store.sources import record_source_failure, record_source_success


def day_start(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


def table(model: Any) -> sa.Table:
    return model.__table__  # type: ignore[no-any-return]


def read_window(
    engine: Engine, key: str, today: date, first_days: int, restate_days: int
) -> tuple[date, date]:
    """[start, end) of the billing days to read (see module doc)."""
    states = table(SourceState)
    with engine.connect() as conn:
        mark = conn.execute(
            sa.select(states.c.watermark).where(states.c.source_key == key)
        ).scalar_one_or_none()
    if mark is None:
        return today - timedelta(days=first_days), today
    return min(mark.date(), today) - timedelta(days=restate_days), today


def cost_tuples(key: str, rows: list[FocusRow], keys: list[str]) -> list[tuple[Any, ...]]:
    """FOCUS rows -> cost_record tuples through the FOCUS batch validation."""
    batch = pa.RecordBatch.from_arrays(
        [pa.array([r.get(name) for r in rows], pa.string()) for name in HEADER], names=HEADER
    )
    cols = BatchNormalizer(Path(key), plan_columns(HEADER, "1.2")).normalize(batch).columns
    cols["natural_key"] = keys
    cols["source_key"] = [key] * len(rows)
    return list(zip(*(cols[c] for c in COST_COLUMNS), strict=True))


def replace_costs(
    engine: Engine, key: str, start: date, end: date, rows: list[FocusRow], keys: list[str]
) -> None:
    """The source's cost records of [start, end) become `rows`, in one transaction."""
    records = table(CostRecord)
    with engine.begin() as conn:
        conn.execute(
            sa.delete(records).where(
                records.c.source_key == key,
                records.c.charge_period_start >= day_start(start),
                records.c.charge_period_start < day_start(end),
            )
        )
        if rows:
            upsert_rows(
                conn, "cost_record", COST_COLUMNS, cost_tuples(key, rows, keys),
                conflict=("natural_key",),
            )  # fmt: skip


class SourceSettings(Protocol):
    """What the shared window logic reads of a cloud source's settings."""

    @property
    def name(self) -> str: ...
    @property
    def source_key(self) -> str: ...
    @property
    def first_days(self) -> int: ...
    @property
    def restate_days(self) -> int: ...


S = TypeVar("S", bound=SourceSettings)


class WindowedCollector(Generic[S]):
    """The part of a cloud collector that is the same for every cloud: its source, its
    key in the store, and the window a run reads (see module doc)."""

    def __init__(self, source: S):
        self.source = source
        self.key = source.source_key

    @property
    def name(self) -> str:
        return self.source.name

    def window(self, engine: Engine, today: date) -> tuple[date, date]:
        return read_window(
            engine, self.key, today, self.source.first_days, self.source.restate_days
        )

    def begin(self, engine: Engine, today: date | None) -> CollectSummary:
        """An empty summary of this run, with its window (today defaults to UTC's)."""
        start, end = self.window(engine, today or datetime.now(UTC).date())
        return CollectSummary(self.name, "ok", window=(start, end))


# Failures after which no other kind of data can succeed either.
FATAL = ("auth_failed", "unreachable")


def run_steps(steps: Iterable[tuple[bool, Callable[[], None]]]) -> SourceError | None:
    """Run each enabled kind of data (spend, compute, storage, prices…) in turn. A kind
    that fails is rolled back by its own transaction and the next kinds still run (a
    denied storage API must not cost the night's spend), unless the failure is FATAL;
    the first failure is returned, so the watermark stays. Never raises: a bug or a store
    refusal becomes an `error` status."""
    failure: SourceError | None = None
    for enabled, step in steps:
        if not enabled:
            continue
        try:
            step()
        except SourceError as exc:
            failure = failure or exc
            if exc.status in FATAL:
                break
        except Exception as exc:  # never raise: the other sources still run
            failure = failure or SourceError(
                "error", f"{type(exc).__name__}: {exc}", "run with --debug"
            )
    return failure


def finish(
    engine: Engine,
    key: str,
    source_type: str,
    summary: CollectSummary,
    failure: tuple[str, str, str] | None,
    label: str,
) -> CollectSummary:
    """Record the outcome: a failure (status, detail, hint) keeps the watermark; success
    moves it to the window's end. `label` names the account or scope."""
    if failure is not None:
        summary.status, summary.detail, summary.hint = failure
        with engine.begin() as conn:
            record_source_failure(conn, key, source_type, f"{failure[0]}: {failure[1]}")
        return summary
    assert summary.window is not None
    start, end = summary.window
    with engine.begin() as conn:
        t = costs.totals(conn, key)
        total = costs.CostTotals(
            t.rows, t.billed_cost, t.effective_cost, t.period_start or day_start(start),
            day_start(end),
        )  # fmt: skip
        rows = ", ".join(f"{k} {v}" for k, v in summary.rows.items())
        record_source_success(conn, key, source_type, total, detail=f"{label}: {rows}")
    summary.detail = label
    return summary
