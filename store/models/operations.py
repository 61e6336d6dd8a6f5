"""What the pipeline produced and did: forecasts, plans, recommendations, audit, runs."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from store.types import JSONText, Money, UTCDateTime


class Run(SQLModel, table=True):
    """One invocation of a stage or of the nightly chain, with per-stage timings."""

    __tablename__ = "run"

    id: int | None = Field(default=None, primary_key=True)
    kind: str
    started_at: datetime = Field(sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    status: str = "running"  # running | ok | partial | failed
    stages: list[dict[str, Any]] | None = Field(default=None, sa_type=JSONText)
    coverage: dict[str, Any] | None = Field(default=None, sa_type=JSONText)
    error: str | None = None
    host: str | None = None  # where the run's process ran (host:pid), to tell a dead run
    heartbeat_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    resumed_from: int | None = None  # the crashed run this one picked up


class Forecast(SQLModel, table=True):
    __tablename__ = "forecast"
    __table_args__ = (sa.Index("ix_forecast_series", "series_id", "metric", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    run_id: int | None = Field(default=None, foreign_key="run.id")
    series_id: str
    metric: str
    model: str
    granularity: str
    horizon_hours: int
    created_at: datetime = Field(sa_type=UTCDateTime)
    metrics: dict[str, Any] | None = Field(default=None, sa_type=JSONText)
    reason: str | None = None
    status: str = "ok"


class ForecastPoint(SQLModel, table=True):
    __tablename__ = "forecast_point"
    __table_args__ = (sa.UniqueConstraint("forecast_id", "ts", name="uq_forecast_point"),)

    id: int | None = Field(default=None, primary_key=True)
    forecast_id: int = Field(foreign_key="forecast.id", index=True)
    ts: datetime = Field(sa_type=UTCDateTime)
    p10: float
    p50: float
    p90: float


class Plan(SQLModel, table=True):
    __tablename__ = "plan"

    id: int | None = Field(default=None, primary_key=True)
    run_id: int | None = Field(default=None, foreign_key="run.id")
    created_at: datetime = Field(sa_type=UTCDateTime)
    kind: str = "placement"  # placement | tiering | simulation
    status: str = "ok"
    solver: str | None = None
    objective_micro_usd: int | None = Field(default=None, sa_type=sa.BigInteger)
    lower_bound_micro_usd: int | None = Field(default=None, sa_type=sa.BigInteger)
    gap: float | None = None
    policies_sha256: str | None = None
    details: dict[str, Any] | None = Field(default=None, sa_type=JSONText)


class Recommendation(SQLModel, table=True):
    """A proposed change with its explanation; `fingerprint` keeps identity across runs."""

    __tablename__ = "recommendation"

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int | None = Field(default=None, foreign_key="plan.id")
    fingerprint: str = Field(index=True)
    kind: str  # move | resize | purchase-option | tiering
    subject: str
    current: dict[str, Any] | None = Field(default=None, sa_type=JSONText)
    proposed: dict[str, Any] | None = Field(default=None, sa_type=JSONText)
    monthly_savings: Decimal = Field(sa_type=Money)
    monthly_savings_p10: Decimal | None = Field(default=None, sa_type=Money, nullable=True)
    monthly_savings_p90: Decimal | None = Field(default=None, sa_type=Money, nullable=True)
    one_off_cost: Decimal = Field(sa_type=Money)
    payback_days: float | None = None
    reasons: list[str] | None = Field(default=None, sa_type=JSONText)
    alternatives: list[dict[str, Any]] | None = Field(default=None, sa_type=JSONText)
    status: str = "proposed"
    status_by: str | None = None
    status_reason: str | None = None
    status_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    created_at: datetime = Field(sa_type=UTCDateTime)


class AuditEvent(SQLModel, table=True):
    """Append-only log; each row carries the hash of the previous one."""

    __tablename__ = "audit_event"

    id: int | None = Field(default=None, primary_key=True)
    ts: datetime = Field(sa_type=UTCDateTime)
    actor: str
    action: str
    subject: str | None = None
    details: dict[str, Any] | None = Field(default=None, sa_type=JSONText)
    prev_hash: str
    hash: str = Field(unique=True)


class AppliedChange(SQLModel, table=True):
    """One change `optimizer apply --execute` made (or tried) to a cloud, with the state
    read just before it: what `optimizer rollback` restores."""

    __tablename__ = "applied_change"
    __table_args__ = (sa.Index("ix_applied_change_rec", "recommendation_id", "status"),)

    id: int | None = Field(default=None, primary_key=True)
    recommendation_id: int = Field(foreign_key="recommendation.id")
    apply_id: str  # one `apply --execute` invocation (a uuid), shared by its changes
    provider: str
    target: str  # bucket, account/container or bucket/prefix the change touches
    action: str  # lifecycle | one-off
    status: str  # applied | failed | rolled_back | rollback_failed
    actor: str
    before: dict[str, Any] | None = Field(default=None, sa_type=JSONText)
    after: dict[str, Any] | None = Field(default=None, sa_type=JSONText)
    calls: list[dict[str, Any]] | None = Field(default=None, sa_type=JSONText)
    bytes: int = Field(default=0, sa_type=sa.BigInteger)
    objects: int = Field(default=0, sa_type=sa.BigInteger)
    error: str | None = None
    created_at: datetime = Field(sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    rolled_back_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)


class StoreLock(SQLModel, table=True):
    """A named lock held by one process (apply, run): a row whose primary key refuses a
    second holder. PostgreSQL also takes an advisory lock; `expires_at` lets a crashed
    holder's row be taken over."""

    __tablename__ = "store_lock"

    name: str = Field(primary_key=True)
    holder: str  # host:pid:uuid
    acquired_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
