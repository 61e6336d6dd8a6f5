"""One series, start to finish: fall back or backtest, choose the model, forecast.

`forecast_series` is the unit of work every engine runs (in this process, a process pool
or a Dask worker): its inputs and outputs are plain frozen dataclasses of numpy arrays,
cheap to pickle, and it never raises: a failure comes back as `status="failed"` with the
reason, so one bad series cannot lose the others (issue #4 §3).

The rules (design.md §5):
- under `min_days` (14) of history, a flat history, or too few points for one backtest
  origin: seasonal-naive, with that reason;
- otherwise a rolling-origin backtest of Prophet against seasonal-naive on the same
  origins; the lower MASE wins, and a tie keeps the baseline;
- a choice made by a backtest less than `reselect_days` (7) ago is reused without
  re-running it (the model of a series rarely changes overnight, and the backtest is
  most of the cost); the reason then names the backtest's date;
- spend series also get anomaly flags: the last `anomaly_days` are forecast from the
  days before them at a 95% band, and actuals outside it are flagged.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from forecasts.backtest import Backtest, backtest, origins_for
from forecasts.baseline import SeasonalNaive
from forecasts.kinds import kind_of
from forecasts.prophet_backend import ProphetForecaster
from forecasts.protocol import Context, Forecaster, Prediction

DAY = timedelta(days=1)
WEEK = timedelta(days=7)
FLAT_SHARE = 0.9  # a history this share of whose steps are unchanged is flat


@dataclass(frozen=True)
class Settings:
    """How every series is forecast; the defaults are the ones bench/forecast.py chose."""

    horizon: timedelta = timedelta(days=30)
    backtest_horizon: timedelta = timedelta(days=7)
    origins: int = 2
    min_days: int = 14
    level: float = 0.8
    anomaly_level: float = 0.95
    anomaly_days: int = 14
    fit_window_days: int | None = 28
    uncertainty_samples: int = 200
    holidays_country: str | None = None
    candidate: str = "prophet"  # "prophet" or "seasonal-naive" (baseline only)
    reselect_days: int = 7  # reuse a backtest's choice this long; 0 = backtest every run


@dataclass(frozen=True)
class PriorChoice:
    """The model a recent backtest chose for the series, and what it measured."""

    model: str
    chosen_at: datetime
    why: str
    metrics: dict[str, Any]


@dataclass(frozen=True)
class SeriesSpec:
    series_id: str
    metric: str
    start: datetime  # UTC, first sample
    step: timedelta
    values: np.ndarray
    repairs: dict[str, int] = field(default_factory=dict)
    prior: PriorChoice | None = None  # reused instead of a backtest when recent enough


@dataclass(frozen=True)
class Anomaly:
    ts: datetime
    actual: float
    lower: float
    upper: float

    @property
    def excess(self) -> float:
        """How far outside the band, in the metric's unit (USD for spend)."""
        return self.actual - self.upper if self.actual > self.upper else self.lower - self.actual


@dataclass(frozen=True)
class SeriesForecast:
    series_id: str
    metric: str
    status: str  # ok | fallback | failed
    model: str | None
    reason: str
    start: datetime | None  # first forecast step
    step: timedelta
    lower: np.ndarray
    p50: np.ndarray
    upper: np.ndarray
    metrics: dict[str, Any] = field(default_factory=dict)
    anomalies: tuple[Anomaly, ...] = ()
    seconds: float = 0.0

    def timestamps(self) -> list[datetime]:
        assert self.start is not None
        return [self.start + i * self.step for i in range(len(self.p50))]


def steps(span: timedelta, step: timedelta) -> int:
    return max(1, int(span / step))


def season_of(n: int, step: timedelta) -> int:
    """The baseline's period: a week when the history holds one, else a day, else 1 (the
    last value repeated), in steps."""
    week, day = steps(WEEK, step), steps(DAY, step)
    return week if n >= week else (day if n >= day else 1)


def candidate_for(spec: SeriesSpec, settings: Settings) -> Forecaster:
    kind = kind_of(spec.metric)
    window = None
    if settings.fit_window_days is not None:
        window = steps(timedelta(days=settings.fit_window_days), spec.step)
    return ProphetForecaster(
        fit_window=window,
        uncertainty_samples=settings.uncertainty_samples,
        bounds=kind.bounds,
        nonnegative=kind.nonnegative,
        holidays_country=settings.holidays_country,
    )


def _fallback_reason(y: np.ndarray, spec: SeriesSpec, settings: Settings) -> str | None:
    days = len(y) * spec.step / DAY
    if days < settings.min_days:
        return f"{days:.1f} days of history, under {settings.min_days}: seasonal-naive used"
    tolerance = 1e-9 * max(1.0, abs(float(np.mean(y))))
    if float(np.ptp(y)) <= tolerance:
        return f"flat history (every value {y[0]:g}): seasonal-naive used"
    unchanged = float(np.mean(np.abs(np.diff(y)) <= tolerance))
    if unchanged >= FLAT_SHARE:
        # Step-shaped (a price per day that changes monthly): nothing for Prophet to learn,
        # and its optimiser crawls on near-zero residuals.
        return f"flat history ({unchanged:.0%} of steps unchanged): seasonal-naive used"
    if settings.candidate == "seasonal-naive":
        return "seasonal-naive asked for"
    return None


def _score_dict(bt: Backtest, settings: Settings) -> dict[str, Any]:
    def one(s: Any) -> dict[str, Any]:
        return {"model": s.model, "mase": s.mase, "smape": s.smape, "coverage": s.coverage}

    return {
        "origins": bt.origins,
        "candidate": one(bt.candidate),
        "baseline": one(bt.baseline),
        "backtest_horizon_hours": int(settings.backtest_horizon / timedelta(hours=1)),
    }


def _choose(
    y: np.ndarray, spec: SeriesSpec, settings: Settings, baseline: SeasonalNaive
) -> tuple[Forecaster, str, str, dict[str, Any]]:
    """(model, status, why, metrics): the backtest winner, or the baseline with a reason."""
    reason = _fallback_reason(y, spec, settings)
    if reason:
        return baseline, "fallback", reason, {}
    horizon = steps(settings.backtest_horizon, spec.step)
    need = baseline.period + 1
    if not origins_for(len(y), horizon, settings.origins, need):
        # e.g. exactly 14 days: a week of history before a week-long origin needs one more step.
        why = f"{len(y)} points, under {need} + a {horizon}-step backtest: seasonal-naive used"
        return baseline, "fallback", why, {}
    candidate = candidate_for(spec, settings)
    prior = spec.prior
    if prior is not None and settings.reselect_days > 0:
        chosen = {candidate.name: candidate, baseline.name: baseline}.get(prior.model)
        if chosen is not None:
            day = prior.chosen_at.date().isoformat()
            why = f"{prior.why} (backtest of {day}, re-run every {settings.reselect_days} days)"
            return chosen, "ok", why, {**prior.metrics, "chosen_at": prior.chosen_at.isoformat()}
    ctx = Context(spec.start, spec.step, settings.level)
    bt = backtest(y, candidate, baseline.period, horizon, settings.origins, need, ctx)
    model: Forecaster = candidate if bt.winner == candidate.name else baseline
    why = f"{bt.why} over {bt.origins} origin(s)"
    return model, "ok", why, {**_score_dict(bt, settings), "backtest_why": why}


def clip(pred: Prediction, metric: str) -> Prediction:
    """Keep every model's forecast inside what the metric can be (forecasts.kinds)."""
    kind = kind_of(metric)
    low, high = kind.bounds if kind.bounds else (0.0 if kind.nonnegative else -np.inf, np.inf)
    lower, p50, upper = (np.clip(a, low, high) for a in (pred.lower, pred.p50, pred.upper))
    return Prediction(lower, p50, upper, pred.model, pred.level, pred.notes)


def _anomalies(
    y: np.ndarray, spec: SeriesSpec, model: Forecaster, settings: Settings
) -> tuple[Anomaly, ...]:
    recent = steps(timedelta(days=settings.anomaly_days), spec.step)
    if len(y) - recent < 2 * season_of(len(y) - recent, spec.step):
        return ()
    ctx = Context(spec.start, spec.step, settings.anomaly_level)
    pred = model.forecast(y[:-recent], recent, ctx)
    first = len(y) - recent
    return tuple(
        Anomaly(spec.start + (first + i) * spec.step, float(a), float(lo), float(hi))
        for i, (a, lo, hi) in enumerate(zip(y[first:], pred.lower, pred.upper, strict=True))
        if a < lo or a > hi
    )


def _history(spec: SeriesSpec) -> np.ndarray:
    y = np.asarray(spec.values, dtype=np.float64)
    if len(y) == 0 or not np.isfinite(y).all():
        raise ValueError("the series has no values or non-finite ones (regularize it first)")
    return y


def failed_result(spec: SeriesSpec, reason: str, seconds: float = 0.0) -> SeriesForecast:
    """A series that could not be forecast: no points, the reason kept."""
    empty = np.zeros(0)
    return SeriesForecast(
        spec.series_id, spec.metric, "failed", None, reason,
        None, spec.step, empty, empty, empty, {}, (), seconds,
    )  # fmt: skip


def _failed(spec: SeriesSpec, exc: Exception, began: float) -> SeriesForecast:
    return failed_result(spec, f"{type(exc).__name__}: {exc}", time.perf_counter() - began)


def forecast_series(spec: SeriesSpec, settings: Settings) -> SeriesForecast:
    """The whole job for one series; never raises (see module doc)."""
    began = time.perf_counter()
    try:
        y = _history(spec)
        baseline = SeasonalNaive(season_of(len(y), spec.step))
        model, status, why, metrics = _choose(y, spec, settings, baseline)
        ctx = Context(spec.start, spec.step, settings.level)
        pred = clip(model.forecast(y, steps(settings.horizon, spec.step), ctx), spec.metric)
        flagged = _anomalies(y, spec, model, settings) if kind_of(spec.metric).spend else ()
        if spec.repairs:
            metrics["repairs"] = dict(spec.repairs)
        if pred.notes:
            metrics["notes"] = dict(pred.notes)
        metrics["history_points"] = len(y)
        return SeriesForecast(
            spec.series_id, spec.metric, status, pred.model, why,
            spec.start + len(y) * spec.step, spec.step,
            pred.lower, pred.p50, pred.upper, metrics, flagged,
            time.perf_counter() - began,
        )  # fmt: skip
    except Exception as exc:
        return _failed(spec, exc, began)


def backtest_series(spec: SeriesSpec, settings: Settings) -> SeriesForecast:
    """Only the choice (`forecast backtest`): the backtest's metrics, no forecast."""
    began = time.perf_counter()
    try:
        y = _history(spec)
        baseline = SeasonalNaive(season_of(len(y), spec.step))
        model, status, why, metrics = _choose(y, spec, settings, baseline)
        metrics["history_points"] = len(y)
        empty = np.zeros(0)
        return SeriesForecast(
            spec.series_id, spec.metric, status, model.name, why, None, spec.step,
            empty, empty, empty, metrics, (), time.perf_counter() - began,
        )  # fmt: skip
    except Exception as exc:
        return _failed(spec, exc, began)
