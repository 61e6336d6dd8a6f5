"""FOCUS ingest: exact totals, idempotence, quirks, and bad files that write nothing."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from collectors.focus.export import export_focus
from collectors.focus.ingest import ingest_file
from store import costs
from store.engine import make_engine
from store.errors import InputFileError
from store.migrate import upgrade
from store.models import CostRecord, SourceState
from tests.focus_files import HEADER, base_row, total, write_focus_csv

SAMPLE_BILLED = Decimal("20.52022672899")
SAMPLE_EFFECTIVE = Decimal("14.97651418586")


def fresh_sqlite(path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    return engine


def store_totals(engine: Engine) -> costs.CostTotals:
    with engine.connect() as conn:
        return costs.totals(conn)


def test_official_sample_reproduces_its_total_and_is_idempotent(
    engine: Engine, shared_data: Path
) -> None:
    sample = shared_data / "focus" / "official-sample-1.0" / "focus_sample.csv"
    first = ingest_file(engine, sample)
    assert first.rows == 1000
    assert first.focus_version == "1.0"
    assert first.billed_cost_total == SAMPLE_BILLED
    assert first.effective_cost_total == SAMPLE_EFFECTIVE
    unchanged = ingest_file(engine, sample)
    assert unchanged.unchanged and unchanged.billed_cost_total == SAMPLE_BILLED
    second = ingest_file(engine, sample, force=True)
    assert second.rows_replaced == 1000
    t = store_totals(engine)
    assert (t.rows, t.billed_cost, t.effective_cost) == (1000, SAMPLE_BILLED, SAMPLE_EFFECTIVE)
    providers = {s.provider for s in second.by_service}
    assert providers == {"AWS", "Microsoft", "Oracle"}
    assert any("ContractedCost" in w for w in second.warnings)
    assert any("Id" in w for w in second.warnings)


def test_quirks_are_normalised(sqlite_engine: Engine, tmp_path: Path) -> None:
    rows = [base_row(i) for i in range(6)]
    ingest_file(sqlite_engine, write_focus_csv(tmp_path / "q.csv", rows))
    with sqlite_engine.connect() as conn:
        records = conn.execute(sa.select(CostRecord).order_by(CostRecord.id)).all()
    assert {r.charge_category for r in records} == {"Usage"}
    assert {r.service_category for r in records} == {"Compute"}
    assert {r.charge_frequency for r in records} == {"Usage-Based"}
    assert all(r.charge_class is None for r in records)
    assert records[1].tags == {"team": "web", " org": "x"}
    assert records[0].tags is None
    assert records[0].custom == {"x_Team": "web", "Id": "0"}
    assert records[0].attributes["ChargeDescription"] == "line 0"
    assert records[0].charge_period_start.isoformat() == "2024-09-01T00:00:00+00:00"
    assert records[0].billing_period_start.isoformat() == "2024-09-01T00:00:00+00:00"


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz", ".parquet"])
def test_formats_give_identical_totals(sqlite_engine: Engine, tmp_path: Path, suffix: str) -> None:
    rows = [base_row(i, cost=f"{i}.0000000001") for i in range(50)]
    csv_path = write_focus_csv(tmp_path / "in.csv", rows)
    path = tmp_path / f"in{suffix}"
    if suffix == ".csv.gz":
        write_focus_csv(path, rows)
    elif suffix == ".parquet":
        table = pacsv.read_csv(
            csv_path,
            convert_options=pacsv.ConvertOptions(column_types={c: pa.string() for c in HEADER}),
        )
        pq.write_table(table, path)
    else:
        path = csv_path
    summary = ingest_file(sqlite_engine, path, batch_rows=7)
    assert summary.billed_cost_total == total(rows)
    assert summary.rows == 50


def test_identical_rows_in_one_file_are_all_counted(sqlite_engine: Engine, tmp_path: Path) -> None:
    rows = [base_row(1), base_row(1), base_row(1)]
    summary = ingest_file(sqlite_engine, write_focus_csv(tmp_path / "dup.csv", rows))
    assert summary.rows == 3
    assert store_totals(sqlite_engine).billed_cost == Decimal("3.75")
    ingest_file(sqlite_engine, tmp_path / "dup.csv", force=True)
    assert store_totals(sqlite_engine).billed_cost == Decimal("3.75")


def test_same_rows_from_two_files_are_not_double_counted(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    rows = [base_row(i) for i in range(10)]
    ingest_file(sqlite_engine, write_focus_csv(tmp_path / "a.csv", rows))
    second = ingest_file(sqlite_engine, write_focus_csv(tmp_path / "copy.csv", rows))
    assert store_totals(sqlite_engine).rows == 10
    assert any("not counted twice" in w for w in second.warnings)


def test_restated_file_replaces_rows_it_no_longer_has(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "month.csv"
    ingest_file(sqlite_engine, write_focus_csv(path, [base_row(i) for i in range(10)]))
    restated = [base_row(i, cost="2") for i in range(8)]
    ingest_file(sqlite_engine, write_focus_csv(path, restated))
    t = store_totals(sqlite_engine)
    assert (t.rows, t.billed_cost) == (8, Decimal(16))


def test_missing_mandatory_column_writes_nothing(engine: Engine, tmp_path: Path) -> None:
    ingest_file(engine, write_focus_csv(tmp_path / "good.csv", [base_row(1)]))
    before = store_totals(engine)
    header = [c for c in HEADER if c != "BilledCost"]
    bad = write_focus_csv(tmp_path / "bad.csv", [base_row(2)], header)
    with pytest.raises(InputFileError) as err:
        ingest_file(engine, bad)
    assert "BilledCost" in err.value.message and "bad.csv" in err.value.message
    assert err.value.fix
    assert store_totals(engine) == before


def test_bad_cost_in_a_late_batch_rolls_back_the_whole_file(engine: Engine, tmp_path: Path) -> None:
    rows = [base_row(i) for i in range(40)]
    rows[33]["BilledCost"] = "12,50"
    path = write_focus_csv(tmp_path / "late.csv", rows)
    with pytest.raises(InputFileError) as err:
        ingest_file(engine, path, batch_rows=10)
    assert "row 34" in err.value.message
    assert "BilledCost" in err.value.message
    assert "'12,50'" in err.value.message
    assert "To fix" in err.value.render()
    assert store_totals(engine).rows == 0
    with engine.connect() as conn:
        state = conn.execute(sa.select(SourceState)).one()
    assert state.last_status == "failed" and "row 34" in (state.detail or "")
    rows[33]["BilledCost"] = "12.50"
    ingest_file(engine, write_focus_csv(path, rows))
    with engine.connect() as conn:
        state = conn.execute(sa.select(SourceState)).one()
    assert (state.last_status, state.rows) == ("ok", 40)


@pytest.mark.parametrize(
    ("column", "value", "expect"),
    [
        ("ChargePeriodStart", "yesterday", "not a date/time"),
        ("ChargeCategory", "Refund", "not one of"),
        ("Tags", "{broken", "not valid JSON"),
        ("Tags", "[1, 2]", "not an object"),
        ("BillingAccountId", "NULL", "requires a value"),
        ("EffectiveCost", "NaN", "not a decimal"),
    ],
)
def test_bad_values_name_row_and_column(
    sqlite_engine: Engine, tmp_path: Path, column: str, value: str, expect: str
) -> None:
    rows = [base_row(i) for i in range(5)]
    rows[3][column] = value
    with pytest.raises(InputFileError) as err:
        ingest_file(sqlite_engine, write_focus_csv(tmp_path / "bad.csv", rows))
    assert f"row 4, column {column}" in err.value.message
    assert expect in err.value.message
    assert store_totals(sqlite_engine).rows == 0


def test_period_end_before_start_is_rejected(sqlite_engine: Engine, tmp_path: Path) -> None:
    rows = [base_row(i) for i in range(3)]
    rows[2]["ChargePeriodEnd"] = "2024-08-01 00:00:00"
    with pytest.raises(InputFileError, match="row 3, column ChargePeriodEnd"):
        ingest_file(sqlite_engine, write_focus_csv(tmp_path / "p.csv", rows))


def test_not_a_focus_file_gets_a_pointed_hint(sqlite_engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "cur.csv"
    path.write_text("line_item_unblended_cost,line_item_usage_account_id\n1,2\n")
    with pytest.raises(InputFileError) as err:
        ingest_file(sqlite_engine, path)
    assert "collect export" in (err.value.fix or "")


def test_unreadable_inputs(sqlite_engine: Engine, tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="no such file"):
        ingest_file(sqlite_engine, tmp_path / "missing.csv")
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(InputFileError, match="format"):
        ingest_file(sqlite_engine, tmp_path / "x.json")
    (tmp_path / "broken.parquet").write_bytes(b"not parquet")
    with pytest.raises(InputFileError, match="Parquet"):
        ingest_file(sqlite_engine, tmp_path / "broken.parquet")


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_round_trip_preserves_every_total(engine: Engine, tmp_path: Path, suffix: str) -> None:
    rows = [base_row(i, cost=f"0.{i:03d}000000123") for i in range(30)]
    ingest_file(engine, write_focus_csv(tmp_path / "in.csv", rows))
    out = tmp_path / f"out{suffix}"
    summary = export_focus(engine, out)
    assert summary.rows == 30
    assert summary.billed_cost_total == total(rows)
    fresh = fresh_sqlite(tmp_path / "fresh.db")
    again = ingest_file(fresh, out)
    assert again.focus_version == "1.2"
    assert again.billed_cost_total == total(rows)
    assert again.effective_cost_total == total(rows, "EffectiveCost")
    with fresh.connect() as conn:
        first = conn.execute(sa.select(CostRecord).order_by(CostRecord.resource_id)).first()
    assert first is not None and first.custom == {"x_Team": "web", "x_Id": "0"}


def test_official_sample_round_trip(
    sqlite_engine: Engine, tmp_path: Path, shared_data: Path
) -> None:
    ingest_file(sqlite_engine, shared_data / "focus" / "official-sample-1.0" / "focus_sample.csv")
    for suffix in (".csv", ".parquet"):
        out = tmp_path / f"sample{suffix}"
        export_focus(sqlite_engine, out)
        other = fresh_sqlite(tmp_path / f"rt{suffix}.db")
        again = ingest_file(other, out)
        assert (again.rows, again.billed_cost_total, again.effective_cost_total) == (
            1000,
            SAMPLE_BILLED,
            SAMPLE_EFFECTIVE,
        )


def test_typed_parquet_like_aws_data_exports(sqlite_engine: Engine, tmp_path: Path) -> None:
    """AWS FOCUS exports are Parquet with double money, timestamp columns and map tags."""
    from datetime import UTC, datetime

    rows = [base_row(i, cost=f"{i}.25") for i in range(6)]
    columns: dict[str, pa.Array] = {}
    for name in HEADER:
        values = [r[name] if r[name] != "NULL" else None for r in rows]
        if name in ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost"):
            columns[name] = pa.array([float(v) for v in values], pa.float64())
        elif name == "PricingQuantity":
            columns[name] = pa.array([Decimal(v) for v in values], pa.decimal128(20, 6))
        elif name.endswith(("PeriodStart", "PeriodEnd")):
            parsed = [
                datetime.fromisoformat(v.replace("Z", "")).replace(tzinfo=UTC) for v in values
            ]
            columns[name] = pa.array(parsed, pa.timestamp("ms", tz="UTC"))
        elif name == "Tags":
            columns[name] = pa.array(
                [None if v is None else list(json.loads(v).items()) for v in values],
                pa.map_(pa.string(), pa.string()),
            )
        else:
            columns[name] = pa.array(values, pa.string())
    path = tmp_path / "aws-focus.parquet"
    pq.write_table(pa.table(columns), path)
    summary = ingest_file(sqlite_engine, path)
    assert summary.rows == 6
    assert summary.billed_cost_total == total(rows)
    with sqlite_engine.connect() as conn:
        first, second = conn.execute(sa.select(CostRecord).order_by(CostRecord.id).limit(2)).all()
    assert first.charge_period_start.isoformat() == "2024-09-01T00:00:00+00:00"
    assert first.pricing_quantity == Decimal(1)
    assert first.tags is None and second.tags == {"team": "web", " org": "x"}
