"""The tiering loader on SQLite and PostgreSQL: groups, prices merged with the defaults
(and a stated default for a missing retrieval price), the last 30 days of access."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from placement.tiering import DAYS_PER_MONTH
from placement.tiering_facts import load_tiering_inputs
from store.models import StorageGroup, StorageTierPrice, UsageSample

END = datetime(2026, 11, 1, tzinfo=UTC)


def _fill(engine: Engine) -> None:
    with Session(engine) as s:
        s.add(StorageGroup(
            name="azure:stlogs001/logs", provider="azure", region="westeurope",
            bucket="stlogs001/logs", tier="Hot", bytes=100 * 2**30, objects=100,
            oldest_object_at=END - timedelta(days=400), median_age_days=150.0,
            tags={"env": "prod"}, series_id="sg:azure:stlogs001/logs",
            lifecycle_rules=[{"action": "expire", "after_days": 3650}],
        ))  # fmt: skip
        for tier, price, retrieval, days in (("Hot", "0.0184", "0", 0), ("Cool", "0.01", None, 30)):
            s.add(StorageTierPrice(provider="azure", region="eastus2", tier=tier,
                                   usd_per_gb_month=Decimal(price), min_storage_days=days,
                                   retrieval_usd_per_gb=None if retrieval is None
                                   else Decimal(retrieval)))  # fmt: skip
        for day in range(45):  # 45 days of samples: only the last 30 count
            ts = END - timedelta(days=45 - day)
            gb = 1.0 if day >= 15 else 100.0
            s.add(UsageSample(series_id="sg:azure:stlogs001/logs", metric="gb_retrieved",
                              ts=ts, value=gb))  # fmt: skip
            s.add(UsageSample(series_id="sg:azure:stlogs001/logs", metric="get_requests",
                              ts=ts, value=10.0))  # fmt: skip
        s.commit()


def test_load_tiering_inputs(engine: Engine) -> None:
    _fill(engine)
    inputs, skipped = load_tiering_inputs(engine)
    assert skipped == [] and len(inputs) == 1
    item = inputs[0]
    g = item.group
    assert (g.tier, g.gb, g.expire_after_days) == ("Hot", 100.0, 3650)
    assert g.oldest_age_days == pytest.approx(400 - 1)  # from the newest sample's day
    assert g.tags == {"env": "prod"}
    assert item.access.days == 30
    assert item.access.gb[1] == pytest.approx(1.0 * DAYS_PER_MONTH)
    assert item.access.requests[1] == pytest.approx(10.0 * DAYS_PER_MONTH)
    assert "no forecast yet" in item.access.note
    assert item.tiers["Cool"].retrieval_per_gb == 10_000  # the stated default
    assert any("not in the price data" in n for n in item.tiers["Cool"].notes)
    assert any("eastus2 list prices used" in n for n in item.notes)
