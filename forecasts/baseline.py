"""The seasonal-naive forecaster: tomorrow looks like the same hour last week.

Why it exists: it is the baseline every model must beat in the backtest (design.md §5),
and the fallback for short or flat histories. Its band comes from its own in-sample
errors: lower/upper = point + the matching percentiles (10th/90th for an 80% band) of
y[t] − y[t − m] over the history (clipped at 0 so the band always holds the point), so it
is as wide as the series' own season-to-season change.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from forecasts.protocol import HOURLY, Context, Prediction


@dataclass(frozen=True)
class SeasonalNaive:
    """`period` in samples (168 for hourly data with a weekly season, 7 for daily)."""

    period: int
    name: str = "seasonal-naive"

    def forecast(self, history: np.ndarray, horizon: int, context: Context = HOURLY) -> Prediction:
        y = np.asarray(history, dtype=np.float64)
        if len(y) < self.period:
            raise ValueError(
                f"seasonal-naive needs one full season ({self.period} points), got {len(y)}"
            )
        last = y[-self.period :]
        p50 = np.resize(last, horizon)  # repeats the last season
        tail = (1 - context.level) / 2 * 100
        # The band's errors at the season's lag; with exactly one season of history there
        # is no such pair, so a day's lag (or one step's) measures the change instead of
        # claiming a band of zero width.
        lag = next((g for g in (self.period, 24, 1) if len(y) > g), 0)
        if lag:
            errors = y[lag:] - y[:-lag]
            low, high = np.percentile(errors, [tail, 100 - tail])
            # A trend can put both percentiles on one side; the band still holds p50.
            low, high = min(float(low), 0.0), max(float(high), 0.0)
        else:
            low = high = 0.0
        return Prediction(p50 + low, p50, p50 + high, self.name, context.level)
