"""Spend in FOCUS form, and what we know about each source that fed it."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from store.types import JSONText, Money, UTCDateTime


def _money(nullable: bool = False) -> Any:
    return Field(sa_type=Money, nullable=nullable)


def _ts(nullable: bool = False, index: bool = False) -> Any:
    return Field(sa_type=UTCDateTime, nullable=nullable, index=index)


class CostRecord(SQLModel, table=True):
    """One FOCUS cost-and-usage row.

    The columns we query are promoted; the other FOCUS columns live in `attributes`
    and custom (`x_` or unknown) columns in `custom`, so an export loses nothing.
    `natural_key` is a hash of the row's identifying columns plus its ordinal among
    identical rows of the same file: re-ingesting never double counts.
    """

    __tablename__ = "cost_record"
    __table_args__ = (
        sa.Index("ix_cost_record_period_provider", "charge_period_start", "provider_name"),
    )

    id: int | None = Field(default=None, primary_key=True)
    natural_key: str = Field(max_length=32, unique=True)
    source_key: str = Field(index=True)
    focus_version: str | None = None
    billed_cost: Decimal = _money()
    effective_cost: Decimal = _money()
    list_cost: Decimal | None = _money(True)
    contracted_cost: Decimal | None = _money(True)
    billing_currency: str
    billing_account_id: str
    billing_period_start: datetime | None = _ts(True)
    billing_period_end: datetime | None = _ts(True)
    charge_period_start: datetime = _ts()
    charge_period_end: datetime = _ts()
    charge_category: str
    charge_class: str | None = None
    charge_frequency: str | None = None
    pricing_category: str | None = None
    provider_name: str
    sub_account_id: str | None = None
    service_name: str | None = None
    service_category: str | None = None
    region_id: str | None = None
    availability_zone: str | None = None
    resource_id: str | None = None
    sku_id: str | None = None
    commitment_discount_id: str | None = None
    commitment_discount_status: str | None = None
    consumed_quantity: Decimal | None = _money(True)
    consumed_unit: str | None = None
    pricing_quantity: Decimal | None = _money(True)
    pricing_unit: str | None = None
    tags: dict[str, Any] | None = Field(default=None, sa_type=JSONText)
    attributes: dict[str, Any] | None = Field(default=None, sa_type=JSONText)
    custom: dict[str, Any] | None = Field(default=None, sa_type=JSONText)


class IngestedFile(SQLModel, table=True):
    """One file read into the store: what it held, so a re-read can be compared."""

    __tablename__ = "ingested_file"

    id: int | None = Field(default=None, primary_key=True)
    source_key: str = Field(index=True)
    path: str
    sha256: str
    rows: int
    billed_cost_total: Decimal = _money()
    effective_cost_total: Decimal = _money()
    period_start: datetime | None = _ts(True)
    period_end: datetime | None = _ts(True)
    ingested_at: datetime = _ts()


class SourceState(SQLModel, table=True):
    """Freshness and watermark of each data source (a cloud account, a file feed)."""

    __tablename__ = "source_state"

    source_key: str = Field(primary_key=True)
    source_type: str
    last_attempt_at: datetime | None = _ts(True)
    last_success_at: datetime | None = _ts(True)
    last_status: str = "never"
    detail: str | None = None
    rows: int = 0
    period_start: datetime | None = _ts(True)
    period_end: datetime | None = _ts(True)
    watermark: datetime | None = _ts(True)
