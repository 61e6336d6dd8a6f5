"""What every forecaster offers: fit on a regular UTC series, predict a band and a median.

Backends (seasonal-naive, Prophet) take the history as a numpy array of evenly spaced
samples, oldest first, plus a `Context` that places it in time (Prophet's seasonality and
holidays need real dates), and return a `Prediction` for the next `horizon` steps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

import numpy as np

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Context:
    """Where the history sits in time, and the band asked for (0.8 = p10–p90)."""

    start: datetime = EPOCH
    step: timedelta = timedelta(hours=1)
    level: float = 0.8

    def __post_init__(self) -> None:
        if not 0 < self.level < 1:
            raise ValueError(f"band level must be between 0 and 1, got {self.level}")

    def at(self, level: float) -> Context:
        return Context(self.start, self.step, level)


HOURLY = Context()


@dataclass(frozen=True)
class Prediction:
    """lower ≤ p50 ≤ upper per future step, the band at `level` (0.8: lower = p10, upper =
    p90); `model` names the backend that made it."""

    lower: np.ndarray
    p50: np.ndarray
    upper: np.ndarray
    model: str
    level: float = 0.8
    notes: dict[str, int] = field(default_factory=dict)  # e.g. outliers ignored by the fit

    def __post_init__(self) -> None:
        if not (len(self.lower) == len(self.p50) == len(self.upper)):
            raise ValueError("lower, p50 and upper differ in length")


class Forecaster(Protocol):
    @property
    def name(self) -> str: ...

    def forecast(self, history: np.ndarray, horizon: int, context: Context) -> Prediction: ...
