"""ProphetForecaster on synthetic series whose truth is known: accuracy against the
seasonal-naive baseline, the band, determinism, bounds, clipping, outliers, holidays."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from forecasts.baseline import SeasonalNaive
from forecasts.kinds import kind_of
from forecasts.metrics import mase
from forecasts.prophet_backend import ProphetForecaster, outlier_mask
from forecasts.protocol import Context, Prediction

START = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday
HOUR, DAY = timedelta(hours=1), timedelta(days=1)
WEEK = 168
CTX = Context(START, HOUR)


def seasonal(days: int, trend: float = 0.0, noise: float = 0.3, seed: int = 0) -> np.ndarray:
    """Hourly: level 10, a daily (±3) and a weekly (±2) season, a linear trend per hour."""
    rng = np.random.default_rng(seed)
    t = np.arange(days * 24)
    daily = 3 * np.sin(2 * np.pi * t / 24)
    weekly = 2 * np.sin(2 * np.pi * t / WEEK)
    return 10 + daily + weekly + trend * t + rng.normal(0, noise, len(t))


def assert_band(pred: Prediction, horizon: int) -> None:
    assert len(pred.p50) == horizon
    for a in (pred.lower, pred.p50, pred.upper):
        assert np.isfinite(a).all()
    assert (pred.lower <= pred.p50).all() and (pred.p50 <= pred.upper).all()


@pytest.fixture(scope="module")
def trend() -> tuple[np.ndarray, np.ndarray, Prediction]:
    """35 days of a trending seasonal series, the 7 days after, and Prophet's forecast."""
    y = seasonal(42, trend=0.02)
    history, future = y[: 35 * 24], y[35 * 24 :]
    return history, future, ProphetForecaster().forecast(history, len(future), CTX)


def test_p50_tracks_a_trend_far_better_than_seasonal_naive(
    trend: tuple[np.ndarray, np.ndarray, Prediction],
) -> None:
    history, future, pred = trend
    naive = SeasonalNaive(WEEK).forecast(history, len(future), CTX)
    prophet_mase = mase(future, pred.p50, history, WEEK)
    naive_mase = mase(future, naive.p50, history, WEEK)
    assert prophet_mase is not None and naive_mase is not None
    # The baseline repeats last week and misses a week of growth; Prophet extends it.
    assert prophet_mase < 0.5 * naive_mase
    assert float(np.mean(np.abs(pred.p50 - future))) < 1.0
    assert pred.model == "prophet" and pred.level == 0.8


def test_band_holds_the_median_and_most_of_the_truth(
    trend: tuple[np.ndarray, np.ndarray, Prediction],
) -> None:
    _, future, pred = trend
    assert_band(pred, len(future))
    assert (pred.upper - pred.lower).mean() > 0
    inside = np.mean((future >= pred.lower) & (future <= pred.upper))
    assert inside > 0.5  # an 80% band on a series Prophet describes well


def test_same_input_gives_bit_identical_output(
    trend: tuple[np.ndarray, np.ndarray, Prediction],
) -> None:
    history, future, first = trend
    again = ProphetForecaster().forecast(history.copy(), len(future), CTX)
    for a, b in ((first.lower, again.lower), (first.p50, again.p50), (first.upper, again.upper)):
        assert np.array_equal(a, b)
    assert first.notes == again.notes


def test_percent_metric_stays_under_100_with_a_strong_upward_trend() -> None:
    t = np.arange(28 * 24)
    noise = np.random.default_rng(5).normal(0, 1, len(t))  # Stan crawls on a noise-free fit
    y = np.minimum(40 + 0.12 * t + 5 * np.sin(2 * np.pi * t / 24) + noise, 99.0)  # up to 99
    bounds = kind_of("cpu_pct").bounds
    assert bounds == (0.0, 100.0)
    bounded = ProphetForecaster(bounds=bounds).forecast(y, 14 * 24, CTX)
    assert_band(bounded, 14 * 24)
    assert bounded.upper.max() <= 100.0 and bounded.lower.min() >= 0.0
    # Without the logistic cap, the same trend forecasts more than 100%.
    linear = ProphetForecaster().forecast(y, 14 * 24, CTX)
    assert linear.upper.max() > 100.0


def test_demand_is_clipped_at_zero() -> None:
    t = np.arange(28 * 24)
    noise = np.random.default_rng(6).normal(0, 0.5, len(t))
    y = 50 - 0.1 * t + 3 * np.sin(2 * np.pi * t / 24) + noise  # ~-17 in two weeks' time
    clipped = ProphetForecaster().forecast(y, 14 * 24, CTX)
    assert_band(clipped, 14 * 24)
    assert clipped.lower.min() == 0.0 and clipped.p50.min() == 0.0
    free = ProphetForecaster(nonnegative=False).forecast(y, 14 * 24, CTX)
    assert free.p50.min() < 0  # the clipping did something


def test_outlier_mask_needs_two_seasons_and_a_positive_threshold() -> None:
    y = seasonal(13)  # under two weeks
    y[50] += 100
    assert not outlier_mask(y, WEEK, 6.0).any()
    assert not outlier_mask(seasonal(28), WEEK, 0.0).any()
    assert not outlier_mask(seasonal(28), 1, 6.0).any()


def test_injected_spikes_are_found_and_left_out_of_the_fit() -> None:
    clean = seasonal(28, seed=1)
    spiked = clean.copy()
    spikes = [100, 300, 500]
    spiked[spikes] += 80
    mask = outlier_mask(spiked, WEEK, 6.0)
    assert mask[spikes].all()
    assert not outlier_mask(clean, WEEK, 6.0)[spikes].any()

    ignored = ProphetForecaster().forecast(spiked, 48, CTX)
    baseline = ProphetForecaster().forecast(clean, 48, CTX)
    fitted = ProphetForecaster(outlier_mads=0).forecast(spiked, 48, CTX)
    assert ignored.notes["outliers_ignored"] == int(mask.sum()) >= len(spikes)
    assert "outliers_ignored" not in fitted.notes
    # Ignoring the spikes gives (nearly) the clean series' forecast; fitting them does not.
    ignored_shift = float(np.abs(ignored.p50 - baseline.p50).max())
    fitted_shift = float(np.abs(fitted.p50 - baseline.p50).max())
    assert ignored_shift < 0.1 < fitted_shift


def test_us_holidays() -> None:
    # December with a dip on Christmas Day; the forecast runs into New Year's Day.
    start = datetime(2025, 12, 1, tzinfo=UTC)
    y = seasonal(28, seed=2)
    y[24 * 24 : 25 * 24] -= 5
    ctx = Context(start, HOUR)
    with_holidays = ProphetForecaster(holidays_country="US").forecast(y, 96, ctx)
    assert_band(with_holidays, 96)
    plain = ProphetForecaster().forecast(y, 96, ctx)
    assert not np.array_equal(with_holidays.p50, plain.p50)


def test_daily_step_spend_series() -> None:
    rng = np.random.default_rng(4)
    t = np.arange(42)
    weekday = (t % 7) < 5  # START is a Monday
    y = 100 + 30 * weekday + 0.8 * t + rng.normal(0, 2, len(t))
    pred = ProphetForecaster(fit_window=28).forecast(y, 7, Context(START, DAY))
    assert_band(pred, 7)
    # Day 42 is a Monday again: five busy days, then a quiet weekend, above the history's level.
    assert pred.p50[:5].min() > pred.p50[5:].max()
    assert pred.p50[:5].mean() > y[:5].mean() + 20
