"""`optimizer forecast …` through the real entry point (optimizer.cli.main, in this
process): what it stores, prints and exits with, and the forecast stage of `run`."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from optimizer.cli import main
from store.models import UsageSample
from tests.focus_files import base_row, write_focus_csv

END = datetime(2026, 11, 2, tzinfo=UTC)
HOUR, DAY = timedelta(hours=1), timedelta(days=1)
SPEND = "spend:AWS:444455556666:Amazon Elastic Compute Cloud"
SPIKE = date(2024, 9, 1) + timedelta(days=30)
PNG = b"\x89PNG\r\n\x1a\n"


class Cli:
    """Runs `optimizer --db STORE ARGS…` in this process; returns (exit code, out, err)."""

    def __init__(self, db: str, capsys: pytest.CaptureFixture[str]) -> None:
        self.db, self.capsys = db, capsys

    def __call__(self, *args: str) -> tuple[int, str, str]:
        self.capsys.readouterr()
        with pytest.raises(SystemExit) as done:
            main(["--db", self.db, *args])
        out = self.capsys.readouterr()
        return int(done.value.code or 0), out.out, out.err

    def json(self, *args: str) -> Any:
        code, out, err = self("--json", *args)
        assert code == 0, err
        return json.loads(out)


def insert(engine: Engine, sid: str, metric: str, stamps: list[datetime], values: Any) -> None:
    rows = [
        {"series_id": sid, "metric": metric, "ts": ts, "value": float(v)}
        for ts, v in zip(stamps, values, strict=True)
    ]
    with engine.begin() as conn:
        conn.execute(sa.insert(UsageSample.__table__), rows)  # type: ignore[attr-defined]


def hourly(engine: Engine, sid: str, metric: str, days: int, seed: int) -> None:
    n = days * 24
    t = np.arange(n)
    rng = np.random.default_rng(seed)
    y = 4 + 2 * np.sin(2 * np.pi * t / 24) + 0.01 * t + rng.normal(0, 0.2, n)
    insert(engine, sid, metric, [END - (n - i) * HOUR for i in range(n)], y)


def spend_file(path: Path) -> Path:
    """35 days of daily EC2 spend (busier on weekdays), with a spike on day 31."""
    rng = np.random.default_rng(9)
    rows = []
    for i in range(35):
        day = date(2024, 9, 1) + timedelta(days=i)
        cost = 100 + 30 * (day.weekday() < 5) + 0.5 * i + rng.normal(0, 2)
        cost += 300 if day == SPIKE else 0
        first = day.replace(day=1)
        after = (first + timedelta(days=32)).replace(day=1)
        row = base_row(i, cost=f"{cost:.2f}")
        row.update({
            "ChargeCategory": "Usage",
            "ChargePeriodStart": f"{day} 00:00:00",
            "ChargePeriodEnd": f"{day + timedelta(days=1)} 00:00:00",
            "BillingPeriodStart": f"{first} 00:00:00",
            "BillingPeriodEnd": f"{after} 00:00:00",
        })  # fmt: skip
        rows.append(row)
    return write_focus_csv(path, rows)


@pytest.fixture
def cli(sqlite_engine: Engine, capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(str(sqlite_engine.url.database), capsys)


@pytest.fixture
def store(sqlite_engine: Engine, cli: Cli, tmp_path: Path) -> Engine:
    hourly(sqlite_engine, "wl-a", "cpu_cores", 16, seed=0)  # Prophet is backtested
    hourly(sqlite_engine, "wl-b", "memory_gib", 5, seed=1)  # short: seasonal-naive
    code, _, err = cli("collect", "focus", str(spend_file(tmp_path / "focus.csv")))
    assert code == 0, err
    return sqlite_engine


def forecasts(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(sa.text("SELECT * FROM forecast ORDER BY id")).mappings())


def point_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT COUNT(*) FROM forecast_point")).scalar() or 0)


def test_forecast_stores_and_lists(store: Engine, cli: Cli) -> None:
    code, out, err = cli("forecast", "--series", "wl-*", "--horizon", "3d", "--workers", "1")
    assert code == 0, err
    assert "2 series" in out and "1 fell back" in out and "144 points stored" in out
    rows = forecasts(store)
    assert [(r["series_id"], r["horizon_hours"]) for r in rows] == [("wl-a", 72), ("wl-b", 72)]
    assert point_count(store) == 144

    listed = cli.json("forecast", "list")
    assert [(f["series_id"], f["metric"]) for f in listed] == [
        ("wl-a", "cpu_cores"),
        ("wl-b", "memory_gib"),
    ]
    assert listed[1]["model"] == "seasonal-naive" and listed[1]["status"] == "fallback"
    assert listed[0]["metrics"]["candidate"]["model"] == "prophet"
    assert [f["series_id"] for f in cli.json("forecast", "list", "--status", "fallback")] == [
        "wl-b"
    ]
    code, out, _ = cli("forecast", "list")
    assert code == 0 and "2 forecast(s)" in out and "wl-a" in out and "wl-b" in out


def test_json_points_per_day(store: Engine, cli: Cli) -> None:
    payload = cli.json(
        "forecast", "--series", "wl-a", "--horizon", "3d", "--granularity", "day", "--workers", "1"
    )
    assert payload["stored"] is True
    (series,) = payload["series"]
    assert series["series_id"] == "wl-a" and series["status"] == "ok"
    assert series["model"] in ("prophet", "seasonal-naive") and "MASE" in series["reason"]
    pts = series["points"]
    assert [p["timestamp"] for p in pts] == [(END + k * DAY).isoformat() for k in range(3)]
    assert all(p["p10"] <= p["p50"] <= p["p90"] for p in pts)
    hourly_payload = cli.json("forecast", "--series", "wl-a", "--horizon", "3d", "--workers", "1")
    hours = hourly_payload["series"][0]["points"]
    assert len(hours) == 72 and hours[1]["timestamp"] == (END + HOUR).isoformat()
    assert pts[0]["p50"] == pytest.approx(np.mean([h["p50"] for h in hours[:24]]), abs=1e-5)


def test_dry_run_stores_nothing(store: Engine, cli: Cli) -> None:
    payload = cli.json("forecast", "--series", "wl-b", "--horizon", "1d", "--dry-run")
    assert payload["stored"] is False and len(payload["series"][0]["points"]) == 24
    code, out, _ = cli("forecast", "--series", "wl-b", "--horizon", "1d", "--dry-run")
    assert code == 0 and "nothing stored (--dry-run)" in out
    assert forecasts(store) == [] and point_count(store) == 0


def test_backtest_json(store: Engine, cli: Cli) -> None:
    payload = cli.json("forecast", "backtest", "--series", "wl-*", "--workers", "1")
    rows = {r["series_id"]: r for r in payload["series"]}
    a, b = rows["wl-a"], rows["wl-b"]
    assert a["status"] == "ok" and a["model"] in ("prophet", "seasonal-naive")
    for key in ("mase", "smape", "baseline_mase", "coverage"):
        assert isinstance(a[key], float), key
    assert a["mase"] == min(a["mase"], a["baseline_mase"])  # the winner has the lower MASE
    assert a["origins"] == 1 and a["candidate"]["model"] == "prophet"
    assert b["status"] == "fallback" and b["mase"] is None and "under 14" in b["reason"]
    assert payload["summary"] == {
        "series": 2,
        "scored": 1,
        "better_than_seasonal_naive": int(a["mase"] < a["baseline_mase"]),
        "mean_mase_ratio": pytest.approx(a["mase"] / a["baseline_mase"]),
        "fallback": 1,
        "failed": 0,
    }
    assert forecasts(store) == []  # nothing stored


def test_spend_anomalies(store: Engine, cli: Cli) -> None:
    payload = cli.json("forecast", "--series", "spend:*", "--horizon", "7d", "--workers", "1")
    (series,) = payload["series"]
    assert series["series_id"] == SPEND and len(series["points"]) == 7
    assert any(str(a["ts"]).startswith(SPIKE.isoformat()) for a in series["anomalies"])
    flagged = cli.json("forecast", "anomalies")
    assert flagged and flagged[0]["series_id"] == SPEND
    assert flagged[0]["ts"].startswith(SPIKE.isoformat()) and flagged[0]["excess"] > 100
    assert all(a["excess"] >= 1.0 for a in flagged)
    assert [a["excess"] for a in flagged] == sorted((a["excess"] for a in flagged), reverse=True)
    assert cli.json("forecast", "anomalies", "--min-excess", "100000") == []
    code, out, _ = cli("forecast", "anomalies")
    assert code == 0 and str(SPIKE) in out and "spend anomal" in out


def test_plot_writes_a_png(store: Engine, cli: Cli, tmp_path: Path) -> None:
    assert cli("forecast", "--series", "wl-b", "--horizon", "2d")[0] == 0
    out_path = tmp_path / "plots" / "x.png"
    code, out, err = cli("forecast", "plot", "wl-b/memory_gib", "--out", str(out_path))
    assert code == 0, err
    assert out_path.read_bytes()[:8] == PNG and "wrote" in out
    other = tmp_path / "y.png"
    assert cli("forecast", "plot", "wl-b", "--metric", "memory_gib", "--out", str(other))[0] == 0
    assert other.read_bytes()[:8] == PNG
    code, _, err = cli("forecast", "plot", "nope/cpu_cores", "--out", str(tmp_path / "z.png"))
    assert code == 3
    assert "no stored forecast for 'nope/cpu_cores'" in err and "To fix" in err
    assert not (tmp_path / "z.png").exists()


def test_unknown_series_and_empty_store(sqlite_engine: Engine, cli: Cli) -> None:
    code, _, err = cli("forecast", "--workers", "1")
    assert code == 2
    assert "no series to forecast in the store" in err and "To fix" in err
    hourly(sqlite_engine, "wl-a", "cpu_cores", 2, seed=0)
    code, _, err = cli("forecast", "--series", "nope*")
    assert code == 2 and "no series to forecast match 'nope*'" in err and "To fix" in err


def test_a_series_that_cannot_be_loaded_fails_alone(sqlite_engine: Engine, cli: Cli) -> None:
    hourly(sqlite_engine, "wl-b", "memory_gib", 3, seed=1)
    stamps = [END - (40 - i) * HOUR for i in range(40) if not 10 <= i < 30]
    insert(sqlite_engine, "wl-gap", "cpu_cores", stamps, [1.0] * len(stamps))
    code, _, err = cli("forecast", "--horizon", "1d", "--workers", "1")
    assert code == 3
    assert "1 series could not be forecast (the others were stored)" in err
    assert "failed wl-gap/cpu_cores: wl-gap: a gap of 20 steps" in err
    statuses = {(r["series_id"], r["status"]) for r in forecasts(sqlite_engine)}
    assert statuses == {("wl-b", "fallback"), ("wl-gap", "failed")}
    listed = cli.json("forecast", "list", "--status", "failed")
    assert [f["series_id"] for f in listed] == ["wl-gap"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--horizon", "3x"), "write a positive number of hours, days or weeks"),
        (("--horizon", "0d"), "write a positive number of hours, days or weeks"),
        (("--granularity", "week"), "Invalid value for '--granularity'"),
    ],
)
def test_usage_errors_exit_2(cli: Cli, args: tuple[str, ...], message: str) -> None:
    code, _, err = cli("forecast", *args)
    assert code == 2 and message in err


def test_unknown_holiday_country_is_a_config_error(store: Engine, cli: Cli) -> None:
    code, _, err = cli("forecast", "--holidays", "XX", "--series", "wl-b")
    assert code == 2
    assert "unknown holiday country 'XX'" in err and "To fix" in err
    assert forecasts(store) == []
    assert cli("forecast", "--holidays", "US", "--series", "wl-b", "--horizon", "1d")[0] == 0


def test_run_records_the_forecast_stage(store: Engine, cli: Cli, tmp_path: Path) -> None:
    config = tmp_path / "optimizer.toml"
    config.write_text('[forecast]\nworkers = 1\nhorizon_days = 2\nseries = "wl-b"\n')
    payload = cli.json("--config", str(config), "run", "--stages", "forecast")
    (stage,) = payload["stages"]
    assert stage["name"] == "forecast" and stage["status"] == "ok"
    assert stage["series"] == 1 and stage["failed"] == 0
    assert stage["models"] == {"seasonal-naive": 1}
    assert "1 series (seasonal-naive 1), 1 fallback, 0 failed" in stage["detail"]
    (row,) = forecasts(store)
    assert (row["series_id"], row["horizon_hours"]) == ("wl-b", 48)
    with store.connect() as conn:
        run = conn.execute(sa.text("SELECT status, stages FROM run")).one()
    stages = json.loads(run[1]) if isinstance(run[1], str) else run[1]
    assert run[0] == "ok" and stages[0]["name"] == "forecast" and stages[0]["status"] == "ok"


def test_scheduler_without_dask_in_the_config_is_a_config_error(
    store: Engine, cli: Cli, tmp_path: Path
) -> None:
    config = tmp_path / "optimizer.toml"
    config.write_text('[forecast]\nscheduler = "tcp://127.0.0.1:8786"\n')
    code, _, err = cli("--config", str(config), "forecast", "--series", "wl-b")
    assert code == 2
    assert 'scheduler is set but engine is "local"' in err and "To fix" in err
