"""`AzureCollector`: one `[[sources]] type = "azure"` scope into the store, incrementally.

Window: [watermark - restate_days, today) once the source has a watermark, else
[today - first_days, today). Spend only (this first cut): two Cost Management queries
(ActualCost, AmortizedCost; each page followed), joined into one FOCUS row per (day,
subscription, service). In one transaction this source's cost records whose
ChargePeriodStart is in the window are deleted and the window's rows inserted, so a
re-run replaces and restated amounts take over, never double counting. The watermark
moves to the window's end only on success. Cloud-side failures become the summary's
status (collectors.cloud.STATUSES); nothing is raised.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from collectors.azure import mapping
from collectors.azure.adapter import AzureApi, AzureError
from collectors.azure.settings import AzureSource
from collectors.cloud import Check, CollectSummary
from collectors.exports.common import FocusRow
from collectors.exports.ingest import HEADER
from collectors.focus.ingest import COST_COLUMNS
from collectors.focus.normalize import BatchNormalizer
from collectors.focus.schema import plan_columns
from store import costs
from store.bulk import upsert_rows
from store.models import CostRecord, SourceState
from store.sources import record_source_failure, record_source_success

SOURCE_TYPE = "azure"


def _day(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


def _table(model: Any) -> sa.Table:
    return model.__table__  # type: ignore[no-any-return]


class AzureCollector:
    def __init__(self, source: AzureSource):
        self.source = source
        self.key = source.source_key

    @property
    def name(self) -> str:
        return self.source.name

    def check(self) -> Check:
        """The cheapest call that proves access: one day of ActualCost, first page only."""
        today = datetime.now(UTC).date()
        body = mapping.query_body("ActualCost", today - timedelta(days=1), today)
        try:
            with AzureApi(self.source) as api:
                for _ in api.query(body):
                    break
        except AzureError as exc:
            return Check(exc.status, exc.detail, exc.hint, exc.missing_permission)
        except Exception as exc:  # building the client or credential failed
            return Check("error", f"{type(exc).__name__}: {exc}", "run with --debug")
        return Check("ok", f"scope {self.source.scope}")

    # -- collect ----------------------------------------------------------------------
    def window(self, engine: Engine, today: date) -> tuple[date, date]:
        with engine.connect() as conn:
            state = conn.execute(
                sa.select(_table(SourceState).c.watermark).where(
                    _table(SourceState).c.source_key == self.key
                )
            ).scalar_one_or_none()
        if state is None:
            return today - timedelta(days=self.source.first_days), today
        start = min(state.date(), today) - timedelta(days=self.source.restate_days)
        return start, today

    def collect(self, engine: Engine, today: date | None = None) -> CollectSummary:
        today = today or datetime.now(UTC).date()
        start, end = self.window(engine, today)
        summary = CollectSummary(self.name, "ok", window=(start, end))
        failure: AzureError | None = None
        api: AzureApi | None = None
        try:
            api = AzureApi(self.source)
            self._spend(api, engine, start, end, summary)
        except AzureError as exc:
            failure = exc
        except Exception as exc:  # the SDK refusing its settings, e.g. a bad ca_bundle
            failure = AzureError("error", f"{type(exc).__name__}: {exc}", "run with --debug")
        finally:
            if api is not None:
                summary.api_calls = dict(sorted(api.calls.items()))
                api.close()
        if failure is not None:
            summary.status, summary.detail, summary.hint = (
                failure.status,
                failure.detail,
                failure.hint,
            )
            with engine.begin() as conn:
                record_source_failure(
                    conn, self.key, SOURCE_TYPE, f"{failure.status}: {failure.detail}"
                )
            return summary
        with engine.begin() as conn:
            t = costs.totals(conn, self.key)
            total = costs.CostTotals(
                t.rows, t.billed_cost, t.effective_cost, t.period_start or _day(start), _day(end)
            )
            rows = ", ".join(f"{k} {v}" for k, v in summary.rows.items())
            record_source_success(
                conn, self.key, SOURCE_TYPE, total, detail=f"scope {self.source.scope}: {rows}"
            )
        summary.detail = f"scope {self.source.scope}"
        return summary

    # -- spend ------------------------------------------------------------------------
    def _spend(
        self, api: AzureApi, engine: Engine, start: date, end: date, s: CollectSummary
    ) -> None:
        if start >= end:  # nothing to read
            s.rows["cost_records"] = 0
            return
        actual, amortized = (
            mapping.read_pages(api.query(mapping.query_body(kind, start, end)), (start, end))
            for kind in mapping.KINDS
        )
        mapped = mapping.join(actual, amortized, self.key, self.source.scope)
        for reason, n in mapped.quarantined.items():
            s.quarantined[reason] = s.quarantined.get(reason, 0) + n
        records = _table(CostRecord)
        with engine.begin() as conn:
            conn.execute(
                sa.delete(records).where(
                    records.c.source_key == self.key,
                    records.c.charge_period_start >= _day(start),
                    records.c.charge_period_start < _day(end),
                )
            )
            if mapped.rows:
                upsert_rows(
                    conn, "cost_record", COST_COLUMNS, self._store_rows(mapped.rows, mapped.keys),
                    conflict=("natural_key",),
                )  # fmt: skip
        s.rows["cost_records"] = len(mapped.rows)

    def _store_rows(self, rows: list[FocusRow], keys: list[str]) -> list[tuple[Any, ...]]:
        """FOCUS rows -> cost_record tuples through the FOCUS batch validation."""
        batch = pa.RecordBatch.from_arrays(
            [pa.array([r.get(name) for r in rows], pa.string()) for name in HEADER], names=HEADER
        )
        normalizer = BatchNormalizer(Path(self.key), plan_columns(HEADER, "1.2"))
        cols = normalizer.normalize(batch).columns
        cols["natural_key"] = keys
        cols["source_key"] = [self.key] * len(rows)
        return list(zip(*(cols[c] for c in COST_COLUMNS), strict=True))


def totals(engine: Engine, source_key: str) -> tuple[int, Decimal, Decimal]:
    """Rows, BilledCost and EffectiveCost of one source (for tests and the CLI)."""
    with engine.connect() as conn:
        t = costs.totals(conn, source_key)
    return t.rows, t.billed_cost, t.effective_cost
