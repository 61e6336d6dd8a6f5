"""The daemon's Prometheus metrics: one registry, served over HTTP and/or written as a
node_exporter textfile (atomically: a temporary file renamed over the old one).

Gauges describe the last run; counters add up since the daemon started (Prometheus
handles their resets). Savings and recommendations are read from the store (the latest
plan), so a resumed run that did not re-plan still reports them.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from wsgiref.simple_server import WSGIServer

import sqlalchemy as sa
from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server
from prometheus_client import write_to_textfile as _write_textfile
from sqlalchemy.engine import Engine

from optimizer.nightly import Outcome
from optimizer.stages import STAGES
from store.errors import ConfigError
from store.models import AppliedChange, Plan, Recommendation
from store.types import money_sum

RUN_STATUSES = ("ok", "partial", "failed", "aborted", "lock_held", "error")
PLANS: sa.Table = Plan.__table__  # type: ignore[attr-defined]
RECS: sa.Table = Recommendation.__table__  # type: ignore[attr-defined]
APPLIED: sa.Table = AppliedChange.__table__  # type: ignore[attr-defined]


class Metrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.stage_seconds = Gauge(
            "optimizer_stage_duration_seconds",
            "Seconds the last run spent in each stage (0 when skipped or not built)",
            ["stage"],
            registry=r,
        )
        self.run_seconds = Gauge(
            "optimizer_run_duration_seconds", "Seconds the last run took", registry=r
        )
        self.last_run = Gauge(
            "optimizer_last_run_timestamp_seconds",
            "When the last run ended (Unix time)",
            registry=r,
        )
        self.last_success = Gauge(
            "optimizer_last_success_timestamp_seconds",
            "When the last run with every stage ok ended (Unix time)",
            registry=r,
        )
        self.last_status = Gauge(
            "optimizer_last_run_status",
            "1 for the last run's status, 0 for the others",
            ["status"],
            registry=r,
        )
        self.last_run_id = Gauge(
            "optimizer_last_run_id", "The last run's id in the store", registry=r
        )
        self.next_run = Gauge(
            "optimizer_next_run_timestamp_seconds",
            "When the next run fires (Unix time)",
            registry=r,
        )
        self.rows = Counter(
            "optimizer_rows_collected",
            "Rows the collect stage wrote (an unchanged file writes none), all sources",
            registry=r,
        )
        self.last_rows = Gauge(
            "optimizer_last_run_rows_collected",
            "Rows the last run's collect stage wrote",
            registry=r,
        )
        self.savings = Gauge(
            "optimizer_savings_found_usd_per_month",
            "Monthly savings (p50, USD) of the latest plan's recommendations",
            registry=r,
        )
        self.recs = Gauge(
            "optimizer_recommendations", "Recommendations in the latest plan", registry=r
        )
        self.applied = Counter(
            "optimizer_recommendations_applied",
            "Recommendations applied by the apply stage (distinct, per run)",
            registry=r,
        )
        self.failures = Counter(
            "optimizer_stage_failures", "Stages that ended failed or partial", ["stage"], registry=r
        )
        self.runs = Counter("optimizer_runs", "Runs by outcome", ["status"], registry=r)
        for stage in STAGES:
            self.failures.labels(stage)
            self.stage_seconds.labels(stage)
        for status in RUN_STATUSES:
            self.runs.labels(status)
            self.last_status.labels(status)

    def observe(self, outcome: Outcome, engine: Engine, started: datetime, ended: datetime) -> None:
        """Everything one finished (or aborted) run says."""
        for r in outcome.results:
            self.stage_seconds.labels(r.name).set(r.seconds)
            if r.status in ("failed", "partial"):
                self.failures.labels(r.name).inc()
        collect = next((r for r in outcome.results if r.name == "collect"), None)
        ran = collect is not None and collect.status != "skipped"
        rows = int(collect.data.get("rows_written", 0)) if collect and ran else 0
        self.rows.inc(rows)
        self.last_rows.set(rows)
        self.run_seconds.set(outcome.seconds)
        self.last_run_id.set(outcome.run_id)
        self.finished(outcome.status, ended)
        if outcome.status == "ok":
            self.last_success.set(ended.timestamp())
        savings, count = latest_plan(engine)
        self.savings.set(float(savings))
        self.recs.set(count)
        self.applied.inc(applied_since(engine, started))

    def finished(self, status: str, ended: datetime) -> None:
        self.runs.labels(status).inc()
        for s in RUN_STATUSES:
            self.last_status.labels(s).set(1 if s == status else 0)
        self.last_run.set(ended.timestamp())

    def serve(self, port: int, bind: str) -> WSGIServer:
        """The /metrics endpoint in a background thread; a port in use is a config error."""
        try:
            server, _thread = start_http_server(port, bind, registry=self.registry)
        except OSError as exc:
            raise ConfigError(
                f"cannot serve metrics on {bind}:{port}: {exc.strerror or exc}",
                where="[daemon] metrics_port / metrics_bind",
                fix="choose a free port (--metrics-port), or 0 to turn the endpoint off",
            ) from exc
        return server

    def write_textfile(self, path: str) -> None:
        """Atomic: node_exporter never reads a half-written file."""
        _write_textfile(path, self.registry)


def latest_plan(engine: Engine) -> tuple[Decimal, int]:
    """Monthly savings and count of the newest placement plan's recommendations."""
    with engine.connect() as conn:
        plan_id = conn.execute(
            sa.select(sa.func.max(PLANS.c.id)).where(PLANS.c.kind == "placement")
        ).scalar()
        if plan_id is None:
            return Decimal(0), 0
        total, count = conn.execute(
            sa.select(money_sum(RECS.c.monthly_savings), sa.func.count()).where(
                RECS.c.plan_id == plan_id
            )
        ).one()
    return Decimal(total or 0), int(count)


def applied_since(engine: Engine, since: datetime) -> int:
    """Distinct recommendations with a change applied since the run began."""
    with engine.connect() as conn:
        n = conn.execute(
            sa.select(sa.func.count(sa.distinct(APPLIED.c.recommendation_id))).where(
                sa.and_(APPLIED.c.status == "applied", APPLIED.c.created_at >= since)
            )
        ).scalar()
    return int(n or 0)
