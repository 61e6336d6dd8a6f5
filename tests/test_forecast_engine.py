"""The engines (forecasts.engine): in this process, a process pool and Dask give the same
results bit for bit, in input order, and one bad series fails alone."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from forecasts.engine import EngineChoice, run_all
from forecasts.job import SeriesForecast, SeriesSpec, Settings, backtest_series

START = datetime(2026, 1, 5, tzinfo=UTC)
HOUR, DAY = timedelta(hours=1), timedelta(days=1)
SETTINGS = Settings(horizon=timedelta(days=2), backtest_horizon=timedelta(days=1), origins=1)


def series(i: int, days: int, trend: float) -> np.ndarray:
    rng = np.random.default_rng(i)
    t = np.arange(days * 24)
    return 10 + 3 * np.sin(2 * np.pi * t / 24) + trend * t + rng.normal(0, 0.3, len(t))


def specs() -> list[SeriesSpec]:
    bad = series(4, 15, 0.0)
    bad[10] = np.nan
    rng = np.random.default_rng(5)
    return [
        SeriesSpec("wl-0", "cpu_cores", START, HOUR, series(0, 15, 0.03)),  # prophet
        SeriesSpec("wl-1", "cpu_pct", START, HOUR, 50 + series(1, 15, 0.0)),  # bounded
        SeriesSpec("wl-2", "memory_gib", START, HOUR, series(2, 5, 0.0)),  # short: fallback
        SeriesSpec("wl-3", "cpu_cores", START, HOUR, np.full(15 * 24, 2.0)),  # flat
        SeriesSpec("wl-4", "cpu_cores", START, HOUR, bad),  # fails
        SeriesSpec("spend:aws:1:ec2", "spend", START, DAY, 100 + rng.normal(0, 5, 30)),
    ]


def assert_same(a: list[SeriesForecast], b: list[SeriesForecast]) -> None:
    assert [r.series_id for r in a] == [r.series_id for r in b]
    for x, y in zip(a, b, strict=True):
        assert (x.metric, x.status, x.model, x.reason, x.start) == (
            y.metric,
            y.status,
            y.model,
            y.reason,
            y.start,
        )
        for attr in ("lower", "p50", "upper"):
            assert np.array_equal(getattr(x, attr), getattr(y, attr)), (x.series_id, attr)
        assert x.anomalies == y.anomalies
        assert {k: v for k, v in x.metrics.items()} == {k: v for k, v in y.metrics.items()}


@pytest.fixture(scope="module")
def inprocess() -> list[SeriesForecast]:
    return run_all(specs(), SETTINGS, EngineChoice("local", workers=1))


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as c:
        yield c


def test_in_process_results_in_order_and_the_bad_series_fails_alone(
    inprocess: list[SeriesForecast],
) -> None:
    by_id = {r.series_id: r for r in inprocess}
    assert [r.series_id for r in inprocess] == [s.series_id for s in specs()]
    assert by_id["wl-4"].status == "failed" and "non-finite" in by_id["wl-4"].reason
    assert len(by_id["wl-4"].p50) == 0
    assert by_id["wl-0"].status == "ok" and by_id["wl-0"].model == "prophet"
    assert by_id["wl-2"].status == by_id["wl-3"].status == "fallback"
    for r in inprocess:
        if r.status != "failed":
            assert r.model is not None and len(r.p50) == int(SETTINGS.horizon / r.step)
    assert by_id["wl-1"].upper.max() <= 100.0


def test_process_pool_is_bit_identical(inprocess: list[SeriesForecast]) -> None:
    seen: list[int] = []
    pooled = run_all(specs(), SETTINGS, EngineChoice("local", workers=2), progress=seen.append)
    assert_same(inprocess, pooled)
    assert sum(seen) == len(specs())


def test_dask_local_cluster_is_bit_identical(inprocess: list[SeriesForecast]) -> None:
    pytest.importorskip("distributed")
    seen: list[int] = []
    on_dask = run_all(specs(), SETTINGS, EngineChoice("dask", workers=2), progress=seen.append)
    assert_same(inprocess, on_dask)
    assert sum(seen) == len(specs())


def test_dask_scheduler_address_is_bit_identical(
    inprocess: list[SeriesForecast], cluster: Any
) -> None:
    choice = EngineChoice("dask", scheduler=cluster.scheduler_address)
    assert_same(inprocess, run_all(specs(), SETTINGS, choice))
    # The same scheduler serves a second run (fresh keys), here of another job.
    local = run_all(specs()[:3], SETTINGS, EngineChoice(workers=1), job=backtest_series)
    assert_same(local, run_all(specs()[:3], SETTINGS, choice, job=backtest_series))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "spark"}, "unknown engine 'spark': use one of local, dask"),
        ({"name": "local", "scheduler": "tcp://127.0.0.1:8786"}, "--scheduler needs --engine dask"),
        ({"name": "local", "workers": 0}, "workers must be at least 1"),
    ],
)
def test_engine_choice_validation(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        EngineChoice(**kwargs)


def test_worker_count_defaults_to_the_cores() -> None:
    assert EngineChoice(workers=3).worker_count() == 3
    assert EngineChoice().worker_count() >= 1


def test_no_series_is_no_work() -> None:
    assert run_all([], SETTINGS, EngineChoice(workers=2)) == []
