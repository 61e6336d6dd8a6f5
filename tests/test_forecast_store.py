"""The store round trip: series out of usage_sample and cost_record (forecasts.load),
forecasts back in (forecasts.save), and placement sizing from fresh forecasts."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from sqlalchemy.engine import Engine
from sqlmodel import Session

from forecasts.engine import EngineChoice, run_all
from forecasts.job import SeriesSpec, Settings, forecast_series
from forecasts.load import load_specs
from forecasts.runner import forecast_store
from forecasts.save import latest, points, save
from optimizer.cli import cli
from placement.sizing import SizingSettings, percentile
from placement.sizing_facts import load_usage
from store.models import UsageSample, Workload
from tests.focus_files import base_row, write_focus_csv

END = datetime(2026, 11, 2, tzinfo=UTC)  # a Monday
HOUR, DAY = timedelta(hours=1), timedelta(days=1)
ONE = EngineChoice("local", workers=1)
FAST = Settings(horizon=timedelta(days=3))
NAIVE = replace(FAST, candidate="seasonal-naive")


def insert_samples(
    engine: Engine, sid: str, metric: str, stamps: list[datetime], values: Any
) -> None:
    rows = [
        {"series_id": sid, "metric": metric, "ts": ts, "value": float(v)}
        for ts, v in zip(stamps, values, strict=True)
    ]
    with engine.begin() as conn:
        conn.execute(sa.insert(UsageSample.__table__), rows)  # type: ignore[attr-defined]


def hourly(
    engine: Engine, sid: str, metric: str, days: int, seed: int = 0, end: datetime = END
) -> np.ndarray:
    """`days` of hourly samples ending at `end`: a daily season, a trend, some noise."""
    n = days * 24
    t = np.arange(n)
    rng = np.random.default_rng(seed)
    y = 4 + 2 * np.sin(2 * np.pi * t / 24) + 0.01 * t + rng.normal(0, 0.2, n)
    insert_samples(engine, sid, metric, [end - (n - i) * HOUR for i in range(n)], y)
    return y


def by_key(specs: list[SeriesSpec]) -> dict[tuple[str, str], SeriesSpec]:
    return {(s.series_id, s.metric): s for s in specs}


# --- load ---------------------------------------------------------------------------------


def test_hourly_daily_five_minute_and_gaps(engine: Engine) -> None:
    y = hourly(engine, "wl-a", "cpu_cores", 3)
    daily = [END - (30 - i) * DAY for i in range(30)]
    insert_samples(engine, "sg-1", "get_requests", daily, range(30))
    # 2 days at 5 minutes: 24 samples per hour averaged to one.
    fine = [END - 2 * DAY + i * timedelta(minutes=5) for i in range(2 * 288)]
    insert_samples(engine, "wl-b", "memory_gib", fine, [i % 12 for i in range(2 * 288)])
    gap = [END - (48 - i) * HOUR for i in range(48) if not 20 <= i < 30]  # 10 hours missing
    insert_samples(engine, "wl-gap", "cpu_cores", gap, [1.0] * len(gap))

    with engine.connect() as conn:
        specs, problems = load_specs(conn)
    got = by_key(specs)
    assert set(got) == {("wl-a", "cpu_cores"), ("sg-1", "get_requests"), ("wl-b", "memory_gib")}

    a = got["wl-a", "cpu_cores"]
    assert a.step == HOUR and a.start == END - 72 * HOUR and a.repairs == {}
    assert np.allclose(a.values, y)
    s = got["sg-1", "get_requests"]
    assert s.step == DAY and s.start == END - 30 * DAY and list(s.values) == list(range(30))
    b = got["wl-b", "memory_gib"]
    assert b.step == HOUR and len(b.values) == 48 and b.start == END - 2 * DAY
    assert b.repairs == {"averaged_to_hourly": 576 - 48}
    assert np.allclose(b.values, 5.5)  # the mean of 0..11

    assert [(p.series_id, p.metric) for p in problems] == [("wl-gap", "cpu_cores")]
    assert "a gap of 10 steps" in problems[0].reason and "To fix" in problems[0].reason


def test_glob_matches_id_or_id_and_metric(sqlite_engine: Engine) -> None:
    for sid in ("wl-a", "wl-b", "db-1"):
        for metric in ("cpu_cores", "memory_gib"):
            hourly(sqlite_engine, sid, metric, 1)

    def keys(pattern: str) -> set[tuple[str, str]]:
        with sqlite_engine.connect() as conn:
            return set(by_key(load_specs(conn, pattern)[0]))

    assert keys("wl-*") == {(s, m) for s in ("wl-a", "wl-b") for m in ("cpu_cores", "memory_gib")}
    assert keys("*/memory_gib") == {(s, "memory_gib") for s in ("wl-a", "wl-b", "db-1")}
    assert keys("db-1/cpu_cores") == {("db-1", "cpu_cores")}
    assert keys("nothing*") == set()


def test_history_days_keeps_the_recent_window(sqlite_engine: Engine) -> None:
    hourly(sqlite_engine, "wl-a", "cpu_cores", 20)
    with sqlite_engine.connect() as conn:
        (spec,), _ = load_specs(conn, history_days=14)
    assert len(spec.values) == 14 * 24 and spec.start == END - 14 * DAY


def test_spend_series_from_collected_focus_rows(sqlite_engine: Engine, tmp_path: Path) -> None:
    rows = []
    for i, (day, cost) in enumerate([(1, "2.5"), (2, "1.5"), (5, "4")]):
        row = base_row(i, cost=cost)
        row["ChargePeriodStart"] = f"2024-09-{day:02d} 00:00:00"
        row["ChargePeriodEnd"] = f"2024-09-{day:02d} 01:00:00"
        rows.append(row)
    tax = base_row(9, cost="7")
    tax["ChargeCategory"] = "Tax"
    tax["ChargePeriodStart"] = "2024-09-03 00:00:00"
    rows.append(tax)
    other = base_row(10, cost="3")
    other["ServiceName"] = "Amazon Simple Storage Service"
    other["SubAccountId"] = "NULL"
    rows.append(other)
    path = write_focus_csv(tmp_path / "focus.csv", rows)
    db = str(sqlite_engine.url.database)
    out = CliRunner().invoke(cli, ["--db", db, "--json", "collect", "focus", str(path)])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["rows"] == 5

    with sqlite_engine.connect() as conn:
        specs, problems = load_specs(conn)
        only_s3, _ = load_specs(conn, "spend:*Storage*")
    got = by_key(specs)
    assert problems == []
    ec2 = got["spend:AWS:444455556666:Amazon Elastic Compute Cloud", "spend"]
    assert ec2.step == DAY and ec2.start == datetime(2024, 9, 1, tzinfo=UTC)
    # Days without usage are zero spend, not gaps; the tax on day 3 is not usage.
    assert list(ec2.values) == [2.5, 1.5, 0.0, 0.0, 4.0]
    assert ("spend:AWS:-:Amazon Simple Storage Service", "spend") in got
    assert [s.series_id for s in only_s3] == ["spend:AWS:-:Amazon Simple Storage Service"]


# --- save and latest ----------------------------------------------------------------------


def stored_rows(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(sa.text("SELECT * FROM forecast ORDER BY id")).mappings())


def point_counts(engine: Engine) -> dict[int, int]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT forecast_id, COUNT(*) FROM forecast_point GROUP BY forecast_id")
        )
        return {int(r[0]): int(r[1]) for r in rows}


def metrics_of(row: Any) -> dict[str, Any]:
    value = row["metrics"]
    return json.loads(value) if isinstance(value, str) else dict(value)


def test_save_round_trip_keeps_points_for_the_latest_only(engine: Engine) -> None:
    hourly(engine, "wl-a", "cpu_cores", 16)  # long enough to backtest prophet
    hourly(engine, "wl-b", "memory_gib", 5, seed=1)  # short: fallback
    gap = [END - (30 - i) * HOUR for i in range(30) if i != 10 and not 12 <= i < 20]
    insert_samples(engine, "wl-gap", "cpu_cores", gap, [1.0] * len(gap))

    with engine.connect() as conn:
        specs, problems = load_specs(conn)
    results = run_all(specs, FAST, ONE)
    with engine.begin() as conn:
        counts = save(conn, results, problems, FAST, run_id=None)
    assert counts == {"ok": 1, "fallback": 1, "failed": 1, "points": 2 * 72}

    rows = {(r["series_id"], r["metric"]): r for r in stored_rows(engine)}
    a, b, bad = rows["wl-a", "cpu_cores"], rows["wl-b", "memory_gib"], rows["wl-gap", "cpu_cores"]
    result = {r.series_id: r for r in results}
    assert (a["status"], a["model"], a["granularity"], a["horizon_hours"]) == (
        "ok",
        result["wl-a"].model,
        "hour",
        72,
    )
    assert a["reason"] == result["wl-a"].reason and "MASE" in a["reason"]
    ma = metrics_of(a)
    assert ma["first_ts"] == END.isoformat() and ma["horizon_hours"] == 72 and ma["level"] == 0.8
    assert set(ma["summary"]) >= {"upper_p90", "p50_p90", "lower_p10", "p50_mean", "upper_max"}
    assert ma["summary"]["lower_p10"] <= ma["summary"]["p50_mean"] <= ma["summary"]["upper_max"]
    assert ma["candidate"]["model"] == "prophet" and ma["baseline"]["model"] == "seasonal-naive"
    assert ma["history_points"] == 16 * 24
    assert (b["status"], b["model"]) == ("fallback", "seasonal-naive")
    assert "under 14" in b["reason"]
    assert (bad["status"], bad["model"]) == ("failed", "none")
    assert "a gap of 8 steps" in bad["reason"] and metrics_of(bad) == {}

    with engine.connect() as conn:
        pts = points(conn, a["id"])
    assert len(pts) == 72
    first = pts[0][0]
    first = first if isinstance(first, datetime) else datetime.fromisoformat(str(first))
    assert first.replace(tzinfo=UTC) == END
    assert all(p10 <= p50 <= p90 for _, p10, p50, p90 in pts)
    assert [p[2] for p in pts] == pytest.approx(list(result["wl-a"].p50))
    assert point_counts(engine) == {a["id"]: 72, b["id"]: 72}

    # A second run: new rows, and only they keep points; old rows keep their metrics.
    outcome = forecast_store(engine, NAIVE, ONE, history_days=90)
    assert outcome.counts == {"fallback": 2, "failed": 1, "points": 144}
    assert outcome.models() == {"seasonal-naive": 2} and outcome.failed == 1
    after = stored_rows(engine)
    assert len(after) == 6
    new_ids = {r["id"] for r in after[3:]}
    assert set(point_counts(engine)) == new_ids - {after[5]["id"]}
    assert metrics_of(after[0])["summary"] == ma["summary"]

    with engine.connect() as conn:
        usable = latest(conn)
        every = latest(conn, usable_only=False)
        cpu = latest(conn, metrics=["cpu_cores"])
    assert set(usable) == {("wl-a", "cpu_cores"), ("wl-b", "memory_gib")}
    assert {f.id for f in usable.values()} <= new_ids
    assert usable["wl-a", "cpu_cores"].reason == "seasonal-naive asked for"
    assert every["wl-gap", "cpu_cores"].status == "failed"
    assert set(cpu) == {("wl-a", "cpu_cores")}


def test_dry_run_writes_nothing(sqlite_engine: Engine) -> None:
    hourly(sqlite_engine, "wl-a", "cpu_cores", 3)
    outcome = forecast_store(sqlite_engine, NAIVE, ONE, write=False)
    assert outcome.counts == {"fallback": 1, "failed": 0}
    assert len(outcome.results) == 1 and stored_rows(sqlite_engine) == []


# --- placement sizes from fresh forecasts ---------------------------------------------------


def add_workload(engine: Engine, sid: str) -> None:
    with Session(engine) as s:
        s.add(Workload(name=sid, provider="aws", region="eu-central-1", instance_type="m.xlarge",
                       replicas=1, vcpu=4, memory_gib=16.0, series_id=sid))  # fmt: skip
        s.commit()


def test_sizing_reads_fresh_forecasts_and_ignores_stale_ones(engine: Engine) -> None:
    add_workload(engine, "s-web")
    cpu = hourly(engine, "s-web", "cpu_cores", 14)
    hourly(engine, "s-web", "memory_gib", 14, seed=2)
    settings = replace(NAIVE, horizon=timedelta(days=7))
    with engine.connect() as conn:
        specs, _ = load_specs(conn, "s-web")
    with engine.begin() as conn:
        save(conn, [forecast_series(s, settings) for s in specs], [], settings)

    with engine.connect() as conn:
        usage, newest = load_usage(conn, SizingSettings())
        stored = latest(conn)
        window, _ = load_usage(conn, SizingSettings(use_forecasts=False))
    assert newest is not None and newest.replace(tzinfo=UTC) == END - HOUR
    web = usage["s-web"]
    assert "forecast" in web.basis and "next 7 days" in web.basis
    assert "seasonal-naive for CPU" in web.basis
    cs = stored["s-web", "cpu_cores"].metrics["summary"]
    ms = stored["s-web", "memory_gib"].metrics["summary"]
    assert web.cpu_p90 == cs["upper_p90"]
    assert (web.memory_p10, web.memory_p90) == (ms["lower_p10"], ms["upper_p90"])
    assert web.cpu_samples == web.memory_samples == 14 * 24  # counts still from the window
    assert window["s-web"].basis == ""
    assert window["s-web"].cpu_p90 == pytest.approx(percentile(list(cpu), 0.9))

    # A newer forecast made from data ending 3 days before the newest sample is stale.
    stale = [replace(s, values=s.values[:-72]) for s in specs]
    with engine.begin() as conn:
        save(conn, [forecast_series(s, settings) for s in stale], [], settings)
    with engine.connect() as conn:
        usage, _ = load_usage(conn, SizingSettings())
        first = latest(conn)["s-web", "cpu_cores"].metrics["first_ts"]
    assert datetime.fromisoformat(first) == END - 3 * DAY
    assert usage["s-web"] == window["s-web"]
