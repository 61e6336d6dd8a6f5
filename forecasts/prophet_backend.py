"""Prophet behind the `Forecaster` protocol, with the settings that keep it cheap and sane.

Why each setting (issue #4 §1; timings in bench/RESULTS.md):
- MAP fitting (Prophet's default, `mcmc_samples=0`): full MCMC is minutes per series.
- `fit_window`: only the last N steps are fitted (default 28 days of hourly data). The
  horizon is days to weeks, which weekly and daily seasonality over four weeks describe;
  fitting 90 days costs three times as much, and the backtest decides whether it pays.
- `uncertainty_samples` (default 200, Prophet's is 1000): prediction, not fitting,
  dominates Prophet's cost through this sampling (../shared/docs/testing-notes.md §2).
- Outliers: points further than `outlier_mads` robust deviations from the median of
  their hour of the week (or day of the week) are left out of the fit, as Prophet's
  documentation recommends (missing `y` rows are simply not fitted); their count is
  returned in `Prediction.notes`.
- Bounded metrics (utilization %) use logistic growth between `bounds`, so a trend cannot
  forecast 140% CPU; other metrics are clipped at 0 (demand is never negative).
- Deterministic: the Stan optimiser starts from Prophet's fixed initial values, and the
  uncertainty sampling draws from numpy's global generator seeded with `seed` on every
  call, so a series forecasts the same in any process, pool or Dask worker.
- Quiet: cmdstanpy's INFO chatter and Prophet's plotly warning are silenced.

Prophet and pandas are imported lazily so that importing `forecasts` stays cheap for the
commands that never forecast.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np

from forecasts.protocol import HOURLY, Context, Prediction

DAY = timedelta(days=1)
WEEK = timedelta(days=7)


def _quiet() -> None:
    # cmdstanpy re-arms its own INFO handler on first use, so a level is not enough.
    logging.getLogger("cmdstanpy").disabled = True
    for name in ("prophet", "prophet.plot", "prophet.models"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def outlier_mask(y: np.ndarray, period: int, mads: float) -> np.ndarray:
    """True where a point is further than `mads` robust deviations from the median of its
    position in the season (hour of the week). The deviation's scale is ONE median
    absolute deviation over the whole series: with four weeks there are only four points
    per hour of the week, too few to scale each on its own. Needs two full seasons."""
    n = len(y)
    if period < 2 or n < 2 * period or mads <= 0:
        return np.zeros(n, dtype=bool)
    phase = np.arange(n) % period
    medians = np.array([np.median(y[phase == p]) for p in range(period)])
    residual = y - medians[phase]
    scale = float(np.median(np.abs(residual - np.median(residual)))) * 1.4826
    if scale <= 0:
        return np.zeros(n, dtype=bool)
    return np.asarray(np.abs(residual) > mads * scale, dtype=bool)


@dataclass(frozen=True)
class ProphetForecaster:
    """Prophet with daily and weekly seasonality, optional holidays and logistic bounds."""

    fit_window: int | None = 28 * 24  # steps fitted; None = the whole history
    uncertainty_samples: int = 200
    bounds: tuple[float, float] | None = None  # (floor, cap) → logistic growth
    nonnegative: bool = True  # clip the forecast at 0 (demand, counts, spend)
    holidays_country: str | None = None
    outlier_mads: float = 6.0
    changepoint_prior_scale: float = 0.05
    seed: int = 0
    name: str = "prophet"

    def forecast(self, history: np.ndarray, horizon: int, context: Context = HOURLY) -> Prediction:
        import pandas as pd

        _quiet()
        from prophet import Prophet

        _quiet()

        y = np.asarray(history, dtype=np.float64)
        first = 0 if self.fit_window is None else max(0, len(y) - self.fit_window)
        fitted = y[first:].copy()
        step = context.step
        season = int(WEEK / step) if step <= DAY else 0
        outliers = outlier_mask(fitted, season, self.outlier_mads) if season else None
        notes: dict[str, int] = {}
        if outliers is not None and outliers.any():
            notes["outliers_ignored"] = int(outliers.sum())
            fitted[outliers] = np.nan
        span = step * len(fitted)
        model = Prophet(
            growth="logistic" if self.bounds else "linear",
            daily_seasonality=step < DAY and span >= 2 * DAY,
            weekly_seasonality=step <= DAY and span >= 2 * WEEK,
            yearly_seasonality=False,
            uncertainty_samples=self.uncertainty_samples,
            interval_width=context.level,
            changepoint_prior_scale=self.changepoint_prior_scale,
        )
        if self.holidays_country:
            model.add_country_holidays(country_name=self.holidays_country)
        start = context.start + first * step
        stamps = pd.date_range(start, periods=len(fitted) + horizon, freq=step).tz_localize(None)
        frame = pd.DataFrame({"ds": stamps[: len(fitted)], "y": fitted})
        future = pd.DataFrame({"ds": stamps[len(fitted) :]})
        if self.bounds:
            floor, cap = self.bounds
            top = float(np.nanmax(fitted)) if np.isfinite(fitted).any() else cap
            cap = max(cap, top * 1.0001, floor + 1e-6)
            for df in (frame, future):
                df["floor"], df["cap"] = floor, cap
        with warnings.catch_warnings():
            # Logistic growth overflows exp() far from the cap; the results stay finite.
            warnings.simplefilter("ignore", RuntimeWarning)
            model.fit(frame)
            np.random.seed(self.seed)
            out: Any = model.predict(future)
        p50 = out["yhat"].to_numpy(dtype=np.float64)
        if self.uncertainty_samples > 0:
            lower = out["yhat_lower"].to_numpy(dtype=np.float64)
            upper = out["yhat_upper"].to_numpy(dtype=np.float64)
        else:
            lower, upper = p50.copy(), p50.copy()
        if self.bounds or self.nonnegative:
            low_limit = self.bounds[0] if self.bounds else 0.0
            lower, p50, upper = (np.maximum(a, low_limit) for a in (lower, p50, upper))
        if self.bounds:
            lower, p50, upper = (np.minimum(a, self.bounds[1]) for a in (lower, p50, upper))
        lower, upper = np.minimum(lower, p50), np.maximum(upper, p50)
        return Prediction(lower, p50, upper, self.name, context.level, notes)
