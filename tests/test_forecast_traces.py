"""Real public traces (../shared/data/traces): NAB CloudWatch series and a datacenter
aggregate, 5-minute samples resampled to hourly, forecast end to end."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from forecasts.job import SeriesForecast, SeriesSpec, Settings, forecast_series
from forecasts.series import Series, regularize

TRACES = Path(__file__).resolve().parents[2] / "shared" / "data" / "traces"
HOUR = timedelta(hours=1)
SETTINGS = Settings(horizon=timedelta(days=3), backtest_horizon=timedelta(days=2), origins=1)
NAB = [
    ("ec2_cpu_utilization_53ea38.csv", "cpu_pct"),
    ("rds_cpu_utilization_e47b3b.csv", "cpu_pct"),
    ("elb_request_count_8c0756.csv", "request_count"),
]


@pytest.fixture(scope="module")
def traces() -> Path:
    if not TRACES.is_dir():
        pytest.skip(f"real public traces not found at {TRACES} (../shared/data/traces)")
    return TRACES


def read(path: Path, time_column: str, value_column: str) -> tuple[list[str], list[float]]:
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    return [r[time_column] for r in rows], [float(r[value_column]) for r in rows]


def hourly(series_id: str, stamps: list[datetime], values: list[float], counter: bool) -> Series:
    s = regularize(series_id, stamps, values, step=HOUR, counter=counter)
    assert s.step == HOUR and np.isfinite(s.values).all()
    assert s.repairs.get("duplicates_averaged", 0) >= len(values) - len(s.values) > 0
    return s


def check(result: SeriesForecast, s: Series) -> None:
    assert result.status in ("ok", "fallback"), result.reason
    assert result.model in ("prophet", "seasonal-naive") and result.reason
    assert result.start == s.start + len(s.values) * HOUR
    assert len(result.p50) == 72
    for band in (result.lower, result.p50, result.upper):
        assert np.isfinite(band).all() and (band >= 0).all()
    assert (result.lower <= result.p50).all() and (result.p50 <= result.upper).all()
    assert result.metrics["history_points"] == len(s.values)
    if result.status == "ok":
        cand, base = result.metrics["candidate"], result.metrics["baseline"]
        assert result.model == ("prophet" if cand["mase"] < base["mase"] else "seasonal-naive")


@pytest.mark.parametrize(("name", "metric"), NAB)
def test_nab_cloudwatch_series(traces: Path, name: str, metric: str) -> None:
    path = traces / "nab_aws_cloudwatch" / name
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    texts, values = read(path, "timestamp", "value")
    stamps = [datetime.fromisoformat(t).replace(tzinfo=UTC) for t in texts]  # CloudWatch: UTC
    s = hourly(name, stamps, values, counter=metric.endswith("_count"))
    assert 13 <= len(s.values) / 24 <= 15  # two weeks of 5-minute samples
    result = forecast_series(SeriesSpec(name, metric, s.start, HOUR, s.values), SETTINGS)
    check(result, s)
    if metric == "cpu_pct":
        assert result.upper.max() <= 100.0


def test_azure_datacenter_aggregate(traces: Path) -> None:
    path = traces / "datacenter_aggregates" / "azure2019_v2_vm_cpu_mem_month_300s.csv"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    seconds, cpu = read(path, "timestamp", "cpu_usage")
    epoch = [float(x) for x in seconds]
    assert epoch[1] - epoch[0] == 300
    # Seconds from the trace's start: placed at the Unix epoch, a Thursday, in UTC.
    stamps = [datetime.fromtimestamp(x, tz=UTC) for x in epoch]
    s = hourly("azure2019", stamps, cpu, counter=False)
    assert len(s.values) == 30 * 24
    result = forecast_series(
        SeriesSpec("azure2019", "cpu_usage", s.start, HOUR, s.values), SETTINGS
    )
    check(result, s)
    assert result.status == "ok"
    # A month of an aggregate that moves by a few percent: the forecast stays in its range.
    low, high = float(s.values.min()), float(s.values.max())
    assert low * 0.5 < float(np.median(result.p50)) < high * 1.5


def test_exactly_two_weeks_with_the_default_backtest(traces: Path) -> None:
    # 336 hours: too short for one 7-day origin after a week, so the baseline, not a failure.
    path = traces / "nab_aws_cloudwatch" / "rds_cpu_utilization_e47b3b.csv"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    texts, values = read(path, "timestamp", "value")
    stamps = [datetime.fromisoformat(t).replace(tzinfo=UTC) for t in texts]
    s = hourly("rds", stamps, values, counter=False)
    assert len(s.values) == 14 * 24
    settings = Settings(horizon=timedelta(days=3))
    result = forecast_series(SeriesSpec("rds", "cpu_pct", s.start, HOUR, s.values), settings)
    check(result, s)
    assert (result.status, result.model) == ("fallback", "seasonal-naive")
    assert "168-step backtest" in result.reason
