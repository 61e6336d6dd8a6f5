"""Rolling-origin backtest of one series: how a forecaster would have done, measured on
data it had not seen, against the seasonal-naive baseline on the very same origins.

Origins: the last `origins` cut points, `horizon` apart, each leaving at least
`min_history` samples before it; at each, the forecaster sees y[:cut] and predicts
y[cut:cut + horizon]. Metrics (forecasts.metrics) are pooled over every origin's points;
MASE's scale comes from the history before the FIRST origin, so every model and origin is
scaled alike. The model with the lower MASE wins; a tie (or an undefined MASE) keeps the
baseline, which is simpler and cannot overfit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from forecasts.baseline import SeasonalNaive
from forecasts.metrics import coverage, mase, smape
from forecasts.protocol import HOURLY, Context, Forecaster


@dataclass(frozen=True)
class Score:
    model: str
    mase: float | None
    smape: float
    coverage: float  # share of actuals inside the band (its level, if the band is honest)


@dataclass(frozen=True)
class Backtest:
    candidate: Score
    baseline: Score
    origins: int
    winner: str  # the model to use
    why: str


def origins_for(n: int, horizon: int, origins: int, min_history: int) -> list[int]:
    """Cut points, oldest first; fewer than asked when the series is short."""
    cuts = [n - horizon * k for k in range(origins, 0, -1)]
    return [c for c in cuts if c >= min_history]


def backtest(
    y: np.ndarray,
    candidate: Forecaster,
    period: int,
    horizon: int,
    origins: int = 3,
    min_history: int | None = None,
    context: Context = HOURLY,
) -> Backtest:
    """Backtest `candidate` against `SeasonalNaive(period)` on the same origins."""
    y = np.asarray(y, dtype=np.float64)
    need = min_history if min_history is not None else 2 * period
    cuts = origins_for(len(y), horizon, origins, need)
    if not cuts:
        raise ValueError(
            f"too short to backtest: {len(y)} points, need {need} before a {horizon}-step origin"
        )
    baseline = SeasonalNaive(period)
    scores = []
    for model in (candidate, baseline):
        actual, p10, p50, p90 = [], [], [], []
        for cut in cuts:
            pred = model.forecast(y[:cut], horizon, context)
            actual.append(y[cut : cut + horizon])
            p10.append(pred.lower)
            p50.append(pred.p50)
            p90.append(pred.upper)
        a, lo, mid, hi = (np.concatenate(v) for v in (actual, p10, p50, p90))
        scale_history = y[: cuts[0]]
        scores.append(
            Score(
                model.name,
                mase(a, mid, scale_history, period),
                smape(a, mid),
                coverage(a, lo, hi),
            )
        )
    cand, base = scores
    if cand.mase is not None and base.mase is not None and cand.mase < base.mase:
        winner = cand.model
        why = f"{cand.model} MASE {cand.mase:.3f} < seasonal-naive {base.mase:.3f}"
    elif cand.mase is None or base.mase is None:
        winner = base.model
        why = "MASE undefined (the history has no season-to-season change): baseline kept"
    else:
        winner = base.model
        why = f"{cand.model} MASE {cand.mase:.3f} ≥ seasonal-naive {base.mase:.3f}: baseline kept"
    return Backtest(cand, base, len(cuts), winner, why)
