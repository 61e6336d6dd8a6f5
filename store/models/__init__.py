"""SQLModel tables of the store (design.md §3). Import from here."""

from store.models.billing import CostRecord, IngestedFile, SourceState
from store.models.estate import StorageGroup, UsageSample, Workload
from store.models.operations import (
    AppliedChange,
    AuditEvent,
    Forecast,
    ForecastPoint,
    Plan,
    Recommendation,
    Run,
    StoreLock,
)
from store.models.reference import EgressPrice, Latency, PriceOffer, Region, StorageTierPrice

__all__ = [
    "AppliedChange",
    "AuditEvent",
    "CostRecord",
    "EgressPrice",
    "Forecast",
    "ForecastPoint",
    "IngestedFile",
    "Latency",
    "Plan",
    "PriceOffer",
    "Recommendation",
    "Region",
    "Run",
    "SourceState",
    "StorageGroup",
    "StorageTierPrice",
    "StoreLock",
    "UsageSample",
    "Workload",
]
