"""Backtest metrics and the seasonal-naive baseline, against values worked by hand."""

from __future__ import annotations

import numpy as np
import pytest

from forecasts.baseline import SeasonalNaive
from forecasts.metrics import coverage, mase, smape


def test_mase_by_hand() -> None:
    history = [1.0, 2.0, 3.0, 2.0, 4.0, 5.0]  # period 3: |2-1|, |4-2|, |5-3| -> scale 5/3
    assert mase([3.0, 5.0], [2.0, 5.0], history, period=3) == pytest.approx(0.5 / (5 / 3))


def test_mase_undefined_on_a_flat_season_and_needs_history() -> None:
    assert mase([1.0], [2.0], [1.0, 1.0, 1.0, 1.0], period=2) is None
    with pytest.raises(ValueError, match="more than one season"):
        mase([1.0], [1.0], [1.0, 2.0], period=2)


def test_smape_by_hand() -> None:
    # 2|100-110|/(210) = 0.095238..., 2|0-0|/0 -> 0, 2|50-25|/75 = 0.6667
    assert smape([100.0, 0.0, 50.0], [110.0, 0.0, 25.0]) == pytest.approx(
        (20 / 210 + 0 + 50 / 75) / 3 * 100
    )
    with pytest.raises(ValueError, match="differ in length"):
        smape([1.0], [1.0, 2.0])


def test_coverage_by_hand() -> None:
    assert coverage([1.0, 5.0, 3.0, 9.0], [0.0, 0.0, 3.0, 0.0], [2.0, 4.0, 3.0, 10.0]) == 0.75


def test_seasonal_naive_repeats_the_last_season_with_its_own_error_band() -> None:
    y = np.array([1.0, 2.0, 3.0, 2.0, 4.0, 5.0, 3.0, 3.0, 7.0])  # period 3
    p = SeasonalNaive(period=3).forecast(y, horizon=5)
    assert p.p50.tolist() == [3.0, 3.0, 7.0, 3.0, 3.0]
    errors = y[3:] - y[:-3]  # [1, 2, 2, 1, -1, 2]
    low, high = np.percentile(errors, [10, 90])
    low, high = min(low, 0.0), max(high, 0.0)
    assert p.lower.tolist() == pytest.approx((p.p50 + low).tolist())
    assert p.upper.tolist() == pytest.approx((p.p50 + high).tolist())
    assert (p.lower <= p.p50).all() and (p.p50 <= p.upper).all()
    assert p.model == "seasonal-naive"


def test_seasonal_naive_band_holds_the_point_on_a_trend() -> None:
    y = np.arange(30, dtype=float)  # every season-to-season change is +3
    p = SeasonalNaive(period=3).forecast(y, horizon=3)
    assert p.lower.tolist() == p.p50.tolist() == [27.0, 28.0, 29.0]
    assert p.upper.tolist() == [30.0, 31.0, 32.0]


def test_seasonal_naive_needs_one_season() -> None:
    with pytest.raises(ValueError, match="one full season"):
        SeasonalNaive(period=168).forecast(np.ones(100), horizon=24)
