"""Turn raw samples into the regular series a forecaster needs, or say clearly why not.

Issue #4 §3: non-monotonic or duplicate timestamps, NaNs, negative values for counters
get a clear error or a documented repair, never a crash mid-run. The repairs, in order:

1. samples are sorted by time (out-of-order input is common in exports);
2. duplicate timestamps keep their MEAN (two scrapes of one hour);
3. NaN and infinite values are dropped, as are negative values of a counter metric;
4. the series is put on its step grid (UTC, floor to the step) and gaps of at most
   `max_gap` steps are filled by linear interpolation; a longer gap is an error, because
   inventing days of demand would mislead the forecast.

Every repair is counted in `Series.repairs`, so the caller can record it with the
forecast. Errors are `ValueError`s whose text names the series and the fix.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np


@dataclass(frozen=True)
class Series:
    series_id: str
    start: datetime  # UTC, on the step grid
    step: timedelta
    values: np.ndarray
    repairs: dict[str, int] = field(default_factory=dict)

    def timestamps(self) -> list[datetime]:
        return [self.start + i * self.step for i in range(len(self.values))]


def regularize(
    series_id: str,
    timestamps: Sequence[datetime],
    values: Sequence[float],
    step: timedelta = timedelta(hours=1),
    counter: bool = False,
    max_gap: int = 6,
) -> Series:
    """A regular series from raw samples, with the repairs above (see module doc)."""
    if len(timestamps) != len(values):
        raise ValueError(f"{series_id}: {len(timestamps)} timestamps but {len(values)} values")
    if any(ts.tzinfo is None for ts in timestamps):
        raise ValueError(
            f"{series_id}: timestamps without a time zone. To fix: write them in UTC with an "
            "offset (e.g. 2026-11-01T13:00:00Z)"
        )
    epoch = np.array([ts.timestamp() for ts in timestamps], dtype=np.float64)
    return regularize_epoch(series_id, epoch, values, step, counter, max_gap)


def regularize_epoch(
    series_id: str,
    epoch: np.ndarray,
    values: Sequence[float] | np.ndarray,
    step: timedelta = timedelta(hours=1),
    counter: bool = False,
    max_gap: int = 6,
) -> Series:
    """`regularize` on Unix-epoch seconds (UTC by definition): the store's fast path."""
    if len(epoch) != len(values):
        raise ValueError(f"{series_id}: {len(epoch)} timestamps but {len(values)} values")
    repairs: dict[str, int] = {}
    secs = step.total_seconds()
    epoch = np.asarray(epoch, dtype=np.float64)
    y = np.asarray(values, dtype=np.float64)
    if len(epoch) > 1 and np.any(np.diff(epoch) < 0):
        repairs["reordered"] = int(np.sum(np.diff(epoch) < 0))
    bad = ~np.isfinite(y) | (y < 0 if counter else np.zeros(len(y), dtype=bool))
    if bad.any():
        repairs["dropped"] = int(bad.sum())
    epoch, y = epoch[~bad], y[~bad]
    if len(y) == 0:
        raise ValueError(f"{series_id}: no usable sample (all NaN, infinite or negative)")
    slots = np.floor(epoch / secs).astype(np.int64)
    order = np.argsort(slots, kind="stable")
    slots, y = slots[order], y[order]
    uniq, first, counts = np.unique(slots, return_index=True, return_counts=True)
    if (counts > 1).any():
        repairs["duplicates_averaged"] = int((counts - 1).sum())
    means = np.add.reduceat(y, first) / counts
    grid = np.arange(uniq[0], uniq[-1] + 1)
    gaps = np.diff(uniq) - 1
    if len(gaps) and gaps.max() > max_gap:
        at = int(np.argmax(gaps))
        when = datetime.fromtimestamp(float(uniq[at] + 1) * secs, tz=UTC)
        raise ValueError(
            f"{series_id}: a gap of {int(gaps.max())} steps from {when.isoformat()} (at most "
            f"{max_gap} are filled). To fix: import the missing samples, or forecast from "
            "the data after the gap"
        )
    filled = np.interp(grid, uniq, means)
    if len(grid) > len(uniq):
        repairs["interpolated"] = int(len(grid) - len(uniq))
    start = datetime.fromtimestamp(float(grid[0]) * secs, tz=UTC)
    return Series(series_id, start, step, filled, repairs)
