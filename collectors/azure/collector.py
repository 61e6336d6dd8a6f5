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

from sqlalchemy.engine import Engine

from collectors.azure import mapping
from collectors.azure.adapter import AzureApi, AzureError
from collectors.azure.settings import AzureSource
from collectors.cloud import Check, CollectSummary
from collectors.cloud_store import finish, read_window, replace_costs
from store import costs

SOURCE_TYPE = "azure"


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
            return exc.as_check()
        except Exception as exc:  # building the client or credential failed
            return Check("error", f"{type(exc).__name__}: {exc}", "run with --debug")
        return Check("ok", f"scope {self.source.scope}")

    # -- collect ----------------------------------------------------------------------
    def window(self, engine: Engine, today: date) -> tuple[date, date]:
        return read_window(
            engine, self.key, today, self.source.first_days, self.source.restate_days
        )

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
        outcome = None if failure is None else failure.outcome()
        return finish(engine, self.key, SOURCE_TYPE, summary, outcome, f"scope {self.source.scope}")

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
        replace_costs(engine, self.key, start, end, mapped.rows, mapped.keys)
        s.rows["cost_records"] = len(mapped.rows)


def totals(engine: Engine, source_key: str) -> tuple[int, Decimal, Decimal]:
    """Rows, BilledCost and EffectiveCost of one source (for tests and the CLI)."""
    with engine.connect() as conn:
        t = costs.totals(conn, source_key)
    return t.rows, t.billed_cost, t.effective_cost
