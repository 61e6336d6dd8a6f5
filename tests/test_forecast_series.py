"""Raw samples to a regular series: every repair counted, every refusal explained."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from forecasts.series import regularize

T0 = datetime(2026, 11, 1, tzinfo=UTC)
H = timedelta(hours=1)


def test_reorder_average_duplicates_drop_nan_and_interpolate() -> None:
    ts = [T0 + 2 * H, T0, T0 + H, T0 + H, T0 + 4 * H, T0 + 5 * H]
    ys = [6.0, 2.0, 3.0, 5.0, float("nan"), 10.0]
    s = regularize("cpu", ts, ys)
    # hour 0: 2; hour 1: mean(3, 5) = 4; hour 2: 6; hour 3, 4: interpolated to 10 at hour 5
    assert s.start == T0 and s.values.tolist() == pytest.approx([2, 4, 6, 22 / 3, 26 / 3, 10])
    assert s.repairs == {
        "reordered": 1, "dropped": 1, "duplicates_averaged": 1, "interpolated": 2,
    }  # fmt: skip
    assert s.timestamps()[-1] == T0 + 5 * H


def test_counter_negatives_are_dropped_and_timestamps_floor_to_the_step() -> None:
    s = regularize("reads", [T0 + timedelta(minutes=10), T0 + H, T0 + 2 * H], [1.0, -5.0, 3.0],
                   counter=True)  # fmt: skip
    assert s.start == T0 and s.values.tolist() == [1.0, 2.0, 3.0]
    assert s.repairs == {"dropped": 1, "interpolated": 1}


def test_refusals_name_the_series_and_the_fix() -> None:
    with pytest.raises(ValueError, match=r"reads: a gap of 9 steps.*To fix"):
        regularize("reads", [T0, T0 + 10 * H], [1.0, 2.0])
    with pytest.raises(ValueError, match=r"without a time zone.*To fix"):
        regularize("cpu", [datetime(2026, 11, 1)], [1.0])
    with pytest.raises(ValueError, match="no usable sample"):
        regularize("cpu", [T0], [float("nan")])
    with pytest.raises(ValueError, match="2 timestamps but 1 values"):
        regularize("cpu", [T0, T0 + H], [1.0])


def test_a_clean_series_is_unchanged() -> None:
    ys = np.arange(48, dtype=float)
    s = regularize("cpu", [T0 + i * H for i in range(48)], ys.tolist())
    assert s.values.tolist() == ys.tolist() and s.repairs == {}
