"""Run `forecast_series` over many series: in this process, a process pool, or Dask.

Why three: one series (tests, `forecast plot`) needs no pool; a machine uses all its
cores through a process pool (Prophet's fit is CPU-bound Python plus a Stan process, so
threads would not help); past one machine the same jobs go to a Dask distributed cluster,
a `LocalCluster` on loopback by default or a scheduler given by address (design.md §5,
rule 7: no home-made distributed code). Every engine runs the same pure function on the
same inputs, so results are identical whichever runs them; they come back in input order.

A worker that dies (out of memory, killed) fails only the series it held: each is
returned as `status="failed"` with the reason, and the others go on.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
import uuid
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any

from forecasts.job import SeriesForecast, SeriesSpec, Settings, failed_result, forecast_series
from store.errors import ForecastError

Progress = Callable[[int], None]
Job = Callable[[SeriesSpec, Settings], SeriesForecast]
ENGINES = ("local", "dask")


@dataclass(frozen=True)
class EngineChoice:
    name: str = "local"  # local | dask
    workers: int | None = None  # default: every core
    scheduler: str | None = None  # dask only: tcp://host:8786; None starts a LocalCluster

    def __post_init__(self) -> None:
        if self.name not in ENGINES:
            raise ValueError(f"unknown engine {self.name!r}: use one of {', '.join(ENGINES)}")
        if self.workers is not None and self.workers < 1:
            raise ValueError("workers must be at least 1")
        if self.scheduler and self.name != "dask":
            raise ValueError("--scheduler needs --engine dask")

    def worker_count(self) -> int:
        return self.workers or os.cpu_count() or 1


def run_local(
    specs: Sequence[SeriesSpec],
    settings: Settings,
    workers: int,
    progress: Progress | None,
    job: Job = forecast_series,
) -> list[SeriesForecast]:
    if workers == 1 or len(specs) <= 1:
        out = []
        for spec in specs:
            out.append(job(spec, settings))
            if progress:
                progress(1)
        return out
    results: list[SeriesForecast | None] = [None] * len(specs)
    # spawn, not fork: the parent may hold threads (OR-Tools, HiGHS, Dask) that fork breaks.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(workers, len(specs)), mp_context=context) as pool:
        futures: dict[Future[SeriesForecast], int] = {
            pool.submit(job, spec, settings): i for i, spec in enumerate(specs)
        }
        _gather(as_completed(futures), lambda f: futures[f], specs, results, progress)
    return [r for r in results if r is not None]


def _gather(
    done: Iterable[Any],
    index_of: Callable[[Any], int],
    specs: Sequence[SeriesSpec],
    results: list[SeriesForecast | None],
    progress: Progress | None,
) -> None:
    """Each finished future's result into its slot; a lost worker fails its series only."""
    for future in done:
        i = index_of(future)
        try:
            results[i] = future.result()
        except Exception as exc:
            results[i] = failed_result(specs[i], f"worker failed: {type(exc).__name__}: {exc}")
        if progress:
            progress(1)


def run_dask(
    specs: Sequence[SeriesSpec],
    settings: Settings,
    choice: EngineChoice,
    progress: Progress | None,
    job: Job = forecast_series,
) -> list[SeriesForecast]:
    try:
        dd: Any = importlib.import_module("distributed")  # untyped library
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise RuntimeError(
            "the Dask engine needs dask[distributed]. To fix: pip install 'optimizer[dask]'"
        ) from exc
    cluster: Any = None
    if choice.scheduler:
        try:
            client = dd.Client(choice.scheduler, timeout="10s")
        except (OSError, TimeoutError) as exc:
            raise ForecastError(
                f"cannot reach the Dask scheduler at {choice.scheduler}: {exc}",
                fix="check the address and that `dask scheduler` runs there (and that its "
                "workers have this version of optimizer installed), or use --engine local",
            ) from exc
    else:
        cluster = dd.LocalCluster(
            n_workers=choice.worker_count(),
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        )
        client = dd.Client(cluster)
    try:
        run = uuid.uuid4().hex[:12]  # a shared scheduler may hold another run's keys
        keys = [f"forecast-{run}-{i}" for i in range(len(specs))]
        # Scattered first: the series travel as data, not inside the task graph (which
        # Dask warns about past a few MB).
        data = client.scatter(list(specs))
        futures = client.map(job, data, settings=settings, key=keys)
        where = {f.key: i for i, f in enumerate(futures)}
        results: list[SeriesForecast | None] = [None] * len(specs)
        _gather(dd.as_completed(futures), lambda f: where[f.key], specs, results, progress)
        return [r for r in results if r is not None]
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def run_all(
    specs: Sequence[SeriesSpec],
    settings: Settings,
    choice: EngineChoice | None = None,
    progress: Progress | None = None,
    job: Job = forecast_series,
) -> list[SeriesForecast]:
    """Every series' result of `job` (a module-level function, so it pickles), in input
    order (see module doc)."""
    choice = choice or EngineChoice()
    if choice.name == "dask":
        return run_dask(specs, settings, choice, progress, job)
    return run_local(specs, settings, choice.worker_count(), progress, job)
