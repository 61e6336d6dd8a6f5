"""Backtest metrics: MASE, sMAPE and interval coverage, on plain numpy arrays.

Why these (design.md §5): MASE compares a model with the seasonal-naive forecast on the
same series, so "better than the baseline" is MASE < its baseline's; sMAPE is bounded and
readable; coverage says whether the p10–p90 band holds 80% of the actuals as it claims.
Conventions are written out because the literature differs:

- MASE = mean |actual − forecast| / mean |y[t] − y[t − m]| over the TRAINING history,
  m the seasonal period (Hyndman & Koehler 2006). A training series with no seasonal
  change at all has no scale: MASE is then undefined (None), never infinite.
- sMAPE = mean of 2|a − f| / (|a| + |f|), in percent (0..200); a point where both are 0
  counts as 0 (a perfect forecast of nothing).
- coverage = share of actuals with p10 ≤ actual ≤ p90.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

ArrayLike = Sequence[float] | np.ndarray


def _arrays(*values: ArrayLike) -> list[np.ndarray]:
    out = [np.asarray(v, dtype=np.float64) for v in values]
    n = len(out[0])
    if any(len(a) != n for a in out):
        raise ValueError("metric inputs differ in length")
    if n == 0:
        raise ValueError("metrics need at least one point")
    return out


def mase(actual: ArrayLike, forecast: ArrayLike, history: ArrayLike, period: int) -> float | None:
    """Mean absolute scaled error against the in-sample seasonal-naive error."""
    a, f = _arrays(actual, forecast)
    h = np.asarray(history, dtype=np.float64)
    if period < 1 or len(h) <= period:
        raise ValueError(f"MASE needs more than one season ({period} points) of history")
    scale = float(np.mean(np.abs(h[period:] - h[:-period])))
    if scale == 0.0:
        return None
    return float(np.mean(np.abs(a - f))) / scale


def smape(actual: ArrayLike, forecast: ArrayLike) -> float:
    """Symmetric mean absolute percentage error, 0..200."""
    a, f = _arrays(actual, forecast)
    denom = np.abs(a) + np.abs(f)
    terms = np.divide(2 * np.abs(a - f), denom, out=np.zeros_like(a), where=denom > 0)
    return float(np.mean(terms) * 100)


def coverage(actual: ArrayLike, lower: ArrayLike, upper: ArrayLike) -> float:
    """Share (0..1) of actuals inside [lower, upper]."""
    a, lo, hi = _arrays(actual, lower, upper)
    return float(np.mean((a >= lo) & (a <= hi)))
