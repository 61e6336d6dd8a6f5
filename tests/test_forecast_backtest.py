"""The rolling-origin backtest: origins, pooling, and the choice of model."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from forecasts.backtest import backtest, origins_for
from forecasts.protocol import HOURLY, Context, Prediction


@dataclass(frozen=True)
class Oracle:
    """Knows the future: a perfect forecaster over a known series."""

    truth: np.ndarray
    name: str = "oracle"

    def forecast(self, history: np.ndarray, horizon: int, context: Context = HOURLY) -> Prediction:
        future = self.truth[len(history) : len(history) + horizon]
        return Prediction(future - 1, future, future + 1, self.name)


@dataclass(frozen=True)
class Constant:
    value: float
    name: str = "constant"

    def forecast(self, history: np.ndarray, horizon: int, context: Context = HOURLY) -> Prediction:
        p = np.full(horizon, self.value)
        return Prediction(p, p, p, self.name)


def test_origins_are_horizon_apart_and_leave_history() -> None:
    assert origins_for(100, 10, 3, 20) == [70, 80, 90]
    assert origins_for(35, 10, 3, 20) == [25]
    assert origins_for(25, 10, 3, 20) == []


def test_a_better_model_wins_and_says_why() -> None:
    t = np.arange(24 * 28)
    y = 10 + 5 * np.sin(2 * np.pi * t / 24) + 0.01 * t  # daily season with a trend
    result = backtest(y, Oracle(y), period=24, horizon=24, origins=3)
    assert result.origins == 3
    assert result.candidate.mase == 0.0 and result.candidate.coverage == 1.0
    assert result.baseline.mase is not None and result.baseline.mase > 0
    assert result.winner == "oracle" and "MASE 0.000 < seasonal-naive" in result.why


def test_a_worse_model_loses_to_the_baseline() -> None:
    t = np.arange(24 * 28)
    y = 10 + 5 * np.sin(2 * np.pi * t / 24)
    result = backtest(y, Constant(0.0), period=24, horizon=24)
    assert result.winner == "seasonal-naive" and "baseline kept" in result.why
    # The seasonal-naive forecast of a pure season is exact.
    assert result.baseline.smape == pytest.approx(0.0, abs=1e-9)


def test_flat_history_keeps_the_baseline_and_short_history_is_refused() -> None:
    flat = np.full(24 * 10, 3.0)
    result = backtest(flat, Constant(3.0), period=24, horizon=24)
    assert result.winner == "seasonal-naive" and "undefined" in result.why
    with pytest.raises(ValueError, match="too short to backtest"):
        backtest(np.ones(30), Constant(1.0), period=24, horizon=24)
