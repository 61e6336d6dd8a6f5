"""One series start to finish (forecasts.job): the model chosen and why, fallbacks,
failures that come back as results, spend anomalies."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from forecasts.baseline import SeasonalNaive
from forecasts.job import SeriesForecast, SeriesSpec, Settings, backtest_series, forecast_series
from forecasts.protocol import Context

START = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday
HOUR, DAY = timedelta(hours=1), timedelta(days=1)
# Short horizons keep each fit cheap; the rules do not depend on them.
FAST = Settings(horizon=timedelta(days=3), backtest_horizon=timedelta(days=2))
CHOSEN = re.compile(
    r"^prophet MASE (\d+\.\d{3}) (<|≥) seasonal-naive (\d+\.\d{3})(: baseline kept)? "
    r"over (\d) origin\(s\)$"
)


def trending(days: int = 21, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(days * 24)
    season = 3 * np.sin(2 * np.pi * t / 24) + 2 * np.sin(2 * np.pi * t / 168)
    return 10 + season + 0.03 * t + rng.normal(0, 0.3, len(t))


def business_hours(days: int = 21, seed: int = 3) -> np.ndarray:
    """A pure weekly square wave (busy 9-17 on weekdays) with a little noise, no trend."""
    rng = np.random.default_rng(seed)
    t = np.arange(days * 24)
    hour, weekday = t % 24, (t // 24) % 7
    busy = (hour >= 9) & (hour < 17) & (weekday < 5)
    return np.where(busy, 20.0, 5.0) + rng.normal(0, 0.2, len(t))


def spec(values: np.ndarray, metric: str = "cpu_cores", step: timedelta = HOUR) -> SeriesSpec:
    return SeriesSpec("wl-1", metric, START, step, np.asarray(values, dtype=np.float64))


def assert_forecast(r: SeriesForecast, values: np.ndarray, settings: Settings = FAST) -> None:
    n = int(settings.horizon / r.step)
    assert r.start == START + len(values) * r.step
    assert len(r.lower) == len(r.p50) == len(r.upper) == n
    assert np.isfinite(r.p50).all()
    assert (r.lower <= r.p50).all() and (r.p50 <= r.upper).all()
    assert r.metrics["history_points"] == len(values)


def test_trending_seasonal_series_picks_prophet_and_names_both_mases() -> None:
    y = trending()
    r = forecast_series(spec(y), FAST)
    assert (r.status, r.model) == ("ok", "prophet")
    found = CHOSEN.match(r.reason)
    assert found, r.reason
    cand, base = r.metrics["candidate"], r.metrics["baseline"]
    assert (cand["model"], base["model"]) == ("prophet", "seasonal-naive")
    assert found.group(1) == f"{cand['mase']:.3f}" and found.group(2) == "<"
    assert found.group(3) == f"{base['mase']:.3f}"
    assert cand["mase"] < base["mase"]
    assert int(found.group(5)) == r.metrics["origins"] == FAST.origins
    assert 0 <= cand["coverage"] <= 1 and 0 <= cand["smape"] <= 200
    assert_forecast(r, y)
    # Prophet extends the trend; repeating last week would not.
    assert r.p50.mean() > y[-168:].mean()


def test_the_lower_mase_wins_and_a_square_wave_keeps_the_baseline() -> None:
    y = business_hours()
    r = forecast_series(spec(y), FAST)
    cand, base = r.metrics["candidate"], r.metrics["baseline"]
    assert r.status == "ok"
    assert r.model == ("prophet" if cand["mase"] < base["mase"] else "seasonal-naive")
    # Prophet's smooth seasonality cannot follow the sharp edges seasonal-naive repeats.
    assert r.model == "seasonal-naive" and r.reason.endswith("baseline kept over 2 origin(s)")
    assert CHOSEN.match(r.reason), r.reason
    expected = SeasonalNaive(168).forecast(y, len(r.p50), Context(START, HOUR))
    assert np.array_equal(r.p50, expected.p50)


def test_backtest_series_reports_the_choice_without_a_forecast() -> None:
    y = trending()
    r = backtest_series(spec(y), FAST)
    assert (r.status, r.model) == ("ok", "prophet") and CHOSEN.match(r.reason)
    assert r.start is None and len(r.p50) == 0
    assert r.metrics["candidate"]["mase"] < r.metrics["baseline"]["mase"]


def test_short_history_falls_back_with_its_reason() -> None:
    y = trending(days=10)
    r = forecast_series(spec(y), FAST)
    assert (r.status, r.model) == ("fallback", "seasonal-naive")
    assert r.reason == "10.0 days of history, under 14: seasonal-naive used"
    assert "candidate" not in r.metrics
    assert_forecast(r, y)
    assert np.array_equal(r.p50[:168], y[-168:][: len(r.p50)])  # last week repeated
    # Under a week: the last day repeats.
    three = forecast_series(spec(y[:72]), FAST)
    assert three.status == "fallback" and np.array_equal(three.p50[:24], y[48:72])


def test_flat_history_falls_back() -> None:
    y = np.full(20 * 24, 3.0)
    r = forecast_series(spec(y), FAST)
    assert (r.status, r.model) == ("fallback", "seasonal-naive")
    assert r.reason == "flat history (every value 3): seasonal-naive used"
    assert_forecast(r, y)
    assert (r.p50 == 3.0).all() and (r.lower == 3.0).all() and (r.upper == 3.0).all()


def test_step_shaped_history_falls_back() -> None:
    # A daily price that changed twice in 60 days: 57 of 59 steps unchanged.
    y = np.concatenate([np.full(20, 1.5), np.full(20, 1.75), np.full(20, 1.6)])
    r = forecast_series(spec(y, metric="spend", step=DAY), FAST)
    assert (r.status, r.model) == ("fallback", "seasonal-naive")
    assert r.reason == "flat history (97% of steps unchanged): seasonal-naive used"
    assert len(r.p50) == 3 and r.step == DAY


def test_exactly_fourteen_days_falls_back_instead_of_failing() -> None:
    # 336 hours: a week of history before a week-long backtest origin needs one more step.
    y = trending(days=14)
    r = forecast_series(spec(y), Settings(horizon=timedelta(days=1)))
    assert (r.status, r.model) == ("fallback", "seasonal-naive"), r.reason
    assert r.reason == "336 points, under 169 + a 168-step backtest: seasonal-naive used"
    assert_forecast(r, y, Settings(horizon=timedelta(days=1)))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_values_fail_with_a_reason_not_an_exception(bad: float) -> None:
    y = trending(days=15)
    y[40] = bad
    for job in (forecast_series, backtest_series):
        r = job(spec(y), FAST)
        assert (r.status, r.model, r.start) == ("failed", None, None)
        assert r.reason.startswith("ValueError: the series has no values or non-finite ones")
        assert len(r.p50) == 0 and r.anomalies == ()


def test_empty_series_fails() -> None:
    r = forecast_series(spec(np.zeros(0)), FAST)
    assert r.status == "failed" and "no values" in r.reason


def daily_spend(days: int = 42, seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(days)
    return 100 + 30 * ((t % 7) < 5) + 0.5 * t + rng.normal(0, 2, days)


def test_spend_spike_in_the_last_two_weeks_is_flagged() -> None:
    y = daily_spend()
    spike = len(y) - 5
    y[spike] += 300
    r = forecast_series(spec(y, metric="spend", step=DAY), FAST)
    assert r.status == "ok" and r.model is not None
    assert len(r.p50) == 3
    at = START + spike * DAY
    flagged = {a.ts: a for a in r.anomalies}
    assert at in flagged
    a = flagged[at]
    assert a.actual == pytest.approx(y[spike]) and a.actual > a.upper
    assert a.excess == pytest.approx(a.actual - a.upper) and a.excess > 100
    assert max(flagged.values(), key=lambda x: x.excess) is a
    assert all(START + (len(y) - 14) * DAY <= ts < START + len(y) * DAY for ts in flagged)


def test_only_spend_gets_anomaly_checks() -> None:
    y = daily_spend()
    y[-5] += 300
    r = forecast_series(
        spec(y, metric="cpu_cores", step=DAY), replace(FAST, candidate="seasonal-naive")
    )
    assert r.anomalies == ()


def test_seasonal_naive_candidate_skips_the_backtest() -> None:
    y = trending()
    settings = replace(FAST, candidate="seasonal-naive")
    r = forecast_series(spec(y), settings)
    assert (r.status, r.model, r.reason) == (
        "fallback",
        "seasonal-naive",
        "seasonal-naive asked for",
    )
    assert "candidate" not in r.metrics
    assert_forecast(r, y)
    b = backtest_series(spec(y), settings)
    assert (b.status, b.model, b.reason) == (
        "fallback",
        "seasonal-naive",
        "seasonal-naive asked for",
    )


def test_percent_forecasts_stay_in_bounds_whatever_the_model() -> None:
    # Seasonal-naive's band around a series near 100% would cross it; clipping keeps it in.
    rng = np.random.default_rng(8)
    y = np.clip(95 + rng.normal(0, 4, 10 * 24), 0, 100)
    r = forecast_series(spec(y, metric="cpu_pct"), FAST)
    assert r.status == "fallback"
    assert r.upper.max() <= 100.0 and r.lower.min() >= 0.0
