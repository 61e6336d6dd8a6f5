"""Prices, regions and the network facts the solver needs."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from store.types import Money, UTCDateTime


class PriceOffer(SQLModel, table=True):
    """A price for one instance type × region × purchase option.

    History is kept as a slowly changing dimension: a changed price closes the old row
    (`valid_to`) and opens a new one, so plans can be re-priced as of any date.
    """

    __tablename__ = "price_offer"
    __table_args__ = (
        sa.UniqueConstraint(
            "provider",
            "region",
            "zone",
            "instance_type",
            "purchase_option",
            "valid_from",
            name="uq_price_offer_version",
        ),
        sa.Index("ix_price_offer_current", "provider", "region", "valid_to"),
    )

    id: int | None = Field(default=None, primary_key=True)
    provider: str
    region: str
    zone: str = ""
    instance_type: str
    family: str | None = None
    category: str | None = None
    vcpu: int
    memory_gib: float
    purchase_option: str  # on_demand | spot | commit_1y | commit_3y
    usd_per_hour: Decimal = Field(sa_type=Money)
    interruption_bucket: int | None = None
    source: str | None = None
    valid_from: datetime = Field(sa_type=UTCDateTime)
    valid_to: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)


class Region(SQLModel, table=True):
    __tablename__ = "region"
    __table_args__ = (sa.UniqueConstraint("provider", "region", name="uq_region"),)

    id: int | None = Field(default=None, primary_key=True)
    provider: str
    region: str
    display_name: str | None = None
    country_code: str | None = None
    jurisdiction: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    source: str | None = None


class Latency(SQLModel, table=True):
    """Round-trip time between two regions; `measured` is false for estimates."""

    __tablename__ = "latency"
    __table_args__ = (
        sa.UniqueConstraint(
            "src_provider", "src_region", "dst_provider", "dst_region", name="uq_latency_pair"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    src_provider: str
    src_region: str
    dst_provider: str
    dst_region: str
    rtt_ms: float
    measured: bool = True
    source: str | None = None


class EgressPrice(SQLModel, table=True):
    __tablename__ = "egress_price"
    __table_args__ = (
        sa.UniqueConstraint(
            "src_provider", "src_region", "dst_provider", "dst_region", name="uq_egress_pair"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    src_provider: str
    src_region: str
    dst_provider: str
    dst_region: str
    usd_per_gb: Decimal = Field(sa_type=Money)
    source: str | None = None


class StorageTierPrice(SQLModel, table=True):
    __tablename__ = "storage_tier_price"
    __table_args__ = (
        sa.UniqueConstraint("provider", "region", "tier", name="uq_storage_tier_price"),
    )

    id: int | None = Field(default=None, primary_key=True)
    provider: str
    region: str
    tier: str
    usd_per_gb_month: Decimal = Field(sa_type=Money)
    retrieval_usd_per_gb: Decimal | None = Field(default=None, sa_type=Money, nullable=True)
    min_storage_days: int | None = None
    min_billable_kb: int | None = None
    first_byte_latency_ms: float | None = None
    source: str | None = None
