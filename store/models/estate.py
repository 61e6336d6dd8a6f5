"""What the organisation runs: workloads, storage groups, and their usage series."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from store.types import JSONText, UTCDateTime


class Workload(SQLModel, table=True):
    """A set of identical replicas placed on one offer today."""

    __tablename__ = "workload"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True)
    provider: str
    account_id: str | None = None
    region: str
    zone: str | None = None
    instance_type: str
    purchase_option: str = "on_demand"
    replicas: int = 1
    vcpu: int
    memory_gib: float
    data_gb: float = 0.0
    owner: str | None = None
    data_classification: str | None = None
    user_regions: list[str] | None = Field(default=None, sa_type=JSONText)
    tags: dict[str, Any] | None = Field(default=None, sa_type=JSONText)
    series_id: str | None = Field(default=None, index=True)
    source_key: str | None = None
    updated_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)


class StorageGroup(SQLModel, table=True):
    """A bucket, container or prefix whose objects share a tier decision."""

    __tablename__ = "storage_group"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True)
    provider: str
    account_id: str | None = None
    region: str
    bucket: str
    prefix: str = ""
    tier: str
    bytes: int = Field(sa_type=sa.BigInteger)
    objects: int = Field(sa_type=sa.BigInteger)
    oldest_object_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    median_age_days: float | None = None
    owner: str | None = None
    tags: dict[str, Any] | None = Field(default=None, sa_type=JSONText)
    lifecycle_rules: list[dict[str, Any]] | None = Field(default=None, sa_type=JSONText)
    series_id: str | None = Field(default=None, index=True)
    source_key: str | None = None
    updated_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)


class UsageSample(SQLModel, table=True):
    """One point of a utilization or access series (UTC, half-open hourly buckets)."""

    __tablename__ = "usage_sample"
    __table_args__ = (sa.UniqueConstraint("series_id", "metric", "ts", name="uq_usage_sample"),)

    id: int | None = Field(default=None, primary_key=True)
    series_id: str
    metric: str
    ts: datetime = Field(sa_type=UTCDateTime)
    value: float
    source_key: str | None = None
