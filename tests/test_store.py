"""The store: schema at head, exact money, UTC time, URL resolution, clear errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

from store.engine import default_db_path, make_engine, resolve_url
from store.errors import StoreError
from store.migrate import current_revision, head_revision, require_current, upgrade
from store.models import AuditEvent, CostRecord, PriceOffer
from store.types import money_sum


def test_schema_is_at_head_and_matches_the_models(engine: Engine) -> None:
    assert current_revision(engine) == head_revision()
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert diff == [], f"models and migrations differ: write a migration for {diff}"


def test_upgrade_is_idempotent(engine: Engine) -> None:
    before, after = upgrade(engine)
    assert before == after == head_revision()


def _record(i: int, billed: str) -> CostRecord:
    start = datetime(2024, 9, 1, tzinfo=UTC) + timedelta(hours=i)
    return CostRecord(
        natural_key=f"{i:032x}",
        source_key="t",
        billed_cost=Decimal(billed),
        effective_cost=Decimal(billed),
        billing_currency="USD",
        billing_account_id="a",
        charge_period_start=start,
        charge_period_end=start + timedelta(hours=1),
        charge_category="Usage",
        provider_name="AWS",
        tags={"b": 1, "a": "x"},
    )


def test_money_is_exact_on_every_database(engine: Engine) -> None:
    values = ["0.1", "0.2", "0.000000000000001", "123456789012.123456789", "-0.3"]
    with Session(engine) as s:
        s.add_all(_record(i, v) for i, v in enumerate(values))
        s.commit()
    with engine.connect() as conn:
        got = conn.execute(sa.select(money_sum(CostRecord.billed_cost))).scalar_one()
        back = conn.execute(sa.select(CostRecord.billed_cost).order_by(CostRecord.id)).scalars()
        assert [Decimal(v) for v in values] == list(back)
    assert got == sum(Decimal(v) for v in values)
    assert got == Decimal("123456789012.123456789000001")


def test_times_come_back_as_aware_utc(engine: Engine) -> None:
    cet = timezone(timedelta(hours=1))
    with Session(engine) as s:
        s.add(
            AuditEvent(
                ts=datetime(2024, 1, 1, 1, 0, tzinfo=cet),
                actor="t",
                action="x",
                prev_hash="0",
                hash="1",
            )
        )
        s.commit()
    with engine.connect() as conn:
        ts = conn.execute(sa.select(AuditEvent.ts)).scalar_one()
    assert ts == datetime(2024, 1, 1, 0, 0, tzinfo=UTC)
    assert ts.tzinfo is UTC


def test_json_columns_round_trip(engine: Engine) -> None:
    with Session(engine) as s:
        s.add(_record(1, "1"))
        s.commit()
    with engine.connect() as conn:
        assert conn.execute(sa.select(CostRecord.tags)).scalar_one() == {"a": "x", "b": 1}


def test_price_history_keeps_versions(engine: Engine) -> None:
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    common = dict(
        provider="aws",
        region="eu-west-1",
        instance_type="m5.large",
        vcpu=2,
        memory_gib=8.0,
        purchase_option="on_demand",
    )
    with Session(engine) as s:
        s.add(
            PriceOffer(
                **common,
                usd_per_hour=Decimal("0.107"),
                valid_from=t0,
                valid_to=t0 + timedelta(days=30),
            )
        )
        s.add(
            PriceOffer(**common, usd_per_hour=Decimal("0.101"), valid_from=t0 + timedelta(days=30))
        )
        s.commit()
        with pytest.raises(sa.exc.IntegrityError):
            s.add(PriceOffer(**common, usd_per_hour=Decimal("0.2"), valid_from=t0))
            s.commit()


def test_uninitialised_store_says_how_to_fix(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'new.db'}")
    with pytest.raises(StoreError) as err:
        require_current(engine)
    assert "optimizer init" in (err.value.fix or "")


def test_unreachable_store_is_a_store_error() -> None:
    engine = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    with pytest.raises(StoreError, match="cannot open the store"):
        require_current(engine)


def test_bad_url_is_a_store_error() -> None:
    with pytest.raises(StoreError, match="cannot parse"):
        make_engine("postgresql+psycopg://u@h:notaport/db")
    with pytest.raises(StoreError, match="unsupported database URL"):
        make_engine("nope://x/y")


def test_url_resolution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPTIMIZER_DB_URL", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_db_path() == tmp_path / "optimizer" / "optimizer.db"
    assert resolve_url() == f"sqlite:///{tmp_path / 'optimizer' / 'optimizer.db'}"
    monkeypatch.setenv("OPTIMIZER_DB_URL", "postgresql+psycopg://u@h/db")
    assert resolve_url() == "postgresql+psycopg://u@h/db"
    assert resolve_url(str(tmp_path / "x.db")) == f"sqlite:///{tmp_path / 'x.db'}"
