"""What every forecaster offers: fit on a regular UTC series, predict p10/p50/p90.

Backends (seasonal-naive now; Prophet and others with issue #4) take the history as a
numpy array of evenly spaced samples, oldest first, and return a `Prediction` for the
next `horizon` steps. Timestamps stay with the caller, which knows the series' step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class Prediction:
    """p10 ≤ p50 ≤ p90 per future step; `model` names the backend that made it."""

    p10: np.ndarray
    p50: np.ndarray
    p90: np.ndarray
    model: str

    def __post_init__(self) -> None:
        if not (len(self.p10) == len(self.p50) == len(self.p90)):
            raise ValueError("p10, p50 and p90 differ in length")


class Forecaster(Protocol):
    name: str

    def forecast(self, history: np.ndarray, horizon: int) -> Prediction: ...
